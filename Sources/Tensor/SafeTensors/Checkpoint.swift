// Checkpoint: a model directory — `model.safetensors`, or shards named by `model.safetensors.index.json`.
//
// Goals, in order: a checkpoint that opens is consistent (every shard valid, every tensor exactly where
// the index says and nowhere else), each violation one message naming the index, the shard and the
// tensor; then laziness: shards are mmapped and only their headers read.

/// A checkpoint directory opened for reading, with lookups across its shards.
public final class Checkpoint: Sendable {
    /// The directory path as given to `init`.
    public let directory: String
    /// `model.safetensors.index.json` for a sharded checkpoint; nil for a single `model.safetensors`.
    public let indexFile: String?
    /// The index's `metadata` object (e.g. `total_size`); `.object([])` without an index.
    public let indexMetadata: JSONValue
    /// Every shard, sorted by file name.
    public let shards: [SafeTensorsFile]
    /// Tensor name → position in `shards`.
    private let shardIndex: [String: Int]

    /// The single-file checkpoint name.
    public static let singleFileName = "model.safetensors"

    /// Opens `directory`: the index if present, else `model.safetensors`; validates every shard header.
    public init(directory: String) throws(SafeTensorsError) {
        self.directory = directory
        let name = FilePath.lastComponent(directory)
        guard FilePath.isDirectory(directory) else {
            throw SafeTensorsError(file: name, FilePath.exists(directory) ? "is not a directory" : "does not exist")
        }
        let indexPath = FilePath.join(directory, ShardIndex.fileName)
        if FilePath.exists(indexPath) {
            guard let text = FilePath.readAll(indexPath) else {
                throw SafeTensorsError(file: ShardIndex.fileName, "cannot read: \(MappedFile.lastSystemError())")
            }
            let index = try ShardIndex(json: text, file: ShardIndex.fileName)
            indexFile = ShardIndex.fileName
            indexMetadata = index.metadata
            (shards, shardIndex) = try Self.openShards(of: index, in: directory)
        } else if FilePath.exists(FilePath.join(directory, Self.singleFileName)) {
            let file = try SafeTensorsFile(path: FilePath.join(directory, Self.singleFileName))
            indexFile = nil
            indexMetadata = .object([])
            shards = [file]
            shardIndex = Dictionary(file.tensorNames.map { ($0, 0) }, uniquingKeysWith: { first, _ in first })
        } else {
            throw SafeTensorsError(
                file: name, "holds neither \(ShardIndex.fileName) nor \(Self.singleFileName)")
        }
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
        of index: ShardIndex, in directory: String
    ) throws(SafeTensorsError) -> ([SafeTensorsFile], [String: Int]) {
        func fail(_ tensor: String, _ message: String) -> SafeTensorsError {
            SafeTensorsError(file: ShardIndex.fileName, tensor: tensor, message)
        }
        var shardNames: [String] = []
        for (tensor, shard) in index.weightMap where !shardNames.contains(shard) {
            guard FilePath.exists(FilePath.join(directory, shard)) else {
                throw fail(tensor, "mapped to '\(shard)', which does not exist")
            }
            shardNames.append(shard)
        }
        shardNames.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var shards: [SafeTensorsFile] = []
        var location: [String: Int] = [:]
        for shardName in shardNames {
            let shard = try SafeTensorsFile(path: FilePath.join(directory, shardName))
            for tensor in shard.tensorNames {
                if let earlier = location[tensor] {
                    throw fail(tensor, "stored in both '\(shardNames[earlier])' and '\(shardName)'")
                }
                location[tensor] = shards.count
            }
            shards.append(shard)
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
