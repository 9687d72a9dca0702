// Dot: the one inner product every float64 matrix product of the reference goes through.
//
// Goals, in order: a fixed summation order (the result never depends on the thread count or the caller),
// then speed: eight independent SIMD lanes, summed lane 0…7 at the end, then the tail in order.

/// `Σ a[i]·b[i]` over `count` elements: lane sums of 8-wide blocks, then the remainder.
@inlinable
func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ count: Int) -> Double {
    var lanes = SIMD8<Double>()
    var i = 0
    while i + 8 <= count {
        let x = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Double>.self)
        let y = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Double>.self)
        lanes += x * y
        i += 8
    }
    var sum = lanes.sum()
    while i < count {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}

/// `dot` over two arrays of equal length.
@inlinable
func dot(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "dot of \(a.count) and \(b.count) elements")
    return a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in dot(x.baseAddress!, y.baseAddress!, a.count) } }
}
