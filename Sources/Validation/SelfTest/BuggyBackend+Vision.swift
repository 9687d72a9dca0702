// The vision-tower and projector plants of BuggyBackend (spec/vision.md, spec/projector.md): the weights as the
// port reads them, or the op with the port's activation. (The vision norms' ε is in BuggyBackend.rmsNorm.)

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MistralSmall4
import Tensor

extension BuggyBackend {
    public func visionAttention(_ x: Tensor<Double>, weights: VisionAttentionWeights, config: VisionConfig,
                                grids: PatchGrids) throws -> Tensor<Double> {
        guard bug == .visionQKPermutationSkipped else {
            return try base.visionAttention(x, weights: weights, config: config, grids: grids)
        }
        // The port rotates interleaved pairs of q/k rows still in the Hugging Face (half-split) order of eq. (14).
        let heads = config.numAttentionHeads
        let port = VisionAttentionWeights(query: VisionAttentionWeights.huggingFaceRows(weights.query, heads: heads),
                                          key: VisionAttentionWeights.huggingFaceRows(weights.key, heads: heads),
                                          value: weights.value, output: weights.output)
        return try base.visionAttention(x, weights: port, config: config, grids: grids)
    }

    public func patchMerger(_ x: Tensor<Double>, weight: Tensor<Double>, mergeSize: Int, grids: PatchGrids)
        throws -> Tensor<Double>
    {
        guard bug == .mergerChannelOrder else {
            return try base.patchMerger(x, weight: weight, mergeSize: mergeSize, grids: grids)
        }
        // The buggy port multiplies W by [p_0 | … | p_{s²−1}]; the reference multiplies by v[c·s² + q] (q = a·s + b).
        // Feeding the reference W'[:, c·s² + q] = W[:, q·Hv + c] computes exactly what the port does.
        let (hidden, blocks) = (weight.shape[0], mergeSize * mergeSize)
        let permuted = Tensor(shape: weight.shape, scalars: (0..<weight.count).map { i in
            let (row, column) = (i / weight.shape[1], i % weight.shape[1])
            return weight.scalars[row * weight.shape[1] + (column % blocks) * hidden + column / blocks]
        })
        return try base.patchMerger(x, weight: permuted, mergeSize: mergeSize, grids: grids)
    }

    public func projectorMLP(_ x: Tensor<Double>, linear1: Tensor<Double>, bias1: Tensor<Double>?,
                             linear2: Tensor<Double>, bias2: Tensor<Double>?) throws -> Tensor<Double> {
        guard bug == .projectorGELUTanh else {
            return try base.projectorMLP(x, linear1: linear1, bias1: bias1, linear2: linear2, bias2: bias2)
        }
        return Projector.mlp(x, linear1: linear1, bias1: bias1, linear2: linear2, bias2: bias2, profile: profile) { u in
            0.5 * u * (1 + tanh((2 / Double.pi).squareRoot() * (u + 0.044715 * u * u * u)))
        }
    }
}
