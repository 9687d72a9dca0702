// VisionInputs: the images of one forward call as the vision tower takes them — spec/vision.md §3.
//
// `pixel_values` [N, C, H, W] holds N preprocessed images, each in the top-left corner of an H × W canvas padded
// with anything (transformers' processor pads with 0); `image_sizes` [N, 2] gives each image's (height, width) in
// pixels. Only the image area is read, except by the `patch_conv` tap, which shows the convolution over the
// whole canvas as transformers' module computes it.

import Tensor

/// A batch of preprocessed images, checked against the vision config.
public struct VisionInputs: Sendable, Equatable {
    /// [N, C, H, W]
    public let pixelValues: Tensor<Double>
    /// (height, width) of each image in pixels, each side a multiple of patch_size × spatial_merge_size.
    public let imageSizes: [ImageSize]

    /// One image's extent in pixels.
    public struct ImageSize: Sendable, Equatable {
        public let height: Int
        public let width: Int
    }

    public var count: Int { imageSizes.count }

    /// Validates shapes and sizes, naming the field and image at fault:
    /// - `pixel_values` is [N ≥ 1, num_channels, H, W] of finite values inside each image;
    /// - `image_sizes` is [N, 2]; each side is a positive multiple of patch_size · spatial_merge_size (what every
    ///   processor produces, so that patches merge without remainder), at most the canvas side and at most
    ///   `image_size` (the tower's largest image; a processor scales larger images down).
    public init(pixelValues: Tensor<Double>, imageSizes: Tensor<Int>, config: MultimodalConfig) throws(InputError) {
        let vision = config.vision
        let shape = pixelValues.shape
        guard shape.count == 4, shape[0] > 0, shape[1] == vision.numChannels, shape[2] > 0, shape[3] > 0 else {
            throw InputError(field: "pixel_values", "shape \(Shape.describe(shape)), expected [images ≥ 1, "
                             + "\(vision.numChannels), height, width]")
        }
        let sizes = try Self.checkedSizes(imageSizes, images: shape[0], canvas: (shape[2], shape[3]), config: config)
        self.pixelValues = pixelValues
        self.imageSizes = sizes
        if let bad = firstNonFinitePixel() {
            throw InputError(field: "pixel_values", "element \(bad) inside image \(bad[0]) is not finite")
        }
    }

    /// Each image's rows and columns of `side` × `side` cells: its patches (side = patch_size) or its merged
    /// tokens (side = patch_size · spatial_merge_size).
    public func grids(cellSide side: Int) -> [(rows: Int, cols: Int)] {
        Self.grids(imageSizes, cellSide: side)
    }

    /// `grids(cellSide:)` of images of `sizes`.
    public static func grids(_ sizes: [ImageSize], cellSide side: Int) -> [(rows: Int, cols: Int)] {
        sizes.map { ($0.height / side, $0.width / side) }
    }

    /// `image_sizes` [images, 2] checked: each side a positive multiple of patch_size · spatial_merge_size, at most
    /// the `canvas` side (when there are pixels) and at most the tower's `image_size`.
    public static func checkedSizes(_ imageSizes: Tensor<Int>, images: Int, canvas: (height: Int, width: Int)?,
                                    config: MultimodalConfig) throws(InputError) -> [ImageSize] {
        let vision = config.vision
        guard imageSizes.shape == [images, 2], images > 0 else {
            throw InputError(field: "image_sizes", "shape \(Shape.describe(imageSizes.shape)), expected "
                             + "[\(images), 2]: one (height, width) per image" + (canvas == nil ? "" : " of pixel_values"))
        }
        let multiple = vision.patchSize * config.spatialMergeSize
        var sizes = [ImageSize]()
        for image in 0..<images {
            let size = ImageSize(height: imageSizes.scalars[2 * image], width: imageSizes.scalars[2 * image + 1])
            for (side, value, canvas) in [("height", size.height, canvas?.height), ("width", size.width, canvas?.width)] {
                guard value > 0, value % multiple == 0 else {
                    throw InputError(field: "image_sizes", "image \(image) \(side) \(value) is not a positive "
                                     + "multiple of \(multiple) (patch_size \(vision.patchSize) × spatial_merge_size "
                                     + "\(config.spatialMergeSize))")
                }
                guard value <= canvas ?? value, value <= vision.imageSize else {
                    throw InputError(field: "image_sizes", "image \(image) \(side) \(value) exceeds "
                                     + (value > canvas ?? value ? "pixel_values' \(side) \(canvas ?? 0)"
                                        : "the tower's image_size \(vision.imageSize)"))
                }
            }
            sizes.append(size)
        }
        return sizes
    }

    /// The [image, channel, y, x] of the first NaN or infinity inside an image's area, if any.
    private func firstNonFinitePixel() -> [Int]? {
        let (channels, height, width) = (pixelValues.shape[1], pixelValues.shape[2], pixelValues.shape[3])
        for (n, size) in imageSizes.enumerated() {
            for c in 0..<channels {
                for y in 0..<size.height {
                    let row = ((n * channels + c) * height + y) * width
                    if let x = (0..<size.width).first(where: { !pixelValues.scalars[row + $0].isFinite }) {
                        return [n, c, y, x]
                    }
                }
            }
        }
        return nil
    }
}
