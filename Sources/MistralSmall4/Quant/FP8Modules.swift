// Which weights an FP8 checkpoint stores in E4M3 — spec/quant.md §3: the text decoder's linear projections of
// attention and of every MLP (dense, shared and routed experts). The router (`mlp.gate`), lm_head, embeddings,
// norms, the vision tower and the projector stay in full precision (the released `modules_to_not_convert`, and
// the router, which Mistral's checkpoint ships in BF16). One statement of the rule for the synthetic FP8 store
// and for the checkpoint loader.

/// The FP8 quantization rule of the released checkpoint.
public enum FP8Modules {
    /// The quantized projections, by the last two parts of their names.
    static let quantizedLeaves: Set<String> = [
        "q_a_proj.weight", "q_b_proj.weight", "q_proj.weight", "kv_a_proj_with_mqa.weight", "kv_b_proj.weight",
        "o_proj.weight", "gate_proj.weight", "up_proj.weight", "down_proj.weight", "experts.gate_up_proj",
        "experts.down_proj",
    ]

    /// Whether inventory tensor `name` of `config` is a weight the FP8 checkpoint quantizes.
    public static func isQuantized(_ name: String, config: ModelConfig) -> Bool {
        guard name.hasPrefix(ModelPaths(config).text + ".layers."),
              name.contains(TapKind.selfAttention.row.module + ".") || name.contains(TapKind.moe.row.module + ".")
        else { return false }
        return quantizedLeaves.contains(name.split(separator: ".").suffix(2).joined(separator: "."))
    }

    /// Whether `name` is a stacked expert tensor [E, out, in] (one scale set per expert).
    public static func isStacked(_ name: String) -> Bool { TensorInventory.isRoutedExpert(name) }

    /// How many weight scales one expert of stacked tensor `name` may carry: 2 for the fused `gate_up_proj`, whose
    /// gate and up halves may each have their own (`gate_up_proj_scale_inv` [E, 2, 1], transformers' FP8Experts),
    /// else 1.
    public static func weightScaleBlocks(_ name: String) -> Int { name.hasSuffix(".experts.gate_up_proj") ? 2 : 1 }

    /// A stacked expert tensor's scales are per expert (a row is required); a linear's are not (none is allowed).
    public static func checkRow(_ name: String, _ row: Int?) throws(WeightError) {
        guard isStacked(name) == (row != nil) else {
            throw WeightError(source: "fp8 quantization", tensor: name, isStacked(name)
                              ? "stacked expert weights have scales per expert: name the expert"
                              : "a per-tensor FP8 weight has no per-row scales")
        }
    }
}
