// The Pixtral vision tower (transformers' `PixtralVisionModel`) — spec/vision.md eq. (1)–(13):
//
//   E  = patches(conv(pixel_values))        eq. (1)–(2)                          [P, Hv]
//   s⁰ = RMSNorm_pre(E)                     ln_pre, ε = 1e-5                      (3)
//   sˡ⁺¹ = Block_l(sˡ)                      l = 0 … L−1, eq. (11)–(12)            (4)
//   features = s^k,  k = vision_feature_layer mod (L + 1)   (−1: the last block's output)   (13)
//
// Patches of all images run in one sequence, image after image, attention confined to each image (eq. 9).

import Tensor

extension GraphRun {
    /// The tower's output feature for each patch of `images`, image by image, row-major: `[P, Hv]`.
    func visionTower(_ images: VisionInputs) throws -> Flow {
        let multimodal = config.multimodal!
        let grids = images.grids(cellSide: multimodal.vision.patchSize)
        let conv = paths.tap(.patchConv)
        let grid = try op(.patchEmbedding, conv, Flow(.real(images.pixelValues))) {                       // (1)
            try backend.patchEmbedding($0, weight: try store.tensor(conv.weight))
        }
        let lnPre = paths.tap(.lnPre)
        var states = [try op(.rmsNorm, lnPre, grid) {                                                     // (2), (3)
            let patches = PatchEmbedding.imagePatches($0, grids: grids)
            return try backend.rmsNorm(patches, weight: try store.tensor(lnPre.weight), epsilon: visionNormEpsilon)
        }]
        for layer in 0..<multimodal.vision.numHiddenLayers {
            states.append(try visionBlock(layer, states[layer], grids: grids))                            // (4)
        }
        _ = try assembled(paths.tap(.visionTower), [states[states.count - 1]]) { $0[0] }
        return states[multimodal.featureState]                                                            // (13)
    }

    /// Vision blocks `layers` alone from captured states `h [P, Hv]` of the patches of images of `grids` (in
    /// patches, image after image): what `assay forward --vision-layers` runs. Returns `[P, Hv]`.
    public func visionLayers(_ layers: ClosedRange<Int>, hidden h: Tensor<Double>, grids: PatchGrids) throws
        -> Tensor<Double>
    {
        let vision = config.multimodal!.vision
        precondition(layers.upperBound < vision.numHiddenLayers
                     && h.shape == [grids.map { $0.rows * $0.cols }.reduce(0, +), vision.hiddenSize],
                     "visionLayers: layers \(layers), hidden \(h.shape)")
        var h = Flow(.real(h))
        for layer in layers { h = try visionBlock(layer, h, grids: grids) }
        return try own(h).realValue
    }
}

extension MultimodalConfig {
    /// Eq. (13): which of the tower's L + 1 states (ln_pre's, then each block's) feeds the projector.
    public var featureState: Int {
        let states = vision.numHiddenLayers + 1
        return visionFeatureLayer < 0 ? visionFeatureLayer + states : visionFeatureLayer
    }
}
