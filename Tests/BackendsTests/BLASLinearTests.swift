import Testing
import Backends
import Tensor

@Suite struct BLASLinearTests {
    /// The contract written as plain loops, accumulated in float64.
    func naiveLinear(_ x: Tensor<Double>, _ w: Tensor<Double>) -> Tensor<Double> {
        let (tokens, inputs, outputs) = (x.shape[0], x.shape[1], w.shape[0])
        var y = Tensor<Double>(shape: [tokens, outputs], repeating: 0)
        for t in 0..<tokens {
            for o in 0..<outputs {
                var sum = 0.0
                for i in 0..<inputs { sum += x[t, i] * w[o, i] }
                y[t, o] = sum
            }
        }
        return y
    }

    @Test(arguments: [(1, 1, 1), (3, 5, 7), (17, 64, 33), (5, 0, 4), (0, 8, 8)])
    func matchesTheLoopsInBothPrecisions(tokens: Int, inputs: Int, outputs: Int) throws {
        let weights = SyntheticWeights(seed: 3)
        let x = weights.normal("x", shape: [tokens, inputs], std: 1)
        let w = weights.normal("w", shape: [outputs, inputs], std: 0.1)
        let expected = naiveLinear(x, w)
        let y64 = try BLASLinear.apply(x, weight: w)
        #expect(y64.shape == [tokens, outputs])
        for (a, b) in zip(y64.scalars, expected.scalars) { #expect(abs(a - b) <= 1e-12 * max(1, abs(b))) }
        let y32 = try BLASLinear.apply(x.map(Float.init), weight: w.map(Float.init))
        // float32 accumulation over at most 64 products of magnitude ~0.3: well inside 1e-5 absolute.
        for (a, b) in zip(y32.scalars, expected.scalars) { #expect(abs(Double(a) - b) <= 1e-5) }
    }

    @Test func mismatchedShapesAreAClearError() {
        let x = Tensor<Float>(shape: [2, 3], repeating: 1), w = Tensor<Float>(shape: [4, 5], repeating: 1)
        #expect(throws: BackendShapeError(description:
            "linear: input [2, 3] does not fit weight [4, 5] (need [tokens, in] and [out, in])")) {
            try BLASLinear.apply(x, weight: w)
        }
    }
}
