// The diff engine — spec/conformance.md §5: a backend run op by op over a golden set's cases, its taps compared
// with the goldens by the same code as a port's dump (`CaseComparison`).
//
//   isolated: every op gets the golden taps as inputs, so each tap shows that op's own error
//   chained:  every op gets what the backend produced before it, so the growth of error through the model shows
//   decode:   isolated, with attention run one token at a time through the backend's decode op over its latent
//             cache: the prefill taps reproduced step by step
//
// Goals, in order: never a PASS for a tap that was not computed (an op the backend lacks makes its taps NOT
// COVERED, and in chained mode everything downstream of them too); every tap of the golden set produced by
// exactly one backend op, in the model's order; then only the ops whose taps were asked for (isolated mode).

import MistralSmall4
import Tensor

/// How a diff feeds each op.
public enum DiffMode: String, Sendable, CaseIterable {
    case isolated, chained, decode
}

/// The outcome of one diff: what ran, against what, and a verdict per tap.
public struct DiffResult: Sendable {
    public let backend: String
    public let precision: CandidatePrecision
    public let mode: DiffMode
    public let goldens: String
    public let verdicts: [TapVerdict]
    /// The op behind each tap name (nil: assembled by the engine from taps the backend produced).
    public let ops: [String: SpecOp?]
    /// Each op's calls and time, in op table order.
    public let timings: [OpTiming]
    /// What the backend produced, by case name (for `--diagnose`).
    public let candidates: [String: TapTable]

    public var failures: [TapVerdict] { verdicts.filter { $0.status == .fail } }
    public var notCovered: [TapVerdict] { verdicts.filter { $0.status == .notCovered } }
}

public enum DiffEngine {
    /// Runs `backend` over every case of `data` in `mode` and compares the taps whose names `filter` matches (all
    /// when nil) and, with `kinds`, only taps of those kinds; `progress` hears each case and layer. Throws for what
    /// prevents a comparison (a backend error other than a missing op, a bad shape).
    public static func run(_ backend: any Backend, on data: GoldenData, mode: DiffMode, tolerances: Tolerances,
                           filter: Regex<AnyRegexOutput>? = nil, kinds: Set<TapKind>? = nil,
                           progress: RunProgress? = nil) throws -> DiffResult {
        let model = kinds == nil ? [:] : ModelPaths.taps(data.config)   // tap kinds by name, for `kinds` alone
        let wanted = { (name: String) -> Bool in
            let matches = filter.map { name.contains($0) } ?? true
            guard let kinds else { return matches }
            return matches && model[name].map { kinds.contains($0.kind) } == true
        }
        var verdicts = [TapVerdict]()
        var ops = [String: SpecOp?]()
        var timings = [SpecOp: OpTiming]()
        var candidates = [String: TapTable]()
        let trace = ShapeTrace(data.config)
        let layers = data.layers ?? 0...(data.config.text.numHiddenLayers - 1)
        progress?.plan(cases: data.cases.count, steps: layers.count, first: layers.lowerBound)
        defer { progress?.finish() }
        for (index, golden) in data.cases.enumerated() {
            progress?.begin(case: golden.name, index: index)
            let recorder = TapRecorder()
            recorder.onRecord = progress?.heard
            let run = try Self.graphRun(backend, data: data, case: golden, mode: mode, recorder: recorder, wanted: wanted)
            ops.merge(run.ops) { a, _ in a }
            OpTiming.add(run, trace: trace, images: golden.images, to: &timings)
            var candidate = TapTable(source: "backend \(backend.name), case \(golden.name)", recorder: recorder)
            for name in candidate.names where !wanted(name) { candidate[name] = nil }
            verdicts += try CaseComparison(name: golden.name, taps: golden.taps.filter { wanted($0.name) },
                                           golden: golden.golden, candidate: candidate, valid: golden.valid,
                                           tolerances: tolerances, router: data.router,
                                           uncovered: run.uncovered.filter { wanted($0.key) },
                                           failed: run.failed.filter { wanted($0.key) })
                .verdicts()
            candidates[golden.name] = candidate
        }
        return DiffResult(backend: backend.name, precision: backend.precision, mode: mode, goldens: data.origin,
                          verdicts: verdicts, ops: ops, timings: timings.values.sorted { $0.op < $1.op },
                          candidates: candidates)
    }

    /// `backend` run through the whole model on `golden`'s inputs, fed as `mode` feeds (chained: its own outputs;
    /// isolated and decode: each op the golden taps; decode: attention one position at a time), recording the taps
    /// `wanted` into `recorder`. Returns the run, which knows each tap's op and what was not covered or failed.
    static func graphRun(_ backend: any Backend, data: GoldenData, case golden: GoldenCaseData, mode: DiffMode,
                         recorder: TapRecorder, wanted: @escaping (String) -> Bool = { _ in true }) throws -> GraphRun {
        let feed = { (name: String) throws -> TapValue in
            guard let value = golden.golden[name] else {
                throw GoldenError(file: golden.golden.source, tensor: name, "missing")
            }
            return value
        }
        let run = GraphRun(backend: backend, store: data.store, inputs: golden.inputs, recorder: recorder,
                           golden: mode == .chained ? nil : feed, strict: false, profile: data.profile, wanted: wanted)
        run.stepwise = mode == .decode
        if let layers = data.layers, let hidden = golden.hidden {   // a layer-range set: from the case's hidden state
            var h = Flow(.real(hidden))
            for layer in layers { h = try run.decoderLayer(layer, h) }
        } else {
            try run.model(images: golden.images)
        }
        return run
    }

    /// Decoder layer `index` of `backend` on `hidden [B·S, H]` at `inputs`' positions, nothing compared: the unit
    /// `assay bench` times, through the same graph as every diff. With `caches` (one per sequence, S = 1), attention
    /// decodes over them instead of running a prefill. Returns `[B·S, H]`.
    public static func decoderLayer(_ backend: any Backend, index: Int, hidden: Tensor<Double>, inputs: ForwardInputs,
                                    store: any WeightStore, caches: [LatentCache]? = nil) throws -> Tensor<Double> {
        let run = GraphRun(backend: backend, store: store, inputs: inputs, recorder: .discarding(),
                           strict: true)
        if let caches { run.caches[index] = caches }
        return try run.own(try run.decoderLayer(index, Flow(.real(hidden)))).realValue
    }
}
