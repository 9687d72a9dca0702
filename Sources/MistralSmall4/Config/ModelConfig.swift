// ModelConfig: a whole Mistral Small 4 configuration — the text decoder, the optional vision tower and projector,
// the optional quantization — and where it came from. Codable in transformers' layout: a `mistral3` config.json
// (`Mistral3ForConditionalGeneration`: text_config + vision_config) or a bare `mistral4` one (`Mistral4ForCausalLM`).
//
// Loading (with format detection and params.json) is in ConfigLoading.swift, the rules in ConfigValidation.swift.

/// A Mistral Small 4 model configuration.
public struct ModelConfig: Sendable, Equatable {
    /// The text decoder.
    public var text: TextConfig
    /// The vision tower and projector; nil for a text-only (bare mistral4) model.
    public var multimodal: MultimodalConfig?
    /// lm_head shares the embedding table. In a mistral3 file this is the top-level field, which transformers
    /// reads (default true when absent); `text_config.tie_word_embeddings`, when written, must agree.
    public var tieWordEmbeddings: Bool
    /// The checkpoint's quantization, recorded as written; nil for unquantized weights.
    public var quantization: QuantizationConfig?
    /// Where the config came from; names the file in errors.
    public var source: ConfigSource
}

/// The image path of a mistral3 model: the Pixtral tower and the projector into the text decoder. Its fields
/// other than `vision` sit at the top level of a mistral3 config.json.
public struct MultimodalConfig: Sendable, Equatable {
    public var vision: VisionConfig
    /// The token id whose positions receive image features (`image_token_index`, alias `image_token_id`).
    public var imageTokenIndex: Int
    /// Projector activation between linear_1 and linear_2; only `gelu` (exact erf) is modelled.
    public var projectorHiddenAct: String
    /// Which vision hidden state feeds the projector: an index into the tower's L+1 hidden states, -1 the last.
    public var visionFeatureLayer: Int
    /// Biases on the projector's linear_1 and linear_2.
    public var multimodalProjectorBias: Bool
    /// The patch merger concatenates s × s neighbouring patches into one token.
    public var spatialMergeSize: Int
}

/// The origin of a config: the format it was read from and the file name errors print.
public enum ConfigSource: Sendable, Equatable {
    /// A Hugging Face config.json (mistral3 or mistral4), by file name.
    case huggingFace(file: String)
    /// A Mistral params.json, by file name.
    case mistralParams(file: String)
    /// A preset compiled in from spec/presets.
    case preset(Preset)

    /// The file name error messages start with.
    public var fileName: String {
        switch self {
        case .huggingFace(let file), .mistralParams(let file): file
        case .preset(let preset): preset.fileName
        }
    }
}

extension ModelConfig {
    /// How error messages spell fields for this config's source.
    var fieldNaming: FieldNaming {
        switch source {
        case .mistralParams: .mistralParams
        case .huggingFace, .preset: multimodal == nil ? .bareText : .composite
        }
    }
}

// MARK: - Codable

extension ModelConfig: Codable {
    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case architectures
        case textConfig = "text_config"
        case tieWordEmbeddings = "tie_word_embeddings"
        case quantizationConfig = "quantization_config"
    }

    /// Decodes a mistral3 or mistral4 config.json; `source` is `.huggingFace(file: "config.json")` until a loader
    /// sets it.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let modelType = try c.decode(String.self, forKey: .modelType)
        switch modelType {
        case "mistral3":
            text = try c.decode(TextConfig.self, forKey: .textConfig)
            multimodal = try MultimodalConfig(from: decoder)
            let declared = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings)
            tieWordEmbeddings = declared ?? true
            let inner = try c.nestedContainer(keyedBy: CodingKeys.self, forKey: .textConfig)
            if let innerTie = try inner.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings),
               innerTie != tieWordEmbeddings {
                let outer = declared.map { "\($0)" } ?? "true when absent"
                throw ConfigIssue(fixed: "tie_word_embeddings (\(outer)) disagrees with "
                    + "text_config.tie_word_embeddings (\(innerTie)); transformers ties by the top-level field")
            }
        case "mistral4":
            text = try TextConfig(from: decoder)
            multimodal = nil
            tieWordEmbeddings = try c.decode(.tieWordEmbeddings, absent: false)
        default:
            throw ConfigIssue(fixed: "model_type (\"\(modelType)\") must be mistral3 or mistral4")
        }
        quantization = try c.decodeIfPresent(QuantizationConfig.self, forKey: .quantizationConfig)
        source = .huggingFace(file: "config.json")
    }

    /// Encodes the config.json transformers would read the same way: mistral3 with a vision tower, else mistral4.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let multimodal {
            try c.encode("mistral3", forKey: .modelType)
            try c.encode(["Mistral3ForConditionalGeneration"], forKey: .architectures)
            let textEncoder = c.superEncoder(forKey: .textConfig)
            try text.encode(to: textEncoder)
            var inner = textEncoder.container(keyedBy: CodingKeys.self)
            try inner.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
            try multimodal.encode(to: encoder)
        } else {
            try text.encode(to: encoder)
            try c.encode(["Mistral4ForCausalLM"], forKey: .architectures)
        }
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encodeIfPresent(quantization, forKey: .quantizationConfig)
    }
}

extension MultimodalConfig: Codable {
    enum CodingKeys: String, CodingKey {
        case visionConfig = "vision_config"
        case imageTokenIndex = "image_token_index"
        case imageTokenId = "image_token_id"
        case projectorHiddenAct = "projector_hidden_act"
        case visionFeatureLayer = "vision_feature_layer"
        case multimodalProjectorBias = "multimodal_projector_bias"
        case spatialMergeSize = "spatial_merge_size"
    }

    /// Decodes from the top level of a mistral3 config.json. `vision_config` is required: transformers would
    /// otherwise build its default (gelu, 24-layer) Pixtral tower, which is not this model's.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vision = try c.decode(VisionConfig.self, forKey: .visionConfig)
        let index = try c.decodeIfPresent(Int.self, forKey: .imageTokenIndex)
        let alias = try c.decodeIfPresent(Int.self, forKey: .imageTokenId)
        if let index, let alias, index != alias {
            throw ConfigIssue(fixed: "image_token_index (\(index)) disagrees with image_token_id (\(alias))")
        }
        imageTokenIndex = index ?? alias ?? 10
        projectorHiddenAct = try c.decode(.projectorHiddenAct, absent: "gelu")
        visionFeatureLayer = try c.decode(.visionFeatureLayer, absent: -1)
        multimodalProjectorBias = try c.decode(.multimodalProjectorBias, absent: false)
        spatialMergeSize = try c.decode(.spatialMergeSize, absent: 2)
    }

    /// Encodes into the top level of a mistral3 config.json.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vision, forKey: .visionConfig)
        try c.encode(imageTokenIndex, forKey: .imageTokenIndex)
        try c.encode(projectorHiddenAct, forKey: .projectorHiddenAct)
        try c.encode(visionFeatureLayer, forKey: .visionFeatureLayer)
        try c.encode(multimodalProjectorBias, forKey: .multimodalProjectorBias)
        try c.encode(spatialMergeSize, forKey: .spatialMergeSize)
    }
}
