// Where a golden set's model comes from — spec/goldens.md §3 (`preset`, `source`): a preset, any config file with
// synthetic weights, or a checkpoint directory in either layout (FP8 included). A checkpoint is recorded by the
// sha256 of each of its files, so a user who holds the same checkpoint can prove it (`assay diff --checkpoint`);
// its files ship in the set only when the model is small (GoldenSet.weightsLimit).

import MistralSmall4
import Tensor

/// What `assay golden` makes a set from.
public enum GoldenSource: Sendable, Equatable {
    /// A preset's config with synthetic weights from the seed.
    case preset(Preset)
    /// Any config file (a config.json or a params.json) with synthetic weights from the seed.
    case config(path: String)
    /// A checkpoint directory, Hugging Face or Mistral layout: its own weights.
    case checkpoint(directory: String)

    /// What the command-line options take, for errors.
    public static let checkpointOption = "--checkpoint takes the checkpoint's directory"
    public static let configOption = "--config takes a config.json or params.json file"
}

/// How a config document is written: a Hugging Face config.json or a Mistral params.json.
enum ConfigFormat: String, CaseIterable {
    case huggingFace = "hugging-face"
    case mistral

    /// The file the format is read from.
    var fileName: String { self == .huggingFace ? "config.json" : "params.json" }

    init(_ source: ConfigSource) {
        if case .mistralParams = source { self = .mistral } else { self = .huggingFace }
    }

    /// `document` decoded and validated as a file of this format; the error names the manifest's `config`.
    func decode(_ document: JSONValue) throws(GoldenError) -> ModelConfig {
        do { return try ModelConfig.decode(Array(document.serialized().utf8), fileName: fileName) } catch {
            throw GoldenError(file: "manifest.json", "'config' is not a valid \(fileName): \(error.message)")
        }
    }
}

/// A checkpoint as a set records it: its layout and the files it consists of (config, index, shards), each with
/// its sha256, sorted by name.
struct CheckpointRecord {
    let layout: CheckpointLayout
    let files: [(name: String, sha256: String)]

    init(layout: CheckpointLayout, files: [(name: String, sha256: String)]) {
        (self.layout, self.files) = (layout, files)
    }

    /// The checkpoint `store` opened, whose config is the file `configFile` of its directory: every file hashed.
    init(_ store: CheckpointWeightStore, configFile: String) throws(GoldenError) {
        let checkpoint = store.checkpoint
        let names = [configFile] + (checkpoint.indexFile.map { [$0] } ?? []) + checkpoint.shards.map(\.name)
        var files = [(name: String, sha256: String)]()
        for name in names.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            files.append((name, try Self.sha256(of: name, in: checkpoint.directory)))
        }
        self.init(layout: store.layout, files: files)
    }

    /// `directory` holds every recorded file with its recorded sha256; the first that does not is the error, named.
    func check(_ directory: String) throws(GoldenError) {
        guard FilePath.isDirectory(directory) else {
            throw GoldenError(file: directory, FilePath.exists(directory) ? "not a directory (\(GoldenSource.checkpointOption))"
                              : "does not exist")
        }
        for (name, recorded) in files {
            let found = try Self.sha256(of: name, in: directory)
            guard found == recorded else {
                throw GoldenError(file: name, "sha256 \(found) differs from the set's \(recorded): not the checkpoint "
                                  + "the set was made from")
            }
        }
    }

    private static func sha256(of name: String, in directory: String) throws(GoldenError) -> String {
        do { return try FilePath.sha256(FilePath.join(directory, name)) } catch {
            throw GoldenError(file: name, error.isMissing
                              ? "missing from \(FilePath.lastComponent(directory)) (the set records its sha256)"
                              : error.description)
        }
    }
}

/// A source opened to write a set from: the config, its file's bytes (what the manifest's `config` holds, parsed),
/// the weights, and for a checkpoint its record.
struct OpenedSource {
    let config: ModelConfig
    let configBytes: [UInt8]
    let store: any WeightStore
    let checkpoint: CheckpointRecord?

    var format: ConfigFormat { ConfigFormat(config.source) }

    /// Opens `source`; a checkpoint's FP8 linears quantize activations as `profile` says (spec/quant.md §6).
    init(_ source: GoldenSource, seed: UInt64, profile: PrecisionProfile) throws {
        switch source {
        case .preset(let preset):
            (config, configBytes) = (try preset.load(), preset.bytes)
            (store, checkpoint) = (SyntheticWeightStore(config: config, seed: seed), nil)
        case .config(let path):
            config = try ModelConfig.load(path, directory: false, option: GoldenSource.configOption)
            configBytes = try FilePath.readRegularFile(path)
            (store, checkpoint) = (SyntheticWeightStore(config: config, seed: seed), nil)
        case .checkpoint(let directory):
            config = try ModelConfig.load(directory, directory: true, option: GoldenSource.checkpointOption)
            configBytes = try FilePath.readRegularFile(FilePath.join(directory, config.source.fileName))
            let opened = try CheckpointWeightStore(config: config, directory: directory, profile: profile)
            (store, checkpoint) = (opened, try CheckpointRecord(opened, configFile: config.source.fileName))
        }
    }
}
