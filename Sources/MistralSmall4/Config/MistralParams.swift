// MistralParams: reads Mistral's native params.json by rewriting it into the config.json that transformers'
// convert_mistral4_weight_to_hf.py would write, then decoding that like any config.json.
//
// Goals, in order: the same ModelConfig as the converted config.json, then errors in params.json's own names. One
// table, `fields`, is both the translation and the reverse naming: a rule that fails on
// `text_config.n_routed_experts` reports `moe.num_experts` for a params.json.

import Tensor

enum MistralParams {
    /// A params.json field and its canonical place in a mistral3 config.json.
    struct Field {
        /// Where params.json keeps it, dotted; later spellings are read when the first is absent (`max_seq_len`).
        let params: [String]
        let canonical: String
        /// Written when params.json has none of `params` (the converter's default); nil leaves the field out.
        let fallback: JSONValue?

        init(_ params: String..., to canonical: String, fallback: JSONValue? = nil) {
            (self.params, self.canonical, self.fallback) = (params, canonical, fallback)
        }
    }

    static let fields: [Field] = [
        Field("dim", to: "text_config.hidden_size"),
        Field("n_layers", to: "text_config.num_hidden_layers"),
        Field("hidden_dim", to: "text_config.intermediate_size"),
        Field("n_heads", to: "text_config.num_attention_heads"),
        Field("n_kv_heads", to: "text_config.num_key_value_heads"),
        Field("head_dim", to: "text_config.head_dim"),
        Field("norm_eps", to: "text_config.rms_norm_eps"),
        Field("vocab_size", to: "text_config.vocab_size"),
        Field("max_position_embeddings", "max_seq_len", to: "text_config.max_position_embeddings"),
        Field("q_lora_rank", to: "text_config.q_lora_rank"),
        Field("kv_lora_rank", to: "text_config.kv_lora_rank"),
        Field("qk_nope_head_dim", to: "text_config.qk_nope_head_dim"),
        Field("qk_rope_head_dim", to: "text_config.qk_rope_head_dim"),
        Field("v_head_dim", to: "text_config.v_head_dim"),
        Field("moe.num_experts", to: "text_config.n_routed_experts"),
        Field("moe.num_experts_per_tok", to: "text_config.num_experts_per_tok"),
        Field("moe.expert_hidden_dim", to: "text_config.moe_intermediate_size"),
        Field("moe.num_shared_experts", to: "text_config.n_shared_experts"),
        Field("moe.first_k_dense_replace", to: "text_config.first_k_dense_replace"),
        Field("moe.routed_scale", to: "text_config.routed_scaling_factor"),
        Field("moe.num_expert_groups", to: "text_config.n_group"),
        Field("moe.num_expert_groups_per_tok", to: "text_config.topk_group"),
        Field("rope_theta", to: "text_config.rope_parameters.rope_theta"),
        Field("yarn.factor", to: "text_config.rope_parameters.factor"),
        Field("yarn.original_max_position_embeddings",
              to: "text_config.rope_parameters.original_max_position_embeddings"),
        Field("yarn.beta", to: "text_config.rope_parameters.beta_fast"),
        Field("yarn.alpha", to: "text_config.rope_parameters.beta_slow"),
        Field("llama_4_scaling.beta", to: "text_config.rope_parameters.llama_4_scaling_beta", fallback: .double(0.1)),
        Field("tied_embeddings", to: "tie_word_embeddings", fallback: .bool(false)),
        Field("vision_encoder.hidden_size", to: "vision_config.hidden_size"),
        Field("vision_encoder.intermediate_size", to: "vision_config.intermediate_size"),
        Field("vision_encoder.num_hidden_layers", to: "vision_config.num_hidden_layers"),
        Field("vision_encoder.num_attention_heads", to: "vision_config.num_attention_heads"),
        Field("vision_encoder.head_dim", to: "vision_config.head_dim"),
        Field("vision_encoder.num_channels", to: "vision_config.num_channels"),
        Field("vision_encoder.image_size", to: "vision_config.image_size"),
        Field("vision_encoder.patch_size", to: "vision_config.patch_size"),
        Field("vision_encoder.rope_theta", to: "vision_config.rope_parameters.rope_theta"),
        Field("vision_encoder.adapter_bias", to: "multimodal_projector_bias", fallback: .bool(false)),
        Field("vision_encoder.spatial_merge_size", to: "spatial_merge_size"),
        Field("vision_encoder.image_token_id", to: "image_token_index", fallback: .int(10)),
    ]

