// `assay verify`: a golden set's schema, files, checksums, shapes and dtypes — spec/goldens.md §5. The first
// problem found is reported, naming the file and, where one is at fault, the tensor.

import MistralSmall4
import Tensor

/// A golden set that does not verify: the file, the tensor when one is at fault, and what is wrong.
public struct GoldenError: Error, CustomStringConvertible, Equatable, Sendable {
    public let file: String
    public let tensor: String?
    public let message: String

    public init(file: String, tensor: String? = nil, _ message: String) {
        self.file = file
        self.tensor = tensor
        self.message = message
    }

    /// One line: names from the set are escaped (`Escaped.line`), so a tensor name cannot fake a summary line.
    public var description: String {
        Escaped.line(file) + (tensor.map { ": tensor '\(Escaped.line($0))'" } ?? "") + ": " + Escaped.line(message)
    }
}

/// What a verified set holds.
public struct GoldenSummary: Sendable, Equatable {
    public let preset: Preset
    public let cases: [String]
    public let tensors: Int
    public let files: Int
    /// The parsed manifest.json.
    public let manifest: JSONValue
}

public enum GoldenVerifier {
    /// Checks the set in `directory`; returns what it holds or throws the first problem.
    public static func verify(_ directory: String) throws(GoldenError) -> GoldenSummary {
        let manifest = try readManifest(directory)
        guard manifest["format"]?.stringValue == GoldenSet.format else {
            throw GoldenError(file: "manifest.json", "'format' is not \"\(GoldenSet.format)\": not an Assay golden set")
        }
        let version = manifest["format_version"]?.intValue
        guard version == GoldenSet.formatVersion else {
            throw GoldenError(file: "manifest.json", "format_version \(version.map(String.init) ?? "missing"); this "
                              + "assay reads version \(GoldenSet.formatVersion)")
        }
        let presetName = try field(manifest, "preset").stringValue ?? ""
        guard let preset = Preset(rawValue: presetName) else {
            throw GoldenError(file: "manifest.json", "preset '\(presetName)' is not one of this assay's presets")
        }
        guard let config = try? JSONValue.parse(preset.bytes), manifest["config"] == config else {
            throw GoldenError(file: "manifest.json", "'config' differs from this assay's preset \(presetName): the "
                              + "set was made from another config; regenerate it")
        }
        guard let cases = try field(manifest, "cases").arrayValue, !cases.isEmpty else {
            throw GoldenError(file: "manifest.json", "'cases' must be a non-empty array")
        }
        var tensors = 0, names = [String]()
        for entry in cases {
            let name = try field(entry, "name").stringValue ?? "?"
            guard !names.contains(name) else {
                throw GoldenError(file: "manifest.json", "case '\(Escaped.line(name))' is listed twice")
            }
            names.append(name)
            for part in ["inputs", "taps"] {
                let section = try field(entry, part)
                let file = try plainFileName(try field(section, "file").stringValue ?? "")
                tensors += try checkTensors(directory, file: file, expected: try field(section, "tensors").arrayValue ?? [])
            }
        }
        guard let files = try field(manifest, "files").objectValue else {
            throw GoldenError(file: "manifest.json", "'files' must be an object of file name → sha256")
        }
        for (file, checksum) in files {
            _ = try plainFileName(file)
            let bytes: [UInt8]
            do { bytes = try FilePath.readRegularFile(FilePath.join(directory, file)) } catch {
                throw GoldenError(file: file, error.isMissing ? "missing (the manifest lists it)" : error.description)
            }
            guard SHA256.hex(bytes) == checksum.stringValue else {
                throw GoldenError(file: file, "sha256 \(SHA256.hex(bytes)) differs from the manifest's "
                                  + "\(checksum.stringValue ?? "?")")
            }
        }
        return GoldenSummary(preset: preset, cases: names, tensors: tensors, files: files.count, manifest: manifest)
    }

    /// `name` when it names a file inside the set: no directory part, not `.` or `..`, not empty. A set's files
    /// are read from the set alone, never from a path it chooses.
    private static func plainFileName(_ name: String) throws(GoldenError) -> String {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.contains("\0") else {
            throw GoldenError(file: "manifest.json", "file '\(Escaped.line(name))' is not a plain file name in the set "
                              + "(no directory, no '..')")
        }
        return name
    }

    private static func readManifest(_ directory: String) throws(GoldenError) -> JSONValue {
        guard FilePath.isDirectory(directory) else {
            throw GoldenError(file: FilePath.lastComponent(directory), "not a directory")
        }
        let bytes: [UInt8]
        do { bytes = try FilePath.readRegularFile(FilePath.join(directory, "manifest.json")) } catch {
            throw GoldenError(file: "manifest.json",
                              error.isMissing ? "missing in \(FilePath.lastComponent(directory))" : error.description)
        }
        do {
            return try JSONValue.parse(bytes)
        } catch {
            throw GoldenError(file: "manifest.json", error.description)
        }
    }

    private static func field(_ object: JSONValue, _ key: String) throws(GoldenError) -> JSONValue {
        guard let value = object[key] else { throw GoldenError(file: "manifest.json", "missing field '\(key)'") }
        return value
    }

    /// The tensors of `file` against the manifest's list: the same names in the same order, each with its dtype,
    /// shape and sha256. Returns how many were checked.
    private static func checkTensors(_ directory: String, file: String, expected: [JSONValue]) throws(GoldenError)
        -> Int
    {
        let stored: SafeTensorsFile
        do {
            stored = try SafeTensorsFile(path: FilePath.join(directory, file))
        } catch {
            throw GoldenError(file: file, tensor: error.tensor, error.message)
        }
        let listed = expected.map { $0["name"]?.stringValue ?? "" }
        if let extra = stored.tensorNames.first(where: { !listed.contains($0) }) {
            throw GoldenError(file: file, tensor: extra, "in the file but not in the manifest")
        }
        for entry in expected {
            let name = entry["name"]?.stringValue ?? ""
            guard stored.contains(name) else { throw GoldenError(file: file, tensor: name, "missing from the file") }
            do {
                let tensor = try stored.stored(name)
                let listedShape = entry["shape"]?.arrayValue ?? []
                guard tensor.dtype.rawValue == entry["dtype"]?.stringValue,
                      listedShape.map(\.intValue) == tensor.shape.map(Optional.some)
                else {
                    // The manifest's extents as written: one too large for Int is shown as given, not as -1.
                    let written = listedShape.map { item in
                        if case .number(let text) = item { return text } else { return item.kindName }
                    }
                    throw GoldenError(file: file, tensor: name, "\(tensor.dtype.rawValue) \(Shape.describe(tensor.shape)) "
                                      + "but the manifest says \(entry["dtype"]?.stringValue ?? "?") "
                                      + "[\(written.joined(separator: ", "))]")
                }
                guard SHA256.hex(tensor.bytes) == entry["sha256"]?.stringValue else {
                    throw GoldenError(file: file, tensor: name, "sha256 differs from the manifest: the data is corrupt")
                }
            } catch let error as GoldenError {
                throw error
            } catch {
                throw GoldenError(file: file, tensor: name, "\(error)")
            }
        }
        return expected.count
    }
}
