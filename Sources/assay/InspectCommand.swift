// `assay inspect`: validate a safetensors file or checkpoint directory and list what it holds.
//
// Goals, in order: nothing is listed before the whole file (every shard) has passed validation, so a
// listing is also a verdict; then output a person can scan (aligned text) or a script can read (--json).

import ArgumentParser
import Tensor

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Validate a safetensors file or checkpoint directory and list its metadata and tensors.",
        discussion: """
            PATH is a .safetensors file or a checkpoint directory. A directory is read through \
            model.safetensors.index.json when present (every shard it names is validated, and every tensor \
            must be in exactly the shard the index names), else through model.safetensors.

            Every header is fully validated first (the rules are in spec/safetensors.md). A bad file prints \
            one line, "Error: <file>: [tensor '<name>': ]<problem>", and exits with status 1.

            Each tensor is listed with its dtype, shape and data_offsets [begin, end]: byte offsets within \
            the data section, which starts after the 8-byte length and the header.
            """)

    @Argument(help: "A .safetensors file, or a checkpoint directory.")
    var path: String

    @Flag(help: "Print one JSON object (file: metadata, tensors; directory: index, index_metadata, shards).")
    var json = false

    func run() throws {
        if FilePath.isDirectory(path) {
            let checkpoint = try Checkpoint(directory: path)
            print(json ? Self.json(checkpoint).serialized(pretty: true) : Self.text(checkpoint))
        } else {
            let file = try SafeTensorsFile(path: path)
            print(json ? Self.json(file).serialized(pretty: true) : Self.text(file))
        }
    }

    // MARK: JSON

    static func json(_ file: SafeTensorsFile) -> JSONValue {
        .object([
            ("file", .string(file.name)),
            ("header_bytes", .int(file.dataStart)),
            ("metadata", .object(file.metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("tensors", .array(file.tensors.map { info in
                .object([
                    ("name", .string(info.name)),
                    ("dtype", .string(info.dtype.rawValue)),
                    ("shape", .array(info.shape.map(JSONValue.int))),
                    ("data_offsets", .array([.int(info.dataOffsets.lowerBound), .int(info.dataOffsets.upperBound)])),
                ])
            })),
        ])
    }

    static func json(_ checkpoint: Checkpoint) -> JSONValue {
        .object([
            ("directory", .string(checkpoint.directory)),
            ("index", checkpoint.indexFile.map(JSONValue.string) ?? .null),
            ("index_metadata", checkpoint.indexMetadata),
            ("shards", .array(checkpoint.shards.map(json))),
        ])
    }

    // MARK: Text

    static func text(_ file: SafeTensorsFile) -> String {
        let dataBytes = file.tensors.last?.dataOffsets.upperBound ?? 0
        var lines = ["\(Escaped.line(file.name)): \(file.tensors.count) tensors, \(file.dataStart)-byte header, "
                     + "\(dataBytes)-byte data section"]
        if !file.metadata.isEmpty {
            lines.append("metadata:")
            lines += file.metadata.sorted { $0.key < $1.key }.map { "  \(Escaped.line($0.key)): \(JSONValue.quoted($0.value))" }
        }
        let rows = file.tensors.map { info in
            [Escaped.line(info.name), info.dtype.rawValue, Shape.describe(info.shape),
             "[\(info.dataOffsets.lowerBound), \(info.dataOffsets.upperBound)]"]
        }
        lines.append("tensors:")
        let widths = (0..<4).map { column in rows.map { $0[column].count }.max() ?? 0 }
        lines += rows.map { row in
            "  " + zip(row, widths).map { pad($0, $1) }.joined(separator: "  ").trailingSpacesRemoved
        }
        return lines.joined(separator: "\n")
    }

    static func text(_ checkpoint: Checkpoint) -> String {
        let kind = checkpoint.indexFile.map { "sharded through \($0)" } ?? "single file"
        var lines = ["\(checkpoint.directory): checkpoint, \(kind), \(checkpoint.shards.count) shards, "
                     + "\(checkpoint.tensorNames.count) tensors"]
        if checkpoint.indexMetadata != .object([]) {
            lines.append("index metadata: \(checkpoint.indexMetadata.serialized())")
        }
        lines += checkpoint.shards.map(text)
        return lines.joined(separator: "\n")
    }
}

extension String {
    fileprivate var trailingSpacesRemoved: String {
        String(self[..<(lastIndex { $0 != " " }.map(index(after:)) ?? startIndex)])
    }
}
