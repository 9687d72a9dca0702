// Image preprocessing — spec/preprocessing.md §2–§5, eqs. (2)–(3) and (9)–(10).
//
// What transformers' `PixtralImageProcessor` (its default torchvision backend, on the CPU) does for Mistral 3:
// the processor passes patch_size · spatial_merge_size (28) as the patch size and the tower's image_size (1540) as
// the longest edge. With L the longest edge and m the patch multiple, an h × w image becomes H × W:
//
//   r = max(h / L, w / L);   h' = ⌊h / r⌋, w' = ⌊w / r⌋ when r > 1, else h, w (float64)    scale down only  (2)
//   H = (⌊(h' − 1) / m⌋ + 1) · m,   W likewise                       round up to a multiple of m     (3)
//   resized = BicubicResize(image, H, W)                            eqs. (4)–(8), BicubicResize.swift
//   v[c, y, x] = (resized[y, x, c] / 255 − μ_c) / σ_c                 rescale and normalize (float64) (9)
//   pixel_values[n] = v of image n at the top left of a max H × max W canvas of zeros             (10)
//
// An oversize image is scaled down, never refused; a small one is scaled up to the next multiple of m. A side
// that eq. (2) floors to 0 (aspect ratio beyond L : 1) is kept at 1 pixel, where transformers fails.

import Tensor

/// The processor's output for a batch of images.
public struct PreprocessedImages: Sendable {
    /// [images, 3, maxH, maxW]: eq. (9), zero-padded on the right and bottom (eq. 10).
    public let pixelValues: Tensor<Double>
    /// [images, 2]: each image's (height, width) after eq. (3).
    public let imageSizes: Tensor<Int>
}

/// Pixtral's image processor with a model's settings.
public struct ImagePreprocessor: Sendable {
    /// μ of eq. (9), per channel R, G, B (CLIP's, transformers' `image_mean`).
    public static let mean: [Double] = [0.48145466, 0.4578275, 0.40821073]
    /// σ of eq. (9), per channel R, G, B (transformers' `image_std`).
    public static let std: [Double] = [0.26862954, 0.26130258, 0.27577711]

    /// L of eq. (2): the vision tower's `image_size`.
    public let longestEdge: Int
    /// m of eq. (3): `patch_size · spatial_merge_size`.
    public let multiple: Int

    public init(_ multimodal: MultimodalConfig) {
        longestEdge = multimodal.vision.imageSize
        multiple = multimodal.vision.patchSize * multimodal.spatialMergeSize
    }

    /// Eqs. (2)–(3): the size an h × w image is resized to.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        var (h, w) = (height, width)
        let ratio = max(Double(h) / Double(longestEdge), Double(w) / Double(longestEdge))
        if ratio > 1 {
            h = max(Int((Double(h) / ratio).rounded(.down)), 1)
            w = max(Int((Double(w) / ratio).rounded(.down)), 1)
        }
        return (((h - 1) / multiple + 1) * multiple, ((w - 1) / multiple + 1) * multiple)
    }

    /// Eqs. (2)–(10) for each image, in order.
    public func callAsFunction(_ images: [RGBImage]) -> PreprocessedImages {
        let sizes = images.map { outputSize(height: $0.height, width: $0.width) }
        let canvas = (height: sizes.map(\.height).max() ?? 0, width: sizes.map(\.width).max() ?? 0)
        var values = [Double](repeating: 0, count: images.count * 3 * canvas.height * canvas.width)
        for (n, (image, size)) in zip(images, sizes).enumerated() {
            let resized = BicubicResize.resize(image, height: size.height, width: size.width)
            for c in 0..<3 {
                for y in 0..<size.height {
                    for x in 0..<size.width {
                        let level = Double(resized.pixels[(y * size.width + x) * 3 + c])
                        values[((n * 3 + c) * canvas.height + y) * canvas.width + x] =
                            (level / 255 - Self.mean[c]) / Self.std[c]
                    }
                }
            }
        }
        return PreprocessedImages(
            pixelValues: Tensor(shape: [images.count, 3, canvas.height, canvas.width], scalars: values),
            imageSizes: Tensor(shape: [images.count, 2], scalars: sizes.flatMap { [$0.height, $0.width] }))
    }
}
