// The FFT oracles and diagnostics: the patch convolution computed by FFT equals the direct one; the RoPE spectrum
// of the reference matches the spec at 0 and near 1,000,000, and flags the planted RoPE bugs.

import Testing
import MistralSmall4
import Tensor
@testable import Validation

@Suite struct DiagnosticsTests {
    @Test func fftConvolutionEqualsTheDirectPatchEmbedding() throws {
        let pixels = Tensor(shape: [2, 3, 28, 42], scalars: TensorStream(seed: 7, name: "test.pixels").normals(0..<(2 * 3 * 28 * 42)))
        let weight = Tensor(shape: [5, 3, 14, 14], scalars: TensorStream(seed: 7, name: "test.kernel").normals(0..<(5 * 3 * 196)))
        let direct = PatchEmbedding(weight: weight).convolve(pixels)
        let viaFFT = FFTConvolution.patchEmbedding(pixels, weight: weight)
        #expect(viaFFT.shape == [2, 5, 2, 3])
        let comparison = try TensorComparison(candidate: viaFFT, reference: direct, relativeFloor: 1e-3)
        #expect(comparison.nmse < 1e-26)   // measured 2.5e-31: float64 rounding of two summation orders
    }

    @Test(arguments: [0, 1_000_000])
    func theReferenceRotatesAtTheSpecFrequencies(start: Int) throws {
        let pairs = try RopeSpectrum.measure(ReferenceBackend(), config: try Preset.tiny.load(), positions: 64, start: start)
        #expect(pairs.count == 8)
        for pair in pairs {
            #expect(!pair.flagged, "pair \(pair.pair): ω \(pair.measured) vs \(pair.expected), phase \(pair.phaseError)")
            #expect(abs(pair.measured - pair.expected) < 1e-12)
        }
    }

    @Test(arguments: [PlantedBug.ropeHalfSplit, .yarnRangeFromMaxPositions])
    func plantedRopeBugsAreFlagged(bug: PlantedBug) throws {
        let pairs = try RopeSpectrum.measure(BuggyBackend(bug), config: try Preset.tiny.load(), positions: 64, start: 0)
        #expect(pairs.filter(\.flagged).count >= 4)
        #expect(!pairs[0].flagged)   // ω_0 = 1 is the same in both layouts and outside YaRN's ramp
    }

    @Test func float32AnglesLoseHundredthsOfARadianNearAMillion() throws {
        let text = try Preset.tiny.load().text
        #expect(RopeSpectrum.float32AngleError(text, start: 0, positions: 64) < 1e-5)   // measured 1.0e-6
        #expect(RopeSpectrum.float32AngleError(text, start: 1_000_000, positions: 256) > 1e-2)
    }
}
