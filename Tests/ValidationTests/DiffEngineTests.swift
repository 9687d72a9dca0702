// The diff engine: the reference passes its own goldens in both modes; a missing op is NOT COVERED (alone in
// isolated mode, with everything downstream in chained mode) and never replaced by the reference; a planted bug
// fails at its tap; the reports carry what the table shows and need no network.

import Foundation
import Testing
import MistralSmall4
import Tensor
@testable import Validation

/// The reference without one op.
private struct Without: DelegatingBackend {
    let missingOp: SpecOp
    let base: any Backend = ReferenceBackend()
    var name: String { "reference-without-\(missingOp.rawValue)" }
    var operations: Set<SpecOp> { base.operations.subtracting([missingOp]) }

    func routedExperts(_ x: Tensor<Double>, routing: Routing, store: any WeightStore, prefix: String) throws
        -> Tensor<Double> {
        guard missingOp != .routedExperts else { throw missing(.routedExperts) }
        return try base.routedExperts(x, routing: routing, store: store, prefix: prefix)
    }
}

/// The reference with an op that fails for a reason other than a missing op.
private struct Broken: DelegatingBackend {
    let base: any Backend = ReferenceBackend()
    var name: String { "broken" }
    func lmHead(_ x: Tensor<Double>, name: String, store: any WeightStore) throws -> Tensor<Double> {
        throw BackendError(backend: "broken", op: .lmHead, "vocabulary of 128 is not a multiple of 256")
    }
}

@Suite(.serialized) struct DiffEngineTests {
    static let goldens = GoldenSetTests.repository.appendingPathComponent("goldens/tiny-vision").path
    static let data = Result { try GoldenData.load(goldens) }

    func diff(_ backend: any Backend, _ mode: DiffMode, filter: String? = nil) throws -> DiffResult {
        try DiffEngine.run(backend, on: try Self.data.get(), mode: mode, tolerances: try Tolerances(backend.precision),
                           filter: try filter.map { try Regex($0) })
    }

    @Test(arguments: DiffMode.allCases)
    func referencePassesItsOwnGoldens(mode: DiffMode) throws {
        let result = try diff(ReferenceBackend(), mode)
        let manifestTaps = try Self.data.get().cases.reduce(0) { $0 + $1.taps.filter { $0.kind != .routerMargin }.count }
        #expect(result.verdicts.count == manifestTaps)
        #expect(result.failures.isEmpty && result.notCovered.isEmpty)
        #expect(result.opName("model.language_model.layers.1.mlp.gate#indices") == "router")
        #expect(result.opName("model.language_model#inputs_embeds") == "engine")
    }

    @Test func aMissingOpIsNotCoveredAloneWhenIsolated() throws {
        let result = try diff(Without(missingOp: .routedExperts), .isolated)
        let uncovered = Set(result.notCovered.map(\.tap))
        #expect(uncovered == ["model.language_model.layers.1.mlp.experts", "model.language_model.layers.2.mlp.experts"])
        #expect(result.notCovered.allSatisfy { $0.comparison == nil && $0.note.contains("routed_experts") })
        #expect(result.failures.isEmpty)
    }

    @Test func aMissingOpLeavesEverythingDownstreamNotCoveredWhenChained() throws {
        let result = try diff(Without(missingOp: .routedExperts), .chained)
        let start = result.verdicts.filter { $0.caseName == "start" }
        let firstUncovered = try #require(start.firstIndex { $0.status == .notCovered })
        #expect(start[firstUncovered].tap == "model.language_model.layers.1.mlp.experts")
        #expect(start[..<firstUncovered].allSatisfy { $0.status == .pass })
        #expect(start[firstUncovered...].allSatisfy { $0.status == .notCovered || $0.tap.contains("shared_experts") })
        #expect(start.last?.tap == "lm_head" && start.last?.status == .notCovered)
    }

    @Test func aPlantedBugFailsAtItsTapInBothModes() throws {
        for mode in DiffMode.allCases {
            let result = try diff(BuggyBackend(.normEpsilon), mode)
            #expect(result.failures.first?.tap == "model.language_model.layers.0.input_layernorm")
        }
    }

