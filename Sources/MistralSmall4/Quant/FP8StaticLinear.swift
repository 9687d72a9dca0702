// FP8 E4M3 W8A8 with per-tensor static scales — spec/quant.md eq. (1)–(6): the linear layers of the released
// checkpoint.
//
//   w_q = E4M3(W / s_w)                        weight codes, stored in the checkpoint                     (1)
//   x_q = Q(x; s_a)                            activation codes, by the convention (eq. 2 or 3)        (2, 3)
//   y   = (x_q · w_qᵀ) · (s_a · s_w) (+ b)     products of E4M3 values summed in float64 or float32     (4, 5)
//
// Goals, in order: both published conventions of the activation quantization, exactly as written (spec/quant.md §2),
// and the two accumulations (float64: the exact value of the quantized product; float32: what a W8A8 kernel sums);
// then clarity: one dot product per output, plain loops. E4M3 rounding is Tensor's `MiniFloatFormat.e4m3fn`
// (spec/number-formats.md), never re-implemented.

import Tensor

/// How activations are quantized against a static scale (spec/quant.md §2).
public enum FP8ActivationConvention: String, CaseIterable, Sendable {
    /// transformers: x / s_a rounded to bf16 (one rounding), then E4M3 saturating (a second rounding) — eq. (2).
    case huggingFace = "hf"
    /// vLLM: x · (1 / s_a) in float32, then E4M3 saturating — eq. (3).
    case vllm
}

/// Where the products of E4M3 values are summed (spec/quant.md eq. 4–5).
public enum FP8Accumulation: String, CaseIterable, Sendable {
    /// float64: exact for any realistic width (each product is exact, and partial sums stay far below 2⁵³ ulps).
    case exact
    /// float32 in input order, then the scale product in float32: a W8A8 GEMM's result.
    case float32
}

/// One FP8 linear layer: E4M3 weight codes as values, their per-tensor scale, the static activation scale.
public struct FP8StaticLinear: Sendable {
    /// E4M3 values of the weight (each exactly representable), `[out, in]`.
    public let weight: Tensor<Double>
    /// s_w: `weight_scale_inv` in transformers' naming, `qscale_weight` in Mistral's (a multiplier, not a divisor).
    public let weightScale: Double
    /// s_a: `activation_scale` / `qscale_act`.
    public let activationScale: Double
    /// `[out]`, or nil.
    public let bias: Tensor<Double>?

    public init(weight: Tensor<Double>, weightScale: Double, activationScale: Double, bias: Tensor<Double>? = nil) {
        precondition(weight.rank == 2, "FP8StaticLinear: weight \(weight.shape)")
        precondition(weight.scalars.allSatisfy { MiniFloatFormat.e4m3fn.rounded($0, saturating: true) == $0 },
                     "FP8StaticLinear: weight values must be E4M3 values")
        precondition(weightScale > 0 && activationScale > 0 && weightScale.isFinite && activationScale.isFinite,
                     "FP8StaticLinear: scales \(weightScale), \(activationScale)")
        self.weight = weight
        self.weightScale = weightScale
        self.activationScale = activationScale
        self.bias = bias
    }

    /// Eq. (1): quantizes a full-precision weight with the per-tensor scale amax(|W|) / 448 (float32), the rule
    /// spec/quant.md eq. (9) uses for synthetic checkpoints.
    public static func quantizing(_ w: Tensor<Double>, activationScale: Double, bias: Tensor<Double>? = nil)
        -> FP8StaticLinear
    {
        let scale = weightScale(amax: w.scalars.map(abs).max() ?? 0)
        let codes = w.scalars.map { MiniFloatFormat.e4m3fn.rounded($0 / scale, saturating: true) }
        return FP8StaticLinear(weight: Tensor(shape: w.shape, scalars: codes), weightScale: scale,
                               activationScale: activationScale, bias: bias)
    }

    /// s_w = F(amax / 448), or 1 for an all-zero weight (spec/quant.md eq. 9).
    public static func weightScale(amax: Double) -> Double {
        amax > 0 ? Double(Float(amax) / Float(MiniFloatFormat.e4m3fn.maxFinite)) : 1
    }

    /// Eq. (2)–(3): the E4M3 value of activation `x` under `convention`.
    public static func quantizeActivation(_ x: Double, scale: Double, _ convention: FP8ActivationConvention) -> Double {
        let e4m3 = MiniFloatFormat.e4m3fn
        switch convention {
        case .huggingFace:
            return e4m3.rounded(BFloat16.rounded(x / scale), saturating: true)                // bf16, then E4M3
        case .vllm:
            let product = Float(x) * (1 / Float(scale))                                       // float32
            return e4m3.rounded(Double(product), saturating: true)
        }
    }

    /// `x [rows, in] -> [rows, out]`: eq. (2)–(5).
    public func callAsFunction(_ x: Tensor<Double>, convention: FP8ActivationConvention,
                               accumulation: FP8Accumulation) -> Tensor<Double> {
        precondition(x.rank == 2 && x.shape[1] == weight.shape[1], "FP8StaticLinear: x \(x.shape) by W \(weight.shape)")
        let (rows, inputs, outputs) = (x.shape[0], weight.shape[1], weight.shape[0])
        let quantized = x.scalars.map { Self.quantizeActivation($0, scale: activationScale, convention) }
        var y = [Double](repeating: 0, count: rows * outputs)
        if accumulation == .exact {                                                              // (4)
            // Every partial sum of E4M3 products is a multiple of 2⁻¹⁸ below 2³⁵·width: float64 holds each one
            // exactly, so the sums of `linear` (in any order, on any number of cores) are eq. (4)'s exact sums.
            let sums = linear(Tensor(shape: x.shape, scalars: quantized), weight)
            y = sums.scalars.enumerated().map { $1 * activationScale * weightScale + (bias?.scalars[$0 % outputs] ?? 0) }
            return Tensor(shape: [rows, outputs], scalars: y)
        }
        for r in 0..<rows {
            for o in 0..<outputs {
                let xs = quantized[(r * inputs)..<((r + 1) * inputs)], ws = weight.scalars[(o * inputs)..<((o + 1) * inputs)]
                y[r * outputs + o] = float32Dequantized(zip(xs, ws)) + (bias?.scalars[o] ?? 0)      // (5)
            }
        }
        return Tensor(shape: [rows, outputs], scalars: y)
    }

    /// Eq. (5): Σ x_q·w_q in float32 in input order, then × s_a·s_w in float32.
    func float32Dequantized(_ pairs: Zip2Sequence<ArraySlice<Double>, ArraySlice<Double>>) -> Double {
        let sum = pairs.reduce(Float(0)) { $0 + Float($1.0) * Float($1.1) }   // E4M3 × E4M3 is exact in float32
        return Double(sum * (Float(activationScale) * Float(weightScale)))
    }
}
