// GraphRun: one run of the model graph — how each spec op the graph calls gets its inputs and where its outputs go.
//
// The graph itself (TextDecoder.swift, DecoderLayer.swift, VisionTower.swift, VisionBlock.swift, Projector.swift,
// MultimodalModel.swift) is written once, as calls of spec ops through `any Backend`. A run decides the rest:
//
//   forward (`strict`):  each op takes what the ops before it produced; a missing op or weight is an error
//   chained diff:        the same flow; an op the backend lacks makes its taps, and everything after them, not covered
//   isolated diff:       each op takes the golden taps as inputs (`golden`), so each tap shows that op's own error;
//                        a sum no tap holds is computed exactly from golden taps; ops whose taps nobody wants are
//                        skipped
//   decode:              as isolated, attention run one token at a time through `mla_decode` (`stepwise`)
//
// Goals, in order: never a tap recorded that its op did not compute (a tap assembled from others takes the run's
// own values, never the goldens); every op's inputs and outputs named by its taps; then no work for unwanted taps.

import Tensor

/// A value flowing through the graph: what an op produced (nil when it could not run or was skipped), and the tap
/// it was recorded as. Values are kept in the rows the graph computes on (`[B·S, H]`, `[P, Hv]`), taps in their
/// stored layout.
public struct Flow: Sendable {
    public let tap: Tap?
    public let value: TapValue?
    /// Why `value` is nil.
    let missing: String?

    /// A graph input (token ids, pixels) or a value no tap holds.
    public init(_ value: TapValue, tap: Tap? = nil) {
        (self.tap, self.value, missing) = (tap, value, nil)
    }

    init(tap: Tap?, missing: String) {
        (self.tap, value, self.missing) = (tap, nil, missing)
    }
}

/// An input an op needs that was not produced (chained mode, after an op the backend lacks).
struct Unavailable: Error {
    let why: String
}


/// One op call of a run, as an observer hears it (ShapeTrace walks the graph this way).
public struct OpCall: Sendable {
    /// nil: a tap assembled from the run's own values.
    public let op: SpecOp?
    public let taps: [Tap]
    /// The module the call belongs to: its last tap's, or the block of a residual sum.
    public let module: String
}

/// One op call that ran: the call, its wall time (the backend's op and what it reads, as the run sees it), and the
/// elements it took in and gave out.
public struct TimedCall: Sendable {
    public let call: OpCall
    public let seconds: Double
    public let activationElements: Int
}

/// One pass of a backend through the model graph.
public final class GraphRun {
    public let backend: any Backend
    public let store: any WeightStore
    public let config: ModelConfig
    public let paths: ModelPaths
    public let inputs: ForwardInputs
    /// Where the taps go.
    public let recorder: TapRecorder
    /// The golden value of a tap by name (isolated and decode diffs), or nil: each op takes the run's own values.
    let golden: ((String) throws -> TapValue)?
    /// True (a forward pass): an op the backend lacks, or an input nobody produced, is an error. False (a diff):
    /// its taps are not covered.
    let strict: Bool
    /// Whether a tap is wanted: an isolated run skips ops none of whose taps are.
    let wanted: (String) -> Bool
    /// The exact residual sums of golden taps (isolated runs), in the golden set's profile.
    let exact: ReferenceBackend
    /// Attention one position at a time through `mla_decode` (decode diffs).
    public var stepwise = false
    /// Latent caches per layer and sequence: attention appends to them, and decodes over them once they hold rows.
    public var caches: [[LatentCache]]
    /// Taps not produced because the op behind them is missing or lacked an input, with why.
    public private(set) var uncovered: [String: String] = [:]
    /// Taps whose op failed (a diff: a kernel's error, crash or timeout), with the backend's message.
    public private(set) var failed: [String: String] = [:]
    /// The op behind each tap (nil: assembled from the run's own taps).
    public private(set) var ops: [String: SpecOp?] = [:]
    /// Hears every op call, in graph order.
    public var observer: ((OpCall) -> Void)?
    /// Every op call that produced its taps, timed.
    public private(set) var timed: [TimedCall] = []

    /// A run of `backend` over `store` on `inputs`. `golden` feeds each op the golden taps (a diff); `strict` makes
    /// every failure an error (a forward pass).
    public init(backend: any Backend, store: any WeightStore, inputs: ForwardInputs, recorder: TapRecorder,
                golden: ((String) throws -> TapValue)? = nil, strict: Bool, profile: PrecisionProfile = .exact,
                wanted: @escaping (String) -> Bool = { _ in true }) {
        (self.backend, self.store, self.inputs, self.recorder) = (backend, store, inputs, recorder)
        (self.golden, self.strict, self.wanted) = (golden, strict, wanted)
        config = store.config
        paths = ModelPaths(store.config)
        exact = ReferenceBackend(profile: profile)
        let width = config.text.latentCacheWidth
        caches = Array(repeating: Array(repeating: LatentCache(width: width), count: inputs.batch),
                       count: config.text.numHiddenLayers)
    }

    /// `[B, S, width]`: token rows in their stored layout.
    func tokenShape(width: Int) -> [Int] { [inputs.batch, inputs.length, width] }

    // MARK: Ops

