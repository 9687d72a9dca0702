// `assay preprocess`: images to the `pixel_values` and `image_sizes` the vision tower takes (spec/preprocessing.md).

import ArgumentParser
import MistralSmall4
import Tensor

struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Preprocess images as transformers' Pixtral processor does and write pixel_values and image_sizes.",
        discussion: """
            Each IMAGE (PNG or binary PPM; transparency composited onto white) is scaled down to fit the vision \
            tower's image_size if larger, its sides rounded up to a multiple of patch_size × spatial_merge_size, \
            resized with torch's antialiased bicubic, rescaled by 1/255 and normalized with CLIP's mean and std \
            (spec/preprocessing.md). OUTPUT gets pixel_values [images, 3, H, W] (zero-padded to the largest image) \
            and image_sizes [images, 2] (I64), written atomically. Only the config is read; no weights are touched. \
            A bad image or a config without a vision tower prints one line and exits 1.
            """)

    @OptionGroup var source: ModelSourceOptions

    @Option(name: .customLong("image"), help: "An image file (PNG or binary PPM); repeat for a batch, in order.")
    var images: [String] = []

    @Option(help: "Where to write pixel_values and image_sizes (written atomically).")
    var output: String

    @Option(help: "Stored dtype of pixel_values: f32 or f64.")
    var dtype: TapDType = .f32

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one --image") }
    }

    func run() throws {
        let config = try source.config()
        guard let multimodal = config.multimodal else {
            throw ConfigError(file: config.source.fileName, message: "the model is text-only (its config has no "
                              + "vision tower), so it takes no images")
        }
        let loaded = try images.map { path throws(ImageError) in try RGBImage.load(path: path) }
        let batch = ImagePreprocessor(multimodal)(loaded)
        try SafeTensorsWriter.write([
            try StoredTensor(name: "pixel_values", encoding: batch.pixelValues, as: dtype.dtype),
            try StoredTensor(name: "image_sizes", encoding: batch.imageSizes, as: .i64),
        ], to: output)
    }
}
