// The taps of the model — spec/taps.md: every named tensor a forward pass records, written once. A tap's name is
// the Hugging Face module path that produces it (`model.language_model.layers.3.post_attention_layernorm`), with a
// `#suffix` for values inside a module (`…self_attn#kv_latent`); the module path also names its weights
// (`<module>.weight`). Its tolerance class (spec/goldens.md §4) and stored layout come from its kind, never from a
// file, and nothing else in Assay spells a module path.

/// What kind of computation a tap's value comes out of; it picks the limits in spec/tolerances.json.
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
}

/// How a tap is stored, given the rows the graph computes on.
public enum TapLayout: Sendable {
    /// Token rows `[B·S, …]` stored as `[B, S, …]`.
    case tokens
    /// Patch rows `[P, …]` stored as `[1, P, …]`.
    case patches
    /// Stored as computed.
    case asComputed
}

/// Where in the model a module sits.
public enum ModuleScope: Sendable {
    /// The text decoder (`model.language_model`, or `model` in a text-only config).
    case text
    /// Decoder layer i.
    case textLayer
    /// Top level (`lm_head`).
    case root
    case visionTower
    /// Vision transformer layer i.
    case visionLayer
    case projector
}

/// Every tap the model records, in the order a forward pass records them.
public enum TapKind: String, Sendable, CaseIterable {
    case embedTokens
    case patchConv, lnPre, attentionNorm, visionAttention, ffnNorm, feedForward, visionBlock, visionTower
    case projectorNorm, patchMerger, projector, inputsEmbeds
    case inputNorm, kvLatent, selfAttention, postAttentionNorm, denseMLP
    case routerLogits, routerWeights, routerIndices, routerMargin, routedExperts, sharedExperts, moe
    case decoderLayer, finalNorm, lmHead

    /// The tap's row: its module under `scope`, the `#suffix` of a value inside the module, class and layout.
    public var row: TapRow {
        switch self {
        case .embedTokens: TapRow(.text, ".embed_tokens", class: .exact)
        case .inputsEmbeds: TapRow(.text, "", "inputs_embeds", class: .exact)
        case .inputNorm: TapRow(.textLayer, ".input_layernorm", class: .norm)
        case .kvLatent: TapRow(.textLayer, ".self_attn", "kv_latent", class: .attention)
        case .selfAttention: TapRow(.textLayer, ".self_attn", class: .attention)
        case .postAttentionNorm: TapRow(.textLayer, ".post_attention_layernorm", class: .norm)
        case .routerLogits: TapRow(.textLayer, ".mlp.gate", "logits", class: .router, .asComputed)
        case .routerWeights: TapRow(.textLayer, ".mlp.gate", "weights", class: .router, .asComputed)
        case .routerIndices: TapRow(.textLayer, ".mlp.gate", "indices", class: .routerIndices, .asComputed)
        case .routerMargin: TapRow(.textLayer, ".mlp.gate", "margin", class: .margin, .asComputed)
        case .routedExperts: TapRow(.textLayer, ".mlp.experts", class: .mlp, .asComputed)
        case .sharedExperts: TapRow(.textLayer, ".mlp.shared_experts", class: .mlp)
        case .moe, .denseMLP: TapRow(.textLayer, ".mlp", class: .mlp)
        case .decoderLayer: TapRow(.textLayer, "", class: .block)
        case .finalNorm: TapRow(.text, ".norm", class: .norm)
        case .lmHead: TapRow(.root, "lm_head", class: .logits)
        case .patchConv: TapRow(.visionTower, ".patch_conv", class: .matmul, .asComputed)
        case .lnPre: TapRow(.visionTower, ".ln_pre", class: .norm, .patches)
        case .attentionNorm: TapRow(.visionLayer, ".attention_norm", class: .norm, .patches)
        case .visionAttention: TapRow(.visionLayer, ".attention", class: .attention, .patches)
        case .ffnNorm: TapRow(.visionLayer, ".ffn_norm", class: .norm, .patches)
        case .feedForward: TapRow(.visionLayer, ".feed_forward", class: .mlp, .patches)
        case .visionBlock: TapRow(.visionLayer, "", class: .block, .patches)
        case .visionTower: TapRow(.visionTower, "", class: .block, .patches)
        case .projectorNorm: TapRow(.projector, ".norm", class: .norm, .asComputed)
        case .patchMerger: TapRow(.projector, ".patch_merger", class: .matmul, .asComputed)
        case .projector: TapRow(.projector, "", class: .matmul, .asComputed)
        }
    }

    public var toleranceClass: ToleranceClass { row.toleranceClass }

    /// Whether decoder layer `layer` of `text` records this kind (MoE taps in MoE layers, the dense MLP elsewhere).
    public func occurs(inLayer layer: Int, _ text: TextConfig) -> Bool {
        switch self {
        case .routerLogits, .routerWeights, .routerIndices, .routerMargin, .routedExperts, .sharedExperts, .moe:
            text.isMoELayer(layer)
        case .denseMLP: !text.isMoELayer(layer)
        default: true
        }
    }
}

