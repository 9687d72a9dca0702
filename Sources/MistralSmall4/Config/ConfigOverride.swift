// ConfigOverride: `assay explore --set field=value`, a what-if change to a preset's config.json, decoded and
// validated like any config so an impossible combination is refused with the rule it breaks (spec/explain.md §6).
//
// A field is named as in config.json: a bare name is looked up in text_config, then text_config.rope_parameters,
// then the top level, then vision_config; a dotted path (`vision_config.num_hidden_layers`) is taken as written.
// A value is JSON (`64`, `1e-5`, `true`, `"gelu"`); anything that is not JSON is taken as a string.

import Tensor

/// One field of a config.json set to a new value.
public struct ConfigOverride: Sendable, Equatable {
    /// The field as the user wrote it.
    public let field: String
    public let value: JSONValue

    /// Parses `field=value`.
    public init(parsing text: String) throws(ConfigError) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw ConfigError(file: "--set", message: "'\(text)': give FIELD=VALUE, e.g. n_routed_experts=64")
        }
        field = String(text[..<equals])
        let raw = String(text[text.index(after: equals)...])
        value = (try? JSONValue.parse(raw)) ?? .string(raw)
    }

    /// Where `field` lives in `document`: its path of object keys.
    func path(in document: JSONValue) throws(ConfigError) -> [String] {
        if field.contains(".") {
            let path = field.split(separator: ".").map(String.init)
            guard Self.lookup(path, in: document) != nil else {
                throw ConfigError(file: "--set", message: "no field '\(field)' in the config")
            }
            return path
        }
        let places = [["text_config"], ["text_config", "rope_parameters"], [], ["vision_config"]]
        guard let place = places.first(where: { Self.lookup($0 + [field], in: document) != nil }) else {
            throw ConfigError(file: "--set", message: "no field '\(field)' in text_config, its rope_parameters, the top "
                              + "level or vision_config")
        }
        return place + [field]
    }

    static func lookup(_ path: [String], in document: JSONValue) -> JSONValue? {
        path.reduce(Optional(document)) { value, key in value?[key] }
    }

    /// `document` with the value at `path` replaced.
    static func replacing(_ path: ArraySlice<String>, in document: JSONValue, with value: JSONValue) -> JSONValue {
        guard let key = path.first, case .object(let members) = document else { return value }
        return .object(members.map { member in
            member.key == key ? (member.key, replacing(path.dropFirst(), in: member.value, with: value)) : member
        })
    }
}

extension Preset {
    /// The preset's config with `overrides` applied in order, decoded and validated; errors name the field or the
    /// rule the combination breaks.
    public func load(overrides: [ConfigOverride]) throws(ConfigError) -> ModelConfig {
        var document = try document()
        for change in overrides {
            document = ConfigOverride.replacing(try change.path(in: document)[...], in: document, with: change.value)
        }
        let label = fileName + " with " + overrides.map { "\($0.field)=\($0.value.serialized())" }.joined(separator: ", ")
        return try ModelConfig.decodeHuggingFace(document, source: .huggingFace(file: label))
    }

    /// The changed config shrunk to `tiny`'s size (spec/explain.md §6): every size field (`sizeFields`) becomes
    /// tiny's value × changed / original (rounded, at least 1), the rotary fraction follows the scaled head
    /// dimensions, and every other field — routing groups, ε, RoPE, the changes themselves — stays as changed. It runs
    /// in seconds with the structure of the change.
    public func tinyScaled(_ overrides: [ConfigOverride]) throws(ConfigError) -> ModelConfig {
        let original = try document(), tiny = try Preset.tiny.document()
        var changed = original
        for change in overrides {
            changed = ConfigOverride.replacing(try change.path(in: changed)[...], in: changed, with: change.value)
        }
        var scaled = changed
        for path in Self.sizeFields {
            guard let old = ConfigOverride.lookup(path, in: original)?.doubleValue,
                  let new = ConfigOverride.lookup(path, in: changed)?.doubleValue,
                  let small = ConfigOverride.lookup(path, in: tiny)?.doubleValue, old > 0 else { continue }
            scaled = ConfigOverride.replacing(path[...], in: scaled, with: .int(max(1, Int((small * new / old).rounded()))))
        }
        let text = ["text_config"], factor = text + ["rope_parameters", "partial_rotary_factor"]
        if ConfigOverride.lookup(factor, in: scaled) != nil,
           let rope = ConfigOverride.lookup(text + ["qk_rope_head_dim"], in: scaled)?.intValue,
           let nope = ConfigOverride.lookup(text + ["qk_nope_head_dim"], in: scaled)?.intValue {
            scaled = ConfigOverride.replacing(factor[...], in: scaled, with: .number("\(Double(rope) / Double(rope + nope))"))
        }
        let label = "\(fileName) with \(overrides.map(\.field).joined(separator: ", ")) changed, scaled to tiny's size"
        return try ModelConfig.decodeHuggingFace(scaled, source: .huggingFace(file: label))
    }

    /// The fields `tinyScaled` shrinks: widths, depths, head counts and dimensions, expert counts.
    static let sizeFields: [[String]] =
        ["vocab_size", "hidden_size", "intermediate_size", "moe_intermediate_size", "num_hidden_layers",
         "num_attention_heads", "num_key_value_heads", "n_routed_experts", "num_experts_per_tok", "kv_lora_rank",
         "q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"].map { ["text_config", $0] }
        + ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "head_dim", "image_size"]
        .map { ["vision_config", $0] }
}

extension ConfigOverride {
    init(field: String, value: JSONValue) {
        self.field = field
        self.value = value
    }
}
