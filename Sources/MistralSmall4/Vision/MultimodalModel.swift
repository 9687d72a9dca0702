// The whole model (transformers' `Mistral3ForConditionalGeneration`): text decoder, and for a mistral3 config
// the vision tower and projector whose outputs replace the [IMG] embeddings — spec/projector.md eq. (6)–(7).

import Tensor

extension GraphRun {
    /// The whole model on the run's inputs and `images` (whose blocks the ids must hold, eq. 6): the logits.
    @discardableResult
    public func model(images: VisionInputs?) throws -> Flow {
        let embedded = try embed()                                                                    // [B·S, H]
        guard let images else {
            // A multimodal model's ids without images must hold no image token (eq. 6: every block needs its image).
            if let multimodal = config.multimodal { try ImageTokenLayout(multimodal).check(inputs.inputIds, grids: []) }
            return try textModel(from: embedded)
        }
        guard let multimodal = config.multimodal else {
            throw InputError(field: "pixel_values", "the model is text-only (its config has no vision tower)")
        }
        let layout = ImageTokenLayout(multimodal)
        let patch = multimodal.vision.patchSize
        try layout.check(inputs.inputIds, grids: images.grids(cellSide: patch * multimodal.spatialMergeSize))
        let features = try visionTower(images)
        let tokens = try projector(features, grids: images.grids(cellSide: patch))
        let merged = try assembled(paths.tap(.inputsEmbeds), [embedded, tokens]) {                     // (7)
            layout.merge($0[0], ids: inputs.inputIds, features: $0[1])
        }
        return try textModel(from: merged)
    }
}

/// Mistral Small 4 over a weight store, through the reference backend: text, or text and images.
public struct MultimodalModel: Sendable {
    public let text: TextDecoder

    public var store: any WeightStore { text.store }
    public var profile: PrecisionProfile { text.profile }

    public init(store: any WeightStore, profile: PrecisionProfile = .exact, algorithm: AttentionAlgorithm = .expanded) {
        text = TextDecoder(store: store, profile: profile, algorithm: algorithm)
    }

    /// A prefill of `inputs` with `images`, recording the vision, projector and text taps. Returns the logits
    /// [B, S, V].
    @discardableResult
    public func forward(_ inputs: ForwardInputs, images: VisionInputs?, taps: TapRecorder) throws -> Tensor<Double> {
        let run = text.run(inputs, taps: taps)
        return try run.own(try run.model(images: images)).realValue.reshaped([inputs.batch, inputs.length, text.config.vocabSize])
    }

    /// The vision tower alone on `images`: its taps, and the features the projector takes `[P, Hv]`.
    public func visionFeatures(_ images: VisionInputs, taps: TapRecorder) throws -> Tensor<Double> {
        let run = try imageRun(taps)
        return try run.own(try run.visionTower(images)).realValue
    }

    /// The tower and projector on `images`: the image tokens `[P/s², H]`.
    public func imageTokens(_ images: VisionInputs, taps: TapRecorder) throws -> Tensor<Double> {
        let run = try imageRun(taps)
        let grids = images.grids(cellSide: store.config.multimodal!.vision.patchSize)
        return try run.own(try run.projector(try run.visionTower(images), grids: grids)).realValue
    }

    /// Vision blocks `layers` alone from captured patch states `h [P, Hv]` (`grids` in patches).
    public func visionLayers(_ layers: ClosedRange<Int>, hidden h: Tensor<Double>, grids: PatchGrids,
                             taps: TapRecorder) throws -> Tensor<Double> {
        let run = try imageRun(taps)
        return try run.visionLayers(layers, hidden: h, grids: grids)
    }

    /// A run for the vision path alone (its token inputs unused).
    private func imageRun(_ taps: TapRecorder) throws -> GraphRun {
        text.run(try ForwardInputs(inputIds: Tensor(shape: [1, 1], repeating: 0), config: text.config), taps: taps)
    }
}
