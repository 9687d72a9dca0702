// StoredTensor: a named tensor as it is stored — dtype, shape and little-endian bytes — ready to write.
//
// Goals, in order: a StoredTensor is always consistent (bytes.count = elements × dtype size, valid name),
// so the writer cannot produce a file the reader rejects; then encoding with exact, stated rounding:
// Double → float dtype rounds to nearest even once (a plain cast); Int → integer dtype is range-checked.

/// One tensor to be written to a safetensors file.
public struct StoredTensor: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// The elements in row-major order, little-endian, `elementCount × dtype.byteSize` bytes.
    public let bytes: [UInt8]

    /// Wraps raw bytes; throws when the name is empty or reserved, or the byte count does not fit the shape.
    public init(name: String, dtype: DType, shape: [Int], bytes: [UInt8]) throws(SafeTensorsError) {
        func fail(_ message: String) -> SafeTensorsError { SafeTensorsError(file: nil, tensor: name, message) }
        guard !name.isEmpty else { throw SafeTensorsError(file: nil, "a tensor has an empty name") }
        guard name != SafeTensorsHeader.metadataKey else { throw fail("the name is reserved for metadata") }
        guard let elements = Shape.elementCount(shape) else {
            throw fail("shape \(TensorInfo.describe(shape)) has a negative extent or more elements than Int can count")
        }
        let (needed, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, bytes.count == needed else {
            let need = overflow ? "more than Int can count" : String(needed)
            let shapeText = TensorInfo.describe(shape)
            throw fail("given \(bytes.count) bytes, but shape \(shapeText) of \(dtype.rawValue) needs \(need)")
        }
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// Encodes Doubles as a float dtype, each rounded to nearest, ties to even (F64 is stored exactly).
    ///
    /// F8_E4M3 and F8_E5M2 do not saturate: a value past the largest finite becomes NaN (E4M3) or ±inf (E5M2),
    /// as a plain dtype cast does.
    public init(name: String, encoding tensor: Tensor<Double>, as dtype: DType) throws(SafeTensorsError) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(tensor.count * dtype.byteSize)
        for x in tensor.scalars {
            switch dtype {
            case .f64: appendLittleEndian(x.bitPattern, to: &bytes)
            case .f32: appendLittleEndian(Float(x).bitPattern, to: &bytes)
            case .f16: appendLittleEndian(Float16(x).bitPattern, to: &bytes)
            case .bf16: appendLittleEndian(BFloat16(x).bitPattern, to: &bytes)
            case .f8e4m3: bytes.append(MiniFloatFormat.e4m3fn.encode(x, saturating: false))
            case .f8e5m2: bytes.append(MiniFloatFormat.e5m2.encode(x, saturating: false))
            case .i64, .i32, .u8, .i8, .bool:
                throw SafeTensorsError(
                    file: nil, tensor: name, "cannot encode Doubles as \(dtype.rawValue); encode a Tensor<Int> instead")
            }
        }
        try self.init(name: name, dtype: dtype, shape: tensor.shape, bytes: bytes)
    }

    /// Encodes Ints as an integer dtype or BOOL; throws at the first element outside the dtype's range.
    public init(name: String, encoding tensor: Tensor<Int>, as dtype: DType) throws(SafeTensorsError) {
        guard let range = dtype.integerRange else {
            throw SafeTensorsError(
                file: nil, tensor: name, "cannot encode Ints as \(dtype.rawValue); encode a Tensor<Double> instead")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(tensor.count * dtype.byteSize)
        for (index, value) in tensor.scalars.enumerated() {
            let wide = Int64(value)
            guard range.contains(wide) else {
                throw SafeTensorsError(
                    file: nil, tensor: name,
                    "element \(index) is \(value), outside \(dtype.rawValue)'s range "
                        + "\(range.lowerBound)...\(range.upperBound)")
            }
            switch dtype {
            case .i64: appendLittleEndian(wide, to: &bytes)
            case .i32: appendLittleEndian(Int32(wide), to: &bytes)
            default: bytes.append(UInt8(truncatingIfNeeded: wide))  // U8, I8 (two's complement), BOOL
            }
        }
        try self.init(name: name, dtype: dtype, shape: tensor.shape, bytes: bytes)
    }
}
