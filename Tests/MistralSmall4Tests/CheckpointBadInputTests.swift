// Bad FP8 checkpoints (spec/checkpoints.md §4): each is a copy of a fixture of CheckpointLayoutTests with one
// thing broken, and each must be an error naming the file or tensor at fault — when the store opens, or, for bad
// values, when the weight is read.

import Foundation
import Testing
import Tensor
@testable import MistralSmall4

/// A copy of a fixture checkpoint, deleted with the value.
final class CheckpointCopy {
    let path = NSTemporaryDirectory() + "assay-ckpt-" + UUID().uuidString

    init(_ fixture: String) throws {
        try FileManager.default.copyItem(atPath: fixture, toPath: path)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Rewrites the shard holding `tensor` with `edit` applied to its tensors (in file order).
    func editShard(holding tensor: String, _ edit: (inout [StoredTensor]) throws -> Void) throws {
        let store = try CheckpointFixtures.store(path)
        let shard = try store.checkpoint.shard(containing: tensor)
        var tensors = try shard.tensorNames.map { try shard.stored($0) }
        try edit(&tensors)
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: path + "/" + shard.name)
    }

    /// Replaces tensor `name` by what `change` makes of it (removes it when that is nil).
    func edit(_ name: String, _ change: (StoredTensor) throws -> StoredTensor?) throws {
        try editShard(holding: name) { tensors in
            let index = try #require(tensors.firstIndex { $0.name == name })
            if let changed = try change(tensors[index]) { tensors[index] = changed } else { tensors.remove(at: index) }
        }
    }

    /// Replaces tensor `name` with `replacement` (or removes it when nil).
    func replace(_ name: String, with replacement: StoredTensor?) throws { try edit(name) { _ in replacement } }

    /// Stores tensor `name` as `dtype` with bytes `bytes(old bytes)`, same shape.
    func rewrite(_ name: String, as dtype: DType, _ bytes: @escaping ([UInt8]) -> [UInt8]) throws {
        try edit(name) { old in try StoredTensor(name: name, dtype: dtype, shape: old.shape, bytes: bytes(old.bytes)) }
    }

    /// The error opening this checkpoint throws (nil when it opens).
    func openingError() -> WeightError? {
        do {
            _ = try CheckpointFixtures.store(path)
            return nil
        } catch let error as WeightError {
            return error
        } catch {
            Issue.record("not a weight error: \(error)")
            return nil
        }
    }
}

@Suite struct CheckpointBadInputTests {
    static let layer = "model.language_model.layers.1"

    private func f32(_ name: String, _ values: [Double], shape: [Int]) throws -> StoredTensor {
        try StoredTensor(name: name, encoding: Tensor(shape: shape, scalars: values), as: .f32)
    }