    /// Every op that ran is timed, with the trace's multiply-adds for the ops that multiply; the CSV has a row each.
    @Test func everyOpThatRanIsTimedAndCosted() throws {
        let result = try diff(ReferenceBackend(), .isolated)
        #expect(result.timings.map(\.op) == SpecOp.allCases.filter { $0 != .mlaDecode })
        #expect(result.timings.allSatisfy { $0.calls > 0 && $0.seconds > 0 && $0.bytes > 0 })
        let multiplying: Set<SpecOp> = [.mlaAttention, .router, .routedExperts, .swiglu, .lmHead, .patchEmbedding,
                                         .visionAttention, .patchMerger, .projectorMLP]
        #expect(result.timings.filter { multiplying.contains($0.op) }.allSatisfy { $0.multiplyAdds > 0 })
        #expect(result.timingCSV.split(separator: "\n").count == result.timings.count + 1)
    }

    /// A kernel's error fails its op's taps with the message, and the diff goes on with the other ops.
    @Test func anOpThatFailsFailsItsTapsAndTheDiffGoesOn() throws {
        let result = try diff(Broken(), .isolated)
        let head = try #require(result.verdicts.first { $0.tap == "lm_head" })
        #expect(head.status == .fail && head.note.contains("not a multiple of 256"))
        #expect(result.failures.allSatisfy { $0.tap == "lm_head" })
        #expect(result.verdicts.filter(\.passed).count > 20)
    }

    @Test func theFilterKeepsOnlyMatchingTaps() throws {
        let result = try diff(ReferenceBackend(), .isolated, filter: #"layers\.0\.self_attn$"#)
        #expect(result.verdicts.count == 5)   // one per case
        #expect(result.verdicts.allSatisfy { $0.tap.hasSuffix("layers.0.self_attn") && $0.passed })
        #expect(result.verdicts.allSatisfy { $0.rowErrors?.count == $0.shape[0] * $0.shape[1] })
    }

    @Test func reportsCarryTheVerdictsAndNeedNoNetwork() throws {
        let result = try diff(BuggyBackend(.ropeHalfSplit), .isolated)
        let json = try JSONValue.parse(Array(result.json.serialized(pretty: true).utf8))
        #expect(json["failed"]?.intValue == result.failures.count)
        #expect(json["first_failure"]?["tap"]?.stringValue == "model.language_model.layers.0.self_attn#kv_latent")
        #expect(json["taps"]?.arrayValue?.count == result.verdicts.count)
        let html = result.html
        #expect(html.contains("<svg") && html.contains("FAIL: first failing tap model.language_model.layers.0.self_attn#kv_latent"))
        for outside in ["<script", "src=", "href=", "@import", "url("] { #expect(!html.contains(outside)) }
        #expect(html.components(separatedBy: "http").count - 1 == html.components(separatedBy: "<svg").count - 1)
    }
}

@Suite struct SelfTestTests {
    /// `reference+BUG` under a profile rounds as that profile does (it once always ran `exact`): its precision is
    /// bf16, and its norms come out in bf16.
    @Test func aPlantedBugRunsInTheProfileItIsGiven() throws {
        let buggy = BuggyBackend(.normEpsilon, profile: .hfBF16)
        #expect(buggy.precision == .bf16)
        let x = Tensor(shape: [2, 4], scalars: [0.1, -0.7, 1.3, 2.9, 0.3, 0.5, -1.1, 0.2])
        let normed = try buggy.rmsNorm(x, weight: Tensor(shape: [4], repeating: 1.1), epsilon: 1e-6)
        #expect(normed.scalars.allSatisfy { BFloat16.rounded($0) == $0 })
    }

    @Test func everyPlantedBugIsCaughtAtItsTapAndTheControlPasses() throws {
        let outcomes = try SelfTest.run()
        #expect(outcomes.count == PlantedBug.allCases.count + 1)
        for outcome in outcomes {
            #expect(outcome.ok, "\(outcome.bug?.rawValue ?? "control"): first failure \(outcome.firstFailure?.tap ?? "none")")
        }
    }
}
