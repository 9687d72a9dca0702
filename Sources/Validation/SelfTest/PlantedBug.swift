// The bugs `assay selftest` plants in a copy of the reference backend — spec/conformance.md §7. Each is a mistake
// a "What ports got wrong" section of spec/ names (a port of DeepSeek-style MLA, YaRN, the MoE router and experts, or
// Pixtral made it, or it is a trap the spec warns of), written as the smallest change to the reference's inputs
// (config, weights, one op or one seam of the attention block) that reproduces what the buggy port computes. The
// plants themselves are in BuggyBackend.swift and its area files (+Attention, +MoE, +Vision).

import MistralSmall4

/// A named bug, what it does, and the tap an isolated diff must fail at first.
public enum PlantedBug: String, CaseIterable, Sendable {
    // Embedding, norms, head
    case embeddingScaled = "embedding-scaled-by-sqrt-hidden"
    case normEpsilon = "rmsnorm-epsilon"
    case normEpsilonOutsideSqrt = "rmsnorm-epsilon-outside-sqrt"
    case lmHeadTied = "lm-head-tied-to-embeddings"
    // Attention and RoPE
    case ropeHalfSplit = "rope-half-split"
    case yarnRangeFromMaxPositions = "yarn-range-from-max-positions"
    case ropeCosSinMscale = "rope-cos-sin-mscale"
    case ropeAnglesFloat32 = "rope-angles-float32"
    case kvLatentRopeInterleaved = "kv-latent-rope-interleaved"
    case kvDownRopeFirst = "kv-a-rows-rope-first"
    case latentNormEpsilon = "latent-norm-epsilon"
    case missingMscaleSquared = "missing-mscale-squared"
    case softmaxScaleDeepSeekV3Width = "softmax-scale-deepseek-v3-width"
    case softmaxScaleInverted = "softmax-scale-inverted"
    case temperatureAtPositionPlusOne = "temperature-position-plus-one"
    case temperatureOff = "temperature-off"
    case paddingVisible = "padding-visible"
    case kvUpValueFirst = "kv-b-rows-value-first"
    case kvUpKeysThenValues = "kv-b-rows-keys-then-values"
    case queryRopeFirst = "q-rows-rope-first"
    // Router and experts
    case routerThresholdTopK = "router-threshold-top-k"
    case groupTiesToHigherId = "router-group-ties-to-higher-id"
    case routerWithoutRenormalization = "router-without-renormalization"
    case routedScalingMissing = "routed-scaling-missing"
    case expertWeightsTransposed = "expert-weights-transposed"
    case gateUpSwapped = "gate-up-halves-swapped"
    case routingWeightsOnInputs = "routing-weights-on-expert-inputs"
    case sharedExpertSkipped = "shared-expert-skipped"
    case sharedExpertScaled = "shared-expert-scaled"
    // Vision and projector
    case visionNormEpsilon = "vision-norm-epsilon"
    case visionQKPermutationSkipped = "vision-qk-permutation-skipped"
    case projectorGELUTanh = "projector-gelu-tanh"
    case mergerChannelOrder = "patch-merger-channel-order"

