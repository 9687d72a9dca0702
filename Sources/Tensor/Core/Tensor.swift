// Tensor: a shape plus contiguous row-major storage.
//
// Goals, in order: exact and obvious indexing, then small helpers that read well in layer code.
// Shapes are validated where data enters Assay (file readers, configs); inside the library a wrong
// shape is a programming error and traps with a message naming both shapes.

/// A dense tensor stored row-major: the last index varies fastest.
///
/// ```
/// offset(i0, i1, …, iN) = ((i0 · d1 + i1) · d2 + …) · dN + iN
/// ```
public struct Tensor<Scalar: Sendable>: Sendable {
    /// Extent of each axis, outermost first. A scalar tensor has shape `[]` and one element.
    public let shape: [Int]
    /// The elements in row-major order; `scalars.count == shape.reduce(1, *)`.
    public var scalars: [Scalar]

    /// Wraps `scalars` as a tensor of `shape`. Traps if the counts differ.
    public init(shape: [Int], scalars: [Scalar]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        precondition(
            Shape.elementCount(shape) == scalars.count,
            "shape \(shape) holds \(Shape.elementCount(shape) ?? -1) elements, given \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of `shape` with every element `value`.
    public init(shape: [Int], repeating value: Scalar) {
        guard let count = Shape.elementCount(shape) else { preconditionFailure("shape \(shape) overflows Int") }
        self.init(shape: shape, scalars: Array(repeating: value, count: count))
    }

    public var rank: Int { shape.count }
    public var count: Int { scalars.count }

    /// Row-major strides: `strides[k]` is the distance between neighbours along axis k.
    public var strides: [Int] { Shape.strides(shape) }

    /// The flat offset of a multi-index. Traps on a wrong rank or an index out of range.
    @inlinable
    public func offset(_ indices: [Int]) -> Int {
        precondition(indices.count == shape.count, "index rank \(indices.count) for tensor of shape \(shape)")
        var flat = 0
        for axis in 0..<shape.count {
            let i = indices[axis]
            precondition(i >= 0 && i < shape[axis], "index \(indices) out of range for shape \(shape)")
            flat = flat * shape[axis] + i
        }
        return flat
    }

    /// Element access by multi-index: `t[b, s, h]`.
    public subscript(_ indices: Int...) -> Scalar {
        get { scalars[offset(indices)] }
        set { scalars[offset(indices)] = newValue }
    }

    /// The same elements under a new shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// Sub-tensor `self[range, ...]`: a contiguous run of the outermost axis.
    public func slice(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0],
                     "slice \(range) out of range for shape \(shape)")
        let inner = Shape.elementCount(Array(shape.dropFirst()))!
        let elements = scalars[(range.lowerBound * inner)..<(range.upperBound * inner)]
        return Tensor(shape: [range.count] + shape.dropFirst(), scalars: Array(elements))
    }

    /// The matrix transpose of a rank-2 tensor: `[r, c] -> [c, r]`.
    public func transposed() -> Tensor {
        precondition(rank == 2, "transposed() needs a rank-2 tensor, shape is \(shape)")
        let (rows, cols) = (shape[0], shape[1])
        var out = [Scalar]()
        out.reserveCapacity(count)
        for c in 0..<cols {
            for r in 0..<rows { out.append(scalars[r * cols + c]) }
        }
        return Tensor(shape: [cols, rows], scalars: out)
    }

    /// Applies `transform` to every element, keeping the shape.
    public func map<T: Sendable>(_ transform: (Scalar) throws -> T) rethrows -> Tensor<T> {
        Tensor<T>(shape: shape, scalars: try scalars.map(transform))
    }
}

extension Tensor: Equatable where Scalar: Equatable {}

/// Shape arithmetic that reports overflow instead of trapping, for validating untrusted headers.
public enum Shape {
    /// The product of the extents, or nil when an extent is negative or the product overflows Int.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var total = 1
        for extent in shape {
            guard extent >= 0 else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: extent)
            if overflow { return nil }
            total = product
        }
        return total
    }

    /// Row-major strides of `shape`.
    public static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= shape[axis]
        }
        return strides
    }

    /// `[2, 3, 4]` rendered as `[2, 3, 4]`, the form every error message uses.
    public static func describe(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }
}
