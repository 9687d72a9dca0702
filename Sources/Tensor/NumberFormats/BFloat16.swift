// BFloat16: the 16-bit format of the checkpoint's unquantized tensors and of `hf-bf16` inference.

/// A bfloat16 value: the top 16 bits of a float32 (1 sign, 8 exponent, 7 mantissa bits).
public struct BFloat16: Sendable, Hashable, CustomStringConvertible {
    public var bitPattern: UInt16

    public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

    /// Rounds `value` to nearest, ties to even, once (see `BinaryFloatFormat.encode`). NaN and ±Inf are kept.
    public init(_ value: Double) {
        bitPattern = BinaryFloatFormat.bfloat16.encode(value, saturating: false)
    }

    /// Rounds a float32 to nearest, ties to even — what `tensor.to(torch.bfloat16)` does.
    public init(_ value: Float) { self.init(Double(value)) }

    /// The exact value, widened.
    public var floatValue: Float { Float(bitPattern: UInt32(bitPattern) << 16) }
    public var doubleValue: Double { Double(floatValue) }
    public var description: String { floatValue.description }

    /// `x` rounded to bfloat16 and widened back: the cast-and-return of bf16 inference.
    ///
    /// Fast path for results in bf16's normal range (every weight and activation in practice): round the float64
    /// significand to 8 bits, ties to even, on the bit pattern — a carry into the exponent is the correct result.
    /// Zeros, subnormals, overflow, Inf and NaN take the general encoder. Both paths are the same function
    /// (`bf16FastRoundingEqualsTheEncoder` checks both on every code, every midpoint and its neighbours).
    @inlinable
    public static func rounded(_ x: Double) -> Double {
        let magnitude = x.magnitude
        guard magnitude >= 0x1p-126, magnitude < 0x1.FFp127 else { return BFloat16(x).doubleValue }
        let dropped: UInt64 = 45                                     // 52 − 7 significand bits
        let bits = x.bitPattern
        let lowestKept = (bits >> dropped) & 1
        let rounded = (bits &+ ((1 << (dropped - 1)) - 1) &+ lowestKept) & ~((1 << dropped) - 1)
        return Double(bitPattern: rounded)
    }
}
