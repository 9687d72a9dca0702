// SafeTensorsWriter: Assay's deterministic safetensors layout, byte-identical to what the Rust/Python
// `safetensors` library writes for the same tensors (its `prepare` step), and atomic writes of it.
//
// Goals, in order: the same tensors and metadata always give the same bytes; those bytes are the ones
// Python `safetensors.serialize` gives (proved by a committed Python-written fixture); every tensor starts
// aligned to its element size; a file on disk is either the old one or the complete new one.
//
// ```
// data order:  by dtype rank descending (I64 F64 F32 I32 BF16 F16 F8_E4M3 F8_E5M2 I8 U8 BOOL), then name
// header:      {"__metadata__":{keys sorted},"<name>":{"dtype":…,"shape":[…],"data_offsets":[b,e]},…}
//              compact, tensors in data order, padded with spaces to a multiple of 8 bytes
// ```
// Names and metadata keys sort by their UTF-8 bytes. The Rust library emits metadata keys in hash-map
// order (random per process), so only files with at most one metadata key can match it byte for byte.

/// Writes tensors and string metadata as one safetensors file.
public enum SafeTensorsWriter {
    /// The complete file's bytes.
    public static func serialize(
        _ tensors: [StoredTensor], metadata: [String: String] = [:]
    ) throws(SafeTensorsError) -> [UInt8] {
        let (header, ordered) = try layout(tensors, metadata: metadata, file: nil)
        var bytes = header
        for tensor in ordered { bytes += tensor.bytes }
        return bytes
    }

    /// Writes the file atomically: a temp file `<path>.tmp-<pid>-<random>` in the same directory is written,
    /// fsynced and renamed over `path`; on any failure the temp file is removed and `path` is untouched.
    public static func write(
        _ tensors: [StoredTensor], metadata: [String: String] = [:], to path: String
    ) throws(SafeTensorsError) {
        let (header, ordered) = try layout(tensors, metadata: metadata, file: FilePath.lastComponent(path))
        try AtomicFile.write(to: path) { sink throws(SafeTensorsError) in
            try sink.write(header)
            for tensor in ordered { try sink.write(tensor.bytes) }
        }
    }

    /// The 8-byte length and padded header, and the tensors in data order; errors name `file`.
    static func layout<Entry: SafeTensorsEntry>(
        _ tensors: [Entry], metadata: [String: String], file: String?
    ) throws(SafeTensorsError) -> (header: [UInt8], ordered: [Entry]) {
        let ordered = tensors.sorted { a, b in
            a.dtype.writeRank != b.dtype.writeRank
                ? a.dtype.writeRank > b.dtype.writeRank : a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
        var members: [(key: String, value: JSONValue)] = []
        if !metadata.isEmpty {
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            members.append((SafeTensorsHeader.metadataKey, .object(keys.map { ($0, .string(metadata[$0] ?? "")) })))
        }
        var offset = 0
        var seen = Set<String>()
        for tensor in ordered {
            guard seen.insert(tensor.name).inserted else {
                throw SafeTensorsError(file: file, tensor: tensor.name, "given twice")
            }
            let end = offset + tensor.byteCount
            members.append((tensor.name, .object([
                ("dtype", .string(tensor.dtype.rawValue)),
                ("shape", .array(tensor.shape.map(JSONValue.int))),
                ("data_offsets", .array([.int(offset), .int(end)])),
            ])))
            offset = end
        }
        var json = Array(JSONValue.object(members).serialized().utf8)
        json += Array(repeating: UInt8(ascii: " "), count: (8 - json.count % 8) % 8)
        guard json.count <= SafeTensorsHeader.maximumLength else {
            throw SafeTensorsError(
                file: file,
                "header of \(json.count) bytes exceeds the limit of \(SafeTensorsHeader.maximumLength) bytes")
        }
        var header: [UInt8] = []
        appendLittleEndian(UInt64(json.count), to: &header)
        return (header + json, ordered)
    }
}

/// What the header says of one tensor: its name, dtype, shape and how many data bytes it takes.
public protocol SafeTensorsEntry {
    var name: String { get }
    var dtype: DType { get }
    var shape: [Int] { get }
    var byteCount: Int { get }
}

extension StoredTensor: SafeTensorsEntry {
    public var byteCount: Int { bytes.count }
}

extension DType {
    /// Position in the Rust library's `Dtype` enum, which sorts by alignment: its writer puts higher ranks first.
    var writeRank: Int {
        switch self {
        case .bool: 0
        case .u8: 1
        case .i8: 2
        case .f8e5m2: 3
        case .f8e4m3: 4
        case .f16: 5
        case .bf16: 6
        case .i32: 7
        case .f32: 8
        case .f64: 9
        case .i64: 10
        }
    }
}
