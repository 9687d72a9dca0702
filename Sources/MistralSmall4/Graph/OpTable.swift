// The op table — spec/conformance.md §5–6: every spec op of Mistral Small 4, written once. Each entry names its
// spec page and equations, the taps it produces (TapKinds.swift gives their names, layouts and tolerance classes)
// and its plugin entry points (spec/plugin-abi.md). Backends, the diff engine, `assay coverage`, the plugin loader,
// the selftest and SpecBookTests read this table; adding an op is one case here plus its implementations.

/// The spec ops of Mistral Small 4, as a backend implements them. Raw values are the names `assay coverage` prints
/// and plugins list.
public enum SpecOp: String, Sendable, CaseIterable, Comparable {
    case embedding
    case rmsNorm = "rms_norm"
    case add
    case mlaAttention = "mla_attention"
    case mlaDecode = "mla_decode"
    case router
    case routedExperts = "routed_experts"
    case swiglu
    case lmHead = "lm_head"
    case patchEmbedding = "patch_embedding"
    case visionAttention = "vision_attention"
    case patchMerger = "patch_merger"
    case projectorMLP = "projector_mlp"

    public static func < (a: SpecOp, b: SpecOp) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The op's row of the table.
    public var entry: OpEntry {
        switch self {
        case .embedding:
            OpEntry("spec/decoder.md", "eq. 1", "token rows of embed_tokens", taps: [.embedTokens],
                    plugin: "assay_embedding_f32", bf16: "assay_embedding_bf16", since: 1)
        case .rmsNorm:
            OpEntry("spec/rmsnorm.md", "eq. 1", "RMSNorm, every norm of the model",
                    taps: [.inputNorm, .postAttentionNorm, .finalNorm, .lnPre, .attentionNorm, .ffnNorm, .projectorNorm],
                    plugin: "assay_rms_norm_f32", bf16: "assay_rms_norm_bf16", since: 1)
        case .add:
            OpEntry("spec/decoder.md", "eq. 2–3", "elementwise sum: the residual stream and the MoE combine",
                    taps: [.decoderLayer, .moe, .visionBlock], plugin: "assay_add_f32", bf16: "assay_add_bf16",
                    since: 1)
        case .mlaAttention:
            OpEntry("spec/attention.md", "eq. 1–8", "MLA prefill with YaRN RoPE and the query temperature",
                    taps: [.kvLatent, .selfAttention], plugin: "assay_mla_attention_f32",
                    f8e4m3: "assay_mla_attention_f8e4m3", nvfp4: "assay_mla_attention_nvfp4")
        case .mlaDecode:
            OpEntry("spec/attention.md", "eq. 9–10", "MLA decode: one token per sequence, absorbed over the latent cache",
                    taps: [.kvLatent, .selfAttention], plugin: "assay_mla_decode_f32",
                    f8e4m3: "assay_mla_decode_f8e4m3", nvfp4: "assay_mla_decode_nvfp4")
        case .router:
            OpEntry("spec/router.md", "eq. 1–7", "softmax router, group-limited top-k, ties to the lower id",
                    taps: [.routerLogits, .routerWeights, .routerIndices, .routerMargin],
                    plugin: "assay_router_f32")
        case .routedExperts:
            OpEntry("spec/experts.md", "eq. 2", "each chosen expert's SwiGLU, weighted and summed", taps: [.routedExperts],
                    plugin: "assay_routed_experts_f32", f8e4m3: "assay_routed_experts_f8e4m3",
                    nvfp4: "assay_routed_experts_nvfp4")
        case .swiglu:
            OpEntry("spec/experts.md", "eq. 1", "one SwiGLU MLP: dense MLP, shared expert, vision feed-forward",
                    taps: [.denseMLP, .sharedExperts, .feedForward], plugin: "assay_swiglu_f32",
                    bf16: "assay_swiglu_bf16", f8e4m3: "assay_swiglu_f8e4m3", nvfp4: "assay_swiglu_nvfp4", since: 1)
        case .lmHead:
            OpEntry("spec/decoder.md", "eq. 5", "the output projection", taps: [.lmHead], plugin: "assay_lm_head_f32",
                    bf16: "assay_lm_head_bf16", since: 1)
        case .patchEmbedding:
            OpEntry("spec/vision.md", "eq. 1", "the patch convolution", taps: [.patchConv],
                    plugin: "assay_patch_embedding_f32")
        case .visionAttention:
            OpEntry("spec/vision.md", "eq. 7–10", "vision attention: 2D RoPE, block-diagonal over images",
                    taps: [.visionAttention], plugin: "assay_vision_attention_f32")
        case .patchMerger:
            OpEntry("spec/projector.md", "eq. 2–3", "the patch merger", taps: [.patchMerger],
                    plugin: "assay_patch_merger_f32")
        case .projectorMLP:
            OpEntry("spec/projector.md", "eq. 4–5", "the projector's linear–GELU–linear", taps: [.projector],
                    plugin: "assay_projector_mlp_f32")
        }
    }

