// TensorInventory: every parameter tensor a config defines, in order, with its Hugging Face name, shape and
// component. The single source of truth for shapes: weight generation, checkpoint export, weight loading and
// parameter counting all take names and shapes from here.
//
// Order: transformers' `named_parameters()` of Mistral3ForConditionalGeneration (Mistral4ForCausalLM for a
// text-only config), i.e. module registration order: vision tower, projector, text decoder, lm_head, and within a
// module its `__init__` order (so Pixtral's attention lists k, v, q, o). A cross-check can then compare lists
// exactly. Names are state-dict keys: `….weight` / `….bias`, except the fused expert tensors, which are bare
// parameters (`mlp.experts.gate_up_proj`). A tied lm_head is not listed (it is the embedding table).
// Shapes are PyTorch's: a linear weight is [out, in].

/// The part of the model a parameter belongs to; counts are reported per component.
public enum Component: String, CaseIterable, Sendable {
    /// The token embedding table.
    case embedding
    /// The attention projections and the q_a / kv_a RMSNorm weights, which live inside `self_attn`.
    case attention
    /// The MoE router (`mlp.gate`).
    case router
    /// The routed experts' fused gate_up and down weights; k of E are used per token.
    case routedExperts = "routed_experts"
    /// The shared experts (one SwiGLU MLP of width moe_intermediate_size × n_shared_experts).
    case sharedExperts = "shared_experts"
    /// The dense SwiGLU MLP of the first `first_k_dense_replace` layers.
    case denseMLP = "dense_mlp"
    /// The decoder layers' input and post-attention RMSNorm weights and the final norm.
    case norms
    /// The output projection (absent when tied to the embedding table).
    case lmHead = "lm_head"
    /// The Pixtral tower, its own norms included.
    case vision
    /// The multimodal projector: norm, patch merger, linear_1, linear_2, and their biases.
    case projector
}

/// One parameter tensor.
public struct TensorEntry: Sendable, Equatable {
    /// The state-dict key, e.g. `model.language_model.layers.0.self_attn.kv_b_proj.weight`.
    public let name: String
    /// PyTorch shape, outermost first.
    public let shape: [Int]
    public let component: Component

    /// Elements in the tensor (a validated config keeps this within Int).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// The ordered list of a config's parameter tensors.
public struct TensorInventory: Sendable {
    public let entries: [TensorEntry]
    private let positions: [String: Int]

    /// The inventory of `config`, which should be validated (sizes bounded) first.
    public init(_ config: ModelConfig) {
        var builder = InventoryBuilder(config: config)
        builder.build()
        entries = builder.entries
        positions = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
    }

    /// Whether `name` is a routed experts' stacked tensor (`….mlp.experts.gate_up_proj` [E, 2I, H] or `down_proj`).
    public static func isRoutedExpert(_ name: String) -> Bool {
        let experts = TapKind.routedExperts.row.module
        return name.hasSuffix(experts + ".gate_up_proj") || name.hasSuffix(experts + ".down_proj")
    }

    /// The entry named `name`, or nil.
    public subscript(name: String) -> TensorEntry? { positions[name].map { entries[$0] } }

}

private struct InventoryBuilder {
    let config: ModelConfig
    let paths: ModelPaths
    var entries: [TensorEntry] = []

    init(config: ModelConfig) {
        self.config = config
        paths = ModelPaths(config)
    }

    mutating func add(_ name: String, _ shape: [Int], _ component: Component) {
        entries.append(TensorEntry(name: name, shape: shape, component: component))
    }

    /// `nn.Linear(in, out)`: weight [out, in], then bias [out] when it has one.
    mutating func linear(_ module: String, out: Int, in: Int, bias: Bool = false, _ component: Component) {
        add(module + ".weight", [out, `in`], component)
        if bias { add(module + ".bias", [out], component) }
    }

    /// An RMSNorm's weight [width].
    mutating func norm(_ module: String, _ width: Int, _ component: Component) {
        add(module + ".weight", [width], component)
    }

    mutating func build() {
        if let multimodal = config.multimodal {
            visionTower(multimodal.vision)
            projector(multimodal)
        }
        let t = config.text
        add(paths.tap(.embedTokens).weight, [t.vocabSize, t.hiddenSize], .embedding)
        for layer in 0..<t.numHiddenLayers {
            let paths = self.paths, tap = { (kind: TapKind) in paths.tap(kind, layer: layer) }
            attention(tap(.selfAttention).module)
            if t.isMoELayer(layer) {
                moe(layer)
            } else {
                swiGLU(tap(.denseMLP).module, width: t.intermediateSize, hidden: t.hiddenSize, .denseMLP)
            }
            norm(tap(.inputNorm).module, t.hiddenSize, .norms)
            norm(tap(.postAttentionNorm).module, t.hiddenSize, .norms)
        }
        norm(paths.tap(.finalNorm).module, t.hiddenSize, .norms)
        if !config.tieWordEmbeddings { linear(paths.tap(.lmHead).module, out: t.vocabSize, in: t.hiddenSize, .lmHead) }
    }

