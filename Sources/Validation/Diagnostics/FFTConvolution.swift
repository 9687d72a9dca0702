// Patch embedding computed a second way — spec/vision.md eq. (1) as a convolution theorem product:
//
//   y_{n,o}[u, v] = Σ_ch Σ_{i,j} W[o, ch, i, j] · x[n, ch, u + i, v + j]                  (cross-correlation)
//   Y_{n,o} = Σ_ch FFT(x_{n,ch}) · conj(FFT(W_{o,ch} zero-padded to H × W))               (circular, size H × W)
//   e[n, o, r, c] = y_{n,o}[r·p, c·p]                                                     (stride p, no wrap: r·p + i < H)
//
// The direct computation (im2col + one matrix product) and this one share nothing but the definition, so their
// agreement checks both. `assay diff --conv fft` runs a backend with this patch embedding in place of its own.

import MistralSmall4
import Tensor

public enum FFTConvolution {
    /// `pixels [N, C, H, W]`, `weight [Hv, C, p, p]` -> `[N, Hv, H/p, W/p]` in float64.
    public static func patchEmbedding(_ pixels: Tensor<Double>, weight: Tensor<Double>) -> Tensor<Double> {
        let (images, channels, height, width) = (pixels.shape[0], pixels.shape[1], pixels.shape[2], pixels.shape[3])
        let (hidden, p) = (weight.shape[0], weight.shape[2])
        let (rows, cols, plane) = (height / p, width / p, height * width)
        let shape = [height, width]
        func spectrum(_ values: ArraySlice<Double>, side: Int) -> [Complex] {   // a side × side block into H × W
            var padded = [Complex](repeating: (0, 0), count: plane)
            for (k, v) in values.enumerated() { padded[(k / side) * width + k % side] = (v, 0) }
            return FFT.transform(padded, shape: shape)
        }
        let kernels = (0..<(hidden * channels)).map { spectrum(weight.scalars[($0 * p * p)..<(($0 + 1) * p * p)], side: p) }
        var out = [Double](repeating: 0, count: images * hidden * rows * cols)
        for n in 0..<images {
            let inputs = (0..<channels).map { ch in
                FFT.transform(pixels.scalars[((n * channels + ch) * plane)..<((n * channels + ch + 1) * plane)].map { ($0, 0) },
                              shape: shape)
            }
            for o in 0..<hidden {
                var product = [Complex](repeating: (0, 0), count: plane)
                for ch in 0..<channels {
                    let (a, b) = (inputs[ch], kernels[o * channels + ch])
                    for k in 0..<plane {   // a · conj(b)
                        product[k].re += a[k].re * b[k].re + a[k].im * b[k].im
                        product[k].im += a[k].im * b[k].re - a[k].re * b[k].im
                    }
                }
                let correlation = FFT.transform(product, shape: shape, inverse: true)
                for r in 0..<rows {
                    for c in 0..<cols {
                        out[((n * hidden + o) * rows + r) * cols + c] = correlation[r * p * width + c * p].re / Double(plane)
                    }
                }
            }
        }
        return Tensor(shape: [images, hidden, rows, cols], scalars: out)
    }
}

/// Another backend with its patch embedding replaced by the FFT convolution (`assay diff --conv fft`).
public struct FFTConvolutionBackend: DelegatingBackend {
    public let base: any Backend
    public init(_ base: any Backend) { self.base = base }
    public var name: String { base.name + "+fft-conv" }

    public func patchEmbedding(_ pixels: Tensor<Double>, weight: Tensor<Double>) throws -> Tensor<Double> {
        FFTConvolution.patchEmbedding(pixels, weight: weight)
    }
}
