// The absorbed MLA (W_UK folded into the query, attention over the latent cache, W_UV after) computes the same
// function as the expanded MLA transformers runs: every tap agrees to float64 rounding (spec/attention.md).

import Testing
import Tensor
@testable import MistralSmall4

@Suite struct MLAAlgorithmTests {
    @Test(arguments: [Preset.tiny, .small])
    func absorbedEqualsExpanded(preset: Preset) throws {
        let store = SyntheticWeightStore(config: preset.config, seed: 3)
        let inputs = try TextFixtures.inputs(preset.config.text, length: 4, offset: 262_141)
        let expanded = try TextFixtures.taps(TextDecoder(store: store, algorithm: .expanded), inputs)
        let absorbed = try TextFixtures.taps(TextDecoder(store: store, algorithm: .absorbed), inputs)
        #expect(expanded.taps.map(\.name) == absorbed.taps.map(\.name))
        for (name, value) in expanded.taps {
            let other = try #require(absorbed[name])
            #expect(value.shape == other.shape)
            // float64 rounding of two summation orders: relative error ~1e-16, so NMSE ~1e-32; 1e-26 leaves room
            // for growth through the layers while failing on any algebraic slip (which gives NMSE > 1e-6).
            #expect(nmse(other.reals, value.reals) < 1e-26, "\(name)")
        }
    }

    @Test func absorbedIsNotTriviallyTheSameCode() throws {
        // Guard for the test above: corrupting W_UV's use in one path must show up as a large difference.
        let config = Preset.tiny.config
        let store = SyntheticWeightStore(config: config, seed: 3)
        var weights = try MLAWeights(store, prefix: "model.language_model.layers.1.self_attn")
        let x = try store.tensor("model.language_model.embed_tokens.weight").slice(0..<3)
        let run = { (w: MLAWeights, algorithm: AttentionAlgorithm) -> [Double] in
            var cache = LatentCache(width: config.text.kvLoraRank + config.text.qkRopeHeadDim)
            return MLAAttention(weights: w, config: config.text)(
                x, positions: [0, 1, 2], visible: [true, true, true], cache: &cache, algorithm: algorithm
            ).output.scalars
        }
        let reference = run(weights, .expanded)
        weights.kvUp.weight.scalars[weights.kvUp.weight.count - 1] += 0.5   // one W_UV element of the last head
        #expect(nmse(run(weights, .absorbed), reference) > 1e-8)
    }
}
