// The cost model of `assay explain` (spec/explain.md) against the multiply-adds the reference actually performs:
// the figures come from the tensor inventory and the attention equations, the counts from `linear` and the attention
// loops while the model runs, so a wrong shape, a missed step or a step counted twice fails here.

import Testing
import Tensor
@testable import MistralSmall4

@Suite struct CostModelTests {
    static let tiny = Preset.tiny.config

    /// A batch-1 sequence of `length` tokens at positions `start…`.
    func sequence(_ length: Int, start: Int = 0) throws -> ForwardInputs {
        let config = Self.tiny.text
        return try ForwardInputs(inputIds: Tensor(shape: [1, length], scalars: (0..<length).map { ($0 * 37 + 11) % config.vocabSize }),
                                 positionIds: Tensor(shape: [1, length], scalars: (0..<length).map { start + $0 }),
                                 attentionMask: nil, config: config)
    }

    func predicted(_ span: TokenSpan, _ algorithm: AttentionAlgorithm) -> Int {
        let cost = CostModel(Self.tiny).cost(span, algorithm: algorithm)
        return cost.weightMultiplyAdds + cost.attentionMultiplyAdds
    }

    @Test(arguments: AttentionAlgorithm.allCases)
    func prefillCountsMatchTheRunningReference(algorithm: AttentionAlgorithm) throws {
        let decoder = TextDecoder(store: SyntheticWeightStore(config: Self.tiny, seed: 1), algorithm: algorithm)
        let inputs = try sequence(7)
        let counted = try MultiplyAddCounter.counting { try decoder.forward(inputs, taps: TapRecorder()) }.multiplyAdds
        #expect(counted == predicted(TokenSpan(tokens: 7), algorithm))
        #expect(counted > 0)
    }

    @Test(arguments: AttentionAlgorithm.allCases)
    func decodeStepCountsMatchTheRunningReference(algorithm: AttentionAlgorithm) throws {
        let decoder = TextDecoder(store: SyntheticWeightStore(config: Self.tiny, seed: 1), algorithm: algorithm)
        var caches = decoder.emptyCaches(batch: 1)
        try decoder.forward(try sequence(6), caches: &caches, taps: TapRecorder())
        let step = try sequence(1, start: 6)
        let counted = try MultiplyAddCounter.counting { try decoder.forward(step, caches: &caches, taps: TapRecorder()) }
            .multiplyAdds
        #expect(counted == predicted(TokenSpan(start: 6, tokens: 1), algorithm))
        // The absorbed step reads 7 latent rows; the expanded one re-expands all 7 through kv_b: it must cost more.
        if algorithm == .absorbed { #expect(counted < predicted(TokenSpan(start: 6, tokens: 1), .expanded)) }
    }

    @Test func visionPathCountsMatchTheRunningReference() throws {
        let store = VisionFixtures.store
        let images = try VisionFixtures.images([(56, 84)])
        let counted = try MultiplyAddCounter.counting {
            try MultimodalModel(store: store).imageTokens(images, taps: TapRecorder())
        }.multiplyAdds
        let steps = try #require(ShapeTrace(store.config).visionPath(height: 56, width: 84))
        #expect(counted == steps.map(\.multiplyAdds).reduce(0, +))
    }

    @Test func traceHoldsEveryTextParameterOnce() {
        for preset in [Preset.tiny, .full] {
            let config = preset.config
            let steps = ShapeTrace(config).decoder(span: TokenSpan(tokens: 1), algorithm: .expanded)
            let counts = ParameterCounts(config)
            let text = counts.components.filter { ![.vision, .projector, .embedding].contains($0.component) }
            #expect(steps.map(\.parameters).reduce(0, +) == text.map(\.total).reduce(0, +), "\(preset)")
        }
    }

    @Test func latentCacheOfTheReleasedConfig() {
        let model = CostModel(Preset.full.config)
        #expect(model.latentCacheValuesPerToken == 36 * 320)
        #expect(model.multiHeadCacheValuesPerToken == 36 * 32 * (64 + 64 + 128))   // K: nope + rope, V
    }

    @Test func decodeAtBatchOneReadsTheActiveWeights() {
        // One token reads exactly k experts per layer: the expectation 1 − (1 − k/E)¹ = k/E, so the weight bytes are
        // the active parameters (lm_head included, one embedding row instead of the table) at 2 bytes each.
        let config = Preset.full.config
        let counts = ParameterCounts(config)
        let cost = CostModel(config).decode(context: 4096)
        let expected = Double(counts.active(CountingConvention(embeddingTable: false, lmHead: true, visionAndProjector: false))
            + config.text.hiddenSize) * 2
        #expect(abs(cost.weightBytes - expected) / expected < 1e-12)
        #expect(cost.cacheReadBytes == 4096 * 36 * 320 * 2)
    }
}