    /// MLA: x → (q_a → q_a_layernorm → q_b | q_proj), x → kv_a_proj_with_mqa → (latent, shared rope key),
    /// latent → kv_a_layernorm → kv_b → per-head [k_nope | v], o_proj.
    mutating func attention(_ a: String) {
        let t = config.text
        let (hidden, heads, bias) = (t.hiddenSize, t.numAttentionHeads, t.attentionBias)
        if let rank = t.qLoraRank {
            linear(a + ".q_a_proj", out: rank, in: hidden, bias: bias, .attention)
            norm(a + ".q_a_layernorm", rank, .attention)
            linear(a + ".q_b_proj", out: heads * t.qkHeadDim, in: rank, .attention)
        } else {
            linear(a + ".q_proj", out: heads * t.qkHeadDim, in: hidden, .attention)
        }
        linear(a + ".kv_a_proj_with_mqa", out: t.latentCacheWidth, in: hidden, bias: bias, .attention)
        norm(a + ".kv_a_layernorm", t.kvLoraRank, .attention)
        linear(a + ".kv_b_proj", out: heads * (t.qkNopeHeadDim + t.vHeadDim), in: t.kvLoraRank, .attention)
        linear(a + ".o_proj", out: hidden, in: heads * t.vHeadDim, bias: bias, .attention)
    }

    /// Layer `layer`'s routed experts (fused: gate_up [E, 2I, H] holds gate rows then up rows), router and shared
    /// experts.
    mutating func moe(_ layer: Int) {
        let t = config.text
        let (experts, width, hidden) = (t.nRoutedExperts, t.moeIntermediateSize, t.hiddenSize)
        let routed = paths.tap(.routedExperts, layer: layer).module
        add(routed + ".gate_up_proj", [experts, 2 * width, hidden], .routedExperts)
        add(routed + ".down_proj", [experts, hidden, width], .routedExperts)
        add(paths.tap(.routerLogits, layer: layer).weight, [experts, hidden], .router)
        swiGLU(paths.tap(.sharedExperts, layer: layer).module, width: width * t.nSharedExperts, hidden: hidden,
               .sharedExperts)
    }

    /// A SwiGLU MLP H → width → H: gate_proj, up_proj [width, H], down_proj [H, width].
    mutating func swiGLU(_ m: String, width: Int, hidden: Int, _ component: Component) {
        linear(m + ".gate_proj", out: width, in: hidden, component)
        linear(m + ".up_proj", out: width, in: hidden, component)
        linear(m + ".down_proj", out: hidden, in: width, component)
    }

    /// Pixtral: patch_conv (no bias), ln_pre, then per block attention_norm, feed_forward, attention, ffn_norm.
    mutating func visionTower(_ v: VisionConfig) {
        let hidden = v.hiddenSize
        add(paths.tap(.patchConv).weight, [hidden, v.numChannels, v.patchSize, v.patchSize], .vision)
        norm(paths.tap(.lnPre).module, hidden, .vision)
        for layer in 0..<v.numHiddenLayers {
            let paths = self.paths, tap = { (kind: TapKind) in paths.tap(kind, layer: layer) }
            norm(tap(.attentionNorm).module, hidden, .vision)
            swiGLU(tap(.feedForward).module, width: v.intermediateSize, hidden: hidden, .vision)
            for projection in ["k_proj", "v_proj", "q_proj", "o_proj"] {
                linear(tap(.visionAttention).module + "." + projection, out: hidden, in: hidden, .vision)
            }
            norm(tap(.ffnNorm).module, hidden, .vision)
        }
    }

    /// norm → patch merger (s² patches → one, [Hv, Hv·s²]) → linear_1 [H, Hv] → GELU → linear_2 [H, H].
    mutating func projector(_ m: MultimodalConfig) {
        let projector = paths.tap(.projector).module
        let (visionWidth, textWidth, merge) = (m.vision.hiddenSize, config.text.hiddenSize, m.spatialMergeSize)
        norm(paths.tap(.projectorNorm).module, visionWidth, .projector)
        linear(paths.tap(.patchMerger).module + ".merging_layer", out: visionWidth, in: visionWidth * merge * merge,
               .projector)
        linear(projector + ".linear_1", out: textWidth, in: visionWidth, bias: m.multimodalProjectorBias, .projector)
        linear(projector + ".linear_2", out: textWidth, in: textWidth, bias: m.multimodalProjectorBias, .projector)
    }
}
