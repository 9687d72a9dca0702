// The FP8 checkpoint export (spec/checkpoints.md §8) on tiny's first two layers (one dense, one MoE), in shards
// small enough that tensors spread over several files: both layouts open with CheckpointWeightStore and run the
// fp8-static profile's taps of the synthetic weights byte for byte; the config keeps the two layers alone.

import Foundation
import Testing
import Tensor
@testable import MistralSmall4

@Suite struct FP8CheckpointExportTests {
    /// Exports tiny's first two layers in both layouts into a fresh temp directory: (hf, mistral) paths.
    static func export() throws -> (hf: String, mistral: String) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("assay-export-\(UUID())").path
        let (hf, mistral) = (root + "/hf", root + "/mistral")
        try FileManager.default.createDirectory(atPath: hf, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: mistral, withIntermediateDirectories: true)
        try FP8CheckpointExport.write(.tiny, layers: 2, seed: 7, shardBytes: 40_000,
                                      into: [(.huggingFace, hf), (.mistral, mistral)])
        return (hf, mistral)
    }

    static func taps(_ store: any WeightStore) throws -> TapRecorder {
        try TextFixtures.taps(TextDecoder(store: store, profile: .fp8Static), TextFixtures.inputs(store.config.text))
    }

    @Test func bothLayoutsRunTheFP8ProfileOfTheSyntheticWeights() throws {
        let (hf, mistral) = try Self.export()
        defer { try? FileManager.default.removeItem(atPath: FilePath.directory(hf)) }
        let config = try ModelConfig.load(path: hf)
        #expect(config.multimodal == nil && config.text.numHiddenLayers == 2)
        #expect(try ModelConfig.load(path: mistral).text.numHiddenLayers == 2)
        let expected = try Self.taps(SyntheticWeightStore(config: config, seed: 7))
        for directory in [hf, mistral] {
            let store = try CheckpointWeightStore(config: try ModelConfig.load(path: directory), directory: directory)
            #expect(store.holdsQuantized)
            let taps = try Self.taps(store)
            #expect(taps.taps.map(\.name) == expected.taps.map(\.name))
            for (a, b) in zip(taps.taps, expected.taps) { #expect(a.value == b.value, "\(directory): \(a.name)") }
        }
    }

    @Test func shardsHaveAnIndexAndTheStoredNamesOfEachLayout() throws {
        let (hf, mistral) = try Self.export()
        defer { try? FileManager.default.removeItem(atPath: FilePath.directory(hf)) }
        let hfFiles = try FileManager.default.contentsOfDirectory(atPath: hf)
        #expect(hfFiles.contains("model.safetensors.index.json"))
        #expect(hfFiles.filter { $0.hasPrefix("model-0000") }.count > 1)
        let mistralFiles = try FileManager.default.contentsOfDirectory(atPath: mistral)
        #expect(mistralFiles.contains("consolidated.safetensors.index.json") && mistralFiles.contains("params.json"))
        func info(_ directory: String, _ tensor: String) throws -> TensorInfo {
            try Checkpoint(directory: directory).shard(containing: tensor).info(tensor)
        }
        let experts = "model.layers.1.mlp.experts.gate_up_proj"
        #expect(try info(hf, experts).dtype == .f8e4m3)
        #expect(try info(hf, experts + "_scale_inv").shape == [8, 1, 1])
        #expect(try info(hf, "model.embed_tokens.weight").dtype == .bf16)
        #expect(try info(mistral, "layers.1.experts.7.w3.weight").shape == [24, 64])
        #expect(try info(mistral, "layers.0.feed_forward.w1.qscale_act").shape == [])
    }

    @Test func exactE4M3CodesAreTheCastsCodes() throws {
        let codes = (0...255).filter { $0 & 0x7F != 0x7F }                                   // every finite code
        let values = Tensor(shape: [codes.count], scalars: codes.map { MiniFloatFormat.e4m3fn.decode(UInt8($0)) })
        #expect(try ExactE4M3.codes(values, tensor: "w") == codes.map(UInt8.init))
        #expect(try ExactE4M3.codes(values, tensor: "w")
                == StoredTensor(name: "w", encoding: values, as: .f8e4m3).bytes)
        #expect(throws: WeightError.self) { try ExactE4M3.codes(Tensor(shape: [1], scalars: [1.0625]), tensor: "w") }
        #expect(throws: WeightError.self) { try ExactE4M3.codes(Tensor(shape: [1], scalars: [480]), tensor: "w") }
    }

    @Test func firstLayersOutsideThePresetAreRefused() {
        #expect(throws: WeightError.self) { try FP8CheckpointExport.configDocument(.tiny, layers: 4) }
        #expect(throws: WeightError.self) { try FP8CheckpointExport.configDocument(.tiny, layers: 0) }
    }
}