    /// Runs `op` producing `taps` from `inputs` (their values in computing rows, resolved by the run's feed), records
    /// the taps and returns them as flows. An op the backend lacks, or an input nobody produced, makes the taps not
    /// covered (or is an error, strict); other errors propagate.
    public func op(_ op: SpecOp, _ taps: [Tap], _ inputs: [Flow], _ body: ([TapValue]) throws -> [TapValue])
        throws -> [Flow]
    {
        for tap in taps { ops[tap.name] = op }
        let call = OpCall(op: op, taps: taps, module: taps.last?.module ?? "")
        observer?(call)
        guard strict || golden == nil || taps.contains(where: { wanted($0.name) }) else {
            return taps.map { Flow(tap: $0, missing: "skipped") }
        }
        return try produce(taps) {
            let values = try inputs.map(resolve)
            let start = monotonicSeconds()
            let outputs = try body(values)
            timed.append(TimedCall(call: call, seconds: monotonicSeconds() - start,
                                   activationElements: (values + outputs).map(\.elementCount).reduce(0, +)))
            return outputs
        }
    }

    /// One op producing one tap from one input, both real-valued.
    public func op(_ op: SpecOp, _ tap: Tap, _ input: Flow, _ body: (Tensor<Double>) throws -> Tensor<Double>)
        throws -> Flow
    {
        try self.op(op, [tap], [input]) { [.real(try body(try $0[0].realValue))] }[0]
    }

    /// A tap assembled from the run's own values (never the goldens, so it can only pass if the backend's ops
    /// produced it): the vision tower's output, the merged input embeddings.
    public func assembled(_ tap: Tap, _ inputs: [Flow], _ body: ([Tensor<Double>]) throws -> Tensor<Double>)
        throws -> Flow
    {
        ops[tap.name] = .some(nil)
        observer?(OpCall(op: nil, taps: [tap], module: tap.module))
        return try produce([tap]) { [.real(try body(try inputs.map { try own($0).realValue }))] }[0]
    }

    /// The residual sum `a + b` no tap holds (spec/decoder.md eq. 2, spec/vision.md eq. 11) inside block `module`:
    /// exact from golden taps (isolated), the backend's `add` (forward, chained).
    public func residual(_ a: Flow, _ b: Flow, in module: String) throws -> Flow {
        observer?(OpCall(op: .add, taps: [], module: module))
        do {
            let (x, y) = (try resolve(a).realValue, try resolve(b).realValue)
            return Flow(.real(golden == nil ? try backend.add(x, y) : try exact.add(x, y)))
        } catch let error as Unavailable where !strict {
            return Flow(tap: nil, missing: error.why)
        } catch let error as BackendError where error.unsupported && !strict {
            return Flow(tap: nil, missing: "op \(error.op.rawValue) not implemented by \(backend.name)")
        }
    }

    private func produce(_ taps: [Tap], _ body: () throws -> [TapValue]) throws -> [Flow] {
        do {
            let values = try body()
            for (tap, value) in zip(taps, values) { recorder.record(tap, stored(value, tap)) }
            return zip(taps, values).map { Flow($1, tap: $0) }
        } catch let error as BackendError where error.unsupported && !strict {
            return notCovered(taps, "op \(error.op.rawValue) not implemented by \(backend.name)")
        } catch let missing as Unavailable where !strict {
            return notCovered(taps, missing.why)
        } catch let error as BackendError where !strict {
            for tap in taps { failed[tap.name] = error.description }
            return taps.map { Flow(tap: $0, missing: "op \(error.op.rawValue) failed") }
        }
    }

    private func notCovered(_ taps: [Tap], _ why: String) -> [Flow] {
        for tap in taps { uncovered[tap.name] = why }
        return taps.map { Flow(tap: $0, missing: why) }
    }

    // MARK: Values

    /// The value an op takes for `flow`: the golden tap (isolated), or what the run produced.
    func resolve(_ flow: Flow) throws -> TapValue {
        guard let golden, let tap = flow.tap else { return try own(flow) }
        return computing(try golden(tap.name), tap)
    }

    /// What the run itself produced as `flow`, whatever the feed.
    public func own(_ flow: Flow) throws -> TapValue {
        guard let value = flow.value else {
            if strict { preconditionFailure("a forward pass lost \(flow.tap?.name ?? "a value"): \(flow.missing ?? "")") }
            throw Unavailable(why: flow.tap.map { "needs \($0.name), which was not produced" } ?? flow.missing ?? "")
        }
        return value
    }

    /// `value` in its stored layout.
    func stored(_ value: TapValue, _ tap: Tap) -> TapValue {
        guard case .real(let t) = value else { return value }
        switch tap.kind.row.layout {
        case .tokens: return .real(t.reshaped(tokenShape(width: t.shape[t.rank - 1])))
        case .patches: return .real(t.reshaped([1] + t.shape))
        case .asComputed: return value
        }
    }

    /// A stored tap in computing rows.
    func computing(_ value: TapValue, _ tap: Tap) -> TapValue {
        guard case .real(let t) = value, tap.kind.row.layout != .asComputed, t.rank >= 2 else { return value }
        return .real(t.reshaped([t.count / t.shape[t.rank - 1], t.shape[t.rank - 1]]))
    }
}

extension TapValue {
    /// Elements of the value.
    var elementCount: Int {
        switch self {
        case .real(let t): t.count
        case .integer(let t): t.count
        }
    }

    /// The real tensor, or an error naming what was found.
    public var realValue: Tensor<Double> {
        get throws {
            guard case .real(let t) = self else { throw InputError(field: "tap", "an integer tap where a real one belongs") }
            return t
        }
    }
}
