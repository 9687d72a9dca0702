// The f64 verdict tells float32 arithmetic from float64 (issue 23) against goldens stored in float64, where the
// storage costs nothing (spec/tolerances.json, nmse_against_f64_taps): the float32 BLAS backend's taps fail it at
// positions 0…, while a second float64 algorithm (absorbed MLA) passes. Against float32-stored goldens the same
// float32 taps pass f64 at short positions: the hole this closes.

import Foundation
import Testing
import Backends
import MistralSmall4
import Tensor
import Validation

@Suite struct Float64VerdictTests {
    /// A one-case set of `tiny` at positions 0…, taps stored as `dtype`; its path.
    func set(_ dtype: DType) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("assay-f64-\(dtype.rawValue)-\(UUID())").path
        var options = GoldenOptions(preset: .tiny)
        (options.dtype, options.positions, options.images) = (dtype, 0, 0)
        try GoldenSet.write(options, to: path)
        return path
    }

    /// `table`'s taps as a float64 dump file next to `set`; its path.
    func dump(_ table: TapTable, beside set: String, name: String) throws -> String {
        let path = set + "-" + name + ".safetensors"
        try SafeTensorsWriter.write(try table.names.map { tap throws in
            switch table[tap]! {
            case .real(let t): try StoredTensor(name: tap, encoding: t, as: .f64)
            case .integer(let t): try StoredTensor(name: tap, encoding: t, as: .i64)
            }
        }, metadata: [:], to: path)
        return path
    }

    @Test func float32ArithmeticFailsTheF64VerdictAgainstFloat64Goldens() throws {
        let (f64Set, f32Set) = (try set(.f64), try set(.f32))
        defer { for path in [f64Set, f32Set] { try? FileManager.default.removeItem(atPath: path) } }
        let data = try GoldenData.load(f64Set)
        let blas = try DiffEngine.run(BLASBackend(), on: data, mode: .chained, tolerances: try Tolerances(.f32))
        let float32 = try dump(try #require(blas.candidates["positions"]), beside: f64Set, name: "blas")
        let verdicts = try Conformance.check(goldens: f64Set, candidate: float32, precision: .f64)
        let first = try #require(verdicts.first { $0.status == .fail })
        #expect(first.tap == "model.language_model.layers.0.input_layernorm" && first.limit == 1e-20, "\(first.tap)")
        // A second float64 algorithm (attention over the latent, absorbed) passes.
        let golden = try #require(data.cases.first)
        let recorder = TapRecorder()
        try MultimodalModel(store: data.store, algorithm: .absorbed).forward(golden.inputs, images: nil, taps: recorder)
        let absorbed = try dump(TapTable(source: "absorbed", recorder: recorder), beside: f64Set, name: "absorbed")
        #expect(try Conformance.check(goldens: f64Set, candidate: absorbed, precision: .f64).allSatisfy(\.passed))
        // Against float32-stored goldens, the float32 taps pass the f64 verdict at positions 0….
        #expect(try Conformance.check(goldens: f32Set, candidate: float32, precision: .f64).allSatisfy(\.passed))
    }
}
