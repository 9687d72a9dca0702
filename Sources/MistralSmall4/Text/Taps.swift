// Taps: the named intermediate tensors a forward pass records — spec/taps.md.
//
// Names are transformers module paths (`model.language_model.layers.3.mlp.gate`), so a PyTorch port records the
// same tensors with forward hooks; sub-module values get a `#suffix` (`…self_attn#kv_latent`, `…mlp.gate#margin`).

import Tensor

/// One recorded value: real-valued, or integer (router indices).
public enum TapValue: Sendable, Equatable {
    case real(Tensor<Double>)
    case integer(Tensor<Int>)

    public var shape: [Int] {
        switch self {
        case .real(let t): t.shape
        case .integer(let t): t.shape
        }
    }
}

/// Collects taps in the order they are produced, keeping only names the filter accepts.
public final class TapRecorder: @unchecked Sendable {
    /// Recorded taps, in production order.
    public private(set) var recorded: [(tap: Tap, value: TapValue)] = []
    private let accepts: (String) -> Bool
    /// Hears every tap the run produces, kept or not, in production order (a progress report).
    public var onRecord: ((Tap) -> Void)?

    /// Records every tap whose name `filter` matches anywhere (all taps when nil).
    public init(filter: Regex<AnyRegexOutput>? = nil) {
        accepts = { name in filter.map { name.contains($0) } ?? true }
    }

    private init(accepts: @escaping (String) -> Bool) { self.accepts = accepts }

    /// A recorder that keeps nothing (a run timed, not compared).
    public static func discarding() -> TapRecorder { TapRecorder { _ in false } }

    /// Recorded taps by name, in production order.
    public var taps: [(name: String, value: TapValue)] { recorded.map { ($0.tap.name, $0.value) } }

    public func record(_ tap: Tap, _ value: @autoclosure () -> TapValue) {
        onRecord?(tap)
        if accepts(tap.name) { recorded.append((tap, value())) }
    }

    /// The tap named `name`, if recorded.
    public subscript(name: String) -> TapValue? { recorded.first { $0.tap.name == name }?.value }
}
