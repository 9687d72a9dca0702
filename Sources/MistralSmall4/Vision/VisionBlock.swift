// One Pixtral block (transformers' `PixtralAttentionLayer`) — spec/vision.md eq. (11)–(12):
//
//   h' = h + Attention(RMSNorm_attn(h))          ε = 1e-5                                   (11)
//   h'' = h' + SwiGLU(RMSNorm_ffn(h'))           W_down · (silu(W_gate·x) ⊙ W_up·x)          (12)

import Tensor

/// Pixtral's norms use ε = 1e-5 whatever the config says (transformers hard-codes it).
public let visionNormEpsilon = 1e-5

extension GraphRun {
    /// Vision block `layer`: `h [P, Hv] -> [P, Hv]`, each image's patches consecutive (`grids`, in patches).
    func visionBlock(_ layer: Int, _ h: Flow, grids: PatchGrids) throws -> Flow {
        let tap = { (kind: TapKind) in self.paths.tap(kind, layer: layer) }
        let vision = config.multimodal!.vision
        let normed = try rmsNorm(h, tap(.attentionNorm), epsilon: visionNormEpsilon)
        let attention = tap(.visionAttention)
        let attended = try op(.visionAttention, attention, normed) {
            let weights = try VisionAttentionWeights(store, prefix: attention.module, heads: vision.numAttentionHeads)
            return try backend.visionAttention($0, weights: weights, config: vision, grids: grids)
        }
        let mid = try residual(h, attended, in: tap(.visionBlock).module)                              // (11)
        let normedMid = try rmsNorm(mid, tap(.ffnNorm), epsilon: visionNormEpsilon)
        let fed = try swiglu(normedMid, tap(.feedForward))
        return try add(mid, fed, tap(.visionBlock))                                                    // (12)
    }
}
