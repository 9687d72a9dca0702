// PrecisionProfile: which roundings the reference applies on top of float64 arithmetic.
// Spec: spec/precision.md (every rounding point of `hf-bf16`, by layer).
//
// `exact` rounds nowhere: every layer is float64 from the weights to the logits. `hf-bf16` rounds where
// transformers does when the model runs in bfloat16: each module's output is stored in bf16, and the float32
// islands (RMSNorm statistics, RoPE angles, softmax) are rounded to float32. Sums inside one matrix product are
// float64 in both profiles (a GPU accumulates them in float32 in an order of its own; the tolerance classes
// absorb that).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensor

/// The rounding regime of a reference run.
public enum PrecisionProfile: String, CaseIterable, Sendable {
    /// float64 everywhere.
    case exact
    /// The casts transformers makes when the model runs in bfloat16.
    case hfBF16 = "hf-bf16"

    /// A value as a bf16 activation tensor holds it (identity under `exact`).
    @inlinable
    func activation(_ x: Double) -> Double {
        self == .exact ? x : BFloat16.rounded(x)
    }

    /// A value as a float32 island holds it (identity under `exact`).
    @inlinable
    func island(_ x: Double) -> Double {
        self == .exact ? x : Double(Float(x))
    }

    /// Every element of `t` rounded as an activation.
    func activations(_ t: Tensor<Double>) -> Tensor<Double> {
        self == .exact ? t : t.map(BFloat16.rounded)
    }

    /// The residual sum `a + b` (same shape), stored as the profile stores activations.
    func residual(_ a: Tensor<Double>, _ b: [Double]) -> Tensor<Double> {
        Tensor(shape: a.shape, scalars: zip(a.scalars, b).map { activation($0 + $1) })
    }

    /// Max-subtracted softmax of `scores` (empty in, empty out): float32 inside and bf16 out under `hf-bf16`, as
    /// torch's softmax computes for a bf16 input (or with `dtype=torch.float32` and a cast back).
    func softmax(_ scores: [Double]) -> [Double] {
        guard let top = scores.max() else { return [] }
        let exponentials = scores.map { island(exp($0 - top)) }
        let total = island(exponentials.reduce(0, +))
        return exponentials.map { activation(island($0 / total)) }
    }
}
