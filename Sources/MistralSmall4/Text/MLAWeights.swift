// The parameters of one Multi-head Latent Attention block, under their transformers names — spec/attention.md §3.

import Tensor

/// MLA weights. Shapes: H hidden, n heads, r_q q_lora_rank, r_kv kv_lora_rank, d_n nope, d_r rope, d_v value.
public struct MLAWeights: Sendable {
    /// `q_a_proj` [r_q, H] with its bias [r_q] (attention_bias), or nil when the query has no LoRA.
    public var queryDown: LinearLayer?
    /// `q_a_layernorm` (ε 1e-6), over [r_q].
    public var queryNorm: RMSNorm?
    /// `q_b_proj` [n·(d_n + d_r), r_q], or `q_proj` [n·(d_n + d_r), H] without a LoRA.
    public var queryUp: LinearLayer
    /// `kv_a_proj_with_mqa` [r_kv + d_r, H] with its bias: the latent c and the shared RoPE key k_pe.
    public var kvDown: LinearLayer
    /// `kv_a_layernorm` (ε 1e-6), over [r_kv].
    public var kvNorm: RMSNorm
    /// `kv_b_proj` [n·(d_n + d_v), r_kv]: per head, d_n rows of W_UK then d_v rows of W_UV.
    public var kvUp: LinearLayer
    /// `o_proj` [H, n·d_v] with its bias [H].
    public var output: LinearLayer

    /// ε of the q_a and kv_a norms: transformers builds them with the RMSNorm default, not `rms_norm_eps`.
    public static let latentNormEpsilon = 1e-6

    /// Reads the block `prefix` (`model.language_model.layers.3.self_attn`) from `store`.
    public init(_ store: some WeightStore, prefix: String) throws(WeightError) {
        let bias = store.config.text.attentionBias
        func weight(_ module: String) throws(WeightError) -> Tensor<Double> { try store.tensor("\(prefix).\(module)") }
        func layer(_ module: String, bias: Bool = false) throws(WeightError) -> LinearLayer {
            try store.linearLayer("\(prefix).\(module)", bias: bias)
        }
        if store.config.text.qLoraRank != nil {
            queryDown = try layer("q_a_proj", bias: bias)
            queryNorm = RMSNorm(weight: try weight("q_a_layernorm.weight"), epsilon: Self.latentNormEpsilon)
            queryUp = try layer("q_b_proj")
        } else {
            queryUp = try layer("q_proj")
        }
        kvDown = try layer("kv_a_proj_with_mqa", bias: bias)
        kvNorm = RMSNorm(weight: try weight("kv_a_layernorm.weight"), epsilon: Self.latentNormEpsilon)
        kvUp = try layer("kv_b_proj")
        output = try layer("o_proj", bias: bias)
    }
}
