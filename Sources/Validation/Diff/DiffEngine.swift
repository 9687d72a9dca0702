// The diff engine — spec/conformance.md §5: a backend run op by op over a golden set's cases, its taps compared
// with the goldens by the same code as a port's dump (`CaseComparison`).
//
//   isolated: every op gets the golden taps as inputs, so each tap shows that op's own error
//   chained:  every op gets what the backend produced before it, so the growth of error through the model shows
//   decode:   isolated, with attention run one token at a time through the backend's decode op over its latent
//             cache: the prefill taps reproduced step by step
//
// Goals, in order: never a PASS for a tap that was not computed (an op the backend lacks makes its taps NOT
// COVERED, and in chained mode everything downstream of them too); every tap of the golden set produced by
// exactly one backend op, in the model's order; then only the ops whose taps were asked for (isolated mode).

import MistralSmall4
import Tensor

/// How a diff feeds each op.
public enum DiffMode: String, Sendable, CaseIterable {
    case isolated, chained, decode
}

/// The outcome of one diff: what ran, against what, and a verdict per tap.
public struct DiffResult: Sendable {
    public let backend: String
    public let precision: CandidatePrecision
    public let mode: DiffMode
    public let goldens: String
    public let verdicts: [TapVerdict]
    /// The op behind each tap name (nil: assembled by the engine from taps the backend produced).
    public let ops: [String: SpecOp?]

    public var failures: [TapVerdict] { verdicts.filter { $0.status == .fail } }
    public var notCovered: [TapVerdict] { verdicts.filter { $0.status == .notCovered } }
}

public enum DiffEngine {
    /// Runs `backend` over every case of `data` in `mode` and compares the taps whose names `filter` matches (all
    /// when nil). Throws for what prevents a comparison (a backend error other than a missing op, a bad shape).
    public static func run(_ backend: any Backend, on data: GoldenData, mode: DiffMode, tolerances: Tolerances,
                           filter: Regex<AnyRegexOutput>? = nil) throws -> DiffResult {
        let wanted = { (name: String) in filter.map { name.contains($0) } ?? true }
        var verdicts = [TapVerdict]()
        var ops = [String: SpecOp?]()
        for golden in data.cases {
            let run = CaseRun(backend: backend, data: data, golden: golden, mode: mode, wanted: wanted)
            try run.all()
            ops.merge(run.ops) { a, _ in a }
            var candidate = run.produced
            for name in candidate.names where !wanted(name) { candidate[name] = nil }
            verdicts += try CaseComparison(name: golden.name, taps: golden.taps.filter { wanted($0.name) },
                                           golden: golden.golden, candidate: candidate, valid: golden.valid,
                                           tolerances: tolerances, uncovered: run.uncovered.filter { wanted($0.key) })
                .verdicts()
        }
        return DiffResult(backend: backend.name, precision: backend.precision, mode: mode, goldens: data.origin,
                          verdicts: verdicts, ops: ops)
    }
}

/// A tap an op needs but nobody produced (chained mode, after an op the backend lacks).
struct Unavailable: Error {
    let tap: String
}

/// One case through one backend: the ops in model order, each producing its taps.
final class CaseRun {
    let backend: any Backend
    let golden: GoldenCaseData
    let mode: DiffMode
    let wanted: (String) -> Bool
    let store: any WeightStore
    let config: ModelConfig
    /// The exact sum of two golden taps, for the residual inputs no tap holds (isolated and decode modes).
    let reference: ReferenceBackend
    private(set) var produced: TapTable
    /// Taps not produced, with why.
    private(set) var uncovered: [String: String] = [:]
    /// The op behind each tap (nil: assembled by the engine).
    private(set) var ops: [String: SpecOp?] = [:]
    /// Latent caches attention decodes over, one position per sequence (a bench's decode step); nil: a prefill,
    /// or in decode mode fresh caches.
    var caches: [LatentCache]?
    private let text: String

    init(backend: any Backend, data: GoldenData, golden: GoldenCaseData, mode: DiffMode, wanted: @escaping (String) -> Bool) {
        (self.backend, self.golden, self.mode, self.wanted) = (backend, golden, mode, wanted)
        (store, config) = (data.store, data.config)
        reference = ReferenceBackend(profile: data.profile)
        produced = TapTable(source: "backend \(backend.name), case \(golden.name)")
        text = TensorInventory.textPrefix(data.config)
    }

