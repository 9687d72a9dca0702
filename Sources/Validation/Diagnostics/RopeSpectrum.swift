// The RoPE spectrum of a backend — spec/rope.md eq. (1)–(10), measured from outside: unit probes are rotated by
// the backend's own MLA op over a run of positions, and each rotated pair's frequency, phase and amplitude are
// recovered and compared with the spec's YaRN values.
//
//   probe_i = e_{2i}  (the first component of interleaved pair i), fed as the shared rope key k_r:
//             kv_a_proj's rope rows are set to [I | 0], so k_r = probe_i exactly
//   z_i(p) = k'_r[i] + j·k'_r[i + d/2]      the rotated pair as the latent cache stores it (spec/rope.md §2)
//          = a · exp(j·p·ω_i)               for a correct backend                                           (8)
//   ω̂_fft  = 2π·argmax_k |FFT_M(z_i)[k]|    coarse (M = 16·positions, zero-padded)
//   ω̂      = arg Σ_p z_i(p+1)·conj(z_i(p))  refined
//   phase error = max_p |wrap(arg z_i(p) − p·ω_i)|,   p·ω_i in float64
//
// A half-split rotation sends probe e_{2i} through pair (2i mod d/2) and a wrong YaRN range changes ω_i in the
// ramp: both show as frequency errors. Float32 angles show as phase error at large positions.

#if canImport(Glibc)
import Glibc
#endif
import MistralSmall4
import Tensor

/// What one rotated pair revealed.
public struct PairSpectrum: Sendable {
    public let pair: Int
    /// ω_i of the spec (spec/rope.md eq. 6).
    public let expected: Double
    /// ω from the FFT peak (resolution 2π / M).
    public let coarse: Double
    /// ω from the mean phase step.
    public let measured: Double
    /// max_p |wrap(arg z(p) − p·ω_i)|, radians.
    public let phaseError: Double
    /// mean |z| against the spec's attention factor a.
    public let amplitude: Double
    public let expectedAmplitude: Double

    /// Flagged when the frequency is off by more than `frequencyTolerance`, the phase by more than
    /// `phaseTolerance`, or the amplitude by more than 1e-3 relative.
    public var flagged: Bool {
        !(abs(measured - expected) <= RopeSpectrum.frequencyTolerance) || !(phaseError <= RopeSpectrum.phaseTolerance)
            || !(abs(amplitude - expectedAmplitude) <= 1e-3 * expectedAmplitude)
    }
}

public enum RopeSpectrum {
    /// rad / position. A float32 rotation of exact angles measures ≤ 1e-9 over 256 positions; planted range and
    /// layout bugs measure 1e-4 and more.
    public static let frequencyTolerance = 1e-7
    /// radians. float64 angles measure ~1e-10 at 1,000,000; float32 angles there reach 3e-2 (see `float32AngleError`).
    public static let phaseTolerance = 1e-3

    /// Runs `backend`'s MLA op on probes over `positions` positions from `start` and analyses every pair.
    public static func measure(_ backend: any Backend, config: ModelConfig, positions: Int, start: Int) throws
        -> [PairSpectrum]
    {
        let text = config.text
        let (dr, rank, hidden) = (text.qkRopeHeadDim, text.kvLoraRank, text.hiddenSize)
        let prefix = ModelPaths(config).tap(.selfAttention, layer: 0).module
        let probeRows = prefix + ".kv_a_proj_with_mqa.weight"
        let store = ProbeStore(base: SyntheticWeightStore(config: config, seed: 0), name: probeRows, rank: rank, rope: dr)
        let pairs = dr / 2
        var x = [Double](repeating: 0, count: pairs * positions * hidden)   // [pairs · positions, H]
        for i in 0..<pairs {
            for p in 0..<positions { x[(i * positions + p) * hidden + 2 * i] = 1 }
        }
        let inputs = try ForwardInputs(
            inputIds: Tensor(shape: [pairs, positions], repeating: 0),
            positionIds: Tensor(shape: [pairs, positions], scalars: (0..<pairs).flatMap { _ in (0..<positions).map { start + $0 } }),
            config: text)
        let (_, latents) = try backend.mlaAttention(Tensor(shape: [pairs * positions, hidden], scalars: x), inputs: inputs,
                                                    store: store, prefix: prefix)
        let rope = YarnRoPE(text)
        let width = latents.shape[1]
        return (0..<pairs).map { i in
            let z: [Complex] = (0..<positions).map { p in
                let row = (i * positions + p) * width + rank
                return (latents.scalars[row + i], latents.scalars[row + i + pairs])
            }
            return analyse(z, pair: i, omega: rope.inverseFrequencies[i], amplitude: rope.attentionFactor, start: start)
        }
    }

    static func analyse(_ z: [Complex], pair: Int, omega: Double, amplitude: Double, start: Int) -> PairSpectrum {
        let m = 16 * z.count
        let spectrum = FFT.transform(z + Array(repeating: (0, 0), count: m - z.count), shape: [m])
        let peak = spectrum.indices.max { hypot(spectrum[$0].re, spectrum[$0].im) < hypot(spectrum[$1].re, spectrum[$1].im) }!
        let coarse = wrap(2 * Double.pi * Double(peak) / Double(m))
        var (re, im) = (0.0, 0.0)
        for p in 1..<z.count {   // z(p) · conj(z(p−1))
            re += z[p].re * z[p - 1].re + z[p].im * z[p - 1].im
            im += z[p].im * z[p - 1].re - z[p].re * z[p - 1].im
        }
        let phaseError = z.indices.map { p in
            abs(wrap(atan2(z[p].im, z[p].re) - remainder(Double(start + p) * omega, 2 * Double.pi)))
        }.max() ?? 0
        let meanAmplitude = z.reduce(0) { $0 + hypot($1.re, $1.im) } / Double(z.count)
        return PairSpectrum(pair: pair, expected: omega, coarse: coarse, measured: atan2(im, re), phaseError: phaseError,
                            amplitude: meanAmplitude, expectedAmplitude: amplitude)
    }

    /// x wrapped into (−π, π].
    static func wrap(_ x: Double) -> Double { remainder(x, 2 * Double.pi) }

    /// The largest |angle computed in float32 − angle in float64| (radians, wrapped) over pairs and the positions
    /// start ..< start + positions: what a backend computing p·ω in float32 (as transformers does) gets wrong.
    public static func float32AngleError(_ config: TextConfig, start: Int, positions: Int) -> Double {
        let omegas = YarnRoPE(config).inverseFrequencies
        var worst = 0.0
        for p in start..<(start + positions) {
            for omega in omegas {
                let single = Double(Float(p) * Float(omega))
                worst = max(worst, abs(wrap(single - Double(p) * omega)))
            }
        }
        return worst
    }
}

/// Synthetic weights with kv_a_proj's rope rows replaced by [I | 0], so the shared rope key is the input's first d_r
/// values.
private struct ProbeStore: WeightStore {
    let base: SyntheticWeightStore
    let name: String
    let rank: Int
    let rope: Int
    var config: ModelConfig { base.config }
    var inventory: TensorInventory { base.inventory }

    func rows(_ tensor: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> {
        var slab = try base.rows(tensor, rows)
        guard tensor == name else { return slab }
        let width = slab.shape[1]
        for (offset, row) in rows.enumerated() where row >= rank {
            for column in 0..<width { slab.scalars[offset * width + column] = column == row - rank ? 1 : 0 }
        }
        return slab
    }
}
