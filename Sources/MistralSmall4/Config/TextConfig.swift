// TextConfig: the hyper-parameters of the Mistral 4 text decoder (transformers' `Mistral4Config`), Codable under the
// Hugging Face field names.
//
// Goals, in order: agree with transformers on every field it reads, or refuse the file; then keep the Swift side
// plain (camelCase, derived sizes as computed properties). A field that sets a tensor shape, the routing width,
// the norm ε or the RoPE must be written down; a behaviour switch may be omitted and then takes transformers'
// default, which is the Mistral Small 4 value (spec/config.md lists both sets). Redundant spellings that
// transformers writes or accepts (`head_dim`, `qk_head_dim`, `rope_scaling`, `type`, a top-level `rope_theta`,
// `rope_parameters.max_position_embeddings`, `partial_rotary_factor`) are checked against the canonical fields
// while decoding and not stored.

/// The text decoder: embedding, `numHiddenLayers` blocks of MLA attention + (dense MLP or MoE), final norm, lm_head.
public struct TextConfig: Sendable, Equatable {
    /// Token vocabulary: rows of the embedding table and of lm_head.
    public var vocabSize: Int
    /// The residual width H.
    public var hiddenSize: Int
    /// Width of the dense SwiGLU MLP in the first `firstKDenseReplace` layers.
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    /// Must equal `numAttentionHeads`: MLA expands every head's K and V from the latent (no grouping).
    public var numKeyValueHeads: Int

    /// Rank of the query low-rank projection; nil for a plain `q_proj`.
    public var qLoraRank: Int?
    /// Rank of the compressed KV latent (the per-token cache, besides the shared RoPE key).
    public var kvLoraRank: Int
    /// Per-head query/key width without position encoding.
    public var qkNopeHeadDim: Int
    /// Per-head query/key width with RoPE (the key part is shared by all heads).
    public var qkRopeHeadDim: Int
    /// Per-head value width.
    public var vHeadDim: Int
    /// Biases on q_a / kv_a / o projections (q_proj, q_b, kv_b never carry one).
    public var attentionBias: Bool

    /// Routed experts per MoE layer, E.
    public var nRoutedExperts: Int
    /// Experts each token is routed to, k.
    public var numExpertsPerTok: Int
    /// Shared experts, fused into one SwiGLU MLP of width `moeIntermediateSize · nSharedExperts`.
    public var nSharedExperts: Int
    /// Width of each routed expert's SwiGLU MLP.
    public var moeIntermediateSize: Int
    /// Expert groups for group-limited routing (1 = no group limit).
    public var nGroup: Int
    /// Groups a token may pick experts from.
    public var topkGroup: Int
    /// Layers `0..<firstKDenseReplace` use the dense MLP instead of the MoE.
    public var firstKDenseReplace: Int
    /// Multiplies the routing weights after (optional) renormalization.
    public var routedScalingFactor: Double
    /// Renormalize the k routing weights to sum to 1 (+1e-20).
    public var normTopkProb: Bool
    /// MLP activation; only `silu` is modelled.
    public var hiddenAct: String

    /// ε of the decoder's input / post-attention / final RMSNorms (and of the projector norm). The q_a and kv_a
    /// norms always use 1e-6, whatever this says.
    public var rmsNormEps: Double
    public var maxPositionEmbeddings: Int
    public var rope: TextRopeParameters
    /// RoPE pairs are adjacent elements `(x[2i], x[2i+1])` (true, Mistral's layout) or the two halves.
    public var ropeInterleave: Bool

    public var initializerRange: Double
    public var padTokenId: Int?
    public var bosTokenId: Int?
    /// `eos_token_id`, which transformers accepts as one id or a list.
    public var eosTokenIds: [Int]

    /// Query/key head width: `qkNopeHeadDim + qkRopeHeadDim`.
    public var qkHeadDim: Int { qkNopeHeadDim + qkRopeHeadDim }
    /// A latent cache row: the normed latent c (r_kv) and the rotated shared key k_pe (d_r) — spec/attention.md §4.
    public var latentCacheWidth: Int { kvLoraRank + qkRopeHeadDim }

    /// Whether decoder layer `layer` uses the MoE (else the dense MLP).
    public func isMoELayer(_ layer: Int) -> Bool { layer >= firstKDenseReplace }
}
