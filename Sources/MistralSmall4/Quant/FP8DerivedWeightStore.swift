// FP8 weights derived from a full-precision store — spec/quant.md §6, eq. (9)–(10), the synthetic FP8 checkpoint:
// what the FP8 profiles run, and the one file that decides the synthetic scales.
//
//   quantized     the modules `FP8Modules` names (the text decoder's attention and MLP projections)
//   s_w           F(amax|W| / 448) per tensor; per expert for stacked experts; one for gate_proj and up_proj of an
//                 MLP together (they are fused under one scale, eq. 7, so a shared scale keeps fusing exact)
//   w             E(W / s_w) · s_w, eq. (1) and (6): the dequantized values the layers multiply
//   s_a           F((8 + (h mod 8)) / 448), h = FNV-1a 64 (spec/rng.md eq. 4) of the key below: a clipping bound of
//                 8 to 15 for unit-scale activations, different per module and per expert
//                 key  `<module>.activation_scale` (up_proj uses its gate_proj's: one input, one scale),
//                      `<experts>.gate_up_proj.activation_scale.<e>` / `.down_proj.activation_scale.<e>`, e the
//                      expert whose weights expert e's are (its own, or its source: spec/rng.md §4.3)
//                 per-layer expert scales (vLLM) are the maximum over the layer's experts (eq. 8)

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

    public func fp8Quantization(of name: String, row: Int?) throws(WeightError) -> FP8Quantization? {
        guard isQuantized(name) else { return nil }
        try FP8Modules.checkRow(name, row)
        let weightScale = try weightScale(name, row: row)
        return try FP8Quantization(weightScale: weightScale, activationScale: activationScale(name, expert: row),
                                   convention: convention, tensor: name)
    }

    /// The weight whose scales `name` shares: an MLP's `gate_proj` for its `up_proj`, else `name` itself.
    static func scaleGroup(_ name: String) -> String {
        name.hasSuffix(".up_proj.weight") ? name.dropLast(".up_proj.weight".count) + ".gate_proj.weight" : name
    }

    /// s_w = F(amax / 448) over the scale group of `name` (row `row` of stacked experts).
    func weightScale(_ name: String, row: Int?) throws(WeightError) -> Double {
        let group = Self.scaleGroup(name)
        return try weightScales.value(group + (row.map { "#\($0)" } ?? "")) { () throws(WeightError) in
            let members = group.hasSuffix(".gate_proj.weight")
                ? [group, group.dropLast(".gate_proj.weight".count) + ".up_proj.weight"] : [group]
            var amax = 0.0
            for member in members {
                let values = if let row { try base.rows(member, row..<(row + 1)) } else { try base.tensor(member) }
                guard values.scalars.allSatisfy(\.isFinite) else {
                    throw WeightError(source: "fp8 quantization", tensor: member,
                                      "NaN or infinite value in a weight FP8 quantizes")
                }
                amax = values.scalars.reduce(amax) { max($0, abs($1)) }
            }
            return FP8StaticLinear.weightScale(amax: amax)
        }
    }

    /// s_a of `name` (of expert `expert` for stacked experts), by the rule at the top of this file.
    func activationScale(_ name: String, expert: Int?) -> Double {
        func derived(_ key: String) -> Double { Double(Float(8 + Double(fnv1a64(key) % 8)) / 448) }
        guard let expert else {
            let module = Self.scaleGroup(name).dropLast(".weight".count)
            return derived(module + ".activation_scale")
        }
        // an expert drawn as a copy of another (spec/rng.md §4.3) is calibrated as that one: its twin in every way
        let experts = (0..<config.text.nRoutedExperts).map {
            derived("\(name).activation_scale.\(config.text.syntheticSource(ofExpert: $0))")
        }
        return expertActivationScale.scale(of: expert, among: experts)                                      // (8)
    }
}
