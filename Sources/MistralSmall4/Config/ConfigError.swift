// ConfigError: the one-line error every config problem becomes, and the field naming behind its messages.
//
// Goals, in order: a message names the file and the field exactly as the user wrote them (`text_config.x` in a
// mistral3 config.json, `x` in a bare mistral4 one, `moe.num_experts` in a params.json), then one line per problem.
// Rules are written once against canonical field paths (the path in a mistral3 config.json); `FieldNaming`
// translates a canonical path into the file's own spelling.

import Tensor

/// A config that cannot be used: `"config.json: text_config.num_experts_per_tok (8) must not exceed
/// text_config.n_routed_experts (4)"`.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file the problem is in, as the user named it (its last path component), e.g. `config.json`.
    public let file: String
    /// The problem, naming fields as they are spelled in `file`.
    public let message: String

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }

    /// One line (`Escaped.line`), whatever the file's keys hold.
    public var description: String { Escaped.line("\(file): \(message)") }
}

/// A problem found while decoding or validating, before it is tied to a file. Its message is built from a
/// `FieldNaming`, so one rule reads right in every config format.
struct ConfigIssue: Error {
    let message: @Sendable (FieldNaming) -> String

    init(_ message: @escaping @Sendable (FieldNaming) -> String) { self.message = message }

    /// An issue whose text names no field.
    init(fixed text: String) { self.message = { _ in text } }
}

/// Spells a canonical field path (`"text_config.n_routed_experts"`, `"vision_config.patch_size"`,
/// `"spatial_merge_size"`) the way the source file spells it.
struct FieldNaming: Sendable {
    private let spell: @Sendable (String) -> String

    /// The file is a mistral3 config.json: canonical paths are its own.
    static let composite = FieldNaming { $0 }

    /// The file is a bare mistral4 config.json: text fields sit at the top level.
    static let bareText = FieldNaming { path in
        path.hasPrefix("text_config.") ? String(path.dropFirst("text_config.".count)) : path
    }

    /// The file is a Mistral params.json: fields carry Mistral's names (`dim`, `moe.num_experts`).
    static let mistralParams = FieldNaming { MistralParams.paramsName(forCanonical: $0) ?? $0 }

    private init(_ spell: @escaping @Sendable (String) -> String) { self.spell = spell }

    /// The field at canonical `path`, as the file spells it.
    subscript(_ path: String) -> String { spell(path) }
}

/// Renders a coding path as a dotted field path: `text_config.rope_parameters.factor`, `eos_token_id[1]`.
func dottedPath(_ keys: [any CodingKey]) -> String {
    var out = ""
    for key in keys {
        if key.intValue != nil, key.stringValue.hasPrefix("[") {
            out += key.stringValue
        } else {
            out += (out.isEmpty ? "" : ".") + key.stringValue
        }
    }
    return out
}

extension DecodingError {
    /// One line for a decoding failure: `"text_config.hidden_size: expected an integer, found a string"` or
    /// `"text_config.kv_lora_rank is missing"`. `spell` maps the document's dotted path to the file's spelling.
    func configMessage(spell: (String) -> String) -> String {
        func at(_ path: [any CodingKey]) -> String {
            path.isEmpty ? "top level" : spell(dottedPath(path))
        }
        switch self {
        case .keyNotFound(let key, let context):
            return "\(at(context.codingPath + [key])) is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(at(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(self)"
        }
    }
}
