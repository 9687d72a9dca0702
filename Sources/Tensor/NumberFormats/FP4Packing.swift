// FP4Packing: two E2M1 codes per byte, as NVFP4 checkpoints store them.

/// Packs and unpacks 4-bit codes: element 2k in the low nibble of byte k, element 2k+1 in the high nibble.
///
/// ```
/// byte[k] = code[2k] | code[2k + 1] << 4
/// ```
public enum FP4Packing {
    /// Packs codes (each < 16) into ⌈n/2⌉ bytes; an odd count leaves the last high nibble zero.
    public static func pack(_ codes: [UInt8]) -> [UInt8] {
        precondition(codes.allSatisfy { $0 < 16 }, "FP4 codes must fit in 4 bits")
        return stride(from: 0, to: codes.count, by: 2).map { k in
            codes[k] | (k + 1 < codes.count ? codes[k + 1] << 4 : 0)
        }
    }

    /// The first `count` codes held in `bytes`. Traps if `bytes` is too short for `count`.
    public static func unpack(_ bytes: [UInt8], count: Int) -> [UInt8] {
        precondition(count >= 0 && (count + 1) / 2 <= bytes.count, "\(bytes.count) bytes hold fewer than \(count) FP4 codes")
        return (0..<count).map { i in i.isMultiple(of: 2) ? bytes[i / 2] & 0x0F : bytes[i / 2] >> 4 }
    }
}
