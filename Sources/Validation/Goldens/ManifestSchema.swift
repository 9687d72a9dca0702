// manifest.json read field by field — spec/goldens.md §3 and §5: each field's type and range, no field the format
// does not define, file names that stay inside the set. What the manifest states about a tensor (dtype, shape,
// class, margin) is checked against the files and the spec by GoldenVerifier; this file checks what it is.

import MistralSmall4
import Tensor

/// A manifest whose every field has the type and range spec/goldens.md §3 gives it.
struct ManifestFields {
    /// One tensor of a case file, as listed.
    struct TensorEntry {
        let name: String
        let dtype: DType
        let shape: [Int]
        let sha256: String
        /// Taps only.
        let toleranceClass: String?
        /// Router `#indices` taps only: the smallest `#margin` of the layer.
        let minMargin: Double?
    }

    /// A case file and its tensors in order.
    struct FileEntry {
        let file: String
        let tensors: [TensorEntry]
    }

    struct CaseEntry {
        let name: String
        let summary: String
        let inputs: FileEntry
        let taps: FileEntry
    }

    /// The preset the set was made from; nil for a config or a checkpoint (`source`).
    let preset: Preset?
    /// The config, re-derived: the preset's, or the manifest's `config` decoded in `configFormat`.
    let config: ModelConfig
    let configFormat: ConfigFormat
    /// A checkpoint source: its record, and whether its files ship in the set.
    let checkpoint: (record: CheckpointRecord, shipped: Bool)?
    let seed: UInt64
    let profile: PrecisionProfile
    /// F32 or F64: the dtype of every real-valued tap.
    let tapDType: DType
    /// A layer-range set's decoder layers (spec/goldens.md §3.2); nil: the whole model.
    let layers: ClosedRange<Int>?
    /// The shipped checkpoint: its config.json and safetensors file names.
    let weights: (config: String, safetensors: String)?
    /// File name → sha256, in manifest order.
    let files: [(name: String, sha256: String)]
    let cases: [CaseEntry]

    static let topLevel = ["format", "format_version", "preset", "seed", "profile", "tap_dtype", "config", "weights",
                           "files", "cases"]

