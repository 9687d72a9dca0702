// DType: the element types Assay reads and writes, named as safetensors names them.

/// An element type of a stored tensor. The raw value is the safetensors `dtype` string.
public enum DType: String, CaseIterable, Sendable, Codable {
    case f64 = "F64"
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case f8e4m3 = "F8_E4M3"
    case f8e5m2 = "F8_E5M2"
    case i64 = "I64"
    case i32 = "I32"
    case u8 = "U8"
    case i8 = "I8"
    case bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16: 2
        case .f8e4m3, .f8e5m2, .u8, .i8, .bool: 1
        }
    }

    /// True for the floating-point types (the ones a tap or weight may hold).
    public var isFloatingPoint: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16, .f8e4m3, .f8e5m2: true
        case .i64, .i32, .u8, .i8, .bool: false
        }
    }

    /// The dtype named `name`, or nil for a name safetensors does not define or Assay does not read.
    public init?(safetensorsName name: String) { self.init(rawValue: name) }
}