    /// The value of tap `name` an op takes as input: the golden one (isolated), or the backend's own (chained).
    func input(_ name: String) throws -> Tensor<Double> {
        mode != .chained ? try golden.golden.real(name) : try own(name)
    }

    /// Sets what the backend produced as `name` (a run that starts mid-model).
    func seed(_ name: String, _ value: Tensor<Double>) { produced[name] = .real(value) }

    /// What the backend itself produced as `name`, whatever the mode (for taps the engine assembles).
    func own(_ name: String) throws -> Tensor<Double> {
        guard case .real(let value)? = produced[name] else { throw Unavailable(tap: name) }
        return value
    }

    /// Runs `body` for the taps `names` with `op` (nil: assembled by the engine from taps the backend produced),
    /// unless (isolated) none is wanted. A missing op or input marks them not covered; other errors propagate.
    func step(_ op: SpecOp?, _ names: [String], _ body: () throws -> [TapValue]) throws {
        for name in names { ops[name] = op }
        guard mode == .chained || names.contains(where: wanted) else { return }
        do {
            let values = try body()
            for (name, value) in zip(names, values) { produced[name] = value }
        } catch let error as BackendError where error.unsupported {
            for name in names { uncovered[name] = "op \(error.op.rawValue) not implemented by \(backend.name)" }
        } catch let missing as Unavailable {
            for name in names { uncovered[name] = "needs \(missing.tap), which was not produced" }
        } catch let error as BackendError {
            throw GoldenError(file: produced.source, tensor: names.first, error.description)
        }
    }

    /// A residual sum no tap holds: exact from golden taps (isolated), the backend's own `add` (chained).
    func sum(_ a: Tensor<Double>, _ b: Tensor<Double>) throws -> Tensor<Double> {
        mode != .chained ? try reference.add(a, b) : try backend.add(a, b)
    }

    func all() throws {
        let inputs = golden.inputs
        let bsh = [inputs.batch, inputs.length, config.text.hiddenSize]
        try step(.embedding, [text + ".embed_tokens"]) {
            [.real(try backend.embedding(inputs.inputIds.scalars, table: text + ".embed_tokens.weight", store: store)
                .reshaped(bsh))]
        }
        var hidden = text + ".embed_tokens"
        if let images = golden.images, let multimodal = config.multimodal {
            try vision(images, multimodal)
            try step(nil, [text + "#inputs_embeds"]) {
                let merged = ImageTokenLayout(multimodal).merge(
                    try own(text + ".embed_tokens").reshaped([bsh[0] * bsh[1], bsh[2]]), ids: inputs.inputIds,
                    features: try own(Projector.prefix))
                return [.real(merged.reshaped(bsh))]
            }
            hidden = text + "#inputs_embeds"
        }
        for index in 0..<config.text.numHiddenLayers {
            hidden = try layer(index, input: hidden, shape: bsh)
        }
        try step(.rmsNorm, [text + ".norm"]) {
            [.real(try backend.rmsNorm(try input(hidden).reshaped([bsh[0] * bsh[1], bsh[2]]),
                                       weight: try store.tensor(text + ".norm.weight"),
                                       epsilon: config.text.rmsNormEps).reshaped(bsh))]
        }
        let head = config.tieWordEmbeddings ? text + ".embed_tokens.weight" : "lm_head.weight"
        try step(.lmHead, ["lm_head"]) {
            [.real(try backend.lmHead(try input(text + ".norm").reshaped([bsh[0] * bsh[1], bsh[2]]), name: head,
                                      store: store).reshaped([bsh[0], bsh[1], config.text.vocabSize]))]
        }
    }

