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
    /// What the set was made from: `preset tiny`, `config (config.json)`, `checkpoint (… layout, N files, …)`.
    public let source: String
    public let cases: [String]
    public let tensors: Int
    public let files: Int
    /// The parsed manifest.json.
    public let manifest: JSONValue
}

/// A set checked whole: its manifest's fields, and every case read and checked against the spec and the config.
struct VerifiedSet {
    let summary: GoldenSummary
    let fields: ManifestFields
    let config: ModelConfig
    let cases: [StoredCase]
}

public enum GoldenVerifier {
    /// Checks the set in `directory`; returns what it holds or throws the first problem.
    public static func verify(_ directory: String) throws(GoldenError) -> GoldenSummary { try checked(directory).summary }

    /// The one validator (spec/goldens.md §5): `diff`, `conform` and `coverage` read a set through it. A set decides
    /// its inputs and golden values; the spec decides everything else, and a manifest that disagrees is an error:
    /// every field's type and range (ManifestFields), the files it may read (plain names in the set, each listed
    /// once with its sha256), each tensor's dtype, shape and sha256 against the files, each tap's name, class and
    /// shape against the model's taps on the case's inputs, router indices in range, min_margin against the
    /// margins, and the profile the taps were made in.
    static func checked(_ directory: String) throws(GoldenError) -> VerifiedSet {
        let manifest = try readManifest(directory)
        let fields = try ManifestFields(manifest)
        try checkFileList(fields)
        let config = fields.config
        var tensors = 0, cases = [StoredCase]()
        for entry in fields.cases {
            let inputs = try TapTable(try checkTensors(directory, entry.inputs, profile: nil))
            let taps = try TapTable(try checkTensors(directory, entry.taps, profile: fields.profile))
            tensors += entry.inputs.tensors.count + entry.taps.tensors.count
            let stored = try StoredCase(entry: entry, golden: taps, inputs: inputs, config: config, layers: fields.layers)
            try checkTapEntries(entry.taps, of: stored, tapDType: fields.tapDType)
            cases.append(stored)
        }
        for (file, checksum) in fields.files {
            let bytes: [UInt8]
            do { bytes = try FilePath.readRegularFile(FilePath.join(directory, file)) } catch {
                throw GoldenError(file: file, error.isMissing ? "missing (the manifest lists it)" : error.description)
            }
            guard SHA256.hex(bytes) == checksum else {
                throw GoldenError(file: file, "sha256 \(SHA256.hex(bytes)) differs from the manifest's \(checksum)")
            }
        }
        try checkShippedConfig(directory, fields, manifest: manifest)
        let summary = GoldenSummary(source: fields.sourceSummary, cases: fields.cases.map(\.name), tensors: tensors,
                                    files: fields.files.count, manifest: manifest)
        return VerifiedSet(summary: summary, fields: fields, config: config, cases: cases)
    }

    /// `files` lists each file the weights and cases use, once, and no other: every byte read has a sha256.
    private static func checkFileList(_ fields: ManifestFields) throws(GoldenError) {
        let listed = fields.files.map(\.name), used = fields.referencedFiles
        for (index, name) in listed.enumerated() where listed[..<index].contains(name) {
            throw GoldenError(file: "manifest.json", "'files' lists '\(name)' twice")
        }
        for (index, name) in used.enumerated() {
            guard listed.contains(name) else {
                throw GoldenError(file: "manifest.json", "'\(name)' is used but 'files' gives no sha256 for it")
            }
            guard !used[..<index].contains(name) else {
                throw GoldenError(file: "manifest.json", "'\(name)' is used twice (each case has its own files)")
            }
        }
        if let unused = listed.first(where: { !used.contains($0) }) {
            throw GoldenError(file: "manifest.json", "'files' lists '\(unused)', which no case and no weights use")
        }
    }

