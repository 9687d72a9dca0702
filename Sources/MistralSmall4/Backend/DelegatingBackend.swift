// DelegatingBackend: a backend that hands every op to another unless it implements the op itself — how
// `assay selftest` plants one bug in a copy of the reference, and how a test removes one op.

import Tensor

/// Every op forwards to `base`; a conforming type overrides the ones it changes.
public protocol DelegatingBackend: Backend {
    var base: any Backend { get }
}

extension DelegatingBackend {
    public var precision: CandidatePrecision { base.precision }
    public var operations: Set<SpecOp> { base.operations }

    public func embedding(_ ids: [Int], table: String, store: any WeightStore) throws -> Tensor<Double> {
        try base.embedding(ids, table: table, store: store)
    }
    public func rmsNorm(_ x: Tensor<Double>, weight: Tensor<Double>, epsilon: Double) throws -> Tensor<Double> {
        try base.rmsNorm(x, weight: weight, epsilon: epsilon)
    }
    public func add(_ a: Tensor<Double>, _ b: Tensor<Double>) throws -> Tensor<Double> { try base.add(a, b) }
    public func mlaAttention(_ x: Tensor<Double>, inputs: ForwardInputs, store: any WeightStore, prefix: String)
        throws -> (output: Tensor<Double>, latents: Tensor<Double>) {
        try base.mlaAttention(x, inputs: inputs, store: store, prefix: prefix)
    }
    public func mlaDecode(_ x: Tensor<Double>, positions: [Int], visible: [Bool], caches: inout [LatentCache],
                          store: any WeightStore, prefix: String) throws
        -> (output: Tensor<Double>, latents: Tensor<Double>) {
        try base.mlaDecode(x, positions: positions, visible: visible, caches: &caches, store: store, prefix: prefix)
    }
    public func router(_ x: Tensor<Double>, weight: Tensor<Double>, config: TextConfig) throws -> Routing {
        try base.router(x, weight: weight, config: config)
    }
    public func routedExperts(_ x: Tensor<Double>, routing: Routing, store: any WeightStore, prefix: String)
        throws -> Tensor<Double> {
        try base.routedExperts(x, routing: routing, store: store, prefix: prefix)
    }
    public func swiglu(_ x: Tensor<Double>, store: any WeightStore, prefix: String) throws -> Tensor<Double> {
        try base.swiglu(x, store: store, prefix: prefix)
    }
    public func lmHead(_ x: Tensor<Double>, name: String, store: any WeightStore) throws -> Tensor<Double> {
        try base.lmHead(x, name: name, store: store)
    }
    public func patchEmbedding(_ pixels: Tensor<Double>, weight: Tensor<Double>) throws -> Tensor<Double> {
        try base.patchEmbedding(pixels, weight: weight)
    }
    public func visionAttention(_ x: Tensor<Double>, weights: VisionAttentionWeights, config: VisionConfig,
                                grids: PatchGrids) throws -> Tensor<Double> {
        try base.visionAttention(x, weights: weights, config: config, grids: grids)
    }
    public func patchMerger(_ x: Tensor<Double>, weight: Tensor<Double>, mergeSize: Int, grids: PatchGrids)
        throws -> Tensor<Double> {
        try base.patchMerger(x, weight: weight, mergeSize: mergeSize, grids: grids)
    }
    public func projectorMLP(_ x: Tensor<Double>, linear1: Tensor<Double>, bias1: Tensor<Double>?,
                             linear2: Tensor<Double>, bias2: Tensor<Double>?) throws -> Tensor<Double> {
        try base.projectorMLP(x, linear1: linear1, bias1: bias1, linear2: linear2, bias2: bias2)
    }
}
