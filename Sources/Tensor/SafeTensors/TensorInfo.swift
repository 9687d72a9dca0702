// TensorInfo: one tensor's header entry, and the rules an entry must satisfy to be read.
//
// Goals, in order: reject every malformed entry with one message naming the tensor, never trap on
// header content (all arithmetic is overflow-checked), then keep each rule one readable guard.

/// Where one tensor lives in a safetensors file.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    /// Extents, outermost first; `[]` is a scalar.
    public let shape: [Int]
    /// The entry's `data_offsets`: a byte range of the data section (which starts after the header).
    public let dataOffsets: Range<Int>

    public init(name: String, dtype: DType, shape: [Int], dataOffsets: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataOffsets = dataOffsets
    }

    /// The keys an entry must have, in the order the writer emits them.
    static let keys = ["dtype", "shape", "data_offsets"]
}

extension TensorInfo {
    /// Reads the header entry `name: value`, checking it against a data section of `dataSize` bytes.
    ///
    /// ```
    /// entry = {"dtype": D, "shape": [d0, …], "data_offsets": [begin, end]}
    /// end − begin = d0 · d1 · … · size(D),   0 ≤ begin ≤ end ≤ dataSize
    /// ```
    init(name: String, entry value: JSONValue, dataSize: Int, file: String) throws(SafeTensorsError) {
        func fail(_ message: String) -> SafeTensorsError { SafeTensorsError(file: file, tensor: name, message) }
        guard let members = value.objectValue else { throw fail("entry must be an object, found \(value.kindName)") }
        if let extra = members.first(where: { !Self.keys.contains($0.key) }) {
            throw fail("unexpected key \(JSONValue.quoted(extra.key)) (an entry holds only dtype, shape, data_offsets)")
        }
        if let missing = Self.keys.first(where: { value[$0] == nil }) { throw fail("entry lacks \"\(missing)\"") }

        guard let dtypeName = value["dtype"]?.stringValue else {
            throw fail("dtype must be a string, found \(value["dtype"]?.kindName ?? "nothing")")
        }
        guard let dtype = DType(safetensorsName: dtypeName) else {
            let known = DType.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail("dtype \(JSONValue.quoted(dtypeName)) is not one Assay reads (\(known))")
        }
        let shape = try Self.naturals(value["shape"], key: "shape", count: nil, fail: fail)
        guard let elements = Shape.elementCount(shape) else {
            throw fail("shape \(Self.describe(shape)) has more elements than Int can count")
        }
        let offsets = try Self.naturals(value["data_offsets"], key: "data_offsets", count: 2, fail: fail)
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else { throw fail("data_offsets [\(begin), \(end)] begin after they end") }
        let (needed, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else {
            throw fail("shape \(Self.describe(shape)) of \(dtypeName) needs more bytes than Int can count")
        }
        guard end - begin == needed else {
            throw fail("data_offsets [\(begin), \(end)] hold \(end - begin) bytes, "
                       + "but shape \(Self.describe(shape)) of \(dtypeName) needs \(needed)")
        }
        guard end <= dataSize else {
            throw fail("data_offsets [\(begin), \(end)] run past the end of the data section (\(dataSize) bytes)")
        }
        self.init(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// An array of non-negative Ints (of exactly `count` items when given), or the error `fail` builds.
    private static func naturals(
        _ value: JSONValue?, key: String, count: Int?, fail: (String) -> SafeTensorsError
    ) throws(SafeTensorsError) -> [Int] {
        let expected = count.map { "an array of \($0) non-negative integers" } ?? "an array of non-negative integers"
        guard let items = value?.arrayValue, count == nil || items.count == count else {
            let found = value?.arrayValue.map { "\($0.count) items" } ?? value?.kindName ?? "nothing"
            throw fail("\(key) must be \(expected), found \(found)")
        }
        var result: [Int] = []
        result.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            guard let natural = item.intValue, natural >= 0 else {
                throw fail("\(key)[\(index)] must be a non-negative integer, found \(brief(item))")
            }
            result.append(natural)
        }
        return result
    }

    /// A JSON value in a message: numbers and strings as written (cut at 40 characters), others by kind.
    static func brief(_ value: JSONValue) -> String {
        let text: String
        switch value {
        case .number(let digits): text = digits
        case .string(let s): text = JSONValue.quoted(s)
        default: return value.kindName
        }
        return text.count <= 40 ? text : String(text.prefix(40)) + "…"
    }

    /// `Shape.describe`, cut after 8 extents so a hostile header cannot make a huge message.
    static func describe(_ shape: [Int]) -> String {
        guard shape.count > 8 else { return Shape.describe(shape) }
        return "[" + shape.prefix(8).map(String.init).joined(separator: ", ") + ", … (\(shape.count) extents)]"
    }
}