    public var summary: String {
        switch self {
        case .embeddingScaled: "embedding rows multiplied by sqrt(hidden_size), as Gemma does"
        case .normEpsilon: "RMSNorm epsilon 1e-5 (Pixtral's) where the config's rms_norm_eps applies"
        case .normEpsilonOutsideSqrt: "RMSNorm epsilon added to the rms, x / (sqrt(mean x^2) + eps), not under the root"
        case .lmHeadTied: "logits from the embedding table although the checkpoint holds its own lm_head"
        case .ropeHalfSplit: "RoPE rotates (x[i], x[i+d/2]) pairs instead of interleaved (x[2i], x[2i+1])"
        case .yarnRangeFromMaxPositions: "YaRN's correction range computed from max_position_embeddings, not the original 8192"
        case .ropeCosSinMscale: "cos/sin multiplied by mscale(factor) too, so YaRN's correction is applied twice"
        case .ropeAnglesFloat32: "RoPE angles p·ω and their cos/sin in float32 (transformers' float32 island) in a float64 port"
        case .kvLatentRopeInterleaved: "k_pe kept interleaved in the latent cache, not de-interleaved (firsts, then seconds)"
        case .kvDownRopeFirst: "kv_a_proj_with_mqa rows read as [k_pe | c] instead of [c | k_pe]"
        case .latentNormEpsilon: "q_a / kv_a norms with rms_norm_eps instead of the pinned 1e-6"
        case .missingMscaleSquared: "softmax scale 1/sqrt(d) without YaRN's mscale(s, m_all)^2"
        case .softmaxScaleDeepSeekV3Width: "softmax scale mscale^2 / sqrt(192), DeepSeek-V3's head width, not this model's"
        case .softmaxScaleInverted: "softmax scale mscale^2 * sqrt(d) instead of mscale^2 / sqrt(d)"
        case .temperatureAtPositionPlusOne: "query temperature tau evaluated at position + 1"
        case .temperatureOff: "query temperature tau never applied (llama_4_scaling_beta ignored)"
        case .paddingVisible: "the attention mask ignored: left-padding tokens are attended to"
        case .kvUpValueFirst: "kv_b_proj rows read per head as [v | k_nope] instead of [k_nope | v]"
        case .kvUpKeysThenValues: "kv_b_proj rows split as [all heads' k_nope | all heads' v], not per head"
        case .queryRopeFirst: "q_b_proj rows read per head as [q_rope | q_nope] instead of [q_nope | q_rope]"
        case .routerThresholdTopK: "router top-k as a threshold (keep π ≥ the k-th largest): an exact tie keeps k + 1 experts"
        case .groupTiesToHigherId: "router keeps the higher-index group when group scores tie exactly"
        case .routerWithoutRenormalization: "routing weights not renormalized over the chosen k (norm_topk_prob ignored)"
        case .routedScalingMissing: "routing weights never multiplied by routed_scaling_factor"
        case .expertWeightsTransposed: "each routed expert's matrices read transposed from a row-major buffer"
        case .gateUpSwapped: "gate_up_proj halves swapped: silu(up) * gate instead of silu(gate) * up"
        case .routingWeightsOnInputs: "routing weights multiply each expert's input instead of its output"
        case .sharedExpertSkipped: "the shared expert left out of the MoE sum"
        case .sharedExpertScaled: "the shared expert's output multiplied by routed_scaling_factor too"
        case .visionNormEpsilon: "vision tower norms with epsilon 1e-6 (the class default) instead of Pixtral's 1e-5"
        case .visionQKPermutationSkipped: "vision q/k rows of the Hugging Face checkpoint rotated without undoing its permutation"
        case .projectorGELUTanh: "projector GELU with the tanh approximation instead of erf"
        case .mergerChannelOrder: "patch merger concatenates whole patches [p00 | p01 | p10 | p11], not channel-major"
        }
    }