    @Test func aMissingScaleIsNamed() throws {
        let copy = try CheckpointCopy(CheckpointFixtures.mistral)       // (Hugging Face's index would name it first)
        try copy.replace("layers.1.attention.wq_a.qscale_weight", with: nil)
        let error = try #require(copy.openingError())
        #expect(error.tensor == Self.layer + ".self_attn.q_a_proj.weight"
                && error.message.contains("without its scale 'layers.1.attention.wq_a.qscale_weight'"), "\(error)")
    }

    /// gate_up_proj's weight scale may be per expert or per half ([E, 2, 1]); down_proj's and every activation
    /// scale only per expert. Any other shape names the tensor and the shapes accepted.
    @Test(arguments: [("gate_up_proj_scale_inv", [8, 2]), ("gate_up_proj_scale_inv", [8, 3, 1]),
                      ("gate_up_proj_scale_inv", [2, 8, 1]), ("gate_up_proj_scale_inv", [8, 1, 2]),
                      ("down_proj_scale_inv", [8, 2, 1]), ("gate_up_proj_activation_scale", [8, 2, 1])])
    func aScaleOfTheWrongShapeIsNamed(scale leaf: String, shape: [Int]) throws {
        let copy = try CheckpointCopy(CheckpointFixtures.huggingFace)
        let scale = Self.layer + ".mlp.experts." + leaf
        let values = Array(repeating: 0.01, count: shape.reduce(1, *))
        try copy.replace(scale, with: try f32(scale, values, shape: shape))
        let error = try #require(copy.openingError())
        let accepted = leaf == "gate_up_proj_scale_inv" ? "[8], [8, 1, 1] or [8, 2, 1]" : "[8] or [8, 1, 1]"
        let weight = Self.layer + ".mlp.experts." + (leaf.hasPrefix("gate_up_proj") ? "gate_up_proj" : "down_proj")
        #expect(error.tensor == weight, "\(error)")
        #expect(error.message == "scale '\(scale)' has shape \(Shape.describe(shape)); expected \(accepted)", "\(error)")
        #expect(error.source.hasPrefix("model-0000"))
    }

    @Test func anFP8RouterIsRefused() throws {
        let copy = try CheckpointCopy(CheckpointFixtures.huggingFace)
        let router = Self.layer + ".mlp.gate.weight"
        try copy.rewrite(router, as: .f8e4m3) { bf16 in Array(repeating: 0x38, count: bf16.count / 2) }     // 1.0
        let error = try #require(copy.openingError())
        #expect(error.tensor == router && error.message.contains("stays in full precision"), "\(error)")
    }

    /// A module the config's quantization_config leaves unconverted must not be FP8.
    @Test func anFP8ModuleTheConfigExcludesIsRefused() throws {
        let copy = try CheckpointCopy(CheckpointFixtures.huggingFace)
        let config = copy.path + "/config.json"
        let module = Self.layer + ".self_attn.kv_b_proj"
        let text = try String(contentsOfFile: config, encoding: .utf8)
            .replacingOccurrences(of: "\"lm_head\"", with: "\"lm_head\", \"\(module)\"")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let error = try #require(copy.openingError())
        #expect(error.tensor == module + ".weight" && error.message.hasSuffix("modules_to_not_convert lists '\(module)'"),
                "\(error)")
    }

    @Test func aNaNScaleIsNamed() throws {
        let copy = try CheckpointCopy(CheckpointFixtures.mistral)
        let scale = "layers.2.experts.5.w3.qscale_act"
        try copy.replace(scale, with: try f32(scale, [.nan], shape: []))
        let error = try #require(copy.openingError())
        #expect(error.tensor == Self.layer.replacingOccurrences(of: ".1", with: ".2") + ".mlp.experts.gate_up_proj"
                && error.message.hasPrefix("activation_scale is nan"), "\(error)")
    }

    @Test func aNaNWeightIsAnErrorWhenRead() throws {
        let copy = try CheckpointCopy(CheckpointFixtures.huggingFace)
        let weight = Self.layer + ".self_attn.o_proj.weight"
        try copy.rewrite(weight, as: .f8e4m3) { codes in
            var codes = codes
            codes[5] = 0x7F                                          // E4M3's NaN
            return codes
        }
        let store = try CheckpointFixtures.store(copy.path)
        let error = #expect(throws: WeightError.self) { try store.tensor(weight) }
        #expect(error?.message == "element 5 is nan; weights must be finite")
    }

    @Test func aMissingExpertOfMistralsLayoutIsNamedInItsOwnName() throws {
        let copy = try CheckpointCopy(CheckpointFixtures.mistral)
        try copy.replace("layers.1.experts.3.w3.weight", with: nil)
        let error = try #require(copy.openingError())
        #expect(error.tensor == Self.layer + ".mlp.experts.gate_up_proj"
                && error.message == "missing from the checkpoint (as 'layers.1.experts.3.w3.weight')", "\(error)")
    }

    @Test func aTruncatedShardIsNamed() throws {
        let copy = try CheckpointCopy(CheckpointFixtures.huggingFace)
        let shard = copy.path + "/model-00002-of-00002.safetensors"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: shard))
        try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: shard))
        let error = try #require(copy.openingError())
        #expect(error.source == "model-00002-of-00002.safetensors", "\(error)")
    }

    @Test func anIndexNamingAMissingFileIsNamed() throws {
        let copy = try CheckpointCopy(CheckpointFixtures.huggingFace)
        let index = copy.path + "/model.safetensors.index.json"
        let text = try String(contentsOfFile: index, encoding: .utf8)
            .replacingOccurrences(of: "model-00002-of-00002", with: "model-00003-of-00003")
        try text.write(toFile: index, atomically: true, encoding: .utf8)
        let error = try #require(copy.openingError())
        #expect(error.source == "model.safetensors.index.json"
                && error.message.contains("'model-00003-of-00003.safetensors', which does not exist"), "\(error)")
    }
}
