// The Mistral Small 4 text decoder end to end — spec/decoder.md eq. (1)–(5):
//
//   h⁰ = E[ids]                                           embed_tokens                          (1)
//   hˡ⁺¹ = Block_l(hˡ)                                    l = 0 … L−1, eq. (2)–(3)              (2, 3)
//   ĥ = RMSNorm_final(hᴸ)                                 norm                                  (4)
//   logits = W_lm · ĥ                                     lm_head [V, H], read 4096 rows at a time (5)

import Tensor

/// The text decoder over a weight store.
public struct TextDecoder: Sendable {
    public let store: any WeightStore
    public let profile: PrecisionProfile
    public let algorithm: AttentionAlgorithm

    public var config: TextConfig { store.config.text }
    /// `model.language_model` (mistral3) or `model` (mistral4): the prefix of weights and taps.
    public var prefix: String { TensorInventory.textPrefix(store.config) }

    /// The weights are read as the profile holds them (`PrecisionProfile.weights`: bf16, and FP8 where quantized).
    public init(store: any WeightStore, profile: PrecisionProfile = .exact, algorithm: AttentionAlgorithm = .expanded) {
        self.store = profile.weights(store)
        self.profile = profile
        self.algorithm = algorithm
    }

    /// Empty latent caches: one per layer and sequence.
    public func emptyCaches(batch: Int) -> [[LatentCache]] {
        Array(repeating: Array(repeating: LatentCache(width: config.kvLoraRank + config.qkRopeHeadDim), count: batch),
              count: config.numHiddenLayers)
    }

    /// Runs `inputs` after whatever `caches` hold (empty caches: a prefill; one token per call: decoding),
    /// recording taps. Returns the logits [B, S, V].
    @discardableResult
    public func forward(_ inputs: ForwardInputs, caches: inout [[LatentCache]], taps: TapRecorder)
        throws(WeightError) -> Tensor<Double>
    {
        let h = try embed(inputs, taps: taps)
        return try forward(embeddings: h, inputs: inputs, caches: &caches, taps: taps, store: store)
    }

    /// A one-shot prefill.
    @discardableResult
    public func forward(_ inputs: ForwardInputs, taps: TapRecorder) throws(WeightError) -> Tensor<Double> {
        var caches = emptyCaches(batch: inputs.batch)
        return try forward(inputs, caches: &caches, taps: taps)
    }

    /// Eq. (1): the embeddings of `inputs`' token ids, `[B·S, H]`, recorded as the `embed_tokens` tap.
    public func embed(_ inputs: ForwardInputs, taps: TapRecorder) throws(WeightError) -> Tensor<Double> {
        let h = try embedTokens(inputs.inputIds.scalars, table: prefix + ".embed_tokens.weight", store: store)
        taps.record(prefix + ".embed_tokens", h.reshaped([inputs.batch, inputs.length, config.hiddenSize]))
        return h
    }

    /// Eq. (2)–(5) from given input embeddings `h [B·S, H]` (eq. 1's, or with image features merged in).
    /// Returns the logits [B, S, V].
    @discardableResult
    public func forward(embeddings h: Tensor<Double>, inputs: ForwardInputs, caches: inout [[LatentCache]],
                        taps: TapRecorder) throws(WeightError) -> Tensor<Double> {
        try forward(embeddings: h, inputs: inputs, caches: &caches, taps: taps, store: store)
    }

    private func forward(embeddings: Tensor<Double>, inputs: ForwardInputs, caches: inout [[LatentCache]],
                         taps: TapRecorder, store: some WeightStore) throws(WeightError) -> Tensor<Double> {
        let (batch, length, hidden) = (inputs.batch, inputs.length, config.hiddenSize)
        var h = embeddings
        for index in 0..<config.numHiddenLayers {
            h = try layer(index)(h, inputs: inputs, caches: &caches[index], store: store, taps: taps)       // (2, 3)
        }
        let finalNorm = RMSNorm(weight: try store.tensor(prefix + ".norm.weight"), epsilon: config.rmsNormEps)
        let normed = finalNorm(h, profile)                                                                     // (4)
        taps.record(prefix + ".norm", normed.reshaped([batch, length, hidden]))
        let logits = try languageModelHead(normed, name: headWeightName, store: store, profile: profile)
            .reshaped([batch, length, config.vocabSize])                                                        // (5)
        taps.record("lm_head", logits)
        return logits
    }

    /// Decoder block `index`.
    func layer(_ index: Int) -> DecoderLayer {
        DecoderLayer(index: index, prefix: "\(prefix).layers.\(index)", config: config, profile: profile,
                     algorithm: algorithm)
    }

    /// Blocks `layers` alone, eq. (2)–(3), from a captured hidden state `h [B·S, H]` (the output of block
    /// `layers.lowerBound − 1`, or the embeddings for block 0), as a prefill: what `assay forward --layers` runs.
    /// Reads only those blocks' weights, and of their routed experts only the ones some token routes to.
    /// Returns `[B·S, H]`.
    public func forward(layers: ClosedRange<Int>, hidden h: Tensor<Double>, inputs: ForwardInputs,
                        taps: TapRecorder) throws(WeightError) -> Tensor<Double> {
        precondition(layers.upperBound < config.numHiddenLayers && h.shape == [inputs.batch * inputs.length,
                     config.hiddenSize], "forward(layers:): layers \(layers), hidden \(h.shape)")
        var caches = emptyCaches(batch: inputs.batch)
        var h = h
        for index in layers {
            h = try layer(index)(h, inputs: inputs, caches: &caches[index], store: store, taps: taps)
        }
        return h
    }

    /// The head's weight: `lm_head.weight`, or the embedding table when the config ties them.
    public var headWeightName: String {
        store.config.tieWordEmbeddings ? prefix + ".embed_tokens.weight" : "lm_head.weight"
    }
}

/// Eq. (5) streamed over blocks of 4096 vocabulary rows of `name` [V, H]: `x [T, H] -> [T, V]`.
public func languageModelHead(_ x: Tensor<Double>, name: String, store: some WeightStore,
                              profile: PrecisionProfile = .exact) throws(WeightError) -> Tensor<Double> {
    let (tokens, vocab, block) = (x.shape[0], store.config.text.vocabSize, 4096)
    var logits = [Double](repeating: 0, count: tokens * vocab)
    for start in stride(from: 0, to: vocab, by: block) {
        let rows = start..<min(start + block, vocab)
        let part = profile.activations(linear(x, try store.rows(name, rows)))   // [T, rows]
        for t in 0..<tokens {
            for (column, v) in rows.enumerated() { logits[t * vocab + v] = part.scalars[t * rows.count + column] }
        }
    }
    return Tensor(shape: [tokens, vocab], scalars: logits)
}
