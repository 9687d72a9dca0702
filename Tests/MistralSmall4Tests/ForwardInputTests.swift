// Forward inputs and checkpoint weights are checked before any arithmetic: every bad case names its field or
// tensor (spec/decoder.md, "Bad input").

import Foundation
import Testing
import Tensor
@testable import MistralSmall4

@Suite struct ForwardInputTests {
    let config = Preset.tiny.config.text

    private func error(ids: [Int], shape: [Int], positions: Tensor<Int>? = nil, mask: Tensor<Int>? = nil) -> InputError? {
        do {
            _ = try ForwardInputs(inputIds: Tensor(shape: shape, scalars: ids), positionIds: positions,
                                  attentionMask: mask, config: config)
            return nil
        } catch {
            return error
        }
    }

    @Test func defaultsArePositionsFromZeroAndAFullMask() throws {
        let inputs = try ForwardInputs(inputIds: Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]), config: config)
        #expect(inputs.positionIds.scalars == [0, 1, 2, 0, 1, 2])
        #expect(inputs.attentionMask.scalars == [1, 1, 1, 1, 1, 1])
    }

    @Test func tokenIdOutOfRangeNamesTheElement() {
        let e = error(ids: [1, 2, 128], shape: [1, 3])
        #expect(e?.field == "input_ids" && e?.message.contains("[0, 2] is 128") == true)
        #expect(error(ids: [-1], shape: [1, 1])?.field == "input_ids")
    }

    @Test func positionOutOfRange() {
        let e = error(ids: [1, 2], shape: [1, 2], positions: Tensor(shape: [1, 2], scalars: [1_048_575, 1_048_576]))
        #expect(e?.field == "position_ids" && e?.message.contains("0…1048575") == true)
    }

    @Test func emptySequenceAndShapeMismatch() {
        #expect(error(ids: [], shape: [1, 0])?.message.contains("empty") == true)
        #expect(error(ids: [1, 2], shape: [2])?.field == "input_ids")
        #expect(error(ids: [1, 2], shape: [1, 2], mask: Tensor(shape: [2, 1], scalars: [1, 1]))?.field == "attention_mask")
        #expect(error(ids: [1, 2], shape: [1, 2], mask: Tensor(shape: [1, 2], scalars: [1, 2]))?.field == "attention_mask")
    }

    @Test func tokenIdsAreI64OrI32Only() throws {
        try ForwardInputs.checkIdDType(.i64)
        try ForwardInputs.checkIdDType(.i32)
        for dtype in DType.allCases where dtype != .i64 && dtype != .i32 {
            #expect(throws: InputError(field: "input_ids", "dtype \(dtype.rawValue); token ids must be I64 or I32")) {
                try ForwardInputs.checkIdDType(dtype)
            }
        }
    }

    @Test func aCheckpointThatIsNotADirectoryNamesNoTensor() throws {
        let file = Fixtures.path("checkpoints/hf-fp8/config.json")
        let error = #expect(throws: WeightError.self) {
            try CheckpointWeightStore(config: Preset.tiny.config, directory: file)
        }
        #expect(error?.description == "config.json: is not a directory")
    }
}

@Suite struct CheckpointWeightTests {
    let config = Preset.tiny.config

    /// Writes the tiny synthetic weights as a checkpoint, with `edit` applied to the tensor list first.
    private func checkpoint(_ edit: (inout [StoredTensor]) throws -> Void = { _ in }) throws -> String {
        let store = SyntheticWeightStore(config: config, seed: 5)
        var tensors = try TensorInventory(config).entries.map {
            try StoredTensor(name: $0.name, encoding: try store.tensor($0.name), as: .bf16)
        }
        try edit(&tensors)
        let directory = NSTemporaryDirectory() + "assay-ckpt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try SafeTensorsWriter.write(tensors, to: directory + "/model.safetensors")
        return directory
    }

    private func loadError(_ directory: String) -> WeightError? {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            _ = try CheckpointWeightStore(config: config, directory: directory)
            return nil
        } catch {
            return error
        }
    }

    @Test func checkpointForwardEqualsSyntheticForward() throws {
        let directory = try checkpoint()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let inputs = try TextFixtures.inputs(config.text, length: 3)
        let fromFile = try TextFixtures.taps(TextDecoder(store: try CheckpointWeightStore(config: config, directory: directory)), inputs)
        let synthetic = try TextFixtures.taps(TextDecoder(store: SyntheticWeightStore(config: config, seed: 5)), inputs)
        #expect(fromFile.taps.count == synthetic.taps.count)
        for (name, value) in synthetic.taps { #expect(fromFile[name] == value, "\(name)") }
    }

    @Test func legacyKeyLayoutLoadsTheSameWeights() throws {
        // transformers 5.x `save_pretrained` writes `language_model.model.…`, `language_model.lm_head.weight`, ….
        let directory = try checkpoint { tensors in
            tensors = try tensors.map { t in
                try StoredTensor(name: legacyCheckpointName(t.name) ?? t.name, dtype: t.dtype, shape: t.shape, bytes: t.bytes)
            }
            #expect(!tensors.contains { $0.name.hasPrefix("model.") })
        }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let legacy = try CheckpointWeightStore(config: config, directory: directory)
        let name = "model.language_model.layers.1.mlp.experts.gate_up_proj"
        #expect(try legacy.tensor(name) == SyntheticWeightStore(config: config, seed: 5).tensor(name))
        #expect(try legacy.tensor("lm_head.weight") == SyntheticWeightStore(config: config, seed: 5).tensor("lm_head.weight"))
    }

    @Test func missingTensorIsNamed() throws {
        let name = "model.language_model.layers.2.mlp.experts.down_proj"
        let e = loadError(try checkpoint { $0.removeAll { $0.name == name } })
        #expect(e?.tensor == name && e?.message.contains("missing") == true)
    }

    @Test func wrongShapeIsNamed() throws {
        let name = "model.language_model.layers.1.self_attn.kv_b_proj.weight"
        let e = loadError(try checkpoint { tensors in
            let i = tensors.firstIndex { $0.name == name }!
            tensors[i] = try StoredTensor(name: name, encoding: Tensor(shape: [4, 4], repeating: 0.0), as: .bf16)
        })
        #expect(e?.tensor == name && e?.message.contains("[4, 4]") == true)
    }

    @Test func unsupportedDTypeIsNamed() throws {
        let name = "model.language_model.norm.weight"
        let e = loadError(try checkpoint { tensors in
            let i = tensors.firstIndex { $0.name == name }!
            tensors[i] = try StoredTensor(name: name, encoding: Tensor(shape: [64], repeating: 1.0), as: .f8e4m3)
        })
        #expect(e?.tensor == name && e?.message.contains("F8_E4M3") == true)
    }
}
