// `assay selftest`: the validator validated — spec/conformance.md §7. A golden set made by the reference on the
// tiny preset, then the reference with each planted bug diffed against it in isolated mode: every bug must be
// caught, first at the tap where it lives, and the unmodified reference must pass.

import MistralSmall4
import Tensor

/// The outcome for one planted bug (or the control run, `bug` nil).
public struct SelfTestOutcome: Sendable {
    public let bug: PlantedBug?
    public let expected: (caseName: String, tap: String)?
    /// The first failing tap, with its NMSE when numeric.
    public let firstFailure: TapVerdict?
    public let failedTaps: Int
    /// The precisions whose limits catch the bug too (any tap over that precision's limit, or routed elsewhere).
    public let caughtBy: [CandidatePrecision]

    /// Caught at the expected tap (a bug), or no failure at all (the control).
    public var ok: Bool {
        guard let expected else { return firstFailure == nil }
        return firstFailure?.caseName == expected.caseName && firstFailure?.tap == expected.tap
    }
}

public enum SelfTest {
    /// The selftest goldens: tiny preset, seed 0, float64 taps kept in memory. Cases: `start` (2 × 8 tokens at
    /// 0…, row 1 left-padded), `long` (2 × 8 at 262,140…, crossing τ's step at 262,144), `images` (2 images).
    /// The synthetic weights' tied experts (spec/rng.md §4.3) make exact expert and group ties in layer 1 of `start`.
    public static func goldens() throws -> GoldenData {
        let config = try Preset.tiny.load()
        let store = SyntheticWeightStore(config: config, seed: 0)
        var cases = [GoldenCase]()
        for (name, start) in [("start", 0), ("long", GoldenCase.longStart - 4)] {
            cases.append(GoldenCase(name: name, summary: "", inputs: try GoldenCase.text(
                config.text, seed: 0, case: name, tokens: 8, batch: 2, start: start), images: nil))
        }
        if let multimodal = config.multimodal {
            cases.append(try GoldenCase.imageCase(config, multimodal, seed: 0, tokens: 4, count: 2))
        }
        let model = MultimodalModel(store: store)
        let data = try cases.map { golden in
            let recorder = TapRecorder()
            try model.forward(golden.inputs, images: golden.images, taps: recorder)
            return GoldenCaseData(name: golden.name, inputs: golden.inputs, images: golden.images,
                                  taps: recorder.recorded.map(\.tap),
                                  golden: TapTable(source: "selftest goldens", recorder: recorder))
        }
        return GoldenData(config: config, profile: .exact, store: store, cases: data, origin: "selftest (tiny)")
    }

    /// The control run, then every planted bug, each diffed in isolated mode with the float64 limits.
    public static func run(progress: (String) -> Void = { _ in }) throws -> [SelfTestOutcome] {
        let data = try goldens()
        let tolerances = try Tolerances(.f64)
        let others = try [CandidatePrecision.f32, .bf16].map { ($0, try Tolerances($0)) }
        let paths = ModelPaths(data.config)
        var outcomes = [SelfTestOutcome]()
        for bug in [nil] + PlantedBug.allCases.map(Optional.some) {
            progress(bug?.rawValue ?? "control")
            let backend: any Backend = bug.map { BuggyBackend($0) } ?? ReferenceBackend()
            let result = try DiffEngine.run(backend, on: data, mode: .isolated, tolerances: tolerances)
            let caught = [.f64] + others.filter { _, limits in
                result.verdicts.contains { v in
                    v.toleranceClass == .routerIndices ? v.status == .fail
                        : (v.comparison.map { !($0.nmse <= limits.nmse[v.toleranceClass] ?? 0) } ?? false)
                }
            }.map(\.0)
            outcomes.append(SelfTestOutcome(bug: bug, expected: bug?.expectedFirstFailure(paths),
                                            firstFailure: result.failures.first, failedTaps: result.failures.count,
                                            caughtBy: bug == nil ? [] : caught))
        }
        return outcomes
    }
}