    /// Where the spec defines what the bug breaks, and the public reports of ports that made it (the "What ports got
    /// wrong" sections of spec/), for `--diagnose`.
    public var evidence: (spec: String, reports: [String]) {
        switch self {
        case .embeddingScaled: ("spec/decoder.md eq. 1 (h⁰ = E[id], no scaling)", [])
        case .normEpsilon: ("spec/rmsnorm.md eq. 1 (ε = rms_norm_eps)", ["torchtitan#4395"])
        case .normEpsilonOutsideSqrt: ("spec/rmsnorm.md eq. 1 (rms = sqrt(mean x² + ε))", [])
        case .lmHeadTied: ("spec/decoder.md eq. 5 (W_lm is lm_head.weight unless tie_word_embeddings)", ["transformers#42612"])
        case .ropeHalfSplit: ("spec/rope.md eq. 9–10 (interleaved pairs)", ["Megatron-LM#1547", "nurl#584"])
        case .yarnRangeFromMaxPositions: ("spec/rope.md eq. 3 (L is original_max_position_embeddings)", [])
        case .ropeCosSinMscale: ("spec/rope.md eq. 7–8 (a = 1: mscale = mscale_all_dim, the correction is in σ)",
                                 ["exllamav3#259"])
        case .ropeAnglesFloat32: ("spec/rope.md §5 (float32 angles are off by hundredths of a radian at p ≈ 10⁶)", [])
        case .kvLatentRopeInterleaved: ("spec/rope.md eq. 9–10 (rotated pairs returned firsts, then seconds)",
                                        ["modular#5647"])
        case .kvDownRopeFirst: ("spec/attention.md eq. 2 (kv_a rows [c | k_r])", [])
        case .latentNormEpsilon: ("spec/rmsnorm.md, Attributes: which ε (q_a / kv_a norms: 1e-6)",
                                  ["transformers#44317", "transformers#44346", "transformers#44585", "vllm#35515"])
        case .missingMscaleSquared: ("spec/attention.md eq. 6 (σ = mscale² / √d)", ["transformers#47435", "mobius#548"])
        case .softmaxScaleDeepSeekV3Width: ("spec/attention.md eq. 6 (σ = mscale² / √(d_n + d_r))", [])
        case .softmaxScaleInverted: ("spec/attention.md eq. 6 (σ = mscale² / √d)", ["maxtext#1370"])
        case .temperatureAtPositionPlusOne: ("spec/rope.md eq. 11 (τ at p)", ["vllm#16417", "TensorRT-LLM#3491"])
        case .temperatureOff: ("spec/rope.md eq. 11 and spec/attention.md eq. 4 (q ← τ(p) · q)",
                               ["vllm#16417", "vllm#19997"])
        case .paddingVisible: ("spec/attention.md eq. 11 (mask 0 is no key)", [])
        case .kvUpValueFirst: ("spec/attention.md eq. 5, 9 (kv_b per head [k_nope | v])",
                               ["Megatron-LM#3193", "sglang-jax#950"])
        case .kvUpKeysThenValues: ("spec/attention.md eq. 5, 9 (kv_b per head [k_nope | v], head after head)",
                                   ["Megatron-LM#3193", "sglang-jax#950"])
        case .queryRopeFirst: ("spec/attention.md eq. 1 (q per head [q_n | q_r])", [])
        case .routerThresholdTopK: ("spec/router.md eq. 5 (S is k experts; a tie leaves the choice, not the count)", [])
        case .groupTiesToHigherId: ("spec/router.md eq. 4 (group ties to the lower group index)", [])
        case .routerWithoutRenormalization: ("spec/router.md eq. 6 (norm_topk_prob)", ["torchtitan#1448"])
        case .routedScalingMissing: ("spec/router.md eq. 6 (w ← w · routed_scaling_factor, always)",
                                     ["sglang-jax#1282", "sglang#31449"])
        case .expertWeightsTransposed: ("spec/experts.md eq. 4 (gate_up [E, 2I, H], down [E, H, I])", ["ROCmFPX#49"])
        case .gateUpSwapped: ("spec/experts.md eq. 1, 4 (gate_up_proj: gate rows first)", ["ROCmFPX#49"])
        case .routingWeightsOnInputs: ("spec/experts.md eq. 2 (w multiplies the expert's output)", [])
        case .sharedExpertSkipped: ("spec/experts.md eq. 3 (moe = routed + shared)", [])
        case .sharedExpertScaled: ("spec/experts.md eq. 3 (the shared expert is not scaled)", [])
        case .visionNormEpsilon: ("spec/vision.md eq. 3, 11, 12 (ε = 1e-5)", [])
        case .visionQKPermutationSkipped: ("spec/vision.md eq. 14 (Hugging Face q/k rows are half-split)", ["nurl#584"])
        case .projectorGELUTanh: ("spec/projector.md eq. 5 (exact erf GELU)", [])
        case .mergerChannelOrder: ("spec/projector.md eq. 2 (unfold's channel-major v[4c + 2a + b])", ["mlxcel#1619"])
        }
    }

    /// The (case, tap) where an isolated diff against the selftest goldens (of the model of `paths`) must fail
    /// first.
    public func expectedFirstFailure(_ paths: ModelPaths) -> (caseName: String, tap: String) {
        let (caseName, kind, layer): (String, TapKind, Int?) = switch self {
        case .embeddingScaled: ("start", .embedTokens, nil)
        case .normEpsilon, .normEpsilonOutsideSqrt: ("start", .inputNorm, 0)
        case .lmHeadTied: ("start", .lmHead, nil)
        case .ropeHalfSplit, .yarnRangeFromMaxPositions, .ropeCosSinMscale, .kvLatentRopeInterleaved, .kvDownRopeFirst,
             .latentNormEpsilon: ("start", .kvLatent, 0)
        case .missingMscaleSquared, .softmaxScaleDeepSeekV3Width, .softmaxScaleInverted, .kvUpValueFirst,
             .kvUpKeysThenValues, .queryRopeFirst, .paddingVisible: ("start", .selfAttention, 0)
        case .temperatureAtPositionPlusOne, .temperatureOff: ("long", .selfAttention, 0)
        case .ropeAnglesFloat32: ("long", .kvLatent, 0)                 // start's p·ω ≤ 7ω: within the f64 limit
        case .groupTiesToHigherId: ("start", .routerIndices, 1)
        case .routerThresholdTopK: ("start", .routerWeights, 1)
        case .routerWithoutRenormalization, .routedScalingMissing: ("start", .routerWeights, 1)
        case .expertWeightsTransposed, .gateUpSwapped, .routingWeightsOnInputs: ("start", .routedExperts, 1)
        case .sharedExpertSkipped, .sharedExpertScaled: ("start", .sharedExperts, 1)
        case .visionNormEpsilon: ("images", .lnPre, nil)
        case .visionQKPermutationSkipped: ("images", .visionAttention, 0)
        case .projectorGELUTanh: ("images", .projector, nil)
        case .mergerChannelOrder: ("images", .patchMerger, nil)
        }
        return (caseName, paths.tap(kind, layer: layer).name)
    }
}
