// Bad vision inputs are refused naming the field and image; a whole multimodal forward runs and its taps have
// the shapes transformers' hooks see.

import Testing
import Tensor
@testable import MistralSmall4

@Suite struct VisionInputTests {
    let multimodal = VisionFixtures.multimodal

    func inputs(pixels shape: [Int], sizes: [Int], value: Double = 0.5) throws -> VisionInputs {
        try VisionInputs(pixelValues: Tensor(shape: shape, repeating: value),
                         imageSizes: Tensor(shape: [sizes.count / 2, 2], scalars: sizes), config: multimodal)
    }

    @Test(arguments: [
        ([1, 3, 56, 56], [56, 56, 28, 28], "image_sizes", "expected [1, 2]"),
        ([1, 4, 56, 56], [56, 56], "pixel_values", "expected [images ≥ 1, 3"),
        ([1, 3, 56, 56], [56, 42], "image_sizes", "not a positive multiple of 28"),
        ([1, 3, 56, 56], [0, 28], "image_sizes", "not a positive multiple of 28"),
        ([1, 3, 56, 56], [84, 56], "image_sizes", "exceeds pixel_values' height 56"),
        ([1, 3, 140, 56], [140, 56], "image_sizes", "exceeds the tower's image_size 112"),
    ])
    func badShapesAreNamed(pixels: [Int], sizes: [Int], field: String, message: String) {
        let error = #expect(throws: InputError.self) { try inputs(pixels: pixels, sizes: sizes) }
        #expect(error?.field == field)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
    }

    @Test func nonFinitePixelsInsideAnImageAreRefused() throws {
        let error = #expect(throws: InputError.self) { try inputs(pixels: [1, 3, 28, 28], sizes: [28, 28], value: .nan) }
        #expect(error?.message.contains("[0, 0, 0, 0]") == true)
        // The padding outside the image is never read.
        var pixels = Tensor<Double>(shape: [1, 3, 56, 56], repeating: 0)
        pixels.scalars[55] = .infinity
        _ = try VisionInputs(pixelValues: pixels, imageSizes: Tensor(shape: [1, 2], scalars: [28, 28]), config: multimodal)
    }

    @Test func multimodalForwardTapShapes() throws {
        let images = try VisionFixtures.images([(56, 84), (28, 56)])
        let layout = ImageTokenLayout(multimodal)
        let ids = try layout.expand(prompt: [1, 10, 40, 10, 41], grids: images.grids(cellSide: 28))
        let inputs = try ForwardInputs(inputIds: Tensor(shape: [1, ids.count], scalars: ids),
                                       config: VisionFixtures.store.config.text)
        let taps = TapRecorder()
        try MultimodalModel(store: VisionFixtures.store).forward(inputs, images: images, taps: taps)
        let (hv, h, patches) = (multimodal.vision.hiddenSize, VisionFixtures.store.config.text.hiddenSize, 24 + 8)
        #expect(taps["model.vision_tower.patch_conv"]?.shape == [2, hv, 4, 6])
        #expect(taps["model.vision_tower.ln_pre"]?.shape == [1, patches, hv])
        #expect(taps["model.vision_tower.transformer.layers.1.attention"]?.shape == [1, patches, hv])
        #expect(taps["model.multi_modal_projector.norm"]?.shape == [patches, hv])
        #expect(taps["model.multi_modal_projector.patch_merger"]?.shape == [patches / 4, hv])
        #expect(taps["model.multi_modal_projector"]?.shape == [patches / 4, h])
        let merged = try #require(taps["model.language_model#inputs_embeds"]?.reals)
        let projected = try #require(taps["model.multi_modal_projector"]?.reals)
        let firstImageRow = ids.firstIndex(of: 10)!
        #expect(Array(merged[(firstImageRow * h)..<((firstImageRow + 1) * h)]) == Array(projected[0..<h]))
    }

    @Test func imageTokensWithoutImagesAreRefused() throws {
        let inputs = try ForwardInputs(inputIds: Tensor(shape: [1, 3], scalars: [1, 10, 5]),
                                       config: VisionFixtures.store.config.text)
        let error = #expect(throws: InputError.self) {
            try MultimodalModel(store: VisionFixtures.store).forward(inputs, images: nil, taps: TapRecorder())
        }
        #expect(error == InputError(field: "input_ids", "image tokens (id 10 at sequence 0 token 1) but no image: give "
                                    + "each [IMG] block its image (pixel_values and image_sizes, or --image)"))
        let layout = ImageTokenLayout(multimodal)
        for token in [12, 13] {   // a stray [IMG_BREAK] or [IMG_END] too
            #expect(throws: InputError.self) {
                try layout.check(Tensor(shape: [1, 2], scalars: [1, token]), grids: [])
            }
        }
        try layout.check(Tensor(shape: [1, 2], scalars: [1, 14]), grids: [])
    }

    @Test func imagesForATextOnlyModelAreRefused() throws {
        var textOnly = try Preset.tiny.load()
        textOnly.multimodal = nil
        let store = SyntheticWeightStore(config: textOnly, seed: 0)
        let inputs = try ForwardInputs(inputIds: Tensor(shape: [1, 3], scalars: [1, 2, 3]), config: store.config.text)
        let images = try VisionFixtures.images([(28, 28)])
        let error = #expect(throws: InputError.self) {
            try MultimodalModel(store: store).forward(inputs, images: images, taps: TapRecorder())
        }
        #expect(error?.message.contains("text-only") == true)
    }

    @Test func hfBF16VisionStaysCloseToExact() throws {
        let images = try VisionFixtures.images([(56, 56)])
        let exact = try MultimodalModel(store: VisionFixtures.store).visionFeatures(images, taps: TapRecorder())
        let rounded = try MultimodalModel(store: VisionFixtures.store, profile: .hfBF16)
            .visionFeatures(images, taps: TapRecorder())
        let error = nmse(rounded.scalars, exact.scalars)
        #expect(error > 0 && error < 1e-3, "bf16 vision NMSE \(error)")
    }
}