    /// The spec page that defines the op.
    public var page: String { entry.page }
}

/// One row of the op table.
public struct OpEntry: Sendable {
    /// The spec page, e.g. `spec/attention.md`.
    public let page: String
    /// The page's equations the op implements, e.g. `eq. 1–8`.
    public let equations: String
    public let summary: String
    /// The taps the op produces (where the model calls it).
    public let taps: [TapKind]
    /// The f32 entry point a plugin exports for the op (spec/plugin-abi.md).
    public var pluginEntryPoint: String { pluginEntryPoints[.f32]! }
    /// The entry point of each dtype the ABI defines for the op: f32 for every op; bf16 for the elementwise ops,
    /// the SwiGLU and the heads; f8e4m3 for the ops whose linears the FP8 checkpoint quantizes (spec/quant.md §3);
    /// nvfp4 for the same ops (§10).
    public let pluginEntryPoints: [PluginDType: String]
    /// The plugin ABI version that introduced the f32 entry point (the bf16, f8e4m3 and nvfp4 ones are version 2's).
    public let pluginABIVersion: UInt32

    init(_ page: String, _ equations: String, _ summary: String, taps: [TapKind], plugin: String,
         bf16: String? = nil, f8e4m3: String? = nil, nvfp4: String? = nil, since: UInt32 = 2) {
        (self.page, self.equations, self.summary, self.taps) = (page, equations, summary, taps)
        var points: [PluginDType: String] = [.f32: plugin]
        points[.bf16] = bf16
        points[.f8e4m3] = f8e4m3
        points[.nvfp4] = nvfp4
        (pluginEntryPoints, pluginABIVersion) = (points, since)
    }
}

/// The element types of the plugin ABI's entry points, as the bits of `assay_op_info.dtypes` (assay_plugin.h).
public enum PluginDType: String, Sendable, CaseIterable, Comparable {
    case f32, bf16, f8e4m3, nvfp4

    /// ASSAY_DTYPE_F32, ASSAY_DTYPE_BF16, ASSAY_DTYPE_F8_E4M3, ASSAY_DTYPE_NVFP4.
    public var bit: UInt32 {
        switch self {
        case .f32: 1 << 0
        case .bf16: 1 << 1
        case .f8e4m3: 1 << 2
        case .nvfp4: 1 << 3
        }
    }

    /// The header's name of the bit.
    public var bitName: String {
        switch self {
        case .f32: "ASSAY_DTYPE_F32"
        case .bf16: "ASSAY_DTYPE_BF16"
        case .f8e4m3: "ASSAY_DTYPE_F8_E4M3"
        case .nvfp4: "ASSAY_DTYPE_NVFP4"
        }
    }

    public static func < (a: PluginDType, b: PluginDType) -> Bool { a.bit < b.bit }
}
