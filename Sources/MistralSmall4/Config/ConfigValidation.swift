// ConfigValidation: the rules a config passes before anything is built from it (spec/config.md lists them).
//
// Goals, in order: refuse every config a port or transformers would build differently, or could not build, or
// that would overflow while building; then say what is wrong in one line with the fields as the file spells them.
// Sizes are checked before the rules that combine them, so no rule's arithmetic can overflow; the first failing
// rule is reported.

import Tensor

extension ModelConfig {
    /// Largest accepted size field (vocabulary, widths, ranks, heads, experts, image and patch sides, merge size).
    /// With every size at most 2^20, each tensor extent the inventory forms (at most a product of three sizes,
    /// e.g. Hv·s²) fits in Int; element counts and the total are then checked for overflow by validation.
    public static let maximumSize = 1 << 20
    /// Largest accepted layer count (text or vision): keeps the inventory a list that fits in memory.
    public static let maximumLayers = 1024

    /// Checks every rule, throwing the first that fails as `"<file>: <field> (<value>) must …"`.
    public func validate() throws(ConfigError) {
        do {
            try ConfigRules(config: self).check()
        } catch {
            throw ConfigError(file: source.fileName, message: error.message(fieldNaming))
        }
    }
}

private struct ConfigRules {
    let config: ModelConfig

    func check() throws(ConfigIssue) {
        try textSizes()
        try attention()
        try routing()
        try rope()
        try tokenIds()
        if let multimodal = config.multimodal {
            try vision(multimodal.vision)
            try projector(multimodal)
        }
        try quantization()
        try parameterCount()
    }

    // MARK: Rule helpers

    func require(_ holds: Bool, _ message: @escaping @Sendable (FieldNaming) -> String) throws(ConfigIssue) {
        if !holds { throw ConfigIssue(message) }
    }

    /// A size field: positive and at most `limit`.
    func size(_ path: String, _ value: Int, limit: Int = ModelConfig.maximumSize) throws(ConfigIssue) {
        try require(value > 0) { n in "\(n[path]) (\(value)) must be positive" }
        try require(value <= limit) { n in "\(n[path]) (\(value)) must not exceed \(limit)" }
    }

    /// A real parameter that must be positive (NaN fails too).
    func positive(_ path: String, _ value: Double) throws(ConfigIssue) {
        try require(value > 0) { n in "\(n[path]) (\(value)) must be positive" }
    }

    func atMost(_ path: String, _ value: Int, _ boundPath: String, _ bound: Int) throws(ConfigIssue) {
        try require(value <= bound) { n in "\(n[path]) (\(value)) must not exceed \(n[boundPath]) (\(bound))" }
    }

    func divisible(_ path: String, _ value: Int, by divisorPath: String, _ divisor: Int) throws(ConfigIssue) {
        try require(value % divisor == 0) { n in
            "\(n[path]) (\(value)) must be divisible by \(n[divisorPath]) (\(divisor))"
        }
    }

    /// A string field naming the one behaviour the reference models.
    func only(_ path: String, _ value: String, _ expected: String) throws(ConfigIssue) {
        try require(value == expected) { n in "\(n[path]) (\"\(value)\") must be \(expected)" }
    }

    /// A token id: an index into the vocabulary.
    func tokenId(_ path: String, _ id: Int) throws(ConfigIssue) {
        let vocab = config.text.vocabSize
        try require(id >= 0 && id < vocab) { n in
            "\(n[path]) (\(id)) must lie in 0..<\(n["text_config.vocab_size"]) (\(vocab))"
        }
    }

    // MARK: Text decoder

