// The static scales of one FP8 linear (or of one expert's projection) as a weight store hands them to the layers —
// spec/quant.md eq. (1)–(6). The layers never see checkpoint names or dtypes: a store that holds FP8 weights
// returns them dequantized (w_q · s_w, exact in float64) and this value beside them.

import Tensor

/// s_w, s_a and the activation convention of one FP8 linear.
public struct FP8Quantization: Sendable, Equatable {
    /// s_w (`weight_scale_inv`): W = w_q · s_w (eq. 6).
    public let weightScale: Double
    /// s_a (`activation_scale`): x ≈ x_q · s_a.
    public let activationScale: Double
    public let convention: FP8ActivationConvention

    /// The scales of weight `tensor`; a scale that is not finite and positive is an error naming the tensor and the
    /// scale (as transformers names it), never a trap further on.
    public init(weightScale: Double, activationScale: Double, convention: FP8ActivationConvention, tensor: String)
        throws(WeightError)
    {
        for (field, scale) in [("weight_scale_inv", weightScale), ("activation_scale", activationScale)]
        where !(scale.isFinite && scale > 0) {
            throw WeightError(source: "fp8 quantization", tensor: tensor,
                              "\(field) is \(scale); FP8 scales are finite and positive")
        }
        self.weightScale = weightScale
        self.activationScale = activationScale
        self.convention = convention
    }

    /// Eq. (2)–(3) on every element: the E4M3 values x_q of `x` (any shape).
    public func quantizedActivations(_ x: Tensor<Double>) -> Tensor<Double> {
        x.map { FP8StaticLinear.quantizeActivation($0, scale: activationScale, convention) }
    }

    /// The E4M3 values w_q of a dequantized weight `w = w_q · s_w` (the division is exact: w_q has 4 significant
    /// bits and s_w is a float32, so their product needs at most 28 of float64's 53).
    public func weightCodes(_ w: Tensor<Double>) -> Tensor<Double> {
        w.map { $0 / weightScale }
    }
}
