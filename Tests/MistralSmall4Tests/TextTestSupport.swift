// Shared helpers of the text-decoder tests: deterministic inputs and tap comparisons.

import Tensor
@testable import MistralSmall4

enum TextFixtures {
    /// A [batch, length] batch with ids spread over the vocabulary, positions `offset…`, and row 1 left-padded by
    /// `leftPad` tokens when batch > 1.
    static func inputs(_ config: TextConfig, batch: Int = 2, length: Int = 5, offset: Int = 0, leftPad: Int = 2)
        throws -> ForwardInputs
    {
        let ids = (0..<(batch * length)).map { ($0 * 37 + 11) % config.vocabSize }
        let positions = (0..<batch).flatMap { _ in (0..<length).map { offset + $0 } }
        let mask = (0..<batch).flatMap { b in (0..<length).map { b == 1 && $0 < leftPad ? 0 : 1 } }
        return try ForwardInputs(
            inputIds: Tensor(shape: [batch, length], scalars: ids),
            positionIds: Tensor(shape: [batch, length], scalars: positions),
            attentionMask: Tensor(shape: [batch, length], scalars: mask), config: config)
    }

    /// Every tap of a prefill of `inputs`.
    static func taps(_ decoder: TextDecoder, _ inputs: ForwardInputs) throws -> TapRecorder {
        let recorder = TapRecorder()
        try decoder.forward(inputs, taps: recorder)
        return recorder
    }

    /// Layer 0's attention of `store` under `profile` on the same inputs in the expanded and the absorbed form
    /// (spec/attention.md eq. 9–10): their outputs `[8, hidden]`, to be held equal.
    static func expandedAndAbsorbed(_ store: some WeightStore, profile: PrecisionProfile) throws
        -> (expanded: Tensor<Double>, absorbed: Tensor<Double>)
    {
        let config = store.config.text
        let weights = try MLAWeights(store, prefix: ModelPaths(store.config).tap(.selfAttention, layer: 0).name)
        let attention = MLAAttention(weights: weights, config: config, profile: profile)
        let inputs = try Self.inputs(config, length: 4)
        let x = SyntheticWeights(seed: 6).normal("x", shape: [8, config.hiddenSize], std: 1)
        var (expandedCaches, absorbedCaches) = ([LatentCache](), [LatentCache]())
        for _ in 0..<2 {
            expandedCaches.append(LatentCache(width: config.latentCacheWidth))
            absorbedCaches.append(LatentCache(width: config.latentCacheWidth))
        }
        return (attention(x, inputs: inputs, caches: &expandedCaches, algorithm: .expanded).output,
                attention(x, inputs: inputs, caches: &absorbedCaches, algorithm: .absorbed).output)
    }
}

/// ‖a − b‖² / ‖b‖² (0 when both are zero).
func nmse(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    let error = zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
    let norm = b.reduce(0) { $0 + $1 * $1 }
    return norm == 0 ? error : error / norm
}

extension TapValue {
    var reals: [Double] {
        switch self {
        case .real(let t): t.scalars
        case .integer(let t): t.scalars.map(Double.init)
        }
    }

}
