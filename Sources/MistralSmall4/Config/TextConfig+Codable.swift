// TextConfig+Codable: TextConfig under the Hugging Face field names, with the alternative spellings transformers
// accepts checked against the canonical fields (spec/config.md, "Agree or refuse").

extension TextConfig: Codable {
    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case qLoraRank = "q_lora_rank"
        case kvLoraRank = "kv_lora_rank"
        case qkNopeHeadDim = "qk_nope_head_dim"
        case qkRopeHeadDim = "qk_rope_head_dim"
        case vHeadDim = "v_head_dim"
        case headDim = "head_dim"
        case qkHeadDim = "qk_head_dim"
        case attentionBias = "attention_bias"
        case nRoutedExperts = "n_routed_experts"
        case numExpertsPerTok = "num_experts_per_tok"
        case nSharedExperts = "n_shared_experts"
        case moeIntermediateSize = "moe_intermediate_size"
        case nGroup = "n_group"
        case topkGroup = "topk_group"
        case firstKDenseReplace = "first_k_dense_replace"
        case routedScalingFactor = "routed_scaling_factor"
        case normTopkProb = "norm_topk_prob"
        case hiddenAct = "hidden_act"
        case rmsNormEps = "rms_norm_eps"
        case maxPositionEmbeddings = "max_position_embeddings"
        case ropeParameters = "rope_parameters"
        case ropeScaling = "rope_scaling"
        case ropeTheta = "rope_theta"
        case ropeInterleave = "rope_interleave"
        case initializerRange = "initializer_range"
        case padTokenId = "pad_token_id"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
    }

    enum RopeKeys: String, CodingKey {
        case ropeType = "rope_type"
        case type
        case ropeTheta = "rope_theta"
        case llama4ScalingBeta = "llama_4_scaling_beta"
        case originalMaxPositionEmbeddings = "original_max_position_embeddings"
        case maxPositionEmbeddings = "max_position_embeddings"
        case partialRotaryFactor = "partial_rotary_factor"
        case factor
        case betaFast = "beta_fast"
        case betaSlow = "beta_slow"
        case mscale
        case mscaleAllDim = "mscale_all_dim"
        case attentionFactor = "attention_factor"
        case truncate
    }

    /// Decodes a text config from its own object: `text_config` of a mistral3 file, or a whole mistral4 file.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let modelType = try c.decode(String.self, forKey: .modelType)
        guard modelType == "mistral4" else {
            throw ConfigIssue { n in "\(n["text_config.model_type"]) (\"\(modelType)\") must be mistral4" }
        }
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        numKeyValueHeads = try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads) ?? numAttentionHeads

        qLoraRank = try c.decodeRequiringKey(Int?.self, forKey: .qLoraRank)
        kvLoraRank = try c.decode(Int.self, forKey: .kvLoraRank)
        qkNopeHeadDim = try c.decode(Int.self, forKey: .qkNopeHeadDim)
        qkRopeHeadDim = try c.decode(Int.self, forKey: .qkRopeHeadDim)
        vHeadDim = try c.decode(Int.self, forKey: .vHeadDim)
        attentionBias = try c.decode(.attentionBias, absent: false)

        nRoutedExperts = try c.decode(Int.self, forKey: .nRoutedExperts)
        numExpertsPerTok = try c.decode(Int.self, forKey: .numExpertsPerTok)
        nSharedExperts = try c.decode(Int.self, forKey: .nSharedExperts)
        moeIntermediateSize = try c.decode(Int.self, forKey: .moeIntermediateSize)
        nGroup = try c.decode(.nGroup, absent: 1)
        topkGroup = try c.decode(.topkGroup, absent: 1)
        firstKDenseReplace = try c.decode(.firstKDenseReplace, absent: 0)
        routedScalingFactor = try c.decode(.routedScalingFactor, absent: 1.0)
        normTopkProb = try c.decode(.normTopkProb, absent: true)
        hiddenAct = try c.decode(.hiddenAct, absent: "silu")

        rmsNormEps = try c.decode(Double.self, forKey: .rmsNormEps)
        maxPositionEmbeddings = try c.decode(.maxPositionEmbeddings, absent: 1_048_576)
        ropeInterleave = try c.decode(.ropeInterleave, absent: true)
        initializerRange = try c.decode(.initializerRange, absent: 0.02)
        padTokenId = try c.decode(.padTokenId, absent: 11)
        bosTokenId = try c.decode(.bosTokenId, absent: 1)
        eosTokenIds = try Self.decodeEOS(c)
        try Self.checkHeadDims(c, nope: qkNopeHeadDim, rotary: qkRopeHeadDim)
        rope = try Self.decodeRope(c, maxPositionEmbeddings: maxPositionEmbeddings)
        try Self.checkPartialRotaryFactor(c, nope: qkNopeHeadDim, rotary: qkRopeHeadDim)
    }

    /// `eos_token_id`: absent → [2] (transformers' default), null → [], one id, or a list of ids.
    private static func decodeEOS(_ c: KeyedDecodingContainer<CodingKeys>) throws -> [Int] {
        guard c.contains(.eosTokenId) else { return [2] }
        if try c.decodeNil(forKey: .eosTokenId) { return [] }
        if let one = try? c.decode(Int.self, forKey: .eosTokenId) { return [one] }
        return try c.decode([Int].self, forKey: .eosTokenId)
    }

    /// Canonical path prefix of the RoPE fields in messages (a legacy `rope_scaling` is reported under it too).
    private static let ropePath = "text_config.rope_parameters."

    /// `rope_parameters`, or the older `rope_scaling` (not both).
    private static func ropeContainer(
        _ c: KeyedDecodingContainer<CodingKeys>
    ) throws -> KeyedDecodingContainer<RopeKeys> {
        if c.contains(.ropeParameters), c.contains(.ropeScaling) {
            throw ConfigIssue { n in
                "\(n["text_config.rope_scaling"]) repeats \(n["text_config.rope_parameters"]);"
                    + " keep only rope_parameters"
            }
        }
        let key: CodingKeys = c.contains(.ropeScaling) ? .ropeScaling : .ropeParameters
        return try c.nestedContainer(keyedBy: RopeKeys.self, forKey: key)
    }

    private static func decodeRope(
        _ c: KeyedDecodingContainer<CodingKeys>, maxPositionEmbeddings: Int
    ) throws -> TextRopeParameters {
        let r = try ropeContainer(c)
        let path = ropePath
        let kind: String? = try agreeing(r, .ropeType, r, .type, path + "rope_type", path + "type")
        guard let kind else { throw missing(.ropeType, in: r) }
        guard kind == "yarn" || kind == "default" else {
            throw ConfigIssue { n in "\(n[path + "rope_type"]) (\"\(kind)\") must be yarn or default" }
        }
        let theta: Double? = try agreeing(r, .ropeTheta, c, .ropeTheta, path + "rope_theta", "text_config.rope_theta")
        guard let theta else { throw missing(.ropeTheta, in: r) }
        let echoed = try r.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings)
        if let echoed, echoed != maxPositionEmbeddings {
            throw ConfigIssue { n in
                "\(n[path + "max_position_embeddings"]) (\(echoed)) disagrees with "
                    + "\(n["text_config.max_position_embeddings"]) (\(maxPositionEmbeddings))"
            }
        }
        var yarn: YarnParameters?
        if kind == "yarn" {
            yarn = YarnParameters(
                factor: try r.decode(Double.self, forKey: .factor),
                betaFast: try r.decode(Double.self, forKey: .betaFast),
                betaSlow: try r.decode(Double.self, forKey: .betaSlow),
                mscale: try r.decode(Double.self, forKey: .mscale),
                mscaleAllDim: try r.decode(Double.self, forKey: .mscaleAllDim),
                attentionFactor: try r.decodeIfPresent(Double.self, forKey: .attentionFactor),
                truncate: try r.decode(.truncate, absent: true))
        }
        return TextRopeParameters(
            ropeTheta: theta,
            llama4ScalingBeta: try r.decode(Double.self, forKey: .llama4ScalingBeta),
            originalMaxPositionEmbeddings: try r.decode(Int.self, forKey: .originalMaxPositionEmbeddings),
            yarn: yarn)
    }

    /// The error for a RoPE field that no spelling provides.
    private static func missing(_ key: RopeKeys, in r: KeyedDecodingContainer<RopeKeys>) -> DecodingError {
        DecodingError.keyNotFound(key, .init(codingPath: r.codingPath, debugDescription: "missing"))
    }

    /// A value two spellings may carry (`rope_type` / `type`, inner / top-level `rope_theta`): either, or both
    /// when equal; nil when neither is written.
    private static func agreeing<T: Decodable & Equatable & Sendable, A, B>(
        _ first: KeyedDecodingContainer<A>, _ firstKey: A, _ second: KeyedDecodingContainer<B>, _ secondKey: B,
        _ firstPath: String, _ secondPath: String
    ) throws -> T? {
        let a = try first.decodeIfPresent(T.self, forKey: firstKey)
        let b = try second.decodeIfPresent(T.self, forKey: secondKey)
        if let a, let b, a != b {
            throw ConfigIssue { n in
                "\(n[firstPath]) (\(shown(a))) disagrees with \(n[secondPath]) (\(shown(b)))"
            }
        }
        return a ?? b
    }

    /// `head_dim` and `qk_head_dim`, which transformers writes but recomputes, must agree with the head widths.
    /// (Sums wrap here: absurd widths must reach validation's message, not trap.)
    private static func checkHeadDims(_ c: KeyedDecodingContainer<CodingKeys>, nope: Int, rotary: Int) throws {
        let width = nope &+ rotary
        for key in [CodingKeys.headDim, .qkHeadDim] {
            if let declared = try c.decodeIfPresent(Int.self, forKey: key), declared != width {
                throw ConfigIssue { n in
                    "\(n["text_config." + key.stringValue]) (\(declared)) must equal "
                        + "\(n["text_config.qk_nope_head_dim"]) + \(n["text_config.qk_rope_head_dim"])"
                        + " (\(nope) + \(rotary) = \(width))"
                }
            }
        }
    }

    /// transformers sizes the rotary frequencies as int(qk_head_dim · partial_rotary_factor): that must be
    /// qk_rope_head_dim.
    private static func checkPartialRotaryFactor(
        _ c: KeyedDecodingContainer<CodingKeys>, nope: Int, rotary: Int
    ) throws {
        let width = nope &+ rotary
        guard let factor = try ropeContainer(c).decodeIfPresent(Double.self, forKey: .partialRotaryFactor),
              width <= 0 || Int(exactly: (Double(width) * factor).rounded(.towardZero)) != rotary
        else { return }
        throw ConfigIssue { n in
            "\(n[ropePath + "partial_rotary_factor"]) (\(factor)) must be \(n["text_config.qk_rope_head_dim"])"
                + " / (\(n["text_config.qk_nope_head_dim"]) + \(n["text_config.qk_rope_head_dim"]))"
                + " = \(rotary)/\(width)"
        }
    }

    /// Encodes in transformers' layout, derived fields included, so the output loads as a `Mistral4Config`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("mistral4", forKey: .modelType)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(numKeyValueHeads, forKey: .numKeyValueHeads)
        try c.encode(qLoraRank, forKey: .qLoraRank)
        try c.encode(kvLoraRank, forKey: .kvLoraRank)
        try c.encode(qkNopeHeadDim, forKey: .qkNopeHeadDim)
        try c.encode(qkRopeHeadDim, forKey: .qkRopeHeadDim)
        try c.encode(vHeadDim, forKey: .vHeadDim)
        try c.encode(qkHeadDim, forKey: .headDim)
        try c.encode(qkHeadDim, forKey: .qkHeadDim)
        try c.encode(attentionBias, forKey: .attentionBias)
        try c.encode(nRoutedExperts, forKey: .nRoutedExperts)
        try c.encode(numExpertsPerTok, forKey: .numExpertsPerTok)
        try c.encode(nSharedExperts, forKey: .nSharedExperts)
        try c.encode(moeIntermediateSize, forKey: .moeIntermediateSize)
        try c.encode(nGroup, forKey: .nGroup)
        try c.encode(topkGroup, forKey: .topkGroup)
        try c.encode(firstKDenseReplace, forKey: .firstKDenseReplace)
        try c.encode(routedScalingFactor, forKey: .routedScalingFactor)
        try c.encode(normTopkProb, forKey: .normTopkProb)
        try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encode(rmsNormEps, forKey: .rmsNormEps)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(ropeInterleave, forKey: .ropeInterleave)
        try c.encode(initializerRange, forKey: .initializerRange)
        try c.encode(padTokenId, forKey: .padTokenId)
        try c.encode(bosTokenId, forKey: .bosTokenId)
        if eosTokenIds.count == 1 {
            try c.encode(eosTokenIds[0], forKey: .eosTokenId)
        } else {
            try c.encode(eosTokenIds.isEmpty ? nil : eosTokenIds, forKey: .eosTokenId)
        }

        var r = c.nestedContainer(keyedBy: RopeKeys.self, forKey: .ropeParameters)
        try r.encode(rope.ropeType, forKey: .ropeType)
        try r.encode(rope.ropeTheta, forKey: .ropeTheta)
        if let yarn = rope.yarn {
            try r.encode(yarn.factor, forKey: .factor)
            try r.encode(yarn.betaFast, forKey: .betaFast)
            try r.encode(yarn.betaSlow, forKey: .betaSlow)
            try r.encode(yarn.mscale, forKey: .mscale)
            try r.encode(yarn.mscaleAllDim, forKey: .mscaleAllDim)
            try r.encodeIfPresent(yarn.attentionFactor, forKey: .attentionFactor)
            try r.encode(yarn.truncate, forKey: .truncate)
        }
        try r.encode(rope.originalMaxPositionEmbeddings, forKey: .originalMaxPositionEmbeddings)
        try r.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try r.encode(rope.llama4ScalingBeta, forKey: .llama4ScalingBeta)
        try r.encode(Double(qkRopeHeadDim) / Double(qkHeadDim), forKey: .partialRotaryFactor)
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or `fallback` when the key is absent. A present `null` is refused: transformers would
    /// keep the null rather than apply its default.
    func decode<T: Decodable>(_ key: Key, absent fallback: T) throws -> T {
        contains(key) ? try decode(T.self, forKey: key) : fallback
    }

    /// A field that must be written even though `null` is a meaningful value (`q_lora_rank`).
    func decodeRequiringKey<T: Decodable>(_ type: T?.Type, forKey key: Key) throws -> T? {
        guard contains(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        return try decodeIfPresent(T.self, forKey: key)
    }
}

/// A value as messages show it: a string in double quotes, anything else as Swift prints it.
private func shown(_ value: some Sendable) -> String { value is String ? "\"\(value)\"" : "\(value)" }