/// A tap kind's place and treatment.
public struct TapRow: Sendable {
    public let scope: ModuleScope
    /// The module under the scope's path (`.input_layernorm`; empty: the scope's module itself).
    public let module: String
    /// The `#suffix` of a value inside the module, or nil.
    public let suffix: String?
    public let toleranceClass: ToleranceClass
    public let layout: TapLayout

    init(_ scope: ModuleScope, _ module: String, _ suffix: String? = nil, class toleranceClass: ToleranceClass,
         _ layout: TapLayout = .tokens) {
        (self.scope, self.module, self.suffix, self.toleranceClass, self.layout) = (scope, module, suffix,
                                                                                     toleranceClass, layout)
    }
}

/// One tap of one model: its kind, module path and name.
public struct Tap: Hashable, Sendable, CustomStringConvertible {
    public let kind: TapKind
    /// The module path, e.g. `model.language_model.layers.3.mlp.gate`.
    public let module: String

    /// The tap's name: the module path, with `#suffix` for a value inside the module.
    public var name: String { kind.row.suffix.map { module + "#" + $0 } ?? module }
    /// The module's weight, `<module>.weight`.
    public var weight: String { module + ".weight" }
    public var description: String { name }

    /// The tap of kind `kind` of the same module (the router's logits, weights, indices and margin).
    public func sibling(_ kind: TapKind) -> Tap {
        precondition(kind.row.scope == self.kind.row.scope && kind.row.module == self.kind.row.module,
                     "\(kind) is not a tap of \(module)")
        return Tap(kind: kind, module: module)
    }
}

/// The module paths and taps of one config's model.
public struct ModelPaths: Sendable {
    /// The text decoder's prefix: `model.language_model` under mistral3, `model` under mistral4 (text only).
    public let text: String
    /// The text decoder's prefix under mistral3.
    public static let multimodalText = "model.language_model"
    public static let visionTower = "model.vision_tower"
    public static let projector = "model.multi_modal_projector"

    public init(_ config: ModelConfig) {
        text = config.multimodal == nil ? "model" : Self.multimodalText
    }

    /// Whether `module` is in the vision tower or the projector (the modules that run on an image's patches).
    public static func onPatches(_ module: String) -> Bool {
        module.hasPrefix(visionTower) || module.hasPrefix(projector)
    }

    /// The path of `scope` (layer `layer` for the layer scopes).
    public func path(_ scope: ModuleScope, layer: Int? = nil) -> String {
        switch scope {
        case .text: text
        case .textLayer: "\(text).layers.\(layer!)"
        case .root: ""
        case .visionTower: Self.visionTower
        case .visionLayer: "\(Self.visionTower).transformer.layers.\(layer!)"
        case .projector: Self.projector
        }
    }

    /// Tap `kind` (of layer `layer`, for a layer's taps).
    public func tap(_ kind: TapKind, layer: Int? = nil) -> Tap {
        let row = kind.row
        precondition((row.scope == .textLayer || row.scope == .visionLayer) == (layer != nil),
                     "tap \(kind): layer \(layer.map(String.init) ?? "nil")")
        let base = path(row.scope, layer: layer)
        return Tap(kind: kind, module: base.isEmpty ? row.module : base + row.module)
    }

    /// A decoder layer's module path, `….layers.{layer}`.
    public func layer(_ layer: Int) -> String { path(.textLayer, layer: layer) }

    /// The head's weight: `lm_head.weight`, or the embedding table when the config ties them.
    public func headWeight(_ config: ModelConfig) -> String {
        tap(config.tieWordEmbeddings ? .embedTokens : .lmHead).weight
    }

    /// Every tap name of a text-and-vision model with `{i}` for the layer, in recording order, for help texts:
    /// `model.language_model.layers.{i}.input_layernorm`.
    public static var tapPatterns: [String] {
        let layers: [ModuleScope: String] = [.textLayer: multimodalText + ".layers.{i}",
                                             .visionLayer: visionTower + ".transformer.layers.{i}"]
        let paths = ModelPaths(text: multimodalText)
        var seen = Set<String>()
        return TapKind.allCases.compactMap { kind in
            let row = kind.row
            let base = layers[row.scope] ?? paths.path(row.scope)
            let module = base.isEmpty ? row.module : base + row.module
            let name = row.suffix.map { module + "#" + $0 } ?? module
            return seen.insert(name).inserted ? name : nil
        }
    }

    private init(text: String) { self.text = text }

    /// Every tap a forward pass of `config` can record (vision taps when it has a tower), by name.
    public static func taps(_ config: ModelConfig) -> [String: Tap] {
        let paths = ModelPaths(config)
        var all = [Tap]()
        for kind in TapKind.allCases {
            switch kind.row.scope {
            case .textLayer:
                all += (0..<config.text.numHiddenLayers).filter { kind.occurs(inLayer: $0, config.text) }
                    .map { paths.tap(kind, layer: $0) }
            case .visionLayer:
                all += (0..<(config.multimodal?.vision.numHiddenLayers ?? 0)).map { paths.tap(kind, layer: $0) }
            case .visionTower, .projector:
                if config.multimodal != nil { all.append(paths.tap(kind)) }
            case .text where kind == .inputsEmbeds:
                if config.multimodal != nil { all.append(paths.tap(kind)) }
            case .text, .root:
                all.append(paths.tap(kind))
            }
        }
        return Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
    }
}
