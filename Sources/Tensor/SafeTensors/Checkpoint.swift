// Checkpoint: a model directory — `model.safetensors`, or shards named by `model.safetensors.index.json`
// (Hugging Face); or Mistral's `consolidated*.safetensors`, with or without `consolidated.safetensors.index.json`.
//
// Goals, in order: a checkpoint that opens is consistent (every shard valid, every tensor exactly where
// the index says and nowhere else), each violation one message naming the index, the shard and the
// tensor; then laziness: shards are mmapped and only their headers read.

/// A checkpoint directory opened for reading, with lookups across its shards.
public final class Checkpoint: Sendable {
    /// The directory path as given to `init`.
    public let directory: String
    /// The files' name stem: `model` (Hugging Face) or `consolidated` (Mistral's native layout).
    public let stem: String
    /// The index file (`model.safetensors.index.json`) for a sharded checkpoint; nil without one.
    public let indexFile: String?
    /// The index's `metadata` object (e.g. `total_size`); `.object([])` without an index.
    public let indexMetadata: JSONValue
    /// Every shard, sorted by file name.
    public let shards: [SafeTensorsFile]
    /// Tensor name → position in `shards`.
    private let shardIndex: [String: Int]

    /// The single-file checkpoint name.
    public static let singleFileName = "model.safetensors"
    /// The stems looked for, in order: Hugging Face's, then Mistral's.
    public static let stems = ["model", "consolidated"]

    /// Opens `directory`, trying each of `stems` in turn: its index if present, else `<stem>.safetensors`, else
    /// (for `consolidated`, which Mistral ships without an index) every `consolidated*.safetensors`. Validates
    /// every shard header.
    public init(directory: String) throws(SafeTensorsError) {
        self.directory = directory
        let name = FilePath.lastComponent(directory)
        guard FilePath.isDirectory(directory) else {
            throw SafeTensorsError(file: name, FilePath.exists(directory) ? "is not a directory" : "does not exist")
        }
        for stem in Self.stems {
            let indexName = ShardIndex.fileName(stem: stem)
            let indexPath = FilePath.join(directory, indexName)
            if FilePath.exists(indexPath) {
                let text: [UInt8]
                do { text = try FilePath.readRegularFile(indexPath) } catch {
                    throw SafeTensorsError(file: indexName, error.description)
                }
                let index = try ShardIndex(json: text, file: indexName)
                (self.stem, indexFile, indexMetadata) = (stem, indexName, index.metadata)
                (shards, shardIndex) = try Self.openShards(of: index, in: directory, indexName: indexName)
                return
            }
            let files = (FilePath.names(in: directory) ?? []).filter {
                stem == "model" ? $0 == Self.singleFileName : $0.hasPrefix(stem) && $0.hasSuffix(".safetensors")
            }
            guard !files.isEmpty else { continue }
            (self.stem, indexFile, indexMetadata) = (stem, nil, .object([]))
            (shards, shardIndex) = try Self.openFiles(files, in: directory) { tensor, first, second in
                SafeTensorsError(file: second, tensor: tensor, "also stored in '\(first)'")
            }
            return
        }
        throw SafeTensorsError(
            file: name, "holds no checkpoint: neither \(ShardIndex.fileName(stem: "model")) nor \(Self.singleFileName) "
                + "(Hugging Face) nor consolidated*.safetensors (Mistral)")
    }

    /// Opens `files` (sorted) as shards and maps each tensor to its shard; a tensor in two of them is the error
    /// `duplicate(tensor, first file, second file)`.
    private static func openFiles(
        _ files: [String], in directory: String,
        duplicate: (_ tensor: String, _ first: String, _ second: String) -> SafeTensorsError
    ) throws(SafeTensorsError) -> ([SafeTensorsFile], [String: Int]) {
        var shards: [SafeTensorsFile] = []
        var location: [String: Int] = [:]
        for file in files {
            let shard = try SafeTensorsFile(path: FilePath.join(directory, file))
            for tensor in shard.tensorNames {
                if let earlier = location[tensor] { throw duplicate(tensor, files[earlier], file) }
                location[tensor] = shards.count
            }
            shards.append(shard)
        }
        return (shards, location)
    }

    /// Every tensor name, sorted.
    public var tensorNames: [String] { shardIndex.keys.sorted() }

    /// Whether some shard holds a tensor called `tensorName`.
    public func contains(_ tensorName: String) -> Bool { shardIndex[tensorName] != nil }

    /// The shard that stores `tensorName`; read the tensor from it (`bytes`, `doubles`, …).
    public func shard(containing tensorName: String) throws(SafeTensorsError) -> SafeTensorsFile {
        guard let position = shardIndex[tensorName] else {
            throw SafeTensorsError(
                file: FilePath.lastComponent(directory), tensor: tensorName, "no such tensor in this checkpoint")
        }
        return shards[position]
    }

    /// Opens the shards `index` names and checks that they hold exactly the tensors it maps to them.
    ///
    /// ```
    /// for every (tensor, shard) in weight_map:  shard exists, is valid, and holds tensor
    /// for every tensor in every shard:          it is in weight_map, and in no other shard
    /// ```
    private static func openShards(
        of index: ShardIndex, in directory: String, indexName: String
    ) throws(SafeTensorsError) -> ([SafeTensorsFile], [String: Int]) {
        func fail(_ tensor: String, _ message: String) -> SafeTensorsError {
            SafeTensorsError(file: indexName, tensor: tensor, message)
        }
        var shardNames: [String] = []
        for (tensor, shard) in index.weightMap where !shardNames.contains(shard) {
            guard FilePath.exists(FilePath.join(directory, shard)) else {
                throw fail(tensor, "mapped to '\(shard)', which does not exist")
            }
            shardNames.append(shard)
        }
        shardNames.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let (shards, location) = try openFiles(shardNames, in: directory) { tensor, first, second in
            fail(tensor, "stored in both '\(first)' and '\(second)'")
        }
        let mapped = Dictionary(index.weightMap.map { ($0.tensor, $0.shard) }, uniquingKeysWith: { first, _ in first })
        for (tensor, shard) in index.weightMap where location[tensor].map({ shardNames[$0] }) != shard {
            throw fail(tensor, "mapped to '\(shard)', which does not hold it")
        }
        for shard in shards {
            if let stray = shard.tensorNames.first(where: { mapped[$0] == nil }) {
                throw fail(stray, "stored in '\(shard.name)' but missing from the weight_map")
            }
        }
        return (shards, location)
    }
}
