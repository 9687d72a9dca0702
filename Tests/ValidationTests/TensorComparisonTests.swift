import Testing
import Tensor
import Validation

@Suite struct TensorComparisonTests {
    func compare(_ a: [Double], _ b: [Double], shape: [Int]? = nil) throws -> TensorComparison {
        try TensorComparison(candidate: Tensor(shape: shape ?? [a.count], scalars: a),
                             reference: Tensor(shape: shape ?? [b.count], scalars: b), relativeFloor: 1e-6)
    }

    @Test func identicalTensorsAreExact() throws {
        let c = try compare([1, -2, 3.5], [1, -2, 3.5])
        #expect(c.nmse == 0 && c.maxAbsoluteError == 0 && c.maxRelativeError == 0 && c.cosine == 1)
    }

    @Test func metricsOfAWorkedExample() throws {
        // a = [1, 2, 3], b = [1, 2, 4]: Σ(a−b)² = 1, Σb² = 21, a·b = 17, Σa² = 14.
        let c = try compare([1, 2, 3, 0, 0, 0], [1, 2, 4, 0, 0, 0], shape: [2, 3])
        #expect(c.nmse == 1.0 / 21)
        #expect(c.maxAbsoluteError == 1 && c.maxRelativeError == 0.25)
        #expect(abs(c.cosine - 17 / (14.0 * 21).squareRoot()) < 1e-15)
        #expect(c.worstIndex == [0, 2] && c.worstCandidate == 3 && c.worstReference == 4)
    }

    @Test func relativeErrorUsesTheFloorNearZero() throws {
        let c = try compare([1e-9], [0])
        #expect(c.maxRelativeError == 1e-9 / 1e-6)
        #expect(c.nmse == .infinity)  // any error against an all-zero reference
    }

    @Test func nanNeverPassesAndIsLocated() throws {
        let c = try compare([1, .nan, 5, .infinity], [1, 2, 3, 4], shape: [2, 2])
        #expect(c.nmse.isNaN && c.maxAbsoluteError.isNaN && c.cosine.isNaN)
        #expect(c.worstIndex == [0, 1])
        #expect(c.candidateNaNs == 1 && c.candidateInfinities == 1 && c.referenceNaNs == 0)
    }

    @Test func shapesMustMatch() {
        #expect(throws: ComparisonError.shapeMismatch(candidate: [2, 3], reference: [3, 2])) {
            try TensorComparison(candidate: Tensor(shape: [2, 3], repeating: 0), reference: Tensor(shape: [3, 2], repeating: 0),
                                 relativeFloor: 1e-6)
        }
        #expect(ComparisonError.shapeMismatch(candidate: [2, 3], reference: [3, 2]).description
                == "shape [2, 3] does not match the reference's [3, 2]")
    }
}
