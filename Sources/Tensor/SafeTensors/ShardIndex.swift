// ShardIndex: `model.safetensors.index.json` (or `consolidated.safetensors.index.json`), the map from tensor name to shard file of a sharded checkpoint.
//
// Goals, in order: reject a malformed index with one message naming the index file (and the tensor),
// refuse shard names that leave the checkpoint directory, then keep the index's own order for messages.
//
// ```
// {"metadata": {…any JSON…}, "weight_map": {"<tensor>": "<shard file name>", …}}   ("metadata" optional)
// ```

/// A parsed, validated shard index.
struct ShardIndex {
    /// The index's file name for checkpoint files named `stem`: `model.safetensors.index.json` (Hugging Face).
    static func fileName(stem: String) -> String { stem + ".safetensors.index.json" }

    /// The index's `metadata` object (e.g. `total_size`); `.object([])` when absent.
    let metadata: JSONValue
    /// `weight_map` in source order.
    let weightMap: [(tensor: String, shard: String)]

    /// Parses the index text; errors name `file` (the index file's name).
    init(json bytes: some Collection<UInt8>, file: String) throws(SafeTensorsError) {
        func fail(_ message: String, tensor: String? = nil) -> SafeTensorsError {
            SafeTensorsError(file: file, tensor: tensor, message)
        }
        let json: JSONValue
        do { json = try JSONValue.parse(bytes) } catch { throw fail("\(error)") }
        // Top-level keys other than metadata and weight_map are ignored: they cannot change which shard
        // holds a tensor, and rejecting them could refuse a real checkpoint whose exporter added one.
        guard json.objectValue != nil else { throw fail("index must be a JSON object, found \(json.kindName)") }
        let metadata = json["metadata"] ?? .object([])
        guard metadata.objectValue != nil else { throw fail("metadata must be an object, found \(metadata.kindName)") }
        guard let map = json["weight_map"] else { throw fail("index lacks \"weight_map\"") }
        guard let entries = map.objectValue else {
            throw fail("weight_map must be an object of tensor name to shard file, found \(map.kindName)")
        }
        var weightMap: [(tensor: String, shard: String)] = []
        for (tensor, value) in entries {
            guard !tensor.isEmpty else { throw fail("weight_map has an empty tensor name") }
            guard let shard = value.stringValue else {
                throw fail("weight_map value must be a shard file name, found \(value.kindName)", tensor: tensor)
            }
            guard !shard.isEmpty, !shard.contains("/"), shard != ".", shard != ".." else {
                let message = "shard \(JSONValue.quoted(shard)) is not a file name in the checkpoint directory"
                throw fail(message, tensor: tensor)
            }
            weightMap.append((tensor, shard))
        }
        self.metadata = metadata
        self.weightMap = weightMap
    }
}
