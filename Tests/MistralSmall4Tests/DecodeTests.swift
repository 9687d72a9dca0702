// Feeding a sequence one token at a time through the latent cache gives the taps of one prefill
// (spec/attention.md §4): the cache holds everything later tokens need, nothing more.

import Testing
import Tensor
@testable import MistralSmall4

@Suite struct DecodeTests {
    @Test(arguments: [AttentionAlgorithm.expanded, .absorbed], [0, 1_000_000])
    func stepByStepDecodeMatchesPrefill(algorithm: AttentionAlgorithm, offset: Int) throws {
        let config = Preset.tiny.config.text
        let decoder = TextDecoder(store: SyntheticWeightStore(config: Preset.tiny.config, seed: 1), algorithm: algorithm)
        let inputs = try TextFixtures.inputs(config, length: 5, offset: offset)
        let prefill = try TextFixtures.taps(decoder, inputs)

        var caches = decoder.emptyCaches(batch: inputs.batch)
        var steps: [TapRecorder] = []
        for t in 0..<inputs.length {
            let column = { (x: Tensor<Int>) in Tensor(shape: [inputs.batch, 1], scalars: (0..<inputs.batch).map { x[$0, t] }) }
            let step = try ForwardInputs(inputIds: column(inputs.inputIds), positionIds: column(inputs.positionIds),
                                         attentionMask: column(inputs.attentionMask), config: config)
            let recorder = TapRecorder()
            try decoder.forward(step, caches: &caches, taps: recorder)
            steps.append(recorder)
        }
        #expect(caches.allSatisfy { $0.allSatisfy { $0.count == inputs.length } })
        for (name, value) in prefill.taps {
            let decoded = try steps.map { try #require($0[name]).reals }
            // Bit for bit: each token's projections, cache rows and softmax are the same operations in both runs.
            #expect(stitch(decoded, batch: inputs.batch) == value.reals, "\(name): decode differs from prefill")
        }
    }

    /// Per-step taps (seq 1) reassembled into the prefill's layout: [B, S, …] taps interleave steps per sequence;
    /// router taps are [B·S, …] rows in batch-major order, which is the same interleaving.
    private func stitch(_ steps: [[Double]], batch: Int) -> [Double] {
        let width = steps[0].count / batch
        var out = [Double]()
        for b in 0..<batch {
            for step in steps { out += step[(b * width)..<((b + 1) * width)] }
        }
        return out
    }
}
