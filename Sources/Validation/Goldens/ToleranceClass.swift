// Tolerance classes of taps — spec/goldens.md §4. A diff looks a tap's limit up by (class, dtype, backend) in
// spec/tolerances.json; the class says what kind of computation produced the tap.

/// What kind of computation a tap's value comes out of.
public enum ToleranceClass: String, Sendable, CaseIterable {
    /// Copied values: embedding rows, the merged input embeddings.
    case exact
    /// RMSNorm outputs.
    case norm
    /// One matrix product or convolution: patch_conv, patch merger, projector.
    case matmul
    /// Attention outputs and the latent cache rows.
    case attention
    /// SwiGLU / MoE outputs.
    case mlp
    /// Residual block outputs.
    case block
    /// Router logits and routing weights.
    case router
    /// Router expert indices: compared as sets per token.
    case routerIndices = "router_indices"
    /// The router margin: informational, decides whether a swap is accepted.
    case margin
    /// lm_head logits (also compared by top-k agreement and KL divergence).
    case logits

    /// The class of the tap `name` (spec/taps.md names).
    public init(tap name: String) {
        let suffixes: [(String, ToleranceClass)] = [
            ("#indices", .routerIndices), ("#margin", .margin), ("#logits", .router), ("#weights", .router),
            ("#kv_latent", .attention), ("#inputs_embeds", .exact), ("embed_tokens", .exact), ("lm_head", .logits),
            ("layernorm", .norm), (".norm", .norm), ("ln_pre", .norm), ("attention_norm", .norm), ("ffn_norm", .norm),
            ("self_attn", .attention), (".attention", .attention),
            ("experts", .mlp), (".mlp", .mlp), ("feed_forward", .mlp),
        ]
        if let match = suffixes.first(where: { name.hasSuffix($0.0) }) {
            self = match.1
        } else if name.hasPrefix("model.vision_tower.patch_conv") || name.hasPrefix("model.multi_modal_projector") {
            self = .matmul
        } else {
            self = .block   // `….layers.{i}`, `model.vision_tower`
        }
    }
}
