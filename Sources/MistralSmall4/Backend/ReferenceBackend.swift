// The reference as a backend: every spec op through the reference layers, in float64 (with the roundings of its
// precision profile). `assay diff --backend reference` checks the diff engine end to end, and `assay selftest`
// plants bugs in a copy of it.

import Tensor

/// The reference layers behind the `Backend` ops.
public struct ReferenceBackend: Backend {
    public let profile: PrecisionProfile
    /// Builds the attention block of a layer from its weights. The default is the spec's block; `assay selftest`
    /// replaces it to plant bugs inside attention (spec/conformance.md §7).
    public var makeAttention: @Sendable (MLAWeights, TextConfig, PrecisionProfile) -> MLAAttention
    /// The algorithm of both attention ops, or nil: the spec's (prefill expanded, eq. 5–8; decode absorbed,
    /// eq. 9–10). `assay forward --attention` and the prefill-equals-decode tests set it.
    public let algorithm: AttentionAlgorithm?

    public init(profile: PrecisionProfile = .exact, algorithm: AttentionAlgorithm? = nil) {
        self.profile = profile
        self.algorithm = algorithm
        makeAttention = { MLAAttention(weights: $0, config: $1, profile: $2) }
    }

    public var name: String { "reference" }
    /// float64 sums; under `hf-bf16` and `hf-fp8-static` the stored values are bf16, which only a bf16 limit tolerates.
    public var precision: CandidatePrecision { profile.bf16Roundings ? .bf16 : .f64 }
    public var operations: Set<SpecOp> { Set(SpecOp.allCases) }

    public func embedding(_ ids: [Int], table: String, store: any WeightStore) throws -> Tensor<Double> {
        try embedTokens(ids, table: table, store: store)
    }

    public func rmsNorm(_ x: Tensor<Double>, weight: Tensor<Double>, epsilon: Double) throws -> Tensor<Double> {
        RMSNorm(weight: weight, epsilon: epsilon)(x, profile)
    }

    public func add(_ a: Tensor<Double>, _ b: Tensor<Double>) throws -> Tensor<Double> {
        profile.residual(a, b.scalars)
    }

    public func mlaAttention(_ x: Tensor<Double>, inputs: ForwardInputs, store: any WeightStore, prefix: String)
        throws -> (output: Tensor<Double>, latents: Tensor<Double>)
    {
        let config = store.config.text
        let attention = makeAttention(try MLAWeights(store, prefix: prefix), config, profile)
        var caches = Array(repeating: LatentCache(width: config.latentCacheWidth), count: inputs.batch)
        return attention(x, inputs: inputs, caches: &caches, algorithm: algorithm ?? .expanded)
    }

    /// The absorbed algorithm (spec/attention.md eq. 9–10, unless `algorithm` says otherwise) over each sequence's
    /// cache.
    public func mlaDecode(_ x: Tensor<Double>, positions: [Int], visible: [Bool], caches: inout [LatentCache],
                          store: any WeightStore, prefix: String) throws
        -> (output: Tensor<Double>, latents: Tensor<Double>)
    {
        let attention = makeAttention(try MLAWeights(store, prefix: prefix), store.config.text, profile)
        var output = [Double](), latents = [Double]()
        for b in 0..<positions.count {
            let (out, rows) = attention(x.slice(b..<(b + 1)), positions: [positions[b]], visible: [visible[b]],
                                        cache: &caches[b], algorithm: algorithm ?? .absorbed)
            output += out.scalars
            latents += rows.scalars
        }
        return (Tensor(shape: [positions.count, x.shape[1]], scalars: output),
                Tensor(shape: [positions.count, caches[0].width], scalars: latents))
    }

    public func router(_ x: Tensor<Double>, weight: Tensor<Double>, config: TextConfig) throws -> Routing {
        Router(weight: weight, config: config, profile: profile)(x)
    }

    public func routedExperts(_ x: Tensor<Double>, routing: Routing, store: any WeightStore, prefix: String)
        throws -> Tensor<Double>
    {
        try RoutedExperts(prefix: prefix, profile: profile)(x, routing: routing, store: store)
    }

    public func swiglu(_ x: Tensor<Double>, store: any WeightStore, prefix: String) throws -> Tensor<Double> {
        try SwiGLU(store, prefix: prefix)(x, profile)
    }

    public func lmHead(_ x: Tensor<Double>, name: String, store: any WeightStore) throws -> Tensor<Double> {
        try languageModelHead(x, name: name, store: store, profile: profile)
    }

    public func patchEmbedding(_ pixels: Tensor<Double>, weight: Tensor<Double>) throws -> Tensor<Double> {
        PatchEmbedding(weight: weight).convolve(pixels, profile)
    }

    public func visionAttention(_ x: Tensor<Double>, weights: VisionAttentionWeights, config: VisionConfig,
                                grids: PatchGrids) throws -> Tensor<Double> {
        VisionAttention(weights: weights, config: config, profile: profile)(x, grids: grids)
    }

    public func patchMerger(_ x: Tensor<Double>, weight: Tensor<Double>, mergeSize: Int, grids: PatchGrids)
        throws -> Tensor<Double>
    {
        PatchMerger(weight: weight, mergeSize: mergeSize)(x, grids: grids, profile)
    }

    public func projectorMLP(_ x: Tensor<Double>, linear1: Tensor<Double>, bias1: Tensor<Double>?,
                             linear2: Tensor<Double>, bias2: Tensor<Double>?) throws -> Tensor<Double> {
        Projector.mlp(x, linear1: linear1, bias1: bias1, linear2: linear2, bias2: bias2, profile: profile)
    }
}