    /// Decoder block `index` (spec/decoder.md eq. 2–3) from the tap `input`; returns the name of its output tap.
    func layer(_ index: Int, input hidden: String, shape bsh: [Int]) throws -> String {
        let prefix = "\(text).layers.\(index)"
        let rows = [bsh[0] * bsh[1], bsh[2]]
        let epsilon = config.text.rmsNormEps
        func flat(_ name: String) throws -> Tensor<Double> { try input(name).reshaped(rows) }
        try step(.rmsNorm, [prefix + ".input_layernorm"]) {
            [.real(try backend.rmsNorm(try flat(hidden), weight: try store.tensor(prefix + ".input_layernorm.weight"),
                                       epsilon: epsilon).reshaped(bsh))]
        }
        try step(mode == .decode || caches != nil ? .mlaDecode : .mlaAttention, [prefix + ".self_attn#kv_latent", prefix + ".self_attn"]) {
            let x = try flat(prefix + ".input_layernorm")
            let (output, latents) = mode == .decode || caches != nil
                ? try decode(x, prefix: prefix + ".self_attn")
                : try backend.mlaAttention(x, inputs: golden.inputs, store: store, prefix: prefix + ".self_attn")
            return [.real(latents.reshaped([bsh[0], bsh[1], latents.shape[1]])), .real(output.reshaped(bsh))]
        }
        let mid = { try self.sum(try flat(hidden), try flat(prefix + ".self_attn")) }
        try step(.rmsNorm, [prefix + ".post_attention_layernorm"]) {
            [.real(try backend.rmsNorm(try mid(), weight: try store.tensor(prefix + ".post_attention_layernorm.weight"),
                                       epsilon: epsilon).reshaped(bsh))]
        }
        let mlp = prefix + ".mlp"
        if config.text.isMoELayer(index) {
            try moe(mlp, shape: bsh)
        } else {
            try step(.swiglu, [mlp]) {
                [.real(try backend.swiglu(try flat(prefix + ".post_attention_layernorm"), store: store, prefix: mlp)
                    .reshaped(bsh))]
            }
        }
        try step(.add, [prefix]) { [.real(try backend.add(try mid(), try flat(mlp)).reshaped(bsh))] }
        return prefix
    }

    /// Attention over `x [B·S, H]` one position at a time through the decode op, each sequence's tokens appended
    /// to its own latent cache (padding tokens cached invisible). Returns `[B·S, H]` and `[B·S, r_kv + d_r]`.
    func decode(_ x: Tensor<Double>, prefix: String) throws -> (output: Tensor<Double>, latents: Tensor<Double>) {
        let (batch, length, hidden) = (golden.inputs.batch, golden.inputs.length, x.shape[1])
        let width = config.text.kvLoraRank + config.text.qkRopeHeadDim
        var caches = self.caches ?? Array(repeating: LatentCache(width: width), count: batch)
        var output = [Double](repeating: 0, count: batch * length * hidden)
        var latents = [Double](repeating: 0, count: batch * length * width)
        for t in 0..<length {
            let rows = (0..<batch).map { $0 * length + t }
            let step = Tensor(shape: [batch, hidden], scalars: rows.flatMap { x.scalars[($0 * hidden)..<(($0 + 1) * hidden)] })
            let (out, new) = try backend.mlaDecode(step, positions: rows.map { golden.inputs.positionIds.scalars[$0] },
                                                   visible: rows.map { golden.inputs.attentionMask.scalars[$0] == 1 },
                                                   caches: &caches, store: store, prefix: prefix)
            for (b, row) in rows.enumerated() {
                output.replaceSubrange((row * hidden)..<((row + 1) * hidden), with: out.scalars[(b * hidden)..<((b + 1) * hidden)])
                latents.replaceSubrange((row * width)..<((row + 1) * width), with: new.scalars[(b * width)..<((b + 1) * width)])
            }
        }
        return (Tensor(shape: [batch * length, hidden], scalars: output), Tensor(shape: [batch * length, width], scalars: latents))
    }

    /// The MoE block `mlp` (spec/experts.md eq. 3): router, routed experts, shared expert, their sum.
    func moe(_ mlp: String, shape bsh: [Int]) throws {
        let normed = String(mlp.dropLast(".mlp".count)) + ".post_attention_layernorm"
        let rows = [bsh[0] * bsh[1], bsh[2]]
        let gate = [mlp + ".gate#logits", mlp + ".gate#weights", mlp + ".gate#indices", mlp + ".gate#margin"]
        try step(.router, gate) {
            let routing = try backend.router(try input(normed).reshaped(rows), weight: try store.tensor(mlp + ".gate.weight"),
                                             config: config.text)
            return [.real(routing.logits), .real(routing.weights), .integer(routing.indices), .real(routing.margin)]
        }
        try step(.routedExperts, [mlp + ".experts"]) {
            [.real(try backend.routedExperts(try input(normed).reshaped(rows), routing: try routing(gate), store: store,
                                             prefix: mlp + ".experts"))]
        }
        try step(.swiglu, [mlp + ".shared_experts"]) {
            [.real(try backend.swiglu(try input(normed).reshaped(rows), store: store, prefix: mlp + ".shared_experts")
                .reshaped(bsh))]
        }
        try step(.add, [mlp]) {
            [.real(try backend.add(try input(mlp + ".experts"), try input(mlp + ".shared_experts").reshaped(rows))
                .reshaped(bsh))]
        }
    }

