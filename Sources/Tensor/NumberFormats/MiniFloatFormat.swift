// MiniFloatFormat: the 8-bit and 4-bit formats of quantized checkpoints, with byte-sized codes.

/// An FP8 or FP4 format: E4M3FN (the checkpoint's weights and activations), E5M2, E2M1 (NVFP4 values).
/// A thin byte-coded view of `BinaryFloatFormat`, which holds the rounding rules.
public struct MiniFloatFormat: Sendable, Hashable, CustomStringConvertible {
    public let format: BinaryFloatFormat

    /// OCP FP8 E4M3FN: max 448, NaN = 0x7F/0xFF, no Inf.
    public static let e4m3fn = MiniFloatFormat(format: .float8E4M3FN)
    /// OCP FP8 E5M2: max 57344, IEEE-style Inf and NaN.
    public static let e5m2 = MiniFloatFormat(format: .float8E5M2)
    /// OCP FP4 E2M1: values ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}, no Inf or NaN; codes use the low nibble.
    public static let e2m1 = MiniFloatFormat(format: .float4E2M1)

    public var description: String { format.name }
    public var maxFinite: Double { format.maxFinite }

    /// The exact value of `code`.
    public func decode(_ code: UInt8) -> Double { format.decode(UInt16(code)) }

    /// The nearest code to `x`, ties to even; overflow saturates to ±max or, without `saturating`,
    /// gives the plain cast's result (NaN for E4M3FN, ±Inf for E5M2). See `BinaryFloatFormat.encode`.
    public func encode(_ x: Double, saturating: Bool) -> UInt8 { UInt8(format.encode(x, saturating: saturating)) }

    /// `x` rounded to this format, as a Double.
    public func rounded(_ x: Double, saturating: Bool) -> Double { format.rounded(x, saturating: saturating) }
}
