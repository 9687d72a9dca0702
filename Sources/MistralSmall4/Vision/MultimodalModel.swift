// The whole model (transformers' `Mistral3ForConditionalGeneration`): text decoder, and for a mistral3 config
// the vision tower and projector whose outputs replace the [IMG] embeddings — spec/projector.md eq. (6)–(7).

import Tensor

/// Mistral Small 4 over a weight store: text, or text and images.
public struct MultimodalModel: Sendable {
    public let text: TextDecoder

    public var store: any WeightStore { text.store }
    public var profile: PrecisionProfile { text.profile }

    public init(store: any WeightStore, profile: PrecisionProfile = .exact, algorithm: AttentionAlgorithm = .expanded) {
        text = TextDecoder(store: store, profile: profile, algorithm: algorithm)
    }

    /// A prefill of `inputs` with `images` (whose blocks `inputs` must hold, eq. 6), recording the vision,
    /// projector and text taps. Returns the logits [B, S, V].
    @discardableResult
    public func forward(_ inputs: ForwardInputs, images: VisionInputs?, taps: TapRecorder) throws -> Tensor<Double> {
        var caches = text.emptyCaches(batch: inputs.batch)
        var h = try text.embed(inputs, taps: taps)                                          // [B·S, H]
        if let images {
            guard let multimodal = store.config.multimodal else {
                throw InputError(field: "pixel_values", "the model is text-only (its config has no vision tower)")
            }
            let layout = ImageTokenLayout(multimodal)
            let patch = multimodal.vision.patchSize
            let patchGrids = images.grids(cellSide: patch)
            try layout.check(inputs.inputIds, grids: images.grids(cellSide: patch * multimodal.spatialMergeSize))
            let features = try VisionTower(config: multimodal, profile: profile)(images, store: store, taps: taps)
            let tokens = try Projector(config: store.config, profile: profile)(features, grids: patchGrids,
                                                                              store: store, taps: taps)
            h = layout.merge(h, ids: inputs.inputIds, features: tokens)                     // (7)
            taps.record(text.prefix + "#inputs_embeds", h.reshaped([inputs.batch, inputs.length, text.config.hiddenSize]))
        }
        return try text.forward(embeddings: h, inputs: inputs, caches: &caches, taps: taps)
    }
}