    /// Reads `manifest`; the first field of the wrong type or range, missing or unknown, is the error.
    init(_ manifest: JSONValue) throws(GoldenError) {
        let members = try Self.object(manifest, "the manifest", keys: Self.topLevel, optional: ["source", "layers"])
        guard members["format"]?.stringValue == GoldenSet.format else {
            throw Self.error("'format' is not \"\(GoldenSet.format)\": not an Assay golden set")
        }
        guard let version = members["format_version"], version.intValue == GoldenSet.formatVersion else {
            throw Self.error("format_version \(Self.shown(members["format_version"]!)); this assay reads version "
                             + "\(GoldenSet.formatVersion)")
        }
        if members["preset"] == .null {
            guard let source = members["source"] else {
                throw Self.error("'preset' is null and there is no 'source': say what the set was made from")
            }
            (configFormat, checkpoint) = try Self.source(source)
            (preset, config) = (nil, try configFormat.decode(members["config"]!))
        } else {
            let presetName = try Self.string(members["preset"]!, "preset")
            guard let preset = Preset(rawValue: presetName) else {
                throw Self.error("'preset' \(Self.quoted(presetName)) is not one of this assay's presets: "
                                 + Preset.allCases.map(\.rawValue).joined(separator: ", "))
            }
            guard let config = try? JSONValue.parse(preset.bytes), members["config"] == config else {
                throw Self.error("'config' differs from this assay's preset \(presetName): the set was made from another "
                                 + "config; regenerate it")
            }
            guard members["source"] == nil else {
                throw Self.error("'source' belongs to sets made from a config or a checkpoint ('preset' is null there)")
            }
            do { self.config = try preset.load() } catch { throw Self.error(error.description) }
            (self.preset, configFormat, checkpoint) = (preset, .huggingFace, nil)
        }
        guard case .number(let seedText) = members["seed"]!, let seed = UInt64(seedText) else {
            throw Self.error("'seed' must be an integer in 0…\(UInt64.max), written in digits; found "
                             + Self.shown(members["seed"]!))
        }
        let profileName = try Self.string(members["profile"]!, "profile")
        guard let profile = PrecisionProfile(rawValue: profileName) else {
            throw Self.error("'profile' \(Self.quoted(profileName)) is not one of "
                             + PrecisionProfile.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let dtypeName = try Self.string(members["tap_dtype"]!, "tap_dtype")
        guard let tapDType = DType(rawValue: dtypeName), [.f32, .f64].contains(tapDType) else {
            throw Self.error("'tap_dtype' \(Self.quoted(dtypeName)) is not F32 or F64")
        }
        (self.seed, self.profile, self.tapDType) = (seed, profile, tapDType)
        if let range = members["layers"] { layers = try Self.layers(range, of: config) } else { layers = nil }
        if members["weights"] == .null {
            weights = nil
        } else if checkpoint != nil || configFormat == .mistral {
            throw Self.error("'weights' must be null in a set made from " + (checkpoint != nil
                ? "a checkpoint (its own files ship, named in 'source.files')"
                : "a params.json (synthetic weights ship as a Hugging Face checkpoint, which needs a config.json)"))
        } else {
            let shipped = try Self.object(members["weights"]!, "'weights' (null or an object)", keys: ["config", "safetensors"],
                                          optional: [])
            // A Hugging Face checkpoint in the set: its files have the names loaders look for.
            guard shipped["config"] == .string("config.json"), shipped["safetensors"] == .string("model.safetensors") else {
                throw Self.error("'weights' must be {\"config\": \"config.json\", \"safetensors\": \"model.safetensors\"} "
                                 + "or null")
            }
            weights = ("config.json", "model.safetensors")
        }
        guard let listed = members["files"]!.objectValue else {
            throw Self.error("'files' must be an object of file name → sha256, found \(members["files"]!.kindName)")
        }
        files = try listed.map { (member) throws(GoldenError) in
            (try Self.fileName(.string(member.key), "files"), try Self.sha256(member.value, "files.\(member.key)"))
        }
        if let (record, shipped) = checkpoint, shipped {
            for (name, recorded) in record.files {
                if let listed = files.first(where: { $0.name == name }), listed.sha256 != recorded {
                    throw Self.error("'files.\(name)' differs from 'source.files.\(name)': a shipped checkpoint file is "
                                     + "the one the source records")
                }
            }
        }
        guard let cases = members["cases"]!.arrayValue, !cases.isEmpty else {
            throw Self.error("'cases' must be a non-empty array")
        }
        var read = [CaseEntry]()
        for (index, entry) in cases.enumerated() {
            let item = try Self.caseEntry(entry, index: index)
            guard !read.contains(where: { $0.name == item.name }) else {
                throw Self.error("case \(Self.quoted(item.name)) is listed twice")
            }
            read.append(item)
        }
        self.cases = read
    }

    /// Every file the manifest names in weights, a shipped checkpoint and cases, in order.
    var referencedFiles: [String] {
        (weights.map { [$0.config, $0.safetensors] } ?? []) + shippedCheckpointFiles
            + cases.flatMap { [$0.inputs.file, $0.taps.file] }
    }

    /// The source checkpoint's files when the set ships them.
    var shippedCheckpointFiles: [String] {
        guard let (record, shipped) = checkpoint, shipped else { return [] }
        return record.files.map(\.name)
    }

    /// The shipped file that holds the config (config.json, or a shipped checkpoint's params.json); nil when
    /// nothing ships.
    var shippedConfigFile: String? {
        weights?.config ?? (shippedCheckpointFiles.isEmpty ? nil : configFormat.fileName)
    }

    /// What the set was made from, in a few words: `preset tiny`, `checkpoint (mistral layout, 2 files, shipped)`.
    var sourceSummary: String {
        if let preset { return "preset \(preset.rawValue)" }
        guard let (record, shipped) = checkpoint else { return "config (\(configFormat.fileName))" }
        return "checkpoint (\(record.layout.rawValue) layout, \(record.files.count) files, "
            + (shipped ? "shipped" : "recorded by sha256") + ")"
    }

    /// `layers`: `{"first": A, "last": B}`, 0 ≤ A ≤ B < the config's decoder layers.
    private static func layers(_ value: JSONValue, of config: ModelConfig) throws(GoldenError) -> ClosedRange<Int> {
        let count = config.text.numHiddenLayers
        let members = try object(value, "'layers'", keys: ["first", "last"], optional: [])
        guard let first = members["first"]!.intValue, let last = members["last"]!.intValue, 0 <= first, first <= last,
              last < count
        else {
            throw error("'layers' {\"first\": \(shown(members["first"]!)), \"last\": \(shown(members["last"]!))} is not a "
                        + "range of the model's decoder layers: integers with 0 ≤ first ≤ last ≤ \(count - 1)")
        }
        return first...last
    }

    /// `source` (spec/goldens.md §3.1): `{"kind": "config", "config_format"}` or `{"kind": "checkpoint",
    /// "config_format", "layout", "shipped", "files"}`, the files plain names with sha256s, the config's among them.
    private static func source(_ value: JSONValue) throws(GoldenError) -> (ConfigFormat, (CheckpointRecord, Bool)?) {
        guard value.objectValue != nil else { throw error("'source' must be an object, found \(value.kindName)") }
        let kind = value["kind"]
        let fields: [String]
        switch kind?.stringValue {
        case "config": fields = ["kind", "config_format"]
        case "checkpoint": fields = ["kind", "config_format", "layout", "shipped", "files"]
        default: throw error("'source.kind' must be \"config\" or \"checkpoint\", found \(kind.map(shown) ?? "nothing")")
        }
        let members = try object(value, "'source'", keys: fields, optional: [])
        let formatName = try string(members["config_format"]!, "source.config_format")
        guard let format = ConfigFormat(rawValue: formatName) else {
            throw error("'source.config_format' \(quoted(formatName)) is not hugging-face or mistral")
        }
        guard kind == .string("checkpoint") else { return (format, nil) }
        let layoutName = try string(members["layout"]!, "source.layout")
        guard let layout = CheckpointLayout(rawValue: layoutName) else {
            throw error("'source.layout' \(quoted(layoutName)) is not hugging-face or mistral")
        }
        guard case .bool(let shipped) = members["shipped"]! else {
            throw error("'source.shipped' must be true or false, found \(shown(members["shipped"]!))")
        }
        guard let listed = members["files"]!.objectValue, !listed.isEmpty else {
            throw error("'source.files' must be a non-empty object of file name → sha256, found "
                        + members["files"]!.kindName)
        }
        let files = try listed.map { (member) throws(GoldenError) in
            (name: try fileName(.string(member.key), "source.files"), sha256: try sha256(member.value, "source.files.\(member.key)"))
        }
        guard files.contains(where: { $0.name == format.fileName }) else {
            throw error("'source.files' lacks \(format.fileName), the checkpoint's config (config_format \(formatName))")
        }
        return (format, (CheckpointRecord(layout: layout, files: files), shipped))
    }

    private static func caseEntry(_ entry: JSONValue, index: Int) throws(GoldenError) -> CaseEntry {
        let where_ = "cases[\(index)]"
        let members = try object(entry, where_, keys: ["name", "summary", "inputs", "taps"], optional: [])
        let name = try string(members["name"]!, where_ + ".name")
        guard !name.isEmpty else { throw error(where_ + ".name is empty") }
        return CaseEntry(name: name, summary: try string(members["summary"]!, where_ + ".summary"),
                         inputs: try fileEntry(members["inputs"]!, where_ + ".inputs", taps: false),
                         taps: try fileEntry(members["taps"]!, where_ + ".taps", taps: true))
    }

    private static func fileEntry(_ value: JSONValue, _ where_: String, taps: Bool) throws(GoldenError) -> FileEntry {
        let members = try object(value, where_, keys: ["file", "tensors"], optional: [])
        guard let tensors = members["tensors"]!.arrayValue else {
            throw error("\(where_).tensors must be an array, found \(members["tensors"]!.kindName)")
        }
        var read = [TensorEntry]()
        for (index, tensor) in tensors.enumerated() {
            let entry = try tensorEntry(tensor, "\(where_).tensors[\(index)]", taps: taps)
            guard !read.contains(where: { $0.name == entry.name }) else {
                throw GoldenError(file: "manifest.json", tensor: entry.name, "listed twice in \(where_)")
            }
            read.append(entry)
        }
        return FileEntry(file: try fileName(members["file"]!, where_ + ".file"), tensors: read)
    }

    private static func tensorEntry(_ value: JSONValue, _ where_: String, taps: Bool) throws(GoldenError) -> TensorEntry {
        let members = try object(value, where_, keys: ["name", "dtype", "shape", "sha256"] + (taps ? ["tolerance_class"] : []),
                                 optional: taps ? ["min_margin"] : [])
        let name = try string(members["name"]!, where_ + ".name")
        func fail(_ message: String) -> GoldenError { GoldenError(file: "manifest.json", tensor: name, message) }
        guard !name.isEmpty else { throw error(where_ + ".name is empty") }
        let dtypeName = try string(members["dtype"]!, where_ + ".dtype")
        guard let dtype = DType(rawValue: dtypeName) else {
            throw fail("dtype \(quoted(dtypeName)) is not a safetensors dtype Assay reads")
        }
        guard let extents = members["shape"]!.arrayValue else { throw fail("shape must be an array of extents") }
        var shape = [Int]()
        for extent in extents {
            guard let n = extent.intValue, n >= 0 else {
                throw fail("shape [\(extents.map(shown).joined(separator: ", "))]: each extent must be an integer ≥ 0")
            }
            shape.append(n)
        }
        var minMargin: Double?
        if let margin = members["min_margin"] {
            guard let number = margin.doubleValue, number.isFinite, number >= 0 else {
                throw fail("min_margin must be a finite number ≥ 0, found \(shown(margin))")
            }
            minMargin = number
        }
        return TensorEntry(name: name, dtype: dtype, shape: shape, sha256: try sha256(members["sha256"]!, where_ + ".sha256"),
                           toleranceClass: taps ? try string(members["tolerance_class"]!, where_ + ".tolerance_class") : nil,
                           minMargin: minMargin)
    }

    /// The members of `value`, an object with exactly `keys` (plus any of `optional`), by name.
    private static func object(_ value: JSONValue, _ what: String, keys: [String], optional: [String])
        throws(GoldenError) -> [String: JSONValue]
    {
        guard let members = value.objectValue else { throw error("\(what) must be an object, found \(value.kindName)") }
        var byName = [String: JSONValue]()
        for member in members {
            guard keys.contains(member.key) || optional.contains(member.key) else {
                throw error("\(what) has an unknown field \(quoted(member.key)) (spec/goldens.md §3)")
            }
            byName[member.key] = member.value
        }
        if let missing = keys.first(where: { byName[$0] == nil }) { throw error("\(what) has no field '\(missing)'") }
        return byName
    }

    private static func string(_ value: JSONValue, _ field: String) throws(GoldenError) -> String {
        guard let text = value.stringValue else { throw error("'\(field)' must be a string, found \(shown(value))") }
        return text
    }

    /// A file name inside the set: no directory part, not `.` or `..`, not empty. A set's files are read from the
    /// set alone, never from a path it chooses.
    private static func fileName(_ value: JSONValue, _ field: String) throws(GoldenError) -> String {
        let name = try string(value, field)
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.contains("\0"),
              name != "manifest.json"
        else {
            throw error("'\(field)': \(quoted(name)) is not a plain file name in the set (no directory, no '..')")
        }
        return name
    }

    private static func sha256(_ value: JSONValue, _ field: String) throws(GoldenError) -> String {
        let text = try string(value, field)
        guard text.utf8.count == 64, text.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw error("'\(field)': \(quoted(text)) is not a sha256 (64 lowercase hex digits)")
        }
        return text
    }

    /// A value as the manifest wrote it: a number's own text, a string quoted, else its kind.
    static func shown(_ value: JSONValue) -> String {
        switch value {
        case .number(let text): text
        case .string(let text): quoted(text)
        default: value.kindName
        }
    }

    /// GoldenError's description escapes the whole message (Escaped.line), so names are quoted here as they are.
    static func quoted(_ text: String) -> String { "'" + text + "'" }

    private static func error(_ message: String) -> GoldenError { GoldenError(file: "manifest.json", message) }
}
