// The hf-bf16 profile stores every module output in bfloat16 and stays close to the exact profile; the exact
// profile rounds nowhere (spec/precision.md).

import Testing
import Tensor
@testable import MistralSmall4

@Suite struct PrecisionProfileTests {
    @Test func bf16TapsAreBF16ValuesNearTheExactOnes() throws {
        let store = SyntheticWeightStore(config: Preset.tiny.config, seed: 2)
        let inputs = try TextFixtures.inputs(Preset.tiny.config.text, length: 4)
        let exact = try TextFixtures.taps(TextDecoder(store: store), inputs)
        let bf16 = try TextFixtures.taps(TextDecoder(store: store, profile: .hfBF16), inputs)
        var exactHasNonBF16 = false
        for (name, value) in bf16.taps where !name.hasSuffix("#margin") && !name.hasSuffix("#indices") {
            #expect(value.reals.allSatisfy { BFloat16.rounded($0) == $0 }, "\(name) holds a non-bf16 value")
            let reference = try #require(exact[name]).reals
            exactHasNonBF16 = exactHasNonBF16 || reference.contains { BFloat16.rounded($0) != $0 }
            // Measured on this input (positions 0…3): the worst tap, layers.2.mlp, has NMSE 2.0e-4 (bf16's relative
            // step is 2^-8, compounded over three layers). A model left in float32 or float64 would fail the
            // bf16-membership check above; a wrong rounding point that loses the signal would exceed 1e-3.
            #expect(nmse(value.reals, reference) < 1e-3, "\(name)")
        }
        #expect(exactHasNonBF16, "the exact profile must not round to bf16")
    }
}
