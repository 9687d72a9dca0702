// RMSNorm — spec/rmsnorm.md eq. (1)–(2).
//
//   rms(x) = sqrt(mean_i x_i² + ε)                       (1)
//   y_i    = w_i · (x_i / rms(x))                        (2)
//
// ε: the decoder's input / post-attention / final norms use config `rms_norm_eps`; the q_a and kv_a norms inside
// MLA use 1e-6 always (transformers builds them with the class default).

import Tensor

/// One RMSNorm over the last axis.
public struct RMSNorm: Sendable {
    /// Per-channel gain. [width]
    public let weight: Tensor<Double>
    public let epsilon: Double

    public init(weight: Tensor<Double>, epsilon: Double) {
        self.weight = weight
        self.epsilon = epsilon
    }

    /// `x [rows, width] -> y [rows, width]`. Under `hf-bf16` the statistics run in float32 and the normalized
    /// row is rounded to bf16 before and after the gain, as transformers' `Mistral4RMSNorm` does.
    public func callAsFunction(_ x: Tensor<Double>, _ profile: PrecisionProfile = .exact) -> Tensor<Double> {
        let width = weight.count
        precondition(x.shape.last == width, "RMSNorm of width \(width) applied to \(x.shape)")
        var y = x.scalars
        for start in stride(from: 0, to: y.count, by: width) {
            var sumOfSquares = 0.0
            for i in start..<(start + width) { sumOfSquares += x.scalars[i] * x.scalars[i] }
            let variance = profile.roundedToFloat32(sumOfSquares / Double(width))                       // (1)
            let inverseRMS = profile.roundedToFloat32(1 / profile.roundedToFloat32(variance + epsilon).squareRoot())
            for i in start..<(start + width) {
                let normalized = profile.roundedAsActivation(profile.roundedToFloat32(x.scalars[i] * inverseRMS))
                y[i] = profile.roundedAsActivation(weight.scalars[i - start] * normalized)            // (2)
            }
        }
        return Tensor(shape: x.shape, scalars: y)
    }
}
