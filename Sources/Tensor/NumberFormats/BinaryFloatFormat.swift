// BinaryFloatFormat: exact decoding and round-to-nearest-even encoding for binary floating-point
// formats of up to 16 bits — bfloat16, float16, FP8 E4M3FN and E5M2, FP4 E2M1.
//
// Goals, in order: exactness (one rounding from the float64 input, ties to even, every special value
// as the format defines it), one algorithm for all formats (so the exhaustive tests of one vouch for
// the others), then clarity. Speed is secondary: bulk conversions are memory-bound anyway.
// Spec: spec/number-formats.md.

/// What a format does with its all-ones exponent field.
public enum SpecialValues: Sendable {
    /// IEEE 754 style: all-ones exponent is ±Inf (mantissa 0) or NaN (otherwise). bf16, f16, E5M2.
    case ieee
    /// "Finite and NaN" (OCP FP8 E4M3FN): only S.1111.111 is NaN; no Inf; the rest of that binade is finite.
    case nanOnly
    /// No Inf and no NaN (OCP FP4 E2M1): every code is finite; encoding always saturates.
    case none
}

/// A sign–exponent–mantissa format with `1 + exponentBits + mantissaBits` bits, codes held in a UInt16.
///
/// ```
/// value(code) = (-1)^s · 2^(E − bias) · (1 + M / 2^m)      for E ≥ 1   (normal)
///             = (-1)^s · 2^(1 − bias) · (M / 2^m)          for E = 0   (subnormal)
/// ```
public struct BinaryFloatFormat: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let exponentBits: Int
    public let mantissaBits: Int
    public let bias: Int
    public let specials: SpecialValues

    public static let bfloat16 = BinaryFloatFormat(name: "bfloat16", exponentBits: 8, mantissaBits: 7, bias: 127, specials: .ieee)
    public static let float16 = BinaryFloatFormat(name: "float16", exponentBits: 5, mantissaBits: 10, bias: 15, specials: .ieee)
    public static let float8E4M3FN = BinaryFloatFormat(name: "float8_e4m3fn", exponentBits: 4, mantissaBits: 3, bias: 7, specials: .nanOnly)
    public static let float8E5M2 = BinaryFloatFormat(name: "float8_e5m2", exponentBits: 5, mantissaBits: 2, bias: 15, specials: .ieee)
    public static let float4E2M1 = BinaryFloatFormat(name: "float4_e2m1fn", exponentBits: 2, mantissaBits: 1, bias: 1, specials: .none)

    public var description: String { name }
    public var bitWidth: Int { 1 + exponentBits + mantissaBits }
    public var codeCount: Int { 1 << bitWidth }
    var signBit: UInt16 { 1 << UInt16(exponentBits + mantissaBits) }
    var exponentFieldMax: Int { (1 << exponentBits) - 1 }
    var mantissaFieldMax: Int { (1 << mantissaBits) - 1 }
    /// Exponent of the smallest normal number, 1 − bias; subnormals share it.
    var minimumExponent: Int { 1 - bias }

    /// The largest finite value: 448 for E4M3FN, 57344 for E5M2, 6 for E2M1, 65504 for float16.
    public var maxFinite: Double { decode(maxFiniteCode) }

    /// The code of `maxFinite`: the top exponent field that holds finite values, with the largest
    /// mantissa it allows (all ones, or all ones but the last for E4M3FN, whose all-ones code is NaN).
    var maxFiniteCode: UInt16 {
        let topField = specials == .ieee ? exponentFieldMax - 1 : exponentFieldMax
        let topMantissa = specials == .nanOnly ? mantissaFieldMax - 1 : mantissaFieldMax
        return UInt16(topField << mantissaBits | topMantissa)
    }

    /// The code that a non-saturating cast gives for a positive overflow: +Inf, or NaN for E4M3FN.
    /// E2M1 has neither and saturates.
    var overflowCode: UInt16 {
        switch specials {
        case .ieee: UInt16(exponentFieldMax << mantissaBits)
        case .nanOnly: UInt16(exponentFieldMax << mantissaBits | mantissaFieldMax)
        case .none: maxFiniteCode
        }
    }

    /// The canonical quiet NaN (sign clear), e.g. 0x7FC0 for bfloat16, 0x7F for E4M3FN.
    /// E2M1 has no NaN; see `encode`.
    var nanCode: UInt16 {
        switch specials {
        case .ieee: UInt16(exponentFieldMax << mantissaBits | 1 << (mantissaBits - 1))
        case .nanOnly: UInt16(exponentFieldMax << mantissaBits | mantissaFieldMax)
        case .none: 0
        }
    }

    /// The exact value of `code` (its low `bitWidth` bits).
    public func decode(_ code: UInt16) -> Double {
        let negative = code & signBit != 0
        let exponentField = Int(code >> UInt16(mantissaBits)) & exponentFieldMax
        let mantissa = Int(code) & mantissaFieldMax
        let magnitude: Double
        switch (specials, exponentField, mantissa) {
        case (.ieee, exponentFieldMax, 0): magnitude = .infinity
        case (.ieee, exponentFieldMax, _): return .nan
        case (.nanOnly, exponentFieldMax, mantissaFieldMax): return .nan
        case (_, 0, _): magnitude = Double(sign: .plus, exponent: minimumExponent - mantissaBits, significand: Double(mantissa))
        default:
            magnitude = Double(sign: .plus, exponent: exponentField - bias - mantissaBits,
                               significand: Double((1 << mantissaBits) + mantissa))
        }
        return negative ? -magnitude : magnitude
    }

    /// The code nearest to `x`, ties to the even code, rounding once from the float64 value.
    ///
    /// Overflow: with `saturating` the result is ±maxFinite (the clamp-then-cast of quantizers);
    /// without, ±Inf (IEEE formats) or NaN (E4M3FN), as a plain dtype cast gives. E2M1 always saturates.
    /// NaN encodes as the format's quiet NaN with x's sign; E2M1 has no NaN and encodes it as +0
    /// (callers quantizing to FP4 must reject NaN first: spec/number-formats.md).
    ///
    /// Note: PyTorch and ml_dtypes convert float64 through float32, rounding twice; to reproduce them
    /// pass `Double(Float(x))`.
    public func encode(_ x: Double, saturating: Bool) -> UInt16 {
        if x.isNaN { return specials == .none ? 0 : nanCode | (x.sign == .minus ? signBit : 0) }
        let sign: UInt16 = x.sign == .minus ? signBit : 0
        let overflow = saturating ? maxFiniteCode : overflowCode
        let magnitude = x.magnitude
        // Anything at or above twice the largest finite value overflows; checking first keeps the
        // scaled value below finite range in the division that follows.
        if magnitude >= 2 * maxFinite { return sign | overflow }
        if magnitude == 0 { return sign }
        // The spacing of representable values around `magnitude`: 2^(e − m), with e clamped to the
        // subnormal exponent. magnitude / quantum is exact (a power-of-two scaling).
        let exponent = max(Int(magnitude.exponent), minimumExponent)
        let quantum = Double(sign: .plus, exponent: exponent - mantissaBits, significand: 1)
        let steps = (magnitude / quantum).rounded(.toNearestOrEven)
        let rounded = steps * quantum
        if rounded > maxFinite { return sign | overflow }
        if rounded < Double(sign: .plus, exponent: minimumExponent, significand: 1) {
            return sign | UInt16(steps)  // subnormal (or zero): exponent field 0, mantissa = steps
        }
        let roundedExponent = Int(rounded.exponent)  // one higher than `exponent` when rounding carried
        let mantissa = Int(rounded / Double(sign: .plus, exponent: roundedExponent - mantissaBits, significand: 1))
            - (1 << mantissaBits)
        return sign | UInt16((roundedExponent + bias) << mantissaBits | mantissa)
    }

    /// `x` rounded to the nearest value of this format (see `encode`), as a Double.
    public func rounded(_ x: Double, saturating: Bool) -> Double {
        decode(encode(x, saturating: saturating))
    }
}
