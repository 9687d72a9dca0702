// NVFP4 checkpoints (spec/checkpoints.md §7): the fixtures Tools/make_nvfp4_checkpoint.py writes from goldens/tiny in
// ModelOpt and compressed-tensors storage load, hold their linears in NVFP4, and give the `nvfp4` profile's taps on
// the same BF16 weights exactly (the synthetic rule of spec/quant.md §11 from two implementations); bad stored
// fields are errors naming the weight and the stored tensor.

import Foundation
import Testing
import Tensor
@testable import MistralSmall4

@Suite struct NVFP4CheckpointTests {
    static let fixtures = NVFP4Storage.allCases.map { Fixtures.path("checkpoints/hf-nvfp4-\($0.rawValue)") }
    static let source = Fixtures.path("../../../goldens/tiny")
    static let experts = "model.language_model.layers.1.mlp.experts"

    @Test(arguments: fixtures)
    func aCheckpointGivesTheProfilesTapsExactly(directory: String) throws {
        let store = try CheckpointFixtures.store(directory)
        #expect(store.holdsQuantized)
        let q = try #require(try store.quantization(of: Self.experts + ".gate_up_proj", row: 2)?.nvfp4)
        let derived = try #require(try NVFP4DerivedWeightStore(CheckpointFixtures.store(Self.source))
            .quantization(of: Self.experts + ".gate_up_proj", row: 2)?.nvfp4)
        #expect(q == derived)
        let fromCheckpoint = try CheckpointFixtures.taps(store)
        let fromProfile = try CheckpointFixtures.taps(try CheckpointFixtures.store(Self.source), profile: .nvfp4)
        #expect(fromCheckpoint.taps.map(\.name) == fromProfile.taps.map(\.name))
        #expect(fromProfile["model.language_model.layers.1.mlp.experts"] != nil)
        for (a, b) in zip(fromCheckpoint.taps, fromProfile.taps) { #expect(a.value == b.value, "\(a.name)") }
    }

    /// The error opening a copy of the compressed-tensors fixture with `edit` applied.
    func openingError(_ edit: (CheckpointCopy) throws -> Void) throws -> String {
        let copy = try CheckpointCopy(Self.fixtures[1])
        try edit(copy)
        return try #require(copy.openingError()).description
    }

    @Test func badStoredFieldsAreErrorsNamingThem() throws {
        let module = "model.language_model.layers.0.self_attn.q_a_proj"
        var error = try openingError { try $0.replace(module + ".input_global_scale", with: nil) }
        #expect(error.contains("tensor '\(module).weight': NVFP4 (compressed-tensors) without '\(module).input_global_scale'"),
                "\(error)")
        error = try openingError { try $0.rewrite(module + ".weight_scale", as: .u8) { $0 } }
        #expect(error.contains("'\(module).weight_scale' is U8 [40, 4]; NVFP4 (compressed-tensors) stores it as F8_E4M3 [40, 4]"),
                "\(error)")
        error = try openingError { try $0.rewrite(module + ".weight_global_scale", as: .f32) { _ in [0, 0, 0, 0] } }
        #expect(error.contains("'\(module).weight_global_scale' is 0.0; NVFP4 global scales are finite and positive"),
                "\(error)")
        error = try openingError { try $0.replace(Self.experts + ".5.up_proj.weight_packed", with: nil) }
        #expect(error.contains("'\(Self.experts).5.up_proj' is not stored in NVFP4, while expert 0's gate_proj is"),
                "\(error)")
    }

    @Test func aNegativeBlockScaleIsAnErrorWhenRead() throws {
        let copy = try CheckpointCopy(Self.fixtures[0])
        let module = "model.language_model.layers.0.self_attn.o_proj"
        try copy.rewrite(module + ".weight_scale", as: .f8e4m3) { bytes in [0xB8] + bytes.dropFirst() }   // −1
        let store = try CheckpointFixtures.store(copy.path)
        #expect(throws: WeightError.self) { _ = try store.tensor(module + ".weight") }
        do {
            _ = try store.linearLayer(module)
            Issue.record("a negative block scale was read")
        } catch {
            #expect(error.description.contains("'\(module).weight_scale' element 0 is -1.0; block scales are finite "
                                               + "and not negative"), "\(error)")
        }
    }
}
