// FP8 weights derived from a full-precision store — spec/quant.md §6, eq. (9)–(10), the synthetic FP8 checkpoint:
// what the FP8 profiles run, and the one file that decides the synthetic scales.
//
//   quantized     the modules `FP8Modules` names (the text decoder's attention and MLP projections)
//   s_w           F(amax / 448) per scale group (`DerivedScaleGroups`: per tensor, per expert for stacked experts,
//                 gate_proj and up_proj of an MLP together, since they are fused under one scale, eq. 7)
//   w             E(W / s_w) · s_w, eq. (1) and (6): the dequantized values the layers multiply
//   s_a           F(clip / 448), clip of `DerivedScaleGroups` (8 to 15, per module and per expert; an expert drawn as a
//                 copy of another, spec/rng.md §4.3, calibrated as that one); per-layer expert scales (vLLM) are the
//                 maximum over the layer's experts (eq. 8)

import Tensor

/// `base`'s weights with the text decoder's linears quantized to FP8 E4M3 (per-tensor static scales).
public struct FP8DerivedWeightStore: WeightStore {
    public let base: any WeightStore
    public let convention: FP8ActivationConvention
    public let expertActivationScale: FP8ExpertActivationScale
    public var config: ModelConfig { base.config }
    public var inventory: TensorInventory { base.inventory }
    private let weightScales = KeyedMemo<Double>()

    public init(_ base: any WeightStore, convention: FP8ActivationConvention,
                expertActivationScale: FP8ExpertActivationScale) {
        self.base = base
        self.convention = convention
        self.expertActivationScale = expertActivationScale
    }

    /// Whether `name` is a quantized weight (`FP8Modules`).
    public func isQuantized(_ name: String) -> Bool { FP8Modules.isQuantized(name, config: config) }

    public func rows(_ name: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> {
        let slab = try base.rows(name, rows)
        guard isQuantized(name) else { return slab }
        let perRow = slab.count / max(rows.count, 1)
        var values = slab.scalars
        for (offset, row) in rows.enumerated() {
            let scale = try weightScale(name, row: FP8Modules.isStacked(name) ? row : nil)
            for i in (offset * perRow)..<((offset + 1) * perRow) {
                values[i] = MiniFloatFormat.e4m3fn.rounded(values[i] / scale, saturating: true) * scale      // (1), (6)
            }
        }
        return Tensor(shape: slab.shape, scalars: values)
    }

    public func quantization(of name: String, row: Int?) throws(WeightError) -> LinearQuantization? {
        guard isQuantized(name) else { return nil }
        try FP8Modules.checkRow(name, row)
        let weightScale = try weightScale(name, row: row)
        return .fp8(try FP8Quantization(weightScale: weightScale, activationScale: activationScale(name, expert: row),
                                        convention: convention, tensor: name))
    }

    /// s_w = F(amax / 448) over the scale group of `name` (row `row` of stacked experts).
    func weightScale(_ name: String, row: Int?) throws(WeightError) -> Double {
        try weightScales.value(DerivedScaleGroups.group(name) + (row.map { "#\($0)" } ?? "")) { () throws(WeightError) in
            FP8StaticLinear.weightScale(amax: try DerivedScaleGroups.amax(base, name, row: row, source: "fp8 quantization"))
        }
    }

    /// s_a of `name` (of expert `expert` for stacked experts), by the rule at the top of this file.
    func activationScale(_ name: String, expert: Int?) -> Double {
        func derived(_ expert: Int?) -> Double {
            Double(Float(DerivedScaleGroups.clip(DerivedScaleGroups.activationKey(name, expert: expert,
                                                                                  config: config.text))) / 448)
        }
        guard let expert else { return derived(nil) }
        let experts = (0..<config.text.nRoutedExperts).map(derived)
        return expertActivationScale.scale(of: expert, among: experts)                                      // (8)
    }
}
