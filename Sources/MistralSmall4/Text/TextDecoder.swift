// The Mistral Small 4 text decoder end to end — spec/decoder.md eq. (1)–(5):
//
//   h⁰ = E[ids]                                           embed_tokens                          (1)
//   hˡ⁺¹ = Block_l(hˡ)                                    l = 0 … L−1, eq. (2)–(3)              (2, 3)
//   ĥ = RMSNorm_final(hᴸ)                                 norm                                  (4)
//   logits = W_lm · ĥ                                     lm_head [V, H], read 4096 rows at a time (5)
//
// The graph is `GraphRun.textModel`; `TextDecoder` runs it through the reference backend.

import Tensor

extension GraphRun {
    /// Eq. (1): the embeddings of the run's token ids, `[B·S, H]`.
    public func embed() throws -> Flow {
        let tap = paths.tap(.embedTokens)
        return try op(.embedding, [tap], []) { _ in
            [.real(try backend.embedding(inputs.inputIds.scalars, table: tap.weight, store: store))]
        }[0]
    }

    /// Eq. (2)–(5) from input embeddings `h [B·S, H]` (eq. 1's, or with image features merged in); the logits.
    @discardableResult
    public func textModel(from h: Flow) throws -> Flow {
        var h = h
        for layer in 0..<config.text.numHiddenLayers { h = try decoderLayer(layer, h) }                 // (2, 3)
        let normed = try rmsNorm(h, paths.tap(.finalNorm), epsilon: config.text.rmsNormEps)           // (4)
        return try op(.lmHead, paths.tap(.lmHead), normed) {                                           // (5)
            try backend.lmHead($0, name: paths.headWeight(config), store: store)
        }
    }
}

/// The text decoder over a weight store, through the reference backend.
public struct TextDecoder: Sendable {
    public let store: any WeightStore
    public let profile: PrecisionProfile
    public let algorithm: AttentionAlgorithm

    public var config: TextConfig { store.config.text }

    /// The weights are read as the profile holds them (`PrecisionProfile.weights`: bf16, and FP8 where quantized).
    /// Prefill and decode both attend by `algorithm`.
    public init(store: any WeightStore, profile: PrecisionProfile = .exact, algorithm: AttentionAlgorithm = .expanded) {
        self.store = profile.weights(store)
        self.profile = profile
        self.algorithm = algorithm
    }

    /// Empty latent caches: one per layer and sequence.
    public func emptyCaches(batch: Int) -> [[LatentCache]] {
        Array(repeating: Array(repeating: LatentCache(width: config.latentCacheWidth), count: batch),
              count: config.numHiddenLayers)
    }

    /// A run of the reference on `inputs`.
    func run(_ inputs: ForwardInputs, taps: TapRecorder) -> GraphRun {
        GraphRun(backend: ReferenceBackend(profile: profile, algorithm: algorithm), store: store, inputs: inputs,
                 recorder: taps, strict: true, profile: profile)
    }

    /// Runs `inputs` after whatever `caches` hold (empty caches: a prefill; one token per call: decoding),
    /// recording taps. Returns the logits [B, S, V].
    @discardableResult
    public func forward(_ inputs: ForwardInputs, caches: inout [[LatentCache]], taps: TapRecorder) throws
        -> Tensor<Double>
    {
        let run = run(inputs, taps: taps)
        run.caches = caches
        let logits = try run.textModel(from: try run.embed())
        caches = run.caches
        return try run.own(logits).realValue.reshaped([inputs.batch, inputs.length, config.vocabSize])
    }

    /// A one-shot prefill.
    @discardableResult
    public func forward(_ inputs: ForwardInputs, taps: TapRecorder) throws -> Tensor<Double> {
        var caches = emptyCaches(batch: inputs.batch)
        return try forward(inputs, caches: &caches, taps: taps)
    }

    /// Blocks `layers` alone, eq. (2)–(3), from a captured hidden state `h [B·S, H]` (the output of block
    /// `layers.lowerBound − 1`, or the embeddings for block 0), as a prefill: what `assay forward --layers` runs.
    /// Reads only those blocks' weights, and of their routed experts only the ones some token routes to.
    /// Returns `[B·S, H]`.
    @discardableResult
    public func forward(layers: ClosedRange<Int>, hidden h: Tensor<Double>, inputs: ForwardInputs,
                        taps: TapRecorder) throws -> Tensor<Double> {
        precondition(layers.upperBound < config.numHiddenLayers && h.shape == [inputs.batch * inputs.length,
                     config.hiddenSize], "forward(layers:): layers \(layers), hidden \(h.shape)")
        let run = run(inputs, taps: taps)
        var h = Flow(.real(h))
        for layer in layers { h = try run.decoderLayer(layer, h) }
        return try run.own(h).realValue
    }
}

/// The vocabulary rows eq. (5) reads at a time: `lm_head` streamed in blocks, so a 131k × 4096 head never sits in
/// memory whole. Every backend and the plugin ABI take the head in these blocks.
public func vocabularyBlocks(_ vocab: Int) -> [Range<Int>] {
    stride(from: 0, to: vocab, by: 4096).map { $0..<min($0 + 4096, vocab) }
}

/// Eq. (5) streamed over `vocabularyBlocks` of `name` [V, H]: `x [T, H] -> [T, V]`.
public func languageModelHead(_ x: Tensor<Double>, name: String, store: some WeightStore,
                              profile: PrecisionProfile = .exact) throws(WeightError) -> Tensor<Double> {
    let (tokens, vocab) = (x.shape[0], store.config.text.vocabSize)
    var logits = [Double](repeating: 0, count: tokens * vocab)
    for rows in vocabularyBlocks(vocab) {
        let part = profile.roundedAsActivations(linear(x, try store.rows(name, rows)))   // [T, rows]
        for t in 0..<tokens {
            for (column, v) in rows.enumerated() { logits[t * vocab + v] = part.scalars[t * rows.count + column] }
        }
    }
    return Tensor(shape: [tokens, vocab], scalars: logits)
}