    /// The routing an experts op takes: the golden one (isolated) or the backend's (chained).
    func routing(_ gate: [String]) throws -> Routing {
        let source = mode != .chained ? golden.golden : produced
        guard case .integer(let indices)? = source[gate[2]] else { throw Unavailable(tap: gate[2]) }
        return Routing(logits: try input(gate[0]), weights: try input(gate[1]), indices: indices,
                       margin: try input(gate[3]))
    }

    /// The vision tower and projector (spec/vision.md, spec/projector.md), up to the projector's output tap.
    func vision(_ images: VisionInputs, _ multimodal: MultimodalConfig) throws {
        let tower = VisionTower.prefix
        let vision = multimodal.vision
        let grids = images.grids(cellSide: vision.patchSize)
        let embedding = PatchEmbedding(weight: try store.tensor(tower + ".patch_conv.weight"))
        try step(.patchEmbedding, [tower + ".patch_conv"]) {
            [.real(try backend.patchEmbedding(images.pixelValues, weight: try store.tensor(tower + ".patch_conv.weight")))]
        }
        let epsilon = VisionBlock.normEpsilon
        try step(.rmsNorm, [tower + ".ln_pre"]) {
            let patches = embedding.imagePatches(try input(tower + ".patch_conv"), images)
            return [.real(try backend.rmsNorm(patches, weight: try store.tensor(tower + ".ln_pre.weight"),
                                              epsilon: epsilon).reshaped([1] + patches.shape))]
        }
        var states = [tower + ".ln_pre"]
        func flat(_ name: String) throws -> Tensor<Double> {
            let t = try input(name)
            return t.reshaped(Array(t.shape.suffix(2)))
        }
        for index in 0..<vision.numHiddenLayers {
            let block = "\(tower).transformer.layers.\(index)"
            let previous = states[index]
            func norm(_ name: String, _ value: () throws -> Tensor<Double>) throws {
                try step(.rmsNorm, [block + "." + name]) {
                    let x = try value()
                    return [.real(try backend.rmsNorm(x, weight: try store.tensor(block + ".\(name).weight"),
                                                      epsilon: epsilon).reshaped([1] + x.shape))]
                }
            }
            try norm("attention_norm") { try flat(previous) }
            try step(.visionAttention, [block + ".attention"]) {
                let weights = try VisionAttentionWeights(store, prefix: block + ".attention", heads: vision.numAttentionHeads)
                let x = try flat(block + ".attention_norm")
                return [.real(try backend.visionAttention(x, weights: weights, config: vision, grids: grids)
                    .reshaped([1] + x.shape))]
            }
            let mid = { try self.sum(try flat(previous), try flat(block + ".attention")) }
            try norm("ffn_norm", mid)
            try step(.swiglu, [block + ".feed_forward"]) {
                let x = try flat(block + ".ffn_norm")
                return [.real(try backend.swiglu(x, store: store, prefix: block + ".feed_forward")
                    .reshaped([1] + x.shape))]
            }
            try step(.add, [block]) {
                let x = try mid()
                return [.real(try backend.add(x, try flat(block + ".feed_forward")).reshaped([1] + x.shape))]
            }
            states.append(block)
        }
        try step(nil, [tower]) { [.real(try own(states[vision.numHiddenLayers]))] }
        let k = multimodal.visionFeatureLayer
        let features = states[k < 0 ? k + states.count : k]
        let projector = Projector.prefix
        try step(.rmsNorm, [projector + ".norm"]) {
            [.real(try backend.rmsNorm(try flat(features), weight: try store.tensor(projector + ".norm.weight"),
                                       epsilon: config.text.rmsNormEps))]
        }
        try step(.patchMerger, [projector + ".patch_merger"]) {
            [.real(try backend.patchMerger(try input(projector + ".norm"),
                                           weight: try store.tensor(projector + ".patch_merger.merging_layer.weight"),
                                           mergeSize: multimodal.spatialMergeSize, grids: grids))]
        }
        try step(.projectorMLP, [projector]) {
            let bias = multimodal.multimodalProjectorBias
            return [.real(try backend.projectorMLP(
                try input(projector + ".patch_merger"), linear1: try store.tensor(projector + ".linear_1.weight"),
                bias1: bias ? try store.tensor(projector + ".linear_1.bias") : nil,
                linear2: try store.tensor(projector + ".linear_2.weight"),
                bias2: bias ? try store.tensor(projector + ".linear_2.bias") : nil))]
        }
    }
}
