// VisionConfig: the hyper-parameters of the Pixtral vision tower (transformers' `PixtralVisionConfig`), Codable under
// the Hugging Face field names.
//
// Goals, in order: agree with transformers or refuse (spec/config.md), then plain Swift. Transformers derives the
// head width as hidden_size / num_attention_heads and ignores a written `head_dim`; here a written `head_dim` is
// kept and validation requires hidden_size = num_attention_heads × head_dim, so both readings agree.

/// The Pixtral encoder: patch convolution, ln_pre, `numHiddenLayers` pre-norm blocks with 2D RoPE and SwiGLU.
public struct VisionConfig: Sendable, Equatable {
    /// Width of the patch embeddings Hv.
    public var hiddenSize: Int
    /// Width of each block's SwiGLU MLP.
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    /// Per-head width; `hiddenSize / numAttentionHeads` when the file does not say.
    public var headDim: Int
    /// Image channels C (3: RGB).
    public var numChannels: Int
    /// The longest image side the tower is built for, in pixels.
    public var imageSize: Int
    /// Side of a square patch, in pixels; also the patch convolution's kernel and stride.
    public var patchSize: Int
    /// MLP activation; only `silu` is modelled (transformers' default when absent is gelu).
    public var hiddenAct: String
    /// The 2D RoPE frequency base.
    public var ropeTheta: Double
    public var initializerRange: Double

    /// Patches along the longest side of the largest image: `imageSize / patchSize`.
    public var patchesPerSide: Int { imageSize / patchSize }
}

extension VisionConfig: Codable {
    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case headDim = "head_dim"
        case numChannels = "num_channels"
        case imageSize = "image_size"
        case patchSize = "patch_size"
        case hiddenAct = "hidden_act"
        case ropeParameters = "rope_parameters"
        case ropeTheta = "rope_theta"
        case initializerRange = "initializer_range"
    }

    enum RopeKeys: String, CodingKey {
        case ropeType = "rope_type"
        case ropeTheta = "rope_theta"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let modelType = try c.decode(.modelType, absent: "pixtral")
        guard modelType == "pixtral" else {
            throw ConfigIssue { n in "\(n["vision_config.model_type"]) (\"\(modelType)\") must be pixtral" }
        }
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim)
            ?? (numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0)
        numChannels = try c.decode(.numChannels, absent: 3)
        imageSize = try c.decode(Int.self, forKey: .imageSize)
        patchSize = try c.decode(Int.self, forKey: .patchSize)
        hiddenAct = try c.decode(.hiddenAct, absent: "gelu")
        initializerRange = try c.decode(.initializerRange, absent: 0.02)
        ropeTheta = try Self.decodeRopeTheta(c)
    }

    /// θ from `rope_parameters.rope_theta` or a top-level `rope_theta` (they must agree), else 10000 as in
    /// transformers. The rope type, when written, must be the axial 2D RoPE (`default` is its older spelling).
    private static func decodeRopeTheta(_ c: KeyedDecodingContainer<CodingKeys>) throws -> Double {
        let outer = try c.decodeIfPresent(Double.self, forKey: .ropeTheta)
        guard c.contains(.ropeParameters), try !c.decodeNil(forKey: .ropeParameters) else { return outer ?? 10_000 }
        let r = try c.nestedContainer(keyedBy: RopeKeys.self, forKey: .ropeParameters)
        let kind = try r.decode(.ropeType, absent: "default")
        guard kind == "default" || kind == "axial" else {
            throw ConfigIssue { n in
                "\(n["vision_config.rope_parameters.rope_type"]) (\"\(kind)\") must be default or axial"
            }
        }
        let inner = try r.decodeIfPresent(Double.self, forKey: .ropeTheta)
        if let inner, let outer, inner != outer {
            throw ConfigIssue { n in
                "\(n["vision_config.rope_parameters.rope_theta"]) (\(inner)) disagrees with "
                    + "\(n["vision_config.rope_theta"]) (\(outer))"
            }
        }
        return inner ?? outer ?? 10_000
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("pixtral", forKey: .modelType)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(headDim, forKey: .headDim)
        try c.encode(numChannels, forKey: .numChannels)
        try c.encode(imageSize, forKey: .imageSize)
        try c.encode(patchSize, forKey: .patchSize)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encode(initializerRange, forKey: .initializerRange)
        var r = c.nestedContainer(keyedBy: RopeKeys.self, forKey: .ropeParameters)
        try r.encode("default", forKey: .ropeType)
        try r.encode(ropeTheta, forKey: .ropeTheta)
    }
}