    func textSizes() throws(ConfigIssue) {
        let t = config.text
        let sizes = [
            ("vocab_size", t.vocabSize), ("hidden_size", t.hiddenSize), ("intermediate_size", t.intermediateSize),
            ("num_attention_heads", t.numAttentionHeads), ("num_key_value_heads", t.numKeyValueHeads),
            ("kv_lora_rank", t.kvLoraRank), ("qk_nope_head_dim", t.qkNopeHeadDim),
            ("qk_rope_head_dim", t.qkRopeHeadDim), ("v_head_dim", t.vHeadDim),
            ("n_routed_experts", t.nRoutedExperts), ("num_experts_per_tok", t.numExpertsPerTok),
            ("n_shared_experts", t.nSharedExperts), ("moe_intermediate_size", t.moeIntermediateSize),
            ("n_group", t.nGroup), ("topk_group", t.topkGroup),
        ]
        for (key, value) in sizes { try size("text_config." + key, value) }
        if let rank = t.qLoraRank { try size("text_config.q_lora_rank", rank) }
        try size("text_config.num_hidden_layers", t.numHiddenLayers, limit: ModelConfig.maximumLayers)
        try size("text_config.max_position_embeddings", t.maxPositionEmbeddings, limit: Int.max)
        let dense = t.firstKDenseReplace
        try require(dense >= 0) { n in "\(n["text_config.first_k_dense_replace"]) (\(dense)) must not be negative" }
        try atMost("text_config.first_k_dense_replace", dense, "text_config.num_hidden_layers", t.numHiddenLayers)
    }

    func attention() throws(ConfigIssue) {
        let t = config.text
        let (heads, kvHeads) = (t.numAttentionHeads, t.numKeyValueHeads)
        try require(kvHeads == heads) { n in
            "\(n["text_config.num_key_value_heads"]) (\(kvHeads)) must equal \(n["text_config.num_attention_heads"])"
                + " (\(heads)): MLA expands a key and a value for every head"
        }
        let rotary = t.qkRopeHeadDim
        try require(rotary % 2 == 0) { n in "\(n["text_config.qk_rope_head_dim"]) (\(rotary)) must be even" }
        try positive("text_config.rms_norm_eps", t.rmsNormEps)
        try only("text_config.hidden_act", t.hiddenAct, "silu")
    }

    /// Top-k routing with group limits, as transformers' Mistral4TopkRouter does it.
    func routing() throws(ConfigIssue) {
        let t = config.text
        let (experts, k, groups, pickedGroups) = (t.nRoutedExperts, t.numExpertsPerTok, t.nGroup, t.topkGroup)
        try atMost("text_config.num_experts_per_tok", k, "text_config.n_routed_experts", experts)
        try divisible("text_config.n_routed_experts", experts, by: "text_config.n_group", groups)
        try atMost("text_config.topk_group", pickedGroups, "text_config.n_group", groups)
        let perGroup = experts / groups
        try require(perGroup >= 2) { n in
            "\(n["text_config.n_routed_experts"]) / \(n["text_config.n_group"]) (\(experts) / \(groups)) must be at"
                + " least 2: a group's score is the sum of its top 2 experts"
        }
        try require(k <= pickedGroups * perGroup) { n in
            "\(n["text_config.num_experts_per_tok"]) (\(k)) must not exceed \(n["text_config.topk_group"])"
                + " × experts per group (\(pickedGroups) × \(perGroup))"
        }
        try positive("text_config.routed_scaling_factor", t.routedScalingFactor)
    }

    func rope() throws(ConfigIssue) {
        let t = config.text
        let r = t.rope
        let path = "text_config.rope_parameters."
        try positive(path + "rope_theta", r.ropeTheta)
        let beta = r.llama4ScalingBeta
        try require(beta >= 0) { n in "\(n[path + "llama_4_scaling_beta"]) (\(beta)) must not be negative" }
        try size(path + "original_max_position_embeddings", r.originalMaxPositionEmbeddings, limit: Int.max)
        try atMost(path + "original_max_position_embeddings", r.originalMaxPositionEmbeddings,
                   "text_config.max_position_embeddings", t.maxPositionEmbeddings)
        guard let yarn = r.yarn else { return }
        let factor = yarn.factor
        try require(factor >= 1) { n in "\(n[path + "factor"]) (\(factor)) must be at least 1" }
        try positive(path + "beta_slow", yarn.betaSlow)
        let (fast, slow) = (yarn.betaFast, yarn.betaSlow)
        try require(fast > slow) { n in
            "\(n[path + "beta_fast"]) (\(fast)) must exceed \(n[path + "beta_slow"]) (\(slow))"
        }
        try positive(path + "mscale", yarn.mscale)
        try positive(path + "mscale_all_dim", yarn.mscaleAllDim)
        if let attentionFactor = yarn.attentionFactor { try positive(path + "attention_factor", attentionFactor) }
    }

