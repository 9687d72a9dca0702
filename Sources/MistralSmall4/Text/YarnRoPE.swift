// YaRN rotary position embedding — spec/rope.md eq. (1)–(8).
//
// Goals, in order: the frequencies transformers computes (`_compute_yarn_parameters`), to float64 rounding; then
// angles in float64 at any position 0…1,048,575 (transformers uses float32 there, see spec/rope.md §5); then the
// two pair layouts, stated once.
//
//   d        = qk_rope_head_dim, i = 0 … d/2 − 1
//   f_i      = θ^(−2i/d)                                      extrapolated frequency      (1)
//   g_i      = f_i / s                                        interpolated (s = factor)   (2)
//   c(r)     = d · ln(L / (2π r)) / (2 ln θ)                  L = original_max_position   (3)
//   lo, hi   = max(⌊c(β_fast)⌋, 0), min(⌈c(β_slow)⌉, d − 1)   (no rounding without truncate) (4)
//   ramp_i   = clamp((i − lo) / (hi − lo), 0, 1)              (hi += 0.001 when hi = lo)  (5)
//   ω_i      = g_i · ramp_i + f_i · (1 − ramp_i)                                          (6)
//   a        = attention_factor, else mscale(s, m) / mscale(s, m_all),  mscale(s, m) = 0.1·m·ln s + 1 (s > 1) (7)
//   cos_i(p) = a · cos(p · ω_i),  sin_i(p) = a · sin(p · ω_i)                              (8)
// Plain RoPE (`rope_type` default) is ω_i = f_i, a = 1.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensor

/// The rotary frequencies of the text decoder and the rotation they define.
public struct YarnRoPE: Sendable {
    /// ω_i, one per rotated pair. [d/2]
    public let inverseFrequencies: [Double]
    /// a, the cos/sin factor (eq. 7); 1 for Mistral Small 4 (mscale = mscale_all_dim).
    public let attentionFactor: Double
    /// Pairs are `(x[2i], x[2i+1])` (Mistral's layout) rather than `(x[i], x[i + d/2])`.
    public let interleaved: Bool
    /// The profile the angles are computed under: float64, or float32 angles rounded to bf16 under `hf-bf16`.
    public let profile: PrecisionProfile
    /// Whether the angles p·ω and their cos/sin are float32 (transformers' float32 island, spec/rope.md §5): under
    /// `hf-bf16`, as transformers computes them; float64 otherwise.
    public var anglesInFloat32: Bool

    public init(_ config: TextConfig, profile: PrecisionProfile = .exact) {
        let d = config.qkRopeHeadDim
        let rope = config.rope
        self.profile = profile
        anglesInFloat32 = profile.bf16Roundings
        interleaved = config.ropeInterleave
        guard let yarn = rope.yarn else {
            inverseFrequencies = (0..<(d / 2)).map {
                profile.roundedToFloat32(1 / Self.power(rope.ropeTheta, Double(2 * $0) / Double(d), profile))
            }
            attentionFactor = 1
            return
        }
        attentionFactor = yarn.attentionFactor
            ?? (yarn.mscale != 0 && yarn.mscaleAllDim != 0
                ? yarnMscale(yarn.factor, yarn.mscale) / yarnMscale(yarn.factor, yarn.mscaleAllDim)
                : yarnMscale(yarn.factor, 1))
        let (low, high) = Self.correctionRange(config)
        inverseFrequencies = (0..<(d / 2)).map { i in
            let base = Self.power(rope.ropeTheta, Double(2 * i) / Double(d), profile)
            let extrapolated = profile.roundedToFloat32(1 / base)                                         // (1)
            let interpolated = profile.roundedToFloat32(1 / profile.roundedToFloat32(yarn.factor * base))           // (2)
            let ramp = profile.roundedToFloat32(min(max(profile.roundedToFloat32(Double(i) - low) / (high - low), 0), 1))   // (5)
            let keep = profile.roundedToFloat32(1 - ramp)
            // (6), in transformers' operation order: ω = g·(1 − (1 − ramp)) + f·(1 − ramp)
            return profile.roundedToFloat32(profile.roundedToFloat32(interpolated * profile.roundedToFloat32(1 - keep))
                                  + profile.roundedToFloat32(extrapolated * keep))
        }
    }

