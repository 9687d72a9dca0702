// One decoder block — spec/decoder.md eq. (2)–(3):
//
//   h' = h + MLA(RMSNorm_in(h))                                                                  (2)
//   h'' = h' + MLP(RMSNorm_post(h'))     MLP = dense SwiGLU below first_k_dense_replace, else MoE  (3)
//
// Weights are read from the store when the block runs and dropped after, routed experts one at a time.

import Tensor

/// Decoder block `index` of the text model.
public struct DecoderLayer: Sendable {
    public let index: Int
    /// `model.language_model.layers.{index}` (or `model.layers.{index}` for a text-only checkpoint).
    public let prefix: String
    public let config: TextConfig
    public let profile: PrecisionProfile
    public let algorithm: AttentionAlgorithm

    /// `h [B·S, H]` (batch-major) through the block. `caches[b]` is sequence b's latent cache; `inputs` gives
    /// positions and mask per sequence. Records the block's taps; returns `[B·S, H]`.
    func callAsFunction(
        _ h: Tensor<Double>, inputs: ForwardInputs, caches: inout [LatentCache], store: some WeightStore,
        taps: TapRecorder
    ) throws(WeightError) -> Tensor<Double> {
        let (batch, length, hidden) = (inputs.batch, inputs.length, config.hiddenSize)
        let bsh = [batch, length, hidden]
        let inputNorm = RMSNorm(weight: try store.tensor(prefix + ".input_layernorm.weight"), epsilon: config.rmsNormEps)
        let normed = inputNorm(h, profile)
        taps.record(prefix + ".input_layernorm", normed.reshaped(bsh))

        let attention = MLAAttention(weights: try MLAWeights(store, prefix: prefix + ".self_attn"), config: config,
                                     profile: profile)
        let (attended, latents) = attention(normed, inputs: inputs, caches: &caches, algorithm: algorithm)
        taps.record(prefix + ".self_attn#kv_latent", latents.reshaped([batch, length, caches[0].width]))
        taps.record(prefix + ".self_attn", attended.reshaped(bsh))
        let mid = profile.residual(h, attended.scalars)                                                       // (2)

        let postNorm = RMSNorm(weight: try store.tensor(prefix + ".post_attention_layernorm.weight"),
                               epsilon: config.rmsNormEps)
        let normedMid = postNorm(mid, profile)
        taps.record(prefix + ".post_attention_layernorm", normedMid.reshaped(bsh))
        let mlp = config.isMoELayer(index)
            ? try moe(normedMid, store: store, taps: taps, shape: bsh)
            : try SwiGLU(store, prefix: prefix + ".mlp")(normedMid, profile)
        taps.record(prefix + ".mlp", mlp.reshaped(bsh))
        let out = profile.residual(mid, mlp.scalars)                                                         // (3)
        taps.record(prefix, out.reshaped(bsh))
        return out
    }

    /// Spec/experts.md eq. (3): router, routed experts, shared expert(s), sum. `x [T, H] -> [T, H]`.
    private func moe(_ x: Tensor<Double>, store: some WeightStore, taps: TapRecorder, shape: [Int])
        throws(WeightError) -> Tensor<Double>
    {
        let mlp = prefix + ".mlp"
        let routing = Router(weight: try store.tensor(mlp + ".gate.weight"), config: config, profile: profile)(x)
        taps.record(mlp + ".gate#logits", routing.logits)
        taps.record(mlp + ".gate#weights", routing.weights)
        taps.record(mlp + ".gate#indices", integers: routing.indices)
        taps.record(mlp + ".gate#margin", routing.margin)
        let routed = try RoutedExperts(prefix: mlp + ".experts", profile: profile)(x, routing: routing, store: store)
        taps.record(mlp + ".experts", routed)
        let shared = try SwiGLU(store, prefix: mlp + ".shared_experts")(x, profile)
        taps.record(mlp + ".shared_experts", shared.reshaped(shape))
        return profile.residual(routed, shared.scalars)
    }
}
