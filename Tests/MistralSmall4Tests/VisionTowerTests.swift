// The vision tower against second algorithms: a direct convolution, transformers' rotate-half attention on the
// Hugging Face q/k layout, and one image at a time against several in one call (block-diagonal attention).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
import Tensor
@testable import MistralSmall4

@Suite struct VisionTowerTests {
    let store = VisionFixtures.store
    var vision: VisionConfig { VisionFixtures.multimodal.vision }

    @Test func patchConvolutionEqualsADirectConvolution() throws {
        let images = try VisionFixtures.images([(56, 84), (28, 28)])
        let weight = try store.tensor("model.vision_tower.patch_conv.weight")       // [Hv, C, p, p]
        let grid = PatchEmbedding(weight: weight).convolve(images.pixelValues)
        let (hidden, p, shape) = (weight.shape[0], weight.shape[2], images.pixelValues.shape)
        #expect(grid.shape == [2, hidden, shape[2] / p, shape[3] / p])
        var worst = 0.0
        for n in 0..<2 { for o in 0..<hidden { for r in 0..<(shape[2] / p) { for c in 0..<(shape[3] / p) {
            var sum = 0.0
            for ch in 0..<3 { for i in 0..<p { for j in 0..<p {
                sum += weight[o, ch, i, j] * images.pixelValues[n, ch, r * p + i, c * p + j]
            } } }
            worst = max(worst, abs(sum - grid[n, o, r, c]))
        } } } }
        #expect(worst < 1e-13, "worst |direct − unrolled| = \(worst)")
    }

    @Test func imagesInOneCallEqualImagesAlone() throws {
        let sizes = [(56, 84), (112, 56), (28, 28)]
        let model = MultimodalModel(store: store)
        let together = try model.visionFeatures(try VisionFixtures.images(sizes), taps: TapRecorder())
        var alone = [Double]()
        for (index, size) in sizes.enumerated() {
            let images = try VisionFixtures.images([size], patterns: [index])
            alone += try model.visionFeatures(images, taps: TapRecorder()).scalars
        }
        #expect(together.shape == [4 * 6 + 8 * 4 + 2 * 2, vision.hiddenSize])
        let differing = zip(together.scalars, alone).filter { $0 != $1 }.count
        #expect(differing == 0, "\(differing) features depend on another image of the call")
    }

    @Test func permutedRowsRoundTrip() {
        let heads = 2, d = 8
        let rows = Tensor(shape: [heads * d, 3], scalars: (0..<(heads * d * 3)).map(Double.init))
        let hf = VisionAttentionWeights.huggingFaceRows(rows, heads: heads)
        #expect(VisionAttentionWeights.nativeRows(hf, heads: heads).scalars == rows.scalars)
        // transformers' converter: view(heads, d/2, 2, in).transpose(1, 2): HF row h·d + s·d/2 + i = native h·d + 2i + s
        for h in 0..<heads { for s in 0..<2 { for i in 0..<(d / 2) {
            #expect(hf[h * d + s * d / 2 + i, 0] == rows[h * d + 2 * i + s, 0])
        } } }
    }

    /// transformers' formulation, written independently: q/k rows in the HF layout, cos/sin = cat(ω, ω) with
    /// ω = cat(r · f[0::2], c · f[1::2]), x' = x·cos + rotate_half(x)·sin, one softmax per image.
    @Test func nativeAttentionEqualsTransformersRotateHalf() throws {
        let images = try VisionFixtures.images([(56, 84), (28, 56)])
        let grids = images.grids(cellSide: vision.patchSize)
        let prefix = "model.vision_tower.transformer.layers.1.attention"
        let weights = try VisionAttentionWeights(store, prefix: prefix, heads: vision.numAttentionHeads)
        let patches = grids.reduce(0) { $0 + $1.rows * $1.cols }
        let x = Tensor(shape: [patches, vision.hiddenSize],
                       scalars: (0..<(patches * vision.hiddenSize)).map { cos(Double($0) * 0.013) })
        let native = VisionAttention(weights: weights, config: vision)(x, grids: grids)

        let (heads, d, width) = (vision.numAttentionHeads, vision.headDim, vision.hiddenSize)
        let f = (0..<(d / 2)).map { 1 / pow(vision.ropeTheta, Double(2 * $0) / Double(d)) }
        func rotateHalf(_ m: Tensor<Double>) -> [Double] {
            var out = m.scalars
            var t = 0
            for g in grids { for r in 0..<g.rows { for c in 0..<g.cols {
                let omega = stride(from: 0, to: d / 2, by: 2).map { Double(r) * f[$0] }
                    + stride(from: 1, to: d / 2, by: 2).map { Double(c) * f[$0] }
                for h in 0..<heads {
                    let base = t * width + h * d
                    for i in 0..<d {
                        let rotated = i < d / 2 ? -m.scalars[base + i + d / 2] : m.scalars[base + i - d / 2]
                        let angle = omega[i % (d / 2)]
                        out[base + i] = m.scalars[base + i] * cos(angle) + rotated * sin(angle)
                    }
                }
                t += 1
            } } }
            return out
        }
        let q = rotateHalf(linear(x, try store.tensor(prefix + ".q_proj.weight")))
        let k = rotateHalf(linear(x, try store.tensor(prefix + ".k_proj.weight")))
        let v = linear(x, try store.tensor(prefix + ".v_proj.weight")).scalars
        var mixed = [Double](repeating: 0, count: patches * width)
        var start = 0
        for g in grids {
            let block = start..<(start + g.rows * g.cols)
            for t in block { for h in 0..<heads {
                let scores = block.map { s in
                    (0..<d).reduce(0.0) { $0 + q[t * width + h * d + $1] * k[s * width + h * d + $1] } / Double(d).squareRoot()
                }
                let top = scores.max()!
                let e = scores.map { exp($0 - top) }
                let total = e.reduce(0, +)
                for (index, s) in block.enumerated() { for i in 0..<d {
                    mixed[t * width + h * d + i] += e[index] / total * v[s * width + h * d + i]
                } }
            } }
            start = block.upperBound
        }
        let expected = linear(Tensor(shape: [patches, width], scalars: mixed), try store.tensor(prefix + ".o_proj.weight"))
        #expect(nmse(native.scalars, expected.scalars) < 1e-26)
    }

    @Test func featureLayerSelectsAHiddenState() throws {
        let images = try VisionFixtures.images([(56, 56)])
        func features(layer: Int, taps: TapRecorder = TapRecorder()) throws -> Tensor<Double> {
            var config = store.config
            config.multimodal!.visionFeatureLayer = layer
            return try MultimodalModel(store: SyntheticWeightStore(config: config, seed: 3)).visionFeatures(images, taps: taps)
        }
        let taps = TapRecorder()
        let last = try features(layer: -1, taps: taps)
        #expect(last.scalars == taps["model.vision_tower"]?.reals)
        #expect(try features(layer: 0).scalars == taps["model.vision_tower.ln_pre"]?.reals)
        #expect(try features(layer: -2).scalars == taps["model.vision_tower.transformer.layers.0"]?.reals)
    }
}
