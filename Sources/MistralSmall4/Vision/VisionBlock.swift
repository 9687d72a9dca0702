// One Pixtral block (transformers' `PixtralAttentionLayer`) — spec/vision.md eq. (11)–(12):
//
//   h' = h + Attention(RMSNorm_attn(h))          ε = 1e-5                                   (11)
//   h'' = h' + SwiGLU(RMSNorm_ffn(h'))           W_down · (silu(W_gate·x) ⊙ W_up·x)          (12)

import Tensor

/// Vision block `index`, weights read from the store when it runs.
public struct VisionBlock: Sendable {
    /// `model.vision_tower.transformer.layers.{index}`
    public let prefix: String
    public let config: VisionConfig
    public let profile: PrecisionProfile

    /// Pixtral's norms use ε = 1e-5 whatever the config says (transformers hard-codes it).
    public static let normEpsilon = 1e-5

    public init(prefix: String, config: VisionConfig, profile: PrecisionProfile = .exact) {
        self.prefix = prefix
        self.config = config
        self.profile = profile
    }

    /// `h [P, Hv]` with each image's patches consecutive (`grids`) `-> [P, Hv]`; taps are `[1, P, Hv]`.
    func callAsFunction(_ h: Tensor<Double>, grids: [(rows: Int, cols: Int)], store: some WeightStore,
                        taps: TapRecorder) throws(WeightError) -> Tensor<Double> {
        let tapShape = [1] + h.shape
        let attentionNorm = RMSNorm(weight: try store.tensor(prefix + ".attention_norm.weight"), epsilon: Self.normEpsilon)
        let normed = attentionNorm(h, profile)
        taps.record(prefix + ".attention_norm", normed.reshaped(tapShape))
        let weights = try VisionAttentionWeights(store, prefix: prefix + ".attention", heads: config.numAttentionHeads)
        let attended = VisionAttention(weights: weights, config: config, profile: profile)(normed, grids: grids)
        taps.record(prefix + ".attention", attended.reshaped(tapShape))
        let mid = profile.residual(h, attended.scalars)                                              // (11)

        let ffnNorm = RMSNorm(weight: try store.tensor(prefix + ".ffn_norm.weight"), epsilon: Self.normEpsilon)
        let normedMid = ffnNorm(mid, profile)
        taps.record(prefix + ".ffn_norm", normedMid.reshaped(tapShape))
        let fed = try SwiGLU(store, prefix: prefix + ".feed_forward")(normedMid, profile)
        taps.record(prefix + ".feed_forward", fed.reshaped(tapShape))
        let out = profile.residual(mid, fed.scalars)                                                // (12)
        taps.record(prefix, out.reshaped(tapShape))
        return out
    }
}
