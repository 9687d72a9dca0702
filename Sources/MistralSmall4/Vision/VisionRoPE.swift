// 2D rotary position embedding of the vision tower — spec/vision.md eq. (5)–(7).
//
//   f_k = θ^(−2k/d)                       k = 0 … d/2 − 1, d = head_dim                               (5)
//   ω_j(r, c) = r · f_{2j}                for pair j < d/4          (rows take the even frequencies)   (6)
//   ω_j(r, c) = c · f_{2(j − d/4) + 1}    for pair d/4 ≤ j < d/2    (columns take the odd ones)
//   (x'_{2j}, x'_{2j+1}) = (u cos ω_j − v sin ω_j,  v cos ω_j + u sin ω_j),  (u, v) = (x_{2j}, x_{2j+1})  (7)
//
// (r, c) is the patch's row and column inside its own image. Mistral's position id r · (image_size / p) + c
// encodes the same pair; transformers 5 passes (r, c) directly. Pairs are interleaved: the weights arrive in
// Mistral's native row order (VisionWeights.swift undoes transformers' half-split permutation).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The axial 2D RoPE of one head width.
public struct VisionRoPE: Sendable {
    /// f_k of eq. (5). [d/2]
    public let frequencies: [Double]
    public let profile: PrecisionProfile

    public init(headDim: Int, theta: Double, profile: PrecisionProfile = .exact) {
        self.profile = profile
        frequencies = (0..<(headDim / 2)).map { k in
            !profile.bf16Roundings ? 1 / pow(theta, Double(2 * k) / Double(headDim))
                : Double(1 / powf(Float(theta), Float(2 * k) / Float(headDim)))   // float32, as transformers
        }
    }

    /// cos and sin of eq. (6) for every pair at patch (row, col). [d/2] each. Under `hf-bf16` the angles and
    /// cos/sin are float32 and the results are rounded to bf16, as transformers casts them to the model dtype.
    public func angles(row: Int, col: Int) -> (cos: [Double], sin: [Double]) {
        let quarter = frequencies.count / 2
        var cosines = [Double](), sines = [Double]()
        for j in 0..<frequencies.count {
            let (position, frequency) = j < quarter ? (row, frequencies[2 * j]) : (col, frequencies[2 * (j - quarter) + 1])
            if !profile.bf16Roundings {
                cosines.append(cos(Double(position) * frequency))
                sines.append(sin(Double(position) * frequency))
            } else {
                let angle = Float(position) * Float(frequency)
                cosines.append(profile.roundedAsActivation(Double(cosf(angle))))
                sines.append(profile.roundedAsActivation(Double(sinf(angle))))
            }
        }
        return (cosines, sines)
    }

    /// Eq. (7) on the `d` values at `x`, in place: interleaved pairs stay interleaved.
    public func rotate(_ x: UnsafeMutablePointer<Double>, cos: [Double], sin: [Double]) {
        let p = profile
        for j in 0..<frequencies.count {
            let (u, v) = (x[2 * j], x[2 * j + 1])
            x[2 * j] = p.roundedAsActivation(p.roundedAsActivation(u * cos[j]) - p.roundedAsActivation(v * sin[j]))
            x[2 * j + 1] = p.roundedAsActivation(p.roundedAsActivation(v * cos[j]) + p.roundedAsActivation(u * sin[j]))
        }
    }
}
