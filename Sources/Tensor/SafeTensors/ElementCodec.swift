// ElementCodec: one element of a stored tensor, between little-endian bytes and a number.
//
// Goals, in order: exact decoding (every float dtype widens to Double without rounding; integers are
// read as integers), then one place that knows each dtype's bit layout. Rounding happens only when
// encoding a Double into a narrower float dtype: round to nearest, ties to even, as a plain cast does.

/// Reads the elements of a tensor's bytes. `bytes.count` is `count × dtype.byteSize` (validated by the header).
struct ElementReader {
    let dtype: DType
    let bytes: UnsafeRawBufferPointer

    var count: Int { bytes.count / dtype.byteSize }

    private func load<T: FixedWidthInteger>(_ index: Int, as type: T.Type) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.size, as: T.self))
    }

    /// Element `index` of a floating-point dtype, widened exactly to Double; nil for other dtypes.
    func floatingPoint(_ index: Int) -> Double? {
        switch dtype {
        case .f64: Double(bitPattern: load(index, as: UInt64.self))
        case .f32: Double(Float(bitPattern: load(index, as: UInt32.self)))
        case .f16: Double(Float16(bitPattern: load(index, as: UInt16.self)))
        case .bf16: BFloat16(bitPattern: load(index, as: UInt16.self)).doubleValue
        case .f8e4m3: MiniFloatFormat.e4m3fn.decode(load(index, as: UInt8.self))
        case .f8e5m2: MiniFloatFormat.e5m2.decode(load(index, as: UInt8.self))
        case .i64, .i32, .u8, .i8, .bool: nil
        }
    }

    /// Element `index` of an integer dtype or BOOL (the stored byte, 0 or 1 when well formed); nil for floats.
    func integer(_ index: Int) -> Int64? {
        switch dtype {
        case .i64: load(index, as: Int64.self)
        case .i32: Int64(load(index, as: Int32.self))
        case .i8: Int64(load(index, as: Int8.self))
        case .u8, .bool: Int64(load(index, as: UInt8.self))
        case .f64, .f32, .f16, .bf16, .f8e4m3, .f8e5m2: nil
        }
    }
}

extension DType {
    /// The values an integer dtype (or BOOL) can hold; nil for floating-point dtypes.
    var integerRange: ClosedRange<Int64>? {
        switch self {
        case .i64: Int64.min...Int64.max
        case .i32: Int64(Int32.min)...Int64(Int32.max)
        case .u8: 0...255
        case .i8: -128...127
        case .bool: 0...1
        case .f64, .f32, .f16, .bf16, .f8e4m3, .f8e5m2: nil
        }
    }
}

/// Appends `value` to `bytes` in little-endian order.
func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
}