    /// A shipped config file (the weights' config.json, a shipped checkpoint's config) holds the manifest's
    /// `config`: the weights a diff loads belong to the model the set describes.
    private static func checkShippedConfig(_ directory: String, _ fields: ManifestFields, manifest: JSONValue)
        throws(GoldenError)
    {
        guard let file = fields.shippedConfigFile else { return }
        let shipped: JSONValue
        do { shipped = try JSONValue.parse(try FilePath.readRegularFile(FilePath.join(directory, file))) } catch {
            throw GoldenError(file: file, "\(error)")
        }
        guard shipped == manifest["config"] else {
            throw GoldenError(file: file, "differs from the manifest's 'config': the shipped weights are another model's")
        }
    }

    /// The dtypes Assay writes (spec/goldens.md §3): real taps in the set's tap_dtype, router indices I64; and each
    /// router `#indices` tap's min_margin, the smallest of its `#margin` tap (as stored), on those taps alone.
    private static func checkTapEntries(_ listed: ManifestFields.FileEntry, of stored: StoredCase, tapDType: DType)
        throws(GoldenError)
    {
        for (entry, tap) in zip(listed.tensors, stored.taps) {
            let wanted: DType = tap.kind == .routerIndices ? .i64 : tapDType
            guard entry.dtype == wanted else {
                throw GoldenError(file: listed.file, tensor: entry.name, "dtype \(entry.dtype.rawValue); this set "
                                  + "stores it as \(wanted.rawValue) (tap_dtype \(tapDType.rawValue))")
            }
            guard tap.kind == .routerIndices else {
                if entry.minMargin != nil {
                    throw GoldenError(file: "manifest.json", tensor: entry.name, "min_margin belongs to router #indices taps")
                }
                continue
            }
            let margins = stored.golden[tap.sibling(.routerMargin).name]
            guard let stated = entry.minMargin, case .real(let values)? = margins else {
                throw GoldenError(file: "manifest.json", tensor: entry.name, "a router #indices tap needs min_margin")
            }
            let smallest = values.scalars.min() ?? 0
            let agrees = tapDType == .f32 ? Float(stated) == Float(smallest) : stated == smallest
            guard agrees, smallest >= 0 else {
                throw GoldenError(file: "manifest.json", tensor: entry.name, "min_margin \(stated); its #margin tap's "
                                  + "smallest value is \(smallest) (margins are ≥ 0)")
            }
        }
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

    /// The tensors of `listed.file` against the manifest's list: the same names, each with its dtype, shape and
    /// sha256; a taps file says which `profile` made it (its `assay.profile` metadata). Returns the file, checked.
    private static func checkTensors(_ directory: String, _ listed: ManifestFields.FileEntry, profile: PrecisionProfile?)
        throws(GoldenError) -> SafeTensorsFile
    {
        let file = listed.file
        let stored: SafeTensorsFile
        do {
            stored = try SafeTensorsFile(path: FilePath.join(directory, file))
        } catch {
            throw GoldenError(file: file, tensor: error.tensor, error.message)
        }
        if let profile, stored.metadata["assay.profile"] != profile.rawValue {
            throw GoldenError(file: file, "made in profile '\(stored.metadata["assay.profile"] ?? "(none)")' (its "
                              + "assay.profile metadata); the manifest says '\(profile.rawValue)'")
        }
        let names = listed.tensors.map(\.name)
        if let extra = stored.tensorNames.first(where: { !names.contains($0) }) {
            throw GoldenError(file: file, tensor: extra, "in the file but not in the manifest")
        }
        for entry in listed.tensors {
            let name = entry.name
            guard stored.contains(name) else { throw GoldenError(file: file, tensor: name, "missing from the file") }
            do {
                let tensor = try stored.stored(name)
                guard tensor.dtype == entry.dtype, tensor.shape == entry.shape else {
                    throw GoldenError(file: file, tensor: name, "\(tensor.dtype.rawValue) \(Shape.describe(tensor.shape)) "
                                      + "but the manifest says \(entry.dtype.rawValue) \(Shape.describe(entry.shape))")
                }
                guard SHA256.hex(tensor.bytes) == entry.sha256 else {
                    throw GoldenError(file: file, tensor: name, "sha256 differs from the manifest: the data is corrupt")
                }
            } catch let error as GoldenError {
                throw error
            } catch {
                throw GoldenError(file: file, tensor: name, "\(error)")
            }
        }
        return stored
    }
}
