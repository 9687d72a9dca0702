// SafeTensorsHeader: the framing of a safetensors file and the validation of its JSON header.
//
// Goals, in order: reject every malformed file with one message that names the file (and the tensor),
// accept every file Python `safetensors` writes, never trap or read past the buffer, and touch only the
// first 8 + N bytes (the data section is checked by arithmetic, not read).
//
// ```
// file = u64 little-endian N | N bytes of UTF-8 JSON header | data section
// ```

/// The parsed, validated header of one safetensors file.
struct SafeTensorsHeader: Sendable {
    /// The header's `__metadata__` (empty when absent).
    let metadata: [String: String]
    /// Every tensor, sorted by data offset.
    let tensors: [TensorInfo]
    /// Byte offset of the data section in the file: 8 + N.
    let dataStart: Int

    /// The largest header Assay (like the Rust library) reads: 100,000,000 bytes.
    static let maximumLength = 100_000_000
    /// The key that holds string metadata instead of a tensor.
    static let metadataKey = "__metadata__"

    /// Parses and validates the header at the start of `file` (the whole file's bytes).
    init(file bytes: UnsafeRawBufferPointer, name file: String) throws(SafeTensorsError) {
        func fail(_ message: String) -> SafeTensorsError { SafeTensorsError(file: file, message) }
        guard bytes.count >= 8 else {
            throw fail("file is \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        let length = bytes.loadUnaligned(as: UInt64.self).littleEndian
        guard length > 0 else { throw fail("header length is 0; a header holds at least \"{}\"") }
        guard length <= Self.maximumLength else {
            throw fail("header length \(length) exceeds the limit of \(Self.maximumLength) bytes")
        }
        let headerLength = Int(length)
        guard headerLength <= bytes.count - 8 else {
            throw fail("header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        let text = Array(bytes[8..<(8 + headerLength)])
        if let offset = Self.firstInvalidUTF8Offset(text) {
            throw fail("header is not valid UTF-8 (byte \(offset) of the header)")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch { throw fail("header is \(error)") }
        guard let members = json.objectValue else { throw fail("header must be a JSON object, found \(json.kindName)") }

        dataStart = 8 + headerLength
        let dataSize = bytes.count - dataStart
        var metadata: [String: String] = [:]
        var tensors: [TensorInfo] = []
        for (key, value) in members {
            if key == Self.metadataKey {
                metadata = try Self.metadata(value, file: file)
            } else {
                guard !key.isEmpty else { throw fail("a tensor has an empty name") }
                tensors.append(try TensorInfo(name: key, entry: value, dataSize: dataSize, file: file))
            }
        }
        self.metadata = metadata
        self.tensors = try DataSectionLayout.sortedCheckingCoverage(tensors, dataSize: dataSize, file: file)
    }

    /// `__metadata__`: an object whose values are all strings.
    private static func metadata(_ value: JSONValue, file: String) throws(SafeTensorsError) -> [String: String] {
        guard let members = value.objectValue else {
            throw SafeTensorsError(file: file, "\(metadataKey) must be an object of strings, found \(value.kindName)")
        }
        var result: [String: String] = [:]
        for (key, item) in members {
            guard let string = item.stringValue else {
                throw SafeTensorsError(
                    file: file,
                    "\(metadataKey) value of \(JSONValue.quoted(key)) must be a string, found \(item.kindName)")
            }
            result[key] = string
        }
        return result
    }

    /// Offset of the first byte that does not continue a valid UTF-8 sequence, or nil if all is valid.
    static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .error: return offset
            case .emptyInput: return nil
            }
        }
    }
}
