// The Pixtral vision tower (transformers' `PixtralVisionModel`) — spec/vision.md eq. (1)–(13):
//
//   E  = patches(conv(pixel_values))        eq. (1)–(2)                          [P, Hv]
//   s⁰ = RMSNorm_pre(E)                     ln_pre, ε = 1e-5                      (3)
//   sˡ⁺¹ = Block_l(sˡ)                      l = 0 … L−1, eq. (11)–(12)            (4)
//   features = s^k,  k = vision_feature_layer mod (L + 1)   (−1: the last block's output)   (13)
//
// Patches of all images run in one sequence, image after image, attention confined to each image (eq. 9).

import Tensor

/// The vision encoder over a weight store.
public struct VisionTower: Sendable {
    public let config: MultimodalConfig
    public let profile: PrecisionProfile
    public static let prefix = "model.vision_tower"

    public init(config: MultimodalConfig, profile: PrecisionProfile = .exact) {
        self.config = config
        self.profile = profile
    }

    /// The tower's output feature for each patch of `inputs`, image by image, row-major: `[P, Hv]`.
    public func callAsFunction(_ inputs: VisionInputs, store: some WeightStore, taps: TapRecorder)
        throws(WeightError) -> Tensor<Double>
    {
        let vision = config.vision
        let prefix = Self.prefix
        let embedding = PatchEmbedding(weight: try store.tensor(prefix + ".patch_conv.weight"))
        let grid = embedding.convolve(inputs.pixelValues, profile)                                        // (1)
        taps.record(prefix + ".patch_conv", grid)
        let grids = inputs.grids(cellSide: vision.patchSize)
        let patches = embedding.imagePatches(grid, inputs)                                                // (2)
        let lnPre = RMSNorm(weight: try store.tensor(prefix + ".ln_pre.weight"), epsilon: VisionBlock.normEpsilon)
        var states = [lnPre(patches, profile)]                                                            // (3)
        taps.record(prefix + ".ln_pre", states[0].reshaped([1] + patches.shape))
        for index in 0..<vision.numHiddenLayers {
            states.append(try block(index)(states[index], grids: grids, store: store, taps: taps))         // (4)
        }
        taps.record(prefix, states[vision.numHiddenLayers].reshaped([1] + patches.shape))
        let k = config.visionFeatureLayer
        return states[k < 0 ? k + states.count : k]                                                       // (13)
    }

    /// Block `index` of the transformer.
    func block(_ index: Int) -> VisionBlock {
        VisionBlock(prefix: "\(Self.prefix).transformer.layers.\(index)", config: config.vision, profile: profile)
    }

    /// Blocks `layers` alone, eq. (4), from captured states `h [P, Hv]` of the patches of images of `grids` (in
    /// patches, image after image): what `assay forward --vision-layers` runs. Returns `[P, Hv]`.
    public func forward(layers: ClosedRange<Int>, hidden h: Tensor<Double>, grids: [(rows: Int, cols: Int)],
                        store: some WeightStore, taps: TapRecorder) throws(WeightError) -> Tensor<Double> {
        precondition(layers.upperBound < config.vision.numHiddenLayers
                     && h.shape == [grids.map { $0.rows * $0.cols }.reduce(0, +), config.vision.hiddenSize],
                     "forward(layers:): layers \(layers), hidden \(h.shape)")
        var h = h
        for index in layers { h = try block(index)(h, grids: grids, store: store, taps: taps) }
        return h
    }
}