    func tokenIds() throws(ConfigIssue) {
        let t = config.text
        if let pad = t.padTokenId { try tokenId("text_config.pad_token_id", pad) }
        if let bos = t.bosTokenId { try tokenId("text_config.bos_token_id", bos) }
        for eos in t.eosTokenIds { try tokenId("text_config.eos_token_id", eos) }
        if let multimodal = config.multimodal { try tokenId("image_token_index", multimodal.imageTokenIndex) }
    }

    // MARK: Vision tower and projector

    func vision(_ v: VisionConfig) throws(ConfigIssue) {
        let sizes = [
            ("hidden_size", v.hiddenSize), ("intermediate_size", v.intermediateSize),
            ("num_attention_heads", v.numAttentionHeads), ("head_dim", v.headDim), ("num_channels", v.numChannels),
            ("image_size", v.imageSize), ("patch_size", v.patchSize),
        ]
        for (key, value) in sizes { try size("vision_config." + key, value) }
        try size("vision_config.num_hidden_layers", v.numHiddenLayers, limit: ModelConfig.maximumLayers)
        let (hidden, heads, headDim) = (v.hiddenSize, v.numAttentionHeads, v.headDim)
        try require(hidden == heads * headDim) { n in
            "\(n["vision_config.hidden_size"]) (\(hidden)) must equal \(n["vision_config.num_attention_heads"]) × "
                + "\(n["vision_config.head_dim"]) (\(heads) × \(headDim))"
        }
        try require(headDim % 4 == 0) { n in
            "\(n["vision_config.head_dim"]) (\(headDim)) must be divisible by 4: 2D RoPE splits its pairs"
                + " between rows and columns"
        }
        try divisible("vision_config.image_size", v.imageSize, by: "vision_config.patch_size", v.patchSize)
        try only("vision_config.hidden_act", v.hiddenAct, "silu")
        try positive("vision_config.rope_parameters.rope_theta", v.ropeTheta)
    }

    func projector(_ m: MultimodalConfig) throws(ConfigIssue) {
        let merge = m.spatialMergeSize
        try size("spatial_merge_size", merge)
        let side = m.vision.patchesPerSide
        try require(side % merge == 0) { n in
            "\(n["vision_config.image_size"]) / \(n["vision_config.patch_size"]) (\(side) patches) must be"
                + " divisible by \(n["spatial_merge_size"]) (\(merge))"
        }
        try only("projector_hidden_act", m.projectorHiddenAct, "gelu")
        let (layer, states) = (m.visionFeatureLayer, m.vision.numHiddenLayers + 1)
        try require(layer >= -states && layer < states) { n in
            "\(n["vision_feature_layer"]) (\(layer)) must lie in -\(states)..<\(states): an index into the"
                + " \(states) hidden states of the vision tower"
        }
    }

    // MARK: Quantization and totals

    func quantization() throws(ConfigIssue) {
        guard let q = config.quantization else { return }
        try require(!q.quantMethod.isEmpty) { n in "\(n["quantization_config.quant_method"]) must not be empty" }
        if let block = q.weightBlockSize {
            try require(block.count == 2 && block.allSatisfy { $0 > 0 }) { n in
                "\(n["quantization_config.weight_block_size"]) (\(block)) must be two positive sizes or null"
            }
        }
    }

    /// Every tensor's element count and the total must fit in Int (sizes alone do not bound a product of four).
    func parameterCount() throws(ConfigIssue) {
        var total = 0
        for entry in TensorInventory(config).entries {
            guard let count = Shape.elementCount(entry.shape) else {
                let shape = Shape.describe(entry.shape)
                throw ConfigIssue(fixed: "\(entry.name) \(shape) has more elements than Int holds")
            }
            let (sum, overflow) = total.addingReportingOverflow(count)
            if overflow { throw ConfigIssue(fixed: "the parameter count overflows Int") }
            total = sum
        }
    }
}
