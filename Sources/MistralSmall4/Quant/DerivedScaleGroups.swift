// What the synthetic quantized checkpoints share — spec/quant.md §6 (FP8) and §11 (NVFP4): which weights one scale
// covers, the largest magnitude under it, and the clipping bound a module's activations are calibrated to.
//
//   scale group   an MLP's gate_proj and up_proj together (one input, fused under one scale, so fusing is exact);
//                 each expert of a stacked tensor alone; every other quantized weight alone
//   amax          the largest |W| over the group (of one expert's rows for stacked experts)
//   clip(key)     8 + (h mod 8), h = FNV-1a 64 of key (spec/rng.md eq. 4): 8 to 15 for unit-scale activations,
//                 different per module and per expert; key `<module>.activation_scale` (up_proj uses its gate_proj's),
//                 `<experts>.gate_up_proj.activation_scale.<e>` / `<experts>.down_proj.activation_scale.<e>`, e the
//                 expert whose weights expert e's are (its own, or the one the synthetic model copies: spec/rng.md
//                 §4.3; twins in every way, so a tie between them changes nothing)

import Tensor

/// The scale groups and calibration bounds of the synthetic quantized checkpoints.
enum DerivedScaleGroups {
    /// The weight whose scales `name` shares: an MLP's `gate_proj` for its `up_proj`, else `name` itself.
    static func group(_ name: String) -> String {
        name.hasSuffix(".up_proj.weight") ? name.dropLast(".up_proj.weight".count) + ".gate_proj.weight" : name
    }

    /// The weights of the group `name` leads.
    static func members(_ group: String) -> [String] {
        group.hasSuffix(".gate_proj.weight") ? [group, group.dropLast(".gate_proj.weight".count) + ".up_proj.weight"]
            : [group]
    }

    /// The largest |W| over the scale group of `name` in `base` (of expert `row` for stacked experts); a NaN or
    /// infinite weight is an error naming it (`source` names the quantization).
    static func amax(_ base: any WeightStore, _ name: String, row: Int?, source: String) throws(WeightError) -> Double {
        var amax = 0.0
        for member in members(group(name)) {
            let values = if let row { try base.rows(member, row..<(row + 1)) } else { try base.tensor(member) }
            guard values.scalars.allSatisfy(\.isFinite) else {
                throw WeightError(source: source, tensor: member, "NaN or infinite value in a weight it quantizes")
            }
            amax = values.scalars.reduce(amax) { max($0, abs($1)) }
        }
        return amax
    }

    /// The key of the calibration bound of weight `name` (of expert `expert` for stacked experts, keyed by its
    /// synthetic source).
    static func activationKey(_ name: String, expert: Int?, config: TextConfig) -> String {
        guard let expert else { return group(name).dropLast(".weight".count) + ".activation_scale" }
        return "\(name).activation_scale.\(config.syntheticSource(ofExpert: expert))"
    }

    /// clip(key) = 8 + (FNV-1a 64(key) mod 8).
    static func clip(_ key: String) -> Double { 8 + Double(fnv1a64(key) % 8) }
}
