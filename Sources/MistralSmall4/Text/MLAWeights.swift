// The parameters of one Multi-head Latent Attention block, under their transformers names — spec/attention.md §3.

import Tensor

/// MLA weights. Shapes: H hidden, n heads, r_q q_lora_rank, r_kv kv_lora_rank, d_n nope, d_r rope, d_v value.
public struct MLAWeights: Sendable {
    /// `q_a_proj` [r_q, H] and its bias [r_q] (attention_bias), or nil when the query has no LoRA.
    public var queryDown: Tensor<Double>?
    public var queryDownBias: Tensor<Double>?
    /// `q_a_layernorm` (ε 1e-6), over [r_q].
    public var queryNorm: RMSNorm?
    /// `q_b_proj` [n·(d_n + d_r), r_q], or `q_proj` [n·(d_n + d_r), H] without a LoRA.
    public var queryUp: Tensor<Double>
    /// `kv_a_proj_with_mqa` [r_kv + d_r, H] and its bias: the latent c and the shared RoPE key k_pe.
    public var kvDown: Tensor<Double>
    public var kvDownBias: Tensor<Double>?
    /// `kv_a_layernorm` (ε 1e-6), over [r_kv].
    public var kvNorm: RMSNorm
    /// `kv_b_proj` [n·(d_n + d_v), r_kv]: per head, d_n rows of W_UK then d_v rows of W_UV.
    public var kvUp: Tensor<Double>
    /// `o_proj` [H, n·d_v] and its bias [H].
    public var output: Tensor<Double>
    public var outputBias: Tensor<Double>?

    /// ε of the q_a and kv_a norms: transformers builds them with the RMSNorm default, not `rms_norm_eps`.
    public static let latentNormEpsilon = 1e-6

    /// Reads the block `prefix` (`model.language_model.layers.3.self_attn`) from `store`.
    public init(_ store: some WeightStore, prefix: String) throws(WeightError) {
        let config = store.config.text
        func weight(_ module: String) throws(WeightError) -> Tensor<Double> { try store.tensor("\(prefix).\(module)") }
        func bias(_ module: String) throws(WeightError) -> Tensor<Double>? {
            config.attentionBias ? try store.tensor("\(prefix).\(module).bias") : nil
        }
        if config.qLoraRank != nil {
            queryDown = try weight("q_a_proj.weight")
            queryDownBias = try bias("q_a_proj")
            queryNorm = RMSNorm(weight: try weight("q_a_layernorm.weight"), epsilon: Self.latentNormEpsilon)
            queryUp = try weight("q_b_proj.weight")
        } else {
            queryUp = try weight("q_proj.weight")
        }
        kvDown = try weight("kv_a_proj_with_mqa.weight")
        kvDownBias = try bias("kv_a_proj_with_mqa")
        kvNorm = RMSNorm(weight: try weight("kv_a_layernorm.weight"), epsilon: Self.latentNormEpsilon)
        kvUp = try weight("kv_b_proj.weight")
        output = try weight("o_proj.weight")
        outputBias = try bias("o_proj")
    }
}
