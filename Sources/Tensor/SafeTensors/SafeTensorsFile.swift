// SafeTensorsFile: a lazily read safetensors file — open validates the header, reads touch one tensor.
//
// Goals, in order: nothing from a file is trusted before validation (see SafeTensorsHeader), then
// laziness: the file is mmapped and a tensor's bytes are read only when that tensor is asked for.
// Typed reads (doubles, floats, integers) live in SafeTensorsFile+Elements.swift.

/// One safetensors file, opened read-only.
public final class SafeTensorsFile: Sendable {
    /// The path as given to `init`.
    public let path: String
    /// The path's last component: the name every error uses.
    public let name: String
    /// The header's `__metadata__` (empty when absent).
    public let metadata: [String: String]
    /// Every tensor, sorted by data offset (the order of the data section).
    public let tensors: [TensorInfo]
    /// Byte offset of the data section in the file: 8 + header length.
    public let dataStart: Int

    private let mapping: MappedFile
    private let index: [String: Int]

    /// Opens `path` and validates its whole header; tensor data is not read.
    public init(path: String) throws(SafeTensorsError) {
        self.path = path
        name = FilePath.lastComponent(path)
        mapping = try MappedFile(path: path)
        let header = try SafeTensorsHeader(file: mapping.bytes, name: name)
        metadata = header.metadata
        tensors = header.tensors
        dataStart = header.dataStart
        // Names are unique (the JSON parser rejects duplicate keys); keeping the first cannot trap regardless.
        index = Dictionary(header.tensors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Tensor names in data-section order.
    public var tensorNames: [String] { tensors.map(\.name) }

    /// Whether the file holds a tensor called `tensorName`.
    public func contains(_ tensorName: String) -> Bool { index[tensorName] != nil }

    /// The header entry of `tensorName`; throws naming the tensor and the file when there is none.
    public func info(_ tensorName: String) throws(SafeTensorsError) -> TensorInfo {
        guard let position = index[tensorName] else {
            throw SafeTensorsError(file: name, tensor: tensorName, "no such tensor in this file")
        }
        return tensors[position]
    }

    /// Calls `body` with the tensor's bytes inside the mapping (valid only during the call).
    public func withBytes<Result>(
        of tensorName: String, _ body: (TensorInfo, UnsafeRawBufferPointer) throws(SafeTensorsError) -> Result
    ) throws(SafeTensorsError) -> Result {
        let info = try info(tensorName)
        let start = dataStart + info.dataOffsets.lowerBound
        return try body(info, UnsafeRawBufferPointer(rebasing: mapping.bytes[start..<(start + info.dataOffsets.count)]))
    }

    /// A copy of the tensor's raw little-endian bytes.
    public func bytes(_ tensorName: String) throws(SafeTensorsError) -> [UInt8] {
        try withBytes(of: tensorName) { _, bytes in Array(bytes) }
    }

    /// The tensor as a `StoredTensor` (name, dtype, shape, raw bytes), ready to be written elsewhere.
    public func stored(_ tensorName: String) throws(SafeTensorsError) -> StoredTensor {
        try withBytes(of: tensorName) { info, bytes throws(SafeTensorsError) in
            try StoredTensor(name: info.name, dtype: info.dtype, shape: info.shape, bytes: Array(bytes))
        }
    }
}
