// The scales of FP8 experts — spec/quant.md §4, eq. (7)–(8): the fused gate|up weight under one scale, and the
// activation scale an expert's input is quantized with, per expert (transformers) or per layer (vLLM).
//
//   s_gu = max(s_gate, s_up),   w_gu = [R(w_gate, s_gate) | R(w_up, s_up)]                           (7)
//   R(q, s) = E(B(q · F(s / s_gu)))   as transformers' converter computes it: the ratio in float32, the product
//             rounded to bf16 (F then B), then E4M3 round-to-nearest-even, saturating — identity when s = s_gu
//   s_a(e) = s_a,e (per expert)   or   max over the layer's experts (per layer)                      (8)
//
// Goals, in order: the exact rules of both layouts, stated once; then the smallest code: the requantization reuses
// FP8StaticLinear's E4M3 rounding.

import Tensor

/// Which activation scale an FP8 expert's input is quantized with (spec/quant.md eq. 8).
public enum FP8ExpertActivationScale: String, CaseIterable, Sendable {
    /// Each expert's own calibrated scale (transformers' static FP8 experts).
    case perExpert = "per-expert"
    /// The maximum over the layer's experts (vLLM's fused MoE, one scale per layer).
    case perLayer = "per-layer"

    /// The scale of expert `expert` among `scales` (one per expert of the layer).
    public func scale(of expert: Int, among scales: [Double]) -> Double {
        precondition(scales.indices.contains(expert), "expert \(expert) of \(scales.count)")
        switch self {
        case .perExpert: return scales[expert]
        case .perLayer: return scales.max()!
        }
    }
}

extension FP8StaticLinear {
    /// Eq. (7)'s R: E4M3 code `code` under scale `scale` as a code under the fused scale `fused` ≥ `scale`.
    public static func requantizedCode(_ code: Double, from scale: Double, to fused: Double) -> Double {
        guard scale != fused else { return code }
        let ratio = Float(scale) / Float(fused)                                  // float32, as the converter divides
        let product = BFloat16.rounded(Double(Float(code) * ratio))              // bf16 tensor × float32 scalar
        return MiniFloatFormat.e4m3fn.rounded(product, saturating: true)
    }

    /// Eq. (7): gate and up stacked as transformers fuses them (gate rows first) under the larger of their two
    /// weight scales; the half with the smaller scale is requantized to it. Both must share the activation scale.
    public static func fusingGateUp(gate: FP8StaticLinear, up: FP8StaticLinear) -> FP8StaticLinear {
        precondition(gate.weight.shape[1] == up.weight.shape[1] && gate.activationScale == up.activationScale,
                     "fusingGateUp: gate \(gate.weight.shape), up \(up.weight.shape), activation scales "
                     + "\(gate.activationScale), \(up.activationScale)")
        let scale = max(gate.weightScale, up.weightScale)
        func requantized(_ half: FP8StaticLinear) -> [Double] {
            half.weight.scalars.map { requantizedCode($0, from: half.weightScale, to: scale) }
        }
        let rows = gate.weight.shape[0] + up.weight.shape[0]
        return FP8StaticLinear(weight: Tensor(shape: [rows, gate.weight.shape[1]], scalars: requantized(gate) + requantized(up)),
                               weightScale: scale, activationScale: gate.activationScale)
    }
}
