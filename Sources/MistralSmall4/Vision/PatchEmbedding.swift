// Patch embedding — spec/vision.md eq. (1)–(2).
//
//   e[n, o, r, c] = Σ_{ch, i, j} W[o, ch, i, j] · x[n, ch, r·p + i, c·p + j]     conv, kernel = stride = p, no bias (1)
//   E = [ e[n, :, r, c]  for each image n, r < h_n/p, c < w_n/p (row-major) ]    the images' patches, [P, Hv]   (2)
//
// Eq. (1) is computed as one matrix product: each patch unrolled in the weight's (ch, i, j) order is a row of
// `[patches, C·p·p]`, times `W [Hv, C·p·p]ᵀ`.

import Tensor

/// The patch convolution `patch_conv.weight [Hv, C, p, p]`.
public struct PatchEmbedding: Sendable {
    /// [Hv, C·p·p]: each output channel's kernel unrolled in (channel, row, column) order.
    public let kernel: Tensor<Double>
    public let patchSize: Int

    /// `weight [Hv, C, p, p]`.
    public init(weight: Tensor<Double>) {
        precondition(weight.rank == 4 && weight.shape[2] == weight.shape[3], "patch convolution weight \(weight.shape)")
        kernel = weight.reshaped([weight.shape[0], weight.shape[1] * weight.shape[2] * weight.shape[3]])
        patchSize = weight.shape[2]
    }

    /// Eq. (1) over the whole canvas: `pixels [N, C, H, W] -> [N, Hv, H/p, W/p]` (floor division, as a strided
    /// convolution drops a partial patch), what transformers' `patch_conv` module returns. Under `hf-bf16` the
    /// pixels are rounded to bf16 first, as transformers casts `pixel_values` to the weights' dtype.
    public func convolve(_ pixels: Tensor<Double>, _ profile: PrecisionProfile = .exact) -> Tensor<Double> {
        let (images, rows, cols) = (pixels.shape[0], pixels.shape[2] / patchSize, pixels.shape[3] / patchSize)
        let embedded = profile.roundedAsActivations(linear(unrolled(profile.roundedAsActivations(pixels)), kernel))     // [N·rows·cols, Hv]
        return Self.grid(embedded, images: images, rows: rows, cols: cols)
    }

    /// `[N·rows·cols, Hv]` (cells row-major, image after image) `-> [N, Hv, rows, cols]`.
    public static func grid(_ embedded: Tensor<Double>, images: Int, rows: Int, cols: Int) -> Tensor<Double> {
        let cells = (0..<images).flatMap { n in (0..<rows).flatMap { r in (0..<cols).map { c in (n, r, c) } } }
        let hidden = embedded.shape[1]
        var out = [Double](repeating: 0, count: embedded.count)
        for (index, cell) in cells.enumerated() {   // [cell, Hv] -> [n, Hv, r, c]
            for o in 0..<hidden {
                out[((cell.0 * hidden + o) * rows + cell.1) * cols + cell.2] = embedded.scalars[index * hidden + o]
            }
        }
        return Tensor(shape: [images, hidden, rows, cols], scalars: out)
    }

    /// Eq. (2): the patches inside each image of `grids` (in patches), image by image, row-major, from a `convolve`
    /// output `grid [N, Hv, rows, cols]`. `[P, Hv]`
    public static func imagePatches(_ grid: Tensor<Double>, grids: PatchGrids) -> Tensor<Double> {
        let (hidden, rows, cols) = (grid.shape[1], grid.shape[2], grid.shape[3])
        var out = [Double]()
        for (n, (height, width)) in grids.enumerated() {
            for r in 0..<height {
                for c in 0..<width {
                    for o in 0..<hidden { out.append(grid.scalars[((n * hidden + o) * rows + r) * cols + c]) }
                }
            }
        }
        return Tensor(shape: [out.count / hidden, hidden], scalars: out)
    }

    /// Each cell's p × p patch of every channel as one row, in the kernel's (channel, row, column) order, cells
    /// row-major image after image (partial patches dropped). `pixels [N, C, H, W] -> [cells, C·p·p]`.
    public func unrolled(_ pixels: Tensor<Double>) -> Tensor<Double> {
        let (channels, height, width, p) = (pixels.shape[1], pixels.shape[2], pixels.shape[3], patchSize)
        let (gridRows, gridCols) = (height / p, width / p)
        let cells = (0..<pixels.shape[0]).flatMap { n in (0..<gridRows).flatMap { r in (0..<gridCols).map { c in (n, r, c) } } }
        var rows = [Double]()
        rows.reserveCapacity(cells.count * channels * p * p)
        for (n, r, c) in cells {
            for ch in 0..<channels {
                for i in 0..<p {
                    let start = ((n * channels + ch) * height + r * p + i) * width + c * p
                    rows += pixels.scalars[start..<(start + p)]
                }
            }
        }
        return Tensor(shape: [cells.count, channels * p * p], scalars: rows)
    }
}
