// ShapeBackend and ZeroWeightStore: the graph run for its shapes alone — how ShapeTrace walks the one graph of the
// model without computing it. Every op returns zeros of the shape the spec gives its output; every weight is zeros
// of its inventory shape.

import Tensor

/// A backend whose ops make only their outputs' shapes (spec/conformance.md §5 lists the ops).
struct ShapeBackend: Backend {
    var name: String { "shapes" }
    var precision: CandidatePrecision { .f64 }
    var operations: Set<SpecOp> { Set(SpecOp.allCases) }

    func zeros(_ shape: [Int]) -> Tensor<Double> { Tensor(shape: shape, repeating: 0) }

    func embedding(_ ids: [Int], table: String, store: any WeightStore) throws -> Tensor<Double> {
        zeros([ids.count, store.config.text.hiddenSize])
    }
    func rmsNorm(_ x: Tensor<Double>, weight: Tensor<Double>, epsilon: Double) throws -> Tensor<Double> { x }
    func add(_ a: Tensor<Double>, _ b: Tensor<Double>) throws -> Tensor<Double> { a }
    func mlaAttention(_ x: Tensor<Double>, inputs: ForwardInputs, store: any WeightStore, prefix: String)
        throws -> (output: Tensor<Double>, latents: Tensor<Double>) {
        (x, zeros([x.shape[0], store.config.text.latentCacheWidth]))
    }
    func mlaDecode(_ x: Tensor<Double>, positions: [Int], visible: [Bool], caches: inout [LatentCache],
                   store: any WeightStore, prefix: String) throws -> (output: Tensor<Double>, latents: Tensor<Double>) {
        (x, zeros([x.shape[0], store.config.text.latentCacheWidth]))
    }
    func router(_ x: Tensor<Double>, weight: Tensor<Double>, config: TextConfig) throws -> Routing {
        let (tokens, k) = (x.shape[0], config.numExpertsPerTok)
        return Routing(logits: zeros([tokens, config.nRoutedExperts]), weights: zeros([tokens, k]),
                       indices: Tensor(shape: [tokens, k], repeating: 0), margin: zeros([tokens]))
    }
    func routedExperts(_ x: Tensor<Double>, routing: Routing, store: any WeightStore, prefix: String)
        throws -> Tensor<Double> { x }
    func swiglu(_ x: Tensor<Double>, store: any WeightStore, prefix: String) throws -> Tensor<Double> { x }
    func lmHead(_ x: Tensor<Double>, name: String, store: any WeightStore) throws -> Tensor<Double> {
        zeros([x.shape[0], store.config.text.vocabSize])
    }
    func patchEmbedding(_ pixels: Tensor<Double>, weight: Tensor<Double>) throws -> Tensor<Double> {
        let p = weight.shape[2]
        return zeros([pixels.shape[0], weight.shape[0], pixels.shape[2] / p, pixels.shape[3] / p])
    }
    func visionAttention(_ x: Tensor<Double>, weights: VisionAttentionWeights, config: VisionConfig, grids: PatchGrids)
        throws -> Tensor<Double> { x }
    func patchMerger(_ x: Tensor<Double>, weight: Tensor<Double>, mergeSize: Int, grids: PatchGrids)
        throws -> Tensor<Double> {
        zeros([grids.map { ($0.rows / mergeSize) * ($0.cols / mergeSize) }.reduce(0, +), weight.shape[0]])
    }
    func projectorMLP(_ x: Tensor<Double>, linear1: Tensor<Double>, bias1: Tensor<Double>?, linear2: Tensor<Double>,
                      bias2: Tensor<Double>?) throws -> Tensor<Double> {
        zeros([x.shape[0], linear2.shape[0]])
    }
}

/// Every weight of `config` as zeros of its inventory shape.
struct ZeroWeightStore: WeightStore {
    let config: ModelConfig
    let inventory: TensorInventory

    init(config: ModelConfig) {
        self.config = config
        inventory = TensorInventory(config)
    }

    func rows(_ name: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> {
        Tensor(shape: [rows.count] + (try entry(name)).shape.dropFirst(), repeating: 0)
    }
}

extension ModelPaths {
    /// The shape of every tap a forward pass of `config` records on `inputs` and `images`, by name: the one graph
    /// walked through the shape backend. What a golden set's and a dump's shapes are checked against.
    public static func tapShapes(_ config: ModelConfig, inputs: ForwardInputs, images: VisionInputs?) throws
        -> [String: [Int]]
    {
        let recorder = TapRecorder()
        let run = GraphRun(backend: ShapeBackend(), store: ZeroWeightStore(config: config), inputs: inputs,
                           recorder: recorder, strict: true)
        try run.model(images: images)
        return Dictionary(uniqueKeysWithValues: recorder.recorded.map { ($0.tap.name, $0.value.shape) })
    }
}
