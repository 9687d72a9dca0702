// The static scales of one FP8 linear (or of one expert's projection) as a weight store hands them to the layers —
// spec/quant.md eq. (1)–(6). The layers never see checkpoint names or dtypes: a store that holds FP8 weights
// returns them dequantized (w_q · s_w, exact in float64) and this value beside them.
//
// One activation scale quantizes the whole input; the weight may carry one scale per equal block of output rows:
// a fused gate|up expert stored with transformers' `gate_up_proj_scale_inv` [E, 2, 1] has a gate half under s_gate
// and an up half under s_up (spec/quant.md §4). Every other weight has one block.

import Tensor

/// s_w (one per block of output rows), s_a and the activation convention of one FP8 linear.
public struct FP8Quantization: Sendable, Equatable {
    /// s_w (`weight_scale_inv`): W = w_q · s_w (eq. 6), one per equal block of output rows — [s_w], or [s_gate, s_up]
    /// for a fused gate|up expert whose halves carry scales of their own. Equal scales collapse: [s, s] is [s].
    public let weightScales: [Double]
    /// s_a (`activation_scale`): x ≈ x_q · s_a.
    public let activationScale: Double
    public let convention: FP8ActivationConvention

    /// The scales of weight `tensor`; a scale that is not finite and positive is an error naming the tensor and the
    /// scale (as transformers names it), never a trap further on.
    public init(weightScales: [Double], activationScale: Double, convention: FP8ActivationConvention,
                tensor: String) throws(WeightError)
    {
        precondition(!weightScales.isEmpty, "FP8Quantization: no weight scale for \(tensor)")
        for (field, scale) in weightScales.map({ ("weight_scale_inv", $0) }) + [("activation_scale", activationScale)]
        where !(scale.isFinite && scale > 0) {
            throw WeightError(source: "fp8 quantization", tensor: tensor,
                              "\(field) is \(scale); FP8 scales are finite and positive")
        }
        self.init(checked: weightScales, activationScale, convention)
    }

    /// One weight scale for the whole weight.
    public init(weightScale: Double, activationScale: Double, convention: FP8ActivationConvention, tensor: String)
        throws(WeightError)
    {
        try self.init(weightScales: [weightScale], activationScale: activationScale, convention: convention,
                      tensor: tensor)
    }

    /// Scales already checked, equal weight scales collapsed into one.
    private init(checked weightScales: [Double], _ activationScale: Double, _ convention: FP8ActivationConvention) {
        self.weightScales = Set(weightScales).count == 1 ? [weightScales[0]] : weightScales
        self.activationScale = activationScale
        self.convention = convention
    }

    /// The quantization of block `index` of `count` equal blocks of output rows (the gate or up half of a fused
    /// expert, `count` = 2): its own weight scale, or the one scale of a single-block weight.
    public func block(_ index: Int, of count: Int) -> FP8Quantization {
        guard weightScales.count > 1 else { return self }
        precondition(weightScales.count == count && (0..<count).contains(index),
                     "FP8Quantization: block \(index) of \(count), weight scales \(weightScales)")
        return FP8Quantization(checked: [weightScales[index]], activationScale, convention)
    }

    /// `self`'s rows stacked on `other`'s (gate on up) as one weight with a block each: nil when the two quantize
    /// their input differently (activation scale or convention), or either has blocks of its own.
    public func stacked(on other: FP8Quantization) -> FP8Quantization? {
        guard activationScale == other.activationScale, convention == other.convention,
              weightScales.count == 1, other.weightScales.count == 1 else { return nil }
        return FP8Quantization(checked: weightScales + other.weightScales, activationScale, convention)
    }

    /// The weight scale of output row `row` of a weight with `rows` rows.
    public func weightScale(ofRow row: Int, rows: Int) -> Double {
        precondition(rows % weightScales.count == 0, "FP8Quantization: \(rows) rows in \(weightScales.count) blocks")
        return weightScales[row / (rows / weightScales.count)]
    }

    /// Eq. (2)–(3) on every element: the E4M3 values x_q of `x` (any shape).
    public func quantizedActivations(_ x: Tensor<Double>) -> Tensor<Double> {
        x.map { FP8StaticLinear.quantizeActivation($0, scale: activationScale, convention) }
    }

    /// The E4M3 values w_q of a dequantized weight `w = w_q · s_w` [out, in], each row by its block's scale (the
    /// division is exact: w_q has 4 significant bits and s_w is a float32, so their product needs at most 28 of
    /// float64's 53).
    public func weightCodes(_ w: Tensor<Double>) -> Tensor<Double> {
        let (rows, width) = (w.shape[0], w.count / max(w.shape[0], 1))
        var codes = w.scalars
        for row in 0..<rows {
            let scale = weightScale(ofRow: row, rows: rows)
            for i in (row * width)..<((row + 1) * width) { codes[i] /= scale }
        }
        return Tensor(shape: w.shape, scalars: codes)
    }
}
