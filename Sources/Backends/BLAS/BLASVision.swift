// The vision tower's own ops in float32 — spec/vision.md eq. (1), (7)–(10): the patch convolution as im2col + one
// sgemm, and attention confined to each image with 2D RoPE, per head as sgemms.

import MistralSmall4
import Tensor

extension BLASBackend {
    /// Eq. (1): `pixels [N, C, H, W]`, `weight [Hv, C, p, p]` -> `[N, Hv, H/p, W/p]`.
    public func patchEmbedding(_ pixels: Tensor<Double>, weight: Tensor<Double>) throws -> Tensor<Double> {
        let embedding = PatchEmbedding(weight: weight)
        let columns = Matrix(embedding.unrolled(pixels))                                 // im2col [cells, C·p·p]
        let cells = Kernels.linear(columns, Matrix(embedding.kernel))                     // [cells, Hv]
        let p = embedding.patchSize
        return PatchEmbedding.grid(cells.tensor(), images: pixels.shape[0], rows: pixels.shape[2] / p,
                                   cols: pixels.shape[3] / p)
    }

    /// Eq. (7)–(10): `x [P, Hv] -> [P, Hv]`, images' patches consecutive per `grids`.
    public func visionAttention(_ x: Tensor<Double>, weights: VisionAttentionWeights, config: VisionConfig,
                                grids: PatchGrids) throws -> Tensor<Double> {
        let input = Matrix(x)
        let (heads, width) = (config.numAttentionHeads, input.cols)
        let d = width / heads
        var q = Kernels.linear(input, Matrix(weights.query)), k = Kernels.linear(input, Matrix(weights.key))   // (8)
        let v = Kernels.linear(input, Matrix(weights.value))
        let rope = VisionRoPE(headDim: d, theta: config.ropeTheta)
        var start = 0
        var mixed = Matrix(rows: input.rows, cols: width)
        for grid in grids {
            let block = start..<(start + grid.rows * grid.cols)
            for (offset, t) in block.enumerated() {                                       // (7), interleaved pairs
                let (cosines, sines) = rope.angles(row: offset / grid.cols, col: offset % grid.cols)
                for h in 0..<heads {
                    Self.rotatePairs(&q.values, at: t * width + h * d, cos: cosines, sin: sines)
                    Self.rotatePairs(&k.values, at: t * width + h * d, cos: cosines, sin: sines)
                }
            }
            let scale = 1 / Float(d).squareRoot()
            for h in 0..<heads {
                let columns = (h * d)..<((h + 1) * d)
                var scores = Kernels.linear(q.rows(block).columns(columns), k.rows(block).columns(columns))   // (9)
                for i in 0..<block.count {
                    var row = scores.values[(i * block.count)..<((i + 1) * block.count)]
                    for j in row.indices { row[j] *= scale }
                    Kernels.softmax(&row) { _ in true }
                    scores.values.replaceSubrange((i * block.count)..<((i + 1) * block.count), with: row)
                }
                let out = Kernels.product(scores, v.rows(block).columns(columns))
                for (i, t) in block.enumerated() {
                    mixed.values.replaceSubrange((t * width + h * d)..<(t * width + (h + 1) * d),
                                                 with: out.values[(i * d)..<((i + 1) * d)])
                }
            }
            start = block.upperBound
        }
        return Kernels.linear(mixed, Matrix(weights.output)).tensor()                       // (10)
    }

    /// Eq. (7) in place on one head at `offset`: pairs (x[2j], x[2j+1]) stay interleaved.
    static func rotatePairs(_ x: inout [Float], at offset: Int, cos: [Double], sin: [Double]) {
        for j in 0..<cos.count {
            let (u, v) = (x[offset + 2 * j], x[offset + 2 * j + 1])
            let (c, s) = (Float(cos[j]), Float(sin[j]))
            x[offset + 2 * j] = u * c - v * s
            x[offset + 2 * j + 1] = v * c + u * s
        }
    }
}
