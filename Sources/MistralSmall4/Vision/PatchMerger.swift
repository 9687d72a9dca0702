// Patch merger — spec/projector.md eq. (2)–(3):
//
//   v_{i,j}[c·s² + a·s + b] = x[(s·i + a) · cols + (s·j + b)][c]     a, b < s: an s × s block of patches   (2)
//   m_{i,j} = W_merge · v_{i,j}                                        W_merge [Hv, Hv·s²]                  (3)
//
// The (c, a, b) channel order is torch's `unfold` over the [Hv, rows, cols] grid (for s = 2: v[4c + 2a + b]);
// merged tokens are taken block-row-major, image after image.

import Tensor

/// Merges each s × s block of patches into one token.
public struct PatchMerger: Sendable {
    /// [Hv, Hv·s²]
    public let weight: Tensor<Double>
    /// s, the side of a merged block.
    public let mergeSize: Int

    public init(weight: Tensor<Double>, mergeSize: Int) {
        self.weight = weight
        self.mergeSize = mergeSize
    }

    /// `x [P, Hv]` (each image's patches consecutive, row-major over `grids`) `-> [P / s², Hv]`.
    public func callAsFunction(_ x: Tensor<Double>, grids: [(rows: Int, cols: Int)],
                               _ profile: PrecisionProfile = .exact) -> Tensor<Double> {
        profile.roundedAsActivations(linear(Self.unfold(x, grids: grids, mergeSize: mergeSize), weight))   // (3)
    }

    /// Eq. (2): each s × s block of patches as one row `v`. `x [P, Hv] -> [P / s², Hv·s²]`.
    public static func unfold(_ x: Tensor<Double>, grids: [(rows: Int, cols: Int)], mergeSize s: Int) -> Tensor<Double> {
        let hidden = x.shape[1]
        var unfolded = [Double]()
        unfolded.reserveCapacity(x.count)
        var start = 0
        for grid in grids {
            for i in 0..<(grid.rows / s) {
                for j in 0..<(grid.cols / s) {
                    for c in 0..<hidden {
                        for a in 0..<s {
                            for b in 0..<s {                               // (2)
                                unfolded.append(x.scalars[(start + (s * i + a) * grid.cols + s * j + b) * hidden + c])
                            }
                        }
                    }
                }
            }
            start += grid.rows * grid.cols
        }
        return Tensor(shape: [unfolded.count / (hidden * s * s), hidden * s * s], scalars: unfolded)
    }
}
