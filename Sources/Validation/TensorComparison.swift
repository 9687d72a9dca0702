// TensorComparison: how far a candidate tensor is from its reference, in the metrics every Assay
// verdict uses (spec/conformance.md §2; tolerances in spec/tolerances.json).
//
// Goals, in order: metrics that mean the same thing for every tap and port, NaN and Inf never
// hidden, then one pass over the data. Sums run in float64 in element order, so a comparison is
// deterministic.

import Tensor

/// A candidate compared with a reference of the same shape.
///
/// ```
/// nmse    = Σ (a − b)² / Σ b²                           (0 when both are all zero)
/// maxAbs  = max |a − b|
/// maxRel  = max |a − b| / max(|b|, floor)
/// cosine  = Σ a·b / sqrt(Σ a² · Σ b²)                   (1 when both are all zero)
/// ```
/// with `a` the candidate and `b` the reference. Any NaN in either makes `nmse`, `maxAbs`,
/// `maxRel` and `cosine` NaN, and the worst element is the first NaN: a NaN never passes a limit.
public struct TensorComparison: Sendable, Equatable {
    public let shape: [Int]
    public let nmse: Double
    public let maxAbsoluteError: Double
    public let maxRelativeError: Double
    public let cosine: Double
    /// Multi-index of the element with the largest |a − b| (the first NaN, if any); empty for no elements.
    public let worstIndex: [Int]
    public let worstCandidate: Double
    public let worstReference: Double
    public let candidateNaNs: Int
    public let candidateInfinities: Int
    public let referenceNaNs: Int
    public let referenceInfinities: Int

    /// Compares `candidate` with `reference`; `relativeFloor` keeps the relative error of
    /// near-zero reference elements finite.
    public init(candidate: Tensor<Double>, reference: Tensor<Double>, relativeFloor: Double) throws(ComparisonError) {
        guard candidate.shape == reference.shape else {
            throw ComparisonError.shapeMismatch(candidate: candidate.shape, reference: reference.shape)
        }
        var errorSquares = 0.0, referenceSquares = 0.0, candidateSquares = 0.0, dot = 0.0
        var maxAbsolute = 0.0, maxRelative = 0.0
        var worst = -1, sawNaN = false
        var counts = (candidateNaN: 0, candidateInf: 0, referenceNaN: 0, referenceInf: 0)
        for (i, (a, b)) in zip(candidate.scalars, reference.scalars).enumerated() {
            if a.isNaN { counts.candidateNaN += 1 } else if a.isInfinite { counts.candidateInf += 1 }
            if b.isNaN { counts.referenceNaN += 1 } else if b.isInfinite { counts.referenceInf += 1 }
            let difference = a - b
            if difference.isNaN {
                if !sawNaN { worst = i; sawNaN = true }
                continue
            }
            errorSquares += difference * difference
            referenceSquares += b * b
            candidateSquares += a * a
            dot += a * b
            let absolute = difference.magnitude
            maxRelative = max(maxRelative, absolute / max(b.magnitude, relativeFloor))
            if !sawNaN && (worst < 0 || absolute > maxAbsolute) { worst = i }
            maxAbsolute = max(maxAbsolute, absolute)
        }
        shape = reference.shape
        if sawNaN {
            (nmse, maxAbsoluteError, maxRelativeError, cosine) = (.nan, .nan, .nan, .nan)
        } else {
            nmse = referenceSquares > 0 ? errorSquares / referenceSquares : (errorSquares == 0 ? 0 : .infinity)
            maxAbsoluteError = maxAbsolute
            maxRelativeError = maxRelative
            let norms = (candidateSquares * referenceSquares).squareRoot()
            cosine = norms > 0 ? dot / norms : (candidateSquares == referenceSquares ? 1 : 0)
        }
        worstIndex = worst < 0 ? [] : Self.multiIndex(worst, shape: shape)
        worstCandidate = worst < 0 ? 0 : candidate.scalars[worst]
        worstReference = worst < 0 ? 0 : reference.scalars[worst]
        (candidateNaNs, candidateInfinities) = (counts.candidateNaN, counts.candidateInf)
        (referenceNaNs, referenceInfinities) = (counts.referenceNaN, counts.referenceInf)
    }

    static func multiIndex(_ flat: Int, shape: [Int]) -> [Int] {
        zip(shape, Shape.strides(shape)).map { extent, stride in (flat / stride) % extent }
    }
}

/// Why two tensors could not be compared.
public enum ComparisonError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(candidate: [Int], reference: [Int])

    public var description: String {
        switch self {
        case let .shapeMismatch(candidate, reference):
            "shape \(Shape.describe(candidate)) does not match the reference's \(Shape.describe(reference))"
        }
    }
}
