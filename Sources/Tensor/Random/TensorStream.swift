// TensorStream: the random stream of one named tensor, keyed by (seed, tensor name).
// Spec: spec/rng.md (eq. 4–7). Any port regenerates any element from these equations alone.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// FNV-1a, 64-bit, over the UTF-8 bytes of `text`: the stream id of a tensor name (eq. 4).
///
/// ```
/// h ← 0xcbf29ce484222325;  for each byte b: h ← (h ⊕ b) · 0x100000001b3  mod 2^64
/// ```
public func fnv1a64(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return hash
}

/// The uniform and normal variates of one tensor.
///
/// ```
/// key      = (seed mod 2^32, seed >> 32)                                   (eq. 5)
/// counter  = (b mod 2^32, b >> 32, h mod 2^32, h >> 32),  h = fnv1a64(name) for block b
/// x[4b + j] = Philox4x32-10(counter, key)[j],             j = 0…3
/// u[i]     = (x[i] + 0.5) / 2^32                          in (0, 1), exact   (eq. 6)
/// Box–Muller on the pairs (u[4b], u[4b+1]) and (u[4b+2], u[4b+3]):
///   z[2p]   = sqrt(−2 · ln u[2p]) · cos(τ · u[2p+1]),     τ = 6.283185307179586 (2π as a double)
///   z[2p+1] = sqrt(−2 · ln u[2p]) · sin(τ · u[2p+1])                         (eq. 7)
/// ```
/// Element i of the tensor (row-major) takes `z[i]`: a slice is generated without the rest.
public struct TensorStream: Sendable {
    public let key: SIMD2<UInt32>
    public let streamID: UInt64

    public init(seed: UInt64, name: String) {
        key = SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        streamID = fnv1a64(name)
    }

    /// The four raw outputs of block `b`.
    @inlinable
    public func block(_ b: UInt64) -> SIMD4<UInt32> {
        let counter = SIMD4(UInt32(truncatingIfNeeded: b), UInt32(truncatingIfNeeded: b >> 32),
                            UInt32(truncatingIfNeeded: streamID), UInt32(truncatingIfNeeded: streamID >> 32))
        return Philox4x32.block(counter: counter, key: key)
    }

    /// `x` mapped to (0, 1): (x + 0.5) / 2^32, exact in a double.
    @inlinable
    static func unitInterval(_ x: UInt32) -> Double { (Double(x) + 0.5) * 0x1p-32 }

    /// The four standard normal variates of block `b`: elements 4b … 4b+3.
    @inlinable
    public func normals(block b: UInt64) -> SIMD4<Double> {
        let x = block(b)
        let twoPi = 6.283185307179586
        let radius0 = (-2 * log(Self.unitInterval(x[0]))).squareRoot()
        let radius1 = (-2 * log(Self.unitInterval(x[2]))).squareRoot()
        let angle0 = twoPi * Self.unitInterval(x[1])
        let angle1 = twoPi * Self.unitInterval(x[3])
        return SIMD4(radius0 * cos(angle0), radius0 * sin(angle0), radius1 * cos(angle1), radius1 * sin(angle1))
    }

    /// Standard normal variates for the elements `range` of the tensor, in order.
    public func normals(_ range: Range<Int>) -> [Double] {
        [Double](unsafeUninitializedCapacity: range.count) { buffer, initialized in
            fill(range, into: buffer.baseAddress!) { $0 }
            initialized = range.count
        }
    }

    /// Writes `transform(z[i])` for every element i of `range`, in order, to `out[0..<range.count]`.
    @inlinable
    public func fill(_ range: Range<Int>, into out: UnsafeMutablePointer<Double>, _ transform: (Double) -> Double) {
        precondition(range.lowerBound >= 0, "negative element index \(range.lowerBound)")
        var i = range.lowerBound
        while i < range.upperBound {
            let block = i / 4
            let variates = normals(block: UInt64(block))
            for lane in (i % 4)..<min(4, range.upperBound - 4 * block) {
                out[4 * block + lane - range.lowerBound] = transform(variates[lane])   // element 4·block + lane
            }
            i = (i / 4 + 1) * 4
        }
    }
}