    /// `θ^e`, in float32 under `hf-bf16` (transformers raises a float32 tensor to the power).
    private static func power(_ base: Double, _ exponent: Double, _ profile: PrecisionProfile) -> Double {
        !profile.bf16Roundings ? pow(base, exponent) : Double(powf(Float(base), Float(exponent)))
    }

    /// (lo, hi) of eq. (3)–(5), with hi nudged by 0.001 when the two meet.
    static func correctionRange(_ config: TextConfig) -> (low: Double, high: Double) {
        let d = Double(config.qkRopeHeadDim)
        let rope = config.rope
        guard let yarn = rope.yarn else { return (0, 1) }
        func dimension(_ rotations: Double) -> Double {
            d * log(Double(rope.originalMaxPositionEmbeddings) / (rotations * 2 * Double.pi)) / (2 * log(rope.ropeTheta))
        }
        var low = dimension(yarn.betaFast), high = dimension(yarn.betaSlow)
        if yarn.truncate { (low, high) = (low.rounded(.down), high.rounded(.up)) }
        (low, high) = (max(low, 0), min(high, d - 1))
        return (low, low == high ? high + 0.001 : high)
    }

    /// cos and sin of every pair at `position` (eq. 8). [d/2] each. Under `hf-bf16`: the angle and cos/sin in
    /// float32, the results rounded to bf16, as transformers computes them and casts them to the model dtype.
    public func angles(position: Int) -> (cos: [Double], sin: [Double]) {
        var cosines = [Double](), sines = [Double]()
        for omega in inverseFrequencies {
            if !anglesInFloat32 {
                let angle = Double(position) * omega
                cosines.append(attentionFactor * cos(angle))
                sines.append(attentionFactor * sin(angle))
            } else {
                let angle = Float(position) * Float(omega)
                cosines.append(profile.roundedAsActivation(Double(cosf(angle) * Float(attentionFactor))))
                sines.append(profile.roundedAsActivation(Double(sinf(angle) * Float(attentionFactor))))
            }
        }
        return (cosines, sines)
    }

    /// Rotates the `d` values at `x` in place (spec/rope.md eq. 9–10). Both layouts write the rotated pairs as
    /// transformers returns them: first components in `x[0..<d/2]`, second components in `x[d/2..<d]`.
    ///
    /// ```
    /// interleaved:  (u, v) = (x[2i], x[2i+1])      half-split:  (u, v) = (x[i], x[i + d/2])
    /// x'[i] = u·cos_i − v·sin_i,   x'[i + d/2] = v·cos_i + u·sin_i                  (9), (10)
    /// ```
    public func rotate(_ x: UnsafeMutablePointer<Double>, cos: [Double], sin: [Double]) {
        let half = inverseFrequencies.count
        let original = Array(UnsafeBufferPointer(start: x, count: 2 * half))
        for i in 0..<half {
            let (u, v) = interleaved ? (original[2 * i], original[2 * i + 1]) : (original[i], original[i + half])
            let p = profile
            x[i] = p.roundedAsActivation(p.roundedAsActivation(u * cos[i]) - p.roundedAsActivation(v * sin[i]))
            x[i + half] = p.roundedAsActivation(p.roundedAsActivation(v * cos[i]) + p.roundedAsActivation(u * sin[i]))
        }
    }
}

/// DeepSeek's YaRN magnitude correction: `0.1 · m · ln s + 1` for s > 1, else 1 (spec/rope.md eq. 7).
func yarnMscale(_ scale: Double, _ m: Double) -> Double {
    scale <= 1 ? 1 : 0.1 * m * log(scale) + 1
}