    /// What the converter writes without reading params.json. Mistral's weights use interleaved RoPE pairs.
    static let constants: [(canonical: String, value: JSONValue)] = [
        ("model_type", .string("mistral3")),
        ("text_config.model_type", .string("mistral4")),
        ("text_config.hidden_act", .string("silu")),
        ("text_config.norm_topk_prob", .bool(true)),
        ("text_config.rope_interleave", .bool(true)),
        ("text_config.bos_token_id", .int(1)),
        ("text_config.eos_token_id", .int(2)),
        ("text_config.pad_token_id", .int(11)),
        ("text_config.rope_parameters.rope_type", .string("yarn")),
        ("text_config.rope_parameters.mscale", .double(1)),
        ("text_config.rope_parameters.mscale_all_dim", .double(1)),
        ("vision_config.model_type", .string("pixtral")),
        ("vision_config.hidden_act", .string("silu")),
        ("vision_config.rope_parameters.rope_type", .string("default")),
        ("projector_hidden_act", .string("gelu")),
        ("vision_feature_layer", .int(-1)),
    ]

    /// The unquantized modules of the converted FP8 checkpoint.
    static let modulesToNotConvert = [ModelPaths.visionTower, ModelPaths.projector, TapKind.lmHead.row.module]

    /// The config.json for `params`: mistral3 when it has a vision encoder, else bare mistral4 (`isBare`).
    static func translate(_ params: JSONValue) throws(ConfigIssue) -> (document: JSONValue, isBare: Bool) {
        guard params.objectValue != nil else {
            throw ConfigIssue(fixed: "top level: expected an object, found \(params.kindName)")
        }
        let isBare = try value(at: "vision_encoder", in: params) == nil
        try checkDroppedFields(params)

        var entries = constants
        for field in fields {
            var found: JSONValue?
            for spelling in field.params where found == nil { found = try value(at: spelling, in: params) }
            if let written = found ?? field.fallback { entries.append((field.canonical, written)) }
        }
        if let quantization = try quantizationConfig(params) { entries.append(("quantization_config", quantization)) }

        var document = JSONValue.object([])
        for (canonical, written) in entries {
            guard let path = isBare ? barePath(canonical) : canonical else { continue }
            document = document.setting(written, at: path.split(separator: "."))
        }
        return (document, isBare)
    }

    /// The params.json that translates back to the config.json `document` (bare or not; FP8 when it has a
    /// `quantization_config`): each field of `fields` under its first params.json spelling, and the fields `translate`
    /// requires without carrying them. What `assay export-checkpoint --dtype fp8` writes for Mistral's layout.
    static func params(forConfig document: JSONValue) -> JSONValue {
        let isBare = document["model_type"] == .string("mistral4")
        var params = JSONValue.object([])
        for field in fields {
            guard let path = isBare ? barePath(field.canonical) : field.canonical,
                  let found = (try? value(at: path, in: document)) ?? nil else { continue }
            params = params.setting(found, at: field.params[0].split(separator: "."))
        }
        if let period = (try? value(at: "yarn.original_max_position_embeddings", in: params)) ?? nil {
            params = params.setting(period, at: ["llama_4_scaling", "original_max_position_embeddings"])
        }
        if !isBare {
            params = params.setting(.string("patch_merge"), at: ["vision_encoder", "mm_projector_id"])
            params = params.setting(.bool(true), at: ["vision_encoder", "add_pre_mm_projector_layer_norm"])
        }
        if document["quantization_config"] != nil {
            params = params.setting(.object([("qformat_weight", .string("fp8_e4m3")), ("qscheme_act", .string("TENSOR"))]),
                                    at: ["quantization"])
        }
        return params
    }

