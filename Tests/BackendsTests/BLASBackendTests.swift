// The BLAS backend through the diff engine: every op passes the f32 limits on the committed golden sets, isolated
// and chained, and its RoPE rotates at the spec's frequencies far into the context.

import Foundation
import Testing
import Backends
import MistralSmall4
import Tensor
import Validation

@Suite struct BLASBackendTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test(arguments: ["tiny", "tiny-vision"], DiffMode.allCases)
    func passesTheGoldens(set: String, mode: DiffMode) throws {
        let data = try GoldenData.load(Self.repository.appendingPathComponent("goldens/\(set)").path)
        let result = try DiffEngine.run(BLASBackend(), on: data, mode: mode, tolerances: try Tolerances(.f32))
        #expect(result.notCovered.isEmpty)
        #expect(result.failures.isEmpty, "first failure: \(result.failures.first?.tap ?? "")")
        // measured worst NMSE 1.2e-13 isolated, 3.5e-12 chained on tiny-vision: far inside 5e-4, so a kernel bug
        // that the f32 limit would still pass is caught here
        let worst = result.verdicts.compactMap { $0.comparison?.nmse }.max() ?? 0
        #expect(worst < (mode == .isolated ? 1e-11 : 1e-10))
    }

    @Test(arguments: [0, 1_000_000])
    func rotatesAtTheSpecFrequencies(start: Int) throws {
        let pairs = try RopeSpectrum.measure(BLASBackend(), config: try Preset.tiny.load(), positions: 64, start: start)
        #expect(pairs.allSatisfy { !$0.flagged })
    }
}
