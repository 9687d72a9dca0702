// manifest.json of a golden set — spec/goldens.md §3. Built in a fixed member order so the same set always
// serializes to the same bytes.

import MistralSmall4
import Tensor

/// The manifest being written: options, source and config, files with their checksums, and every case's tensors.
struct GoldenManifest {
    let options: GoldenOptions
    let source: OpenedSource
    /// The synthetic checkpoint's files (config.json, model.safetensors), when the set ships them.
    var weights: [String] = []
    /// Whether the source checkpoint's own files are in the set.
    var shipsCheckpoint = false
    var cases: [CaseEntry] = []
    /// sha256 of every file, by name.
    var checksums: [String: String] = [:]

    init(options: GoldenOptions, source: OpenedSource) {
        self.options = options
        self.source = source
    }

    /// One case: its inputs and taps files and what is in them.
    struct CaseEntry {
        let name: String
        let summary: String
        let inputFile: String
        let inputs: [JSONValue]
        let tapFile: String
        let taps: [JSONValue]

        /// `taps` are `recorder`'s taps as stored, in the same order.
        init(golden: GoldenCase, inputFile: String, inputs: [StoredTensor], tapFile: String, taps: [StoredTensor],
             recorder: TapRecorder) {
            name = golden.name
            summary = golden.summary
            self.inputFile = inputFile
            self.inputs = inputs.map { GoldenManifest.describe($0, extra: []) }
            self.tapFile = tapFile
            self.taps = zip(taps, recorder.recorded).map { stored, recorded in
                var extra: [(key: String, value: JSONValue)] = [
                    ("tolerance_class", .string(recorded.tap.kind.toleranceClass.rawValue)),
                ]
                if recorded.tap.kind == .routerIndices,
                   case .real(let margin)? = recorder[recorded.tap.sibling(.routerMargin).name] {
                    extra.append(("min_margin", .double(margin.scalars.min() ?? 0)))
                }
                let tap = stored
                return GoldenManifest.describe(tap, extra: extra)
            }
        }
    }

    /// Every file of the set but the manifest, in write order.
    var files: [String] {
        weights + (shipsCheckpoint ? source.checkpoint?.files.map(\.name) ?? [] : [])
            + cases.flatMap { [$0.inputFile, $0.tapFile] }
    }

    /// name, dtype, shape, sha256 of the tensor's bytes, then `extra`.
    static func describe(_ tensor: StoredTensor, extra: [(key: String, value: JSONValue)]) -> JSONValue {
        .object([("name", .string(tensor.name)), ("dtype", .string(tensor.dtype.rawValue)),
                 ("shape", .array(tensor.shape.map(JSONValue.int))), ("sha256", .string(SHA256.hex(tensor.bytes)))]
                + extra)
    }

    /// `preset` names a preset; otherwise it is null and `source` follows: the config's format and, for a
    /// checkpoint, its layout, whether its files ship, and each file's sha256.
    var sourceMembers: [(key: String, value: JSONValue)] {
        if case .preset(let preset) = options.source { return [("preset", .string(preset.rawValue))] }
        var members: [(key: String, value: JSONValue)] = [("config_format", .string(source.format.rawValue))]
        if let checkpoint = source.checkpoint {
            members += [("layout", .string(checkpoint.layout.rawValue)), ("shipped", .bool(shipsCheckpoint)),
                        ("files", .object(checkpoint.files.map { ($0.name, .string($0.sha256)) }))]
        }
        return [("preset", .null), ("source", .object([("kind", .string(source.checkpoint == nil ? "config" : "checkpoint"))]
                                                      + members))]
    }

    var json: JSONValue {
        let configJSON = (try? JSONValue.parse(source.configBytes)) ?? .null
        var members: [(key: String, value: JSONValue)] = [
            ("format", .string(GoldenSet.format)),
            ("format_version", .int(GoldenSet.formatVersion)),
        ]
        members += sourceMembers
        members += [
            ("seed", .number(String(options.seed))),
            ("profile", .string(options.profile.rawValue)),
            ("tap_dtype", .string(options.dtype.rawValue)),
        ]
        if let layers = options.layers {
            members.append(("layers", .object([("first", .int(layers.lowerBound)), ("last", .int(layers.upperBound))])))
        }
        members += [
            ("config", configJSON),
            ("weights", weights.isEmpty ? .null : .object([("config", .string(weights[0])),
                                                          ("safetensors", .string(weights[1]))])),
            ("files", .object(files.map { ($0, .string(checksums[$0] ?? "")) })),
            ("cases", .array(cases.map { entry in
                .object([("name", .string(entry.name)), ("summary", .string(entry.summary)),
                         ("inputs", .object([("file", .string(entry.inputFile)), ("tensors", .array(entry.inputs))])),
                         ("taps", .object([("file", .string(entry.tapFile)), ("tensors", .array(entry.taps))]))])
            })),
        ]
        return .object(members)
    }
}
