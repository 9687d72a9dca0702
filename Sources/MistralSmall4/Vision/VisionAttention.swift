// Vision self-attention, block-diagonal over images — spec/vision.md eq. (8)–(10).
//
//   q, k, v = W_q·x, W_k·x, W_v·x             per head h: d = head_dim values; q, k rotated by eq. (7)      (8)
//   a_{t,h} = softmax_{s ∈ image(t)} (q_{t,h} · k_{s,h} / √d)   a patch sees every patch of its own image   (9)
//   y_t = W_o · concat_h Σ_s a_{t,h,s} v_{s,h}                                                            (10)
//
// transformers builds one [P, P] additive mask with the dtype's lowest value outside each image's block; its
// softmax weights there are exactly 0, so attending within the block alone is the same computation.

import Tensor

/// Multi-head attention of one Pixtral block.
public struct VisionAttention: Sendable {
    public let weights: VisionAttentionWeights
    public let heads: Int
    public let rope: VisionRoPE
    public let profile: PrecisionProfile

    public init(weights: VisionAttentionWeights, config: VisionConfig, profile: PrecisionProfile = .exact) {
        self.weights = weights
        heads = config.numAttentionHeads
        rope = VisionRoPE(headDim: config.headDim, theta: config.ropeTheta, profile: profile)
        self.profile = profile
    }

    /// `x [P, Hv]`, `grids`: the (rows, cols) patch grid of each image, whose patches lie consecutively in `x`,
    /// row-major. Returns `[P, Hv]`.
    public func callAsFunction(_ x: Tensor<Double>, grids: [(rows: Int, cols: Int)]) -> Tensor<Double> {
        let (patches, width) = (x.shape[0], x.shape[1])
        let q = rotated(profile.roundedAsActivations(linear(x, weights.query)), grids: grids)                   // (8)
        let k = rotated(profile.roundedAsActivations(linear(x, weights.key)), grids: grids)
        let v = profile.roundedAsActivations(linear(x, weights.value))
        var mixed = [Double](repeating: 0, count: patches * width)
        var start = 0
        for grid in grids {
            let block = start..<(start + grid.rows * grid.cols)
            MultiplyAddCounter.record(2 * block.count * block.count * width)   // (9) q·k and P·v, every head
            mixed.withUnsafeMutableBufferPointer { out in
                nonisolated(unsafe) let out = out
                parallelChunks(block.count, work: block.count * block.count * width) { chunk in
                    for t in chunk { attend(query: block.lowerBound + t, keys: block, q, k, v, into: out.baseAddress!) }
                }
            }
            start = block.upperBound
        }
        return profile.roundedAsActivations(linear(Tensor(shape: [patches, width], scalars: mixed), weights.output))   // (10)
    }

    /// Eq. (9)–(10) before W_o for token `t` over `keys`, every head: writes `out[t, :]`.
    private func attend(query t: Int, keys: Range<Int>, _ q: Tensor<Double>, _ k: Tensor<Double>,
                        _ v: Tensor<Double>, into out: UnsafeMutablePointer<Double>) {
        let width = q.shape[1]
        let d = width / heads
        let scale = 1 / Double(d).squareRoot()
        q.scalars.withUnsafeBufferPointer { qs in
            k.scalars.withUnsafeBufferPointer { ks in
                v.scalars.withUnsafeBufferPointer { vs in
                    for h in 0..<heads {
                        let scores = keys.map { s in
                            profile.roundedAsActivation(profile.roundedAsActivation(
                                dot(qs.baseAddress! + t * width + h * d, ks.baseAddress! + s * width + h * d, d)) * scale)
                        }
                        let probabilities = profile.softmax(scores)                                  // (9)
                        let row = out + t * width + h * d
                        for i in 0..<d { row[i] = 0 }
                        for (index, s) in keys.enumerated() {
                            for i in 0..<d { row[i] += probabilities[index] * vs[s * width + h * d + i] }
                        }
                        for i in 0..<d { row[i] = profile.roundedAsActivation(row[i]) }
                    }
                }
            }
        }
    }

    /// Eq. (7) on every head of `x [P, Hv]`, patch t at its (row, col) inside its image.
    private func rotated(_ x: Tensor<Double>, grids: [(rows: Int, cols: Int)]) -> Tensor<Double> {
        var scalars = x.scalars
        let d = x.shape[1] / heads
        let positions = grids.flatMap { g in (0..<(g.rows * g.cols)).map { (row: $0 / g.cols, col: $0 % g.cols) } }
        scalars.withUnsafeMutableBufferPointer { buffer in
            for (t, position) in positions.enumerated() {
                let (cos, sin) = rope.angles(row: position.row, col: position.col)
                for h in 0..<heads { rope.rotate(buffer.baseAddress! + (t * heads + h) * d, cos: cos, sin: sin) }
            }
        }
        return Tensor(shape: x.shape, scalars: scalars)
    }
}
