// Antialiased bicubic resize of 8-bit images — spec/preprocessing.md §3, eqs. (4)–(8).
//
// What torchvision's `resize(uint8 image, antialias=True, BICUBIC)` computes on the CPU: it hands the uint8 tensor
// to torch's `_upsample_bicubic2d_aa`, whose uint8 kernel (UpSampleKernel.cpp) computes each axis's weights in
// float64, rounds them to fixed point, and resamples in integers — width first into a uint8 intermediate, then
// height. This file reproduces it exactly; the weights are float64 as in torch.
//
// For one axis resized from n to m samples, output i (s = n/m):
//
//   σ = 2·max(s, 1),   κ = 1 / max(s, 1),   cᵢ = s·(i + 0.5)                          support, scale, centre  (4)
//   lo = max(trunc(cᵢ − σ + 0.5), 0),   hi = min(trunc(cᵢ + σ + 0.5), n)           taps j = 0 ..< hi − lo   (5)
//   uᵢⱼ = k((j + lo − cᵢ + 0.5)·κ),   wᵢⱼ = uᵢⱼ / Σⱼ uᵢⱼ                           float64 weights         (6)
//   Wᵢⱼ = wᵢⱼ·2^p rounded half away from zero,   p = min(22, largest p with
//         trunc(0.5 + w_max·2^p) < 2^15),   w_max = the largest wᵢⱼ of the axis     fixed point (int16)     (7)
//   yᵢ = clamp(⌊(2^(p−1) + Σⱼ Wᵢⱼ·x[lo + j]) / 2^p⌋, 0, 255)                        integer resample        (8)
//
// k is Keys' cubic with a = −0.5: (a+2)|x|³ − (a+3)|x|² + 1 for |x| < 1, a|x|³ − 5a|x|² + 8a|x| − 4a for
// 1 ≤ |x| < 2, else 0. An axis whose size does not change is not resampled.

/// torch's antialiased bicubic resize of uint8 images (CPU kernel), exactly.
enum BicubicResize {
    /// The fixed-point taps of one axis: output i reads inputs `start[i] ..< start[i] + weights[i].count`.
    struct AxisWeights: Equatable {
        /// [m]: lo of eq. (5).
        let start: [Int]
        /// [m][taps]: W of eq. (7).
        let weights: [[Int]]
        /// p of eq. (7).
        let precision: Int
    }

    /// Keys' cubic convolution kernel with a = −0.5, as torch's `HelperInterpCubic::aa_filter` evaluates it.
    static func cubic(_ x: Double) -> Double {
        let a = -0.5
        let x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return 0
    }

    /// Eqs. (4)–(7) for an axis resized from `input` to `output` samples.
    static func axisWeights(input: Int, output: Int) -> AxisWeights {
        let scale = Double(input) / Double(output)
        let support = scale >= 1 ? 2 * scale : 2
        let invScale = scale >= 1 ? 1 / scale : 1
        let maxTaps = Int(support.rounded(.up)) * 2 + 1
        var starts = [Int](), real = [[Double]]()
        for i in 0..<output {
            let center = scale * (Double(i) + 0.5)
            let lo = max(Int(center - support + 0.5), 0)
            let taps = min(max(min(Int(center + support + 0.5), input) - lo, 0), maxTaps)
            let raw = (0..<taps).map { j in cubic((Double(j + lo) - center + 0.5) * invScale) }
            let total = raw.reduce(0, +)
            starts.append(lo)
            real.append(total == 0 ? raw.map { _ in 0 } : raw.map { $0 / total })
        }
        let largest = real.joined().max() ?? 0
        var precision = 0
        while precision < 22, Int(0.5 + largest * Double(1 << (precision + 1))) < 1 << 15 { precision += 1 }
        let fixed = real.map { row in
            row.map { w in
                let v = w * Double(1 << precision)
                return v < 0 ? Int(-0.5 + v) : Int(0.5 + v)
            }
        }
        return AxisWeights(start: starts, weights: fixed, precision: precision)
    }

    /// `image [h, w, 3] -> [height, width, 3]`: eq. (8) along the width, then along the height.
    static func resize(_ image: RGBImage, height: Int, width: Int) -> RGBImage {
        var pixels = image.pixels
        if width != image.width {          // [h, w, 3]: h lines of w samples, 3 values each
            pixels = resample(pixels, outer: image.height, from: image.width, to: width, inner: 3)
        }
        if height != image.height {        // [1, h, width·3]: one line of h samples, width·3 values each
            pixels = resample(pixels, outer: 1, from: image.height, to: height, inner: width * 3)
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Eq. (8) along the middle axis: `source [outer, from, inner] -> [outer, to, inner]`.
    private static func resample(_ source: [UInt8], outer: Int, from: Int, to: Int, inner: Int) -> [UInt8] {
        let axis = axisWeights(input: from, output: to)
        var out = [UInt8](repeating: 0, count: outer * to * inner)
        for o in 0..<outer {
            for i in 0..<to {
                for k in 0..<inner {
                    var sum = 0
                    for (j, weight) in axis.weights[i].enumerated() {
                        sum += weight * Int(source[(o * from + axis.start[i] + j) * inner + k])
                    }
                    out[(o * to + i) * inner + k] = axis.byte(sum)
                }
            }
        }
        return out
    }
}

extension BicubicResize.AxisWeights {
    /// Eq. (8) from Σⱼ Wᵢⱼ·xⱼ: add one half, shift right by p (floor), clamp to 0…255.
    func byte(_ sum: Int) -> UInt8 {
        UInt8(min(max((sum + (1 << (precision - 1))) >> precision, 0), 255))
    }
}
