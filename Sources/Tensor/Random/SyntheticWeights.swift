// SyntheticWeights: the deterministic weights of the presets, a pure function of (seed, tensor name).
// Spec: spec/rng.md (eq. 8).

/// Weights drawn as `bf16(mean + std · z)` from each tensor's own stream, so every value is exactly
/// representable in bfloat16: an f64, f32 or bf16 port loads identical weights, and a precision
/// profile never adds weight rounding of its own.
public struct SyntheticWeights: Sendable {
    public let seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    /// Elements `range` (row-major) of tensor `name`: e.g. one expert's rows of a fused expert tensor.
    ///
    /// ```
    /// w[i] = bf16(mean + std · z[i])     (round to nearest even, once, from the double)     (eq. 8)
    /// ```
    public func normal(_ name: String, elements range: Range<Int>, std: Double, mean: Double = 0) -> [Double] {
        [Double](unsafeUninitializedCapacity: range.count) { buffer, initialized in
            fill(name, elements: range, std: std, mean: mean, into: buffer.baseAddress!)
            initialized = range.count
        }
    }

    /// `normal(name, elements: range, …)` written to `out[0..<range.count]` (no allocation).
    public func fill(_ name: String, elements range: Range<Int>, std: Double, mean: Double = 0,
                     into out: UnsafeMutablePointer<Double>) {
        TensorStream(seed: seed, name: name).fill(range, into: out) { BFloat16.rounded(mean + std * $0) }
    }

    /// The whole tensor `name` of `shape`.
    public func normal(_ name: String, shape: [Int], std: Double, mean: Double = 0) -> Tensor<Double> {
        guard let count = Shape.elementCount(shape) else { preconditionFailure("shape \(shape) overflows Int") }
        return Tensor(shape: shape, scalars: normal(name, elements: 0..<count, std: std, mean: mean))
    }
}