    /// Where a canonical field sits in a bare mistral4 config.json; nil for the image path's fields.
    static func barePath(_ canonical: String) -> String? {
        if canonical.hasPrefix("text_config.") { return String(canonical.dropFirst("text_config.".count)) }
        return canonical == "tie_word_embeddings" || canonical == "quantization_config" ? canonical : nil
    }

    /// The params.json name of the field at canonical path `canonical`, if params.json has one.
    static func paramsName(forCanonical canonical: String) -> String? {
        fields.first { $0.canonical == canonical }?.params[0]
    }

    /// The params.json name of the field at `path` in the translated document (bare or not).
    static func paramsName(forDocumentPath path: String, isBare: Bool) -> String {
        let canonical = isBare ? fields.first { barePath($0.canonical) == path }?.canonical : path
        return canonical.flatMap(paramsName(forCanonical:)) ?? path
    }

    /// The value at dotted `path`; nil when it or an enclosing object is absent or null.
    private static func value(at path: String, in root: JSONValue) throws(ConfigIssue) -> JSONValue? {
        var current = root
        var walked: [Substring] = []
        for key in path.split(separator: ".") {
            guard case .object = current else {
                let at = walked.joined(separator: ".")
                throw ConfigIssue(fixed: "\(at): expected an object, found \(current.kindName)")
            }
            guard let next = current[String(key)], next != .null else { return nil }
            current = next
            walked.append(key)
        }
        return current
    }

    /// The converter drops these fields, so only the values it assumes are accepted. (It also drops
    /// `yarn.apply_scale`; the converted config scales the softmax by mscale² whatever that says.)
    private static func checkDroppedFields(_ params: JSONValue) throws(ConfigIssue) {
        let period = try value(at: "llama_4_scaling.original_max_position_embeddings", in: params)
        let original = try value(at: "yarn.original_max_position_embeddings", in: params)
        if let period, period.doubleValue == nil || period.doubleValue != original?.doubleValue {
            throw ConfigIssue(fixed: "llama_4_scaling.original_max_position_embeddings (\(period.serialized())) must"
                + " equal yarn.original_max_position_embeddings (\(original?.serialized() ?? "absent")), which sets"
                + " τ's period")
        }
        try require("vision_encoder.mm_projector_id", in: params, equals: .string("patch_merge"))
        try require("vision_encoder.add_pre_mm_projector_layer_norm", in: params, equals: .bool(true))
    }

    /// `quantization` {qformat_weight fp8_e4m3, qscheme_act TENSOR} → the converter's FP8 `quantization_config`.
    private static func quantizationConfig(_ params: JSONValue) throws(ConfigIssue) -> JSONValue? {
        guard try value(at: "quantization", in: params) != nil else { return nil }
        try require("quantization.qformat_weight", in: params, equals: .string("fp8_e4m3"), orAbsent: false)
        try require("quantization.qscheme_act", in: params, equals: .string("TENSOR"), orAbsent: false)
        return .object([
            ("quant_method", .string("fp8")),
            ("activation_scheme", .string("static")),
            ("weight_block_size", .null),
            ("modules_to_not_convert", .array(modulesToNotConvert.map(JSONValue.string))),
        ])
    }

    /// Refuses the field at `path` unless it holds `expected` (or is absent, when `orAbsent`).
    private static func require(
        _ path: String, in params: JSONValue, equals expected: JSONValue, orAbsent: Bool = true
    ) throws(ConfigIssue) {
        let found = try value(at: path, in: params)
        guard found != expected, found != nil || !orAbsent else { return }
        throw ConfigIssue(fixed: "\(path) (\(found?.serialized() ?? "absent")) must be \(expected.serialized())")
    }
}

extension JSONValue {
    /// A copy with `value` at `path`, creating objects on the way (a non-object on the way is replaced).
    func setting(_ value: JSONValue, at path: some Collection<Substring>) -> JSONValue {
        guard let key = path.first.map(String.init) else { return value }
        var members = objectValue ?? []
        if let i = members.firstIndex(where: { $0.key == key }) {
            members[i].value = members[i].value.setting(value, at: path.dropFirst())
        } else {
            members.append((key, JSONValue.null.setting(value, at: path.dropFirst())))
        }
        return .object(members)
    }
}
