// YaRN frequencies, the query temperature and the softmax scale for the released config (spec/rope.md,
// spec/attention.md): the numbers the spec pins, computed here from the formulas.

import Foundation
import Testing
@testable import MistralSmall4

@Suite struct RopeTests {
    let full = Preset.full.config.text

    @Test func correctionRangeUsesTheOriginalContext() {
        let (low, high) = YarnRoPE.correctionRange(full)
        #expect(low == 12 && high == 25)
        var wrong = full
        wrong.rope.originalMaxPositionEmbeddings = 1_048_576   // the classic slip: the extended length
        #expect(YarnRoPE.correctionRange(wrong) != (12, 25))
    }

    @Test func frequenciesBlendFromExtrapolatedToInterpolated() {
        let rope = YarnRoPE(full)
        let omega = rope.inverseFrequencies
        #expect(omega.count == 32 && rope.attentionFactor == 1)
        for i in 0...12 { #expect(omega[i] == 1 / pow(10_000, Double(2 * i) / 64), "dimension \(i) extrapolated") }
        for i in 25..<32 { #expect(omega[i] == 1 / (128 * pow(10_000, Double(2 * i) / 64)), "dimension \(i) interpolated") }
        let ramp = (18.0 - 12) / (25 - 12)
        let blended = 1 / (128 * pow(10_000, 36.0 / 64)) * ramp + 1 / pow(10_000, 36.0 / 64) * (1 - ramp)
        #expect(abs(omega[18] - blended) <= 1e-16 * blended)
    }

    @Test func bothPairLayoutsRotateByTheSameAngles() {
        var config = full
        let x: [Double] = (0..<64).map { Double($0 % 7) - 3 }
        let rotateWith = { (interleaved: Bool) -> [Double] in
            config.ropeInterleave = interleaved
            let rope = YarnRoPE(config)
            var y = x
            let (c, s) = rope.angles(position: 300_000)
            y.withUnsafeMutableBufferPointer { rope.rotate($0.baseAddress!, cos: c, sin: s) }
            return y
        }
        // Interleaved pairs (x[2i], x[2i+1]) land at (y[i], y[i + 32]); half-split pairs (x[i], x[i + 32]) too.
        let deinterleaved = (0..<32).map { x[2 * $0] } + (0..<32).map { x[2 * $0 + 1] }
        let viaInterleaved = rotateWith(true)
        config.ropeInterleave = false
        let rope = YarnRoPE(config)
        var viaHalf = deinterleaved
        let (c, s) = rope.angles(position: 300_000)
        viaHalf.withUnsafeMutableBufferPointer { rope.rotate($0.baseAddress!, cos: c, sin: s) }
        #expect(viaInterleaved == viaHalf)
        let norm = { (v: [Double]) in v.reduce(0) { $0 + $1 * $1 } }
        #expect(abs(norm(viaInterleaved) - norm(x)) < 1e-9, "a rotation keeps the norm (a = 1)")
    }

    @Test func queryTemperatureSteps() {
        #expect(queryTemperature(position: 0, full) == 1)
        #expect(queryTemperature(position: 8191, full) == 1)
        #expect(queryTemperature(position: 8192, full) == 1 + 0.1 * log(2.0))
        #expect(queryTemperature(position: 262_144, full) == 1 + 0.1 * log(33.0))
        #expect(queryTemperature(position: 1_000_000, full) == 1 + 0.1 * log(123.0))
    }

    @Test func softmaxScaleOfTheReleasedConfig() {
        #expect(MLAAttention.softmaxScale(full) == 0.19496949473302969)
    }
}
