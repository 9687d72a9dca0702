// ShapeTrace: what every step of one decoder layer and of the vision path maps, holds and costs — the table of
// `assay explain` (spec/explain.md §2).
//
// Goals, in order: the steps are the one graph's op calls (GraphRun), walked once on one token through a backend
// that only makes shapes (`ShapeBackend`), so the trace can never describe another model than the one that runs;
// every figure is read off the tensor inventory (a linear's multiply-adds per row are its weight's elements), so no
// shape is written twice; the attention products, which have no weight, follow the loops of spec/attention.md
// eq. (6)–(10) and spec/vision.md eq. (9).
//
// Multiply-adds count matrix products only (linears and attention products); MultiplyAddCounter counts the same
// thing in the running reference, and CostModelTests holds the two equal.

import Tensor

/// One step of a forward pass: the module (its tap name), what it does, the shapes it maps, what it holds and costs.
public struct TraceStep: Sendable, Equatable {
    /// The module path, e.g. `model.language_model.layers.0.self_attn.q_a_proj`.
    public let module: String
    /// `linear`, `rms_norm`, `attention`, …
    public let operation: String
    public let input: [Int]
    public let output: [Int]
    /// Parameters the step holds.
    public let parameters: Int
    /// Multiply-adds of the step's matrix products over all its rows.
    public let multiplyAdds: Int
}

/// Where a chunk of new tokens sits: `tokens` new rows after `start` cached ones, in each of `batch` sequences.
public struct TokenSpan: Sendable, Equatable {
    public let start: Int
    public let tokens: Int
    public let batch: Int

    public init(start: Int = 0, tokens: Int, batch: Int = 1) {
        precondition(start >= 0 && tokens >= 1 && batch >= 1, "span: start \(start), tokens \(tokens), batch \(batch)")
        self.start = start
        self.tokens = tokens
        self.batch = batch
    }

    /// New rows in all sequences.
    public var rows: Int { tokens * batch }
    /// Σ over the new tokens of the keys each one sees (itself and everything before it), in one sequence.
    public var visibleKeys: Int { tokens * start + tokens * (tokens + 1) / 2 }
}

/// The shape trace of a config's decoder layers and vision path, from its tensor inventory.
public struct ShapeTrace: Sendable {
    public let config: ModelConfig
    let inventory: TensorInventory

    public init(_ config: ModelConfig) {
        self.config = config
        inventory = TensorInventory(config)
    }

    var text: TextConfig { config.text }

    /// The entry `name`, which the config's inventory holds by construction.
    func entry(_ name: String) -> TensorEntry {
        guard let entry = inventory[name] else { preconditionFailure("inventory has no \(name)") }
        return entry
    }

    /// A linear `module` over `rows` rows: `W [out, in]`, `rows · out · in` multiply-adds; its bias counts as held.
    func linear(_ module: String, rows: Int) -> TraceStep {
        let weight = entry(module + ".weight")
        let bias = inventory[module + ".bias"]?.elementCount ?? 0
        return TraceStep(module: module, operation: "linear", input: [rows, weight.shape[1]], output: [rows, weight.shape[0]],
                         parameters: weight.elementCount + bias, multiplyAdds: rows * weight.elementCount)
    }

    /// An RMSNorm `module` over `[rows, width]`.
    func norm(_ module: String, rows: Int) -> TraceStep {
        let width = entry(module + ".weight").elementCount
        return TraceStep(module: module, operation: "rms_norm", input: [rows, width], output: [rows, width],
                         parameters: width, multiplyAdds: 0)
    }

    /// A step without weights or products.
    func elementwise(_ module: String, _ operation: String, _ shape: [Int], to output: [Int]? = nil) -> TraceStep {
        TraceStep(module: module, operation: operation, input: shape, output: output ?? shape, parameters: 0,
                  multiplyAdds: 0)
    }

    // MARK: Walking the graph

    /// The op calls `body` makes on a run of the shape backend over one token of one sequence.
    func walk(_ config: ModelConfig, _ body: (GraphRun) throws -> Void) -> [OpCall] {
        let store = ZeroWeightStore(config: config)
        var calls = [OpCall]()
        do {
            let run = GraphRun(backend: ShapeBackend(), store: store,
                               inputs: try ForwardInputs(inputIds: Tensor(shape: [1, 1], repeating: 0), config: config.text),
                               recorder: .discarding(), strict: true)
            run.observer = { calls.append($0) }
            try body(run)
        } catch {
            preconditionFailure("the shape walk of a valid config failed: \(error)")
        }
        return calls
    }

    /// The steps of `call` over `rows` rows (`span` for attention; the patches of one `image` in the vision path).
    func steps(_ call: OpCall, rows: Int, span: TokenSpan, algorithm: AttentionAlgorithm,
               image: (height: Int, width: Int) = (0, 0)) -> [TraceStep] {
        switch call.op {
        case .embedding?:
            [elementwise(call.module, "gather", [rows], to: [rows, text.hiddenSize])]
        case .rmsNorm?:
            [norm(call.module, rows: rows)]
        case .add?:
            [elementwise(call.module, call.taps.first?.kind == .moe ? "combine" : "residual add",
                         [rows, residualWidth(call.module)])]
        case .mlaAttention?, .mlaDecode?:
            attention(call.module, span: span, algorithm: algorithm)
        case .router?:
            [linear(call.module, rows: rows)]
        case .routedExperts?:
            experts(call.module, rows: rows)
        case .swiglu?:
            swiGLU(call.module, rows: rows)
        case .lmHead?:
            [lmHead(rows: rows)]
        case .patchEmbedding?, .visionAttention?, .patchMerger?, .projectorMLP?:
            vision(call, patches: rows, image: image)
        case nil:
            []
        }
    }

    /// The multiply-adds of `call` as a run on `inputs` (and `images`) made it, and the weight elements it reads at
    /// most (the routed experts: the experts T·k routings can reach); a decode run (`stepwise`) attends one position
    /// at a time. What a diff's per-op rates divide by.
    public func cost(of call: OpCall, inputs: ForwardInputs, images: VisionInputs?, stepwise: Bool)
        -> (multiplyAdds: Int, weights: Int)
    {
        let (batch, length) = (inputs.batch, inputs.length)
        let prefill = TokenSpan(tokens: length, batch: batch)
        var perCall = [[TraceStep]]()   // one list per image, or per decode position, or the one prefill
        if ModelPaths.onPatches(call.module),
           let images, let patch = config.multimodal?.vision.patchSize {
            for (size, grid) in zip(images.imageSizes, images.grids(cellSide: patch)) {
                perCall.append(steps(call, rows: grid.rows * grid.cols, span: prefill, algorithm: .expanded,
                                     image: (size.height, size.width)))
            }
        } else if stepwise && [.mlaAttention, .mlaDecode].contains(call.op) {
            perCall = (0..<length).map {
                let span = TokenSpan(start: $0, tokens: 1, batch: batch)
                return steps(call, rows: span.rows, span: span, algorithm: .absorbed)
            }
        } else {
            perCall = [steps(call, rows: prefill.rows, span: prefill, algorithm: .expanded)]
        }
        var weights = perCall.first.map { $0.map(\.parameters).reduce(0, +) } ?? 0
        if call.op == .routedExperts {
            weights = weights * min(text.nRoutedExperts, prefill.rows * text.numExpertsPerTok) / text.nRoutedExperts
        }
        return (perCall.joined().map(\.multiplyAdds).reduce(0, +), weights)
    }

    // MARK: Text

    /// The steps of decoder layer `layer` for `span`, attention by `algorithm` (spec/attention.md eq. 1–10).
    public func decoderLayer(_ layer: Int, span: TokenSpan, algorithm: AttentionAlgorithm) -> [TraceStep] {
        let calls = walk(config) { run in
            _ = try run.decoderLayer(layer, Flow(.real(Tensor(shape: [1, text.hiddenSize], repeating: 0))))
        }
        return calls.flatMap { steps($0, rows: span.rows, span: span, algorithm: algorithm) }
    }

    /// The whole text decoder over `span`: the embedding, every layer, the final norm and lm_head.
    public func decoder(span: TokenSpan, algorithm: AttentionAlgorithm) -> [TraceStep] {
        let calls = walk(config) { run in try run.textModel(from: try run.embed()) }
        return calls.flatMap { steps($0, rows: span.rows, span: span, algorithm: algorithm) }
    }

    /// Multiply-adds of layer `layer`'s products with weights over `span` (its linears, the expanded kv_b and the
    /// routed experts; the attention products, which have no weight, excluded): ×2 for FLOPs.
    public func weightMultiplyAdds(layer: Int, span: TokenSpan, algorithm: AttentionAlgorithm = .expanded) -> Int {
        decoderLayer(layer, span: span, algorithm: algorithm).filter { $0.parameters > 0 }.map(\.multiplyAdds).reduce(0, +)
    }

    /// Bytes of weights decoder layer `layer` streams over `span`, `bytesPerWeight` each: every weight once, and of
    /// the routed experts the expected share the rows touch (the memory side of `assay bench`'s roofline).
    public func weightBytes(layer: Int, span: TokenSpan, bytesPerWeight: Int, algorithm: AttentionAlgorithm = .expanded)
        -> Double
    {
        let routed = ModelPaths(config).tap(.routedExperts, layer: layer).module
        return decoderLayer(layer, span: span, algorithm: algorithm).reduce(0) { bytes, step in
            let share = step.module == routed ? text.expertsTouched(rows: span.rows) : 1
            return bytes + Double(step.parameters) * share * Double(bytesPerWeight)
        }
    }
    /// MLA: queries, latents, RoPE and τ, then the attention by `algorithm`, then o_proj.
    func attention(_ a: String, span: TokenSpan, algorithm: AttentionAlgorithm) -> [TraceStep] {
        let (n, dn, dr, dv, r) = (text.numAttentionHeads, text.qkNopeHeadDim, text.qkRopeHeadDim, text.vHeadDim,
                                  text.kvLoraRank)
        let rows = span.rows
        let query = text.qLoraRank == nil
            ? [linear(a + ".q_proj", rows: rows)]
            : [linear(a + ".q_a_proj", rows: rows), norm(a + ".q_a_layernorm", rows: rows), linear(a + ".q_b_proj", rows: rows)]
        let latent = [linear(a + ".kv_a_proj_with_mqa", rows: rows), norm(a + ".kv_a_layernorm", rows: rows),
                      elementwise(a + "#q_rope", "rope + τ", [rows, n, dn + dr])]
        let keys = span.visibleKeys * span.batch
        let kvUp = entry(a + ".kv_b_proj.weight")
        let mixing: [TraceStep]
        switch algorithm {
        case .expanded:   // eq. (5)–(8): every cached latent decompressed, then q·k and p·v per head
            let cached = (span.start + span.tokens) * span.batch
            mixing = [
                TraceStep(module: a + ".kv_b_proj", operation: "linear over the cache", input: [cached, r],
                          output: [cached, n * (dn + dv)], parameters: kvUp.elementCount,
                          multiplyAdds: cached * kvUp.elementCount),
                TraceStep(module: a, operation: "attention q·kᵀ, p·v", input: [rows, n, dn + dr], output: [rows, n * dv],
                          parameters: 0, multiplyAdds: keys * n * (dn + dr + dv)),
            ]
        case .absorbed:   // eq. (9)–(10): W_UK folded into each query, W_UV after, over the latent rows
            mixing = [
                TraceStep(module: a + ".kv_b_proj", operation: "absorbed into q and out", input: [rows, n, dn],
                          output: [rows, n, r], parameters: kvUp.elementCount, multiplyAdds: rows * kvUp.elementCount),
                TraceStep(module: a, operation: "attention over latents", input: [rows, n, r + dr], output: [rows, n * dv],
                          parameters: 0, multiplyAdds: keys * n * (2 * r + dr)),
            ]
        }
        return query + latent + mixing + [linear(a + ".o_proj", rows: rows)]
    }

    /// The routed experts `m`: k of E SwiGLU experts per row (spec/experts.md eq. 2).
    func experts(_ m: String, rows: Int) -> [TraceStep] {
        let (k, hidden) = (text.numExpertsPerTok, text.hiddenSize)
        let gateUp = entry(m + ".gate_up_proj"), down = entry(m + ".down_proj")
        let perExpert = (gateUp.elementCount + down.elementCount) / text.nRoutedExperts
        return [TraceStep(module: m, operation: "\(k) of \(text.nRoutedExperts) SwiGLU experts",
                          input: [rows, hidden], output: [rows, hidden], parameters: gateUp.elementCount + down.elementCount,
                          multiplyAdds: rows * k * perExpert)]
    }

    /// A SwiGLU MLP as one step (gate, up, down).
    func swiGLU(_ m: String, rows: Int) -> [TraceStep] {
        let parts = ["gate_proj", "up_proj", "down_proj"].map { linear(m + "." + $0, rows: rows) }
        return [TraceStep(module: m, operation: "SwiGLU", input: parts[0].input, output: parts[2].output,
                          parameters: parts.map(\.parameters).reduce(0, +), multiplyAdds: parts.map(\.multiplyAdds).reduce(0, +))]
    }

    /// lm_head over `rows` rows; a head tied to the embedding table holds no parameters of its own.
    func lmHead(rows: Int) -> TraceStep {
        let weight = entry(ModelPaths(config).headWeight(config))
        return TraceStep(module: ModelPaths(config).tap(.lmHead).module, operation: "linear",
                         input: [rows, text.hiddenSize], output: [rows, text.vocabSize],
                         parameters: config.tieWordEmbeddings ? 0 : weight.elementCount,
                         multiplyAdds: rows * weight.elementCount)
    }

    /// The width of the residual stream a sum in `module` adds: the tower's inside the vision tower, else the text's.
    func residualWidth(_ module: String) -> Int {
        ModelPaths.onPatches(module) ? config.multimodal!.vision.hiddenSize : text.hiddenSize
    }

    // MARK: Vision

    /// The vision tower and projector over one image of `height × width` pixels (multiples of the patch size times
    /// the merge size): every tower block, or only the first with `allBlocks` false. nil without a vision config.
    public func visionPath(height: Int, width: Int, allBlocks: Bool = true) -> [TraceStep]? {
        guard let m = config.multimodal else { return nil }
        var walked = config
        if !allBlocks {   // block 0 stands for all: the same shapes; the features then come from it
            walked.multimodal!.vision.numHiddenLayers = min(1, m.vision.numHiddenLayers)
            walked.multimodal!.visionFeatureLayer = -1
        }
        let side = m.vision.patchSize * m.spatialMergeSize
        let calls = walk(walked) { run in
            let image = try VisionInputs(pixelValues: Tensor(shape: [1, m.vision.numChannels, side, side], repeating: 0),
                                         imageSizes: Tensor(shape: [1, 2], scalars: [side, side]), config: m)
            _ = try run.projector(try run.visionTower(image), grids: image.grids(cellSide: m.vision.patchSize))
        }
        let patches = (height / m.vision.patchSize) * (width / m.vision.patchSize)
        return calls.flatMap { steps($0, rows: patches, span: TokenSpan(tokens: 1), algorithm: .expanded, image: (height, width)) }
    }

    /// The steps of a vision op over `patches` patches of one `image`.
    func vision(_ call: OpCall, patches: Int, image: (height: Int, width: Int)) -> [TraceStep] {
        let m = config.multimodal!
        let (v, block) = (m.vision, call.module)
        let merged = patches / (m.spatialMergeSize * m.spatialMergeSize)
        switch call.op {
        case .patchEmbedding?:
            let conv = entry(block + ".weight")
            return [TraceStep(module: block, operation: "patch convolution", input: [v.numChannels, image.height, image.width],
                              output: [patches, v.hiddenSize], parameters: conv.elementCount,
                              multiplyAdds: patches * conv.elementCount)]
        case .visionAttention?:
            return ["q_proj", "k_proj", "v_proj"].map { linear(block + "." + $0, rows: patches) } + [
                elementwise(block, "2D rope", [patches, v.hiddenSize]),
                TraceStep(module: block, operation: "attention q·kᵀ, p·v", input: [patches, v.hiddenSize],
                          output: [patches, v.hiddenSize], parameters: 0, multiplyAdds: 2 * patches * patches * v.hiddenSize),
                linear(block + ".o_proj", rows: patches),
            ]
        case .patchMerger?:
            let mergeStep = linear(block + ".merging_layer", rows: merged)
            return [TraceStep(module: block, operation: "merge \(m.spatialMergeSize)×\(m.spatialMergeSize)",
                              input: [patches, v.hiddenSize], output: mergeStep.output, parameters: mergeStep.parameters,
                              multiplyAdds: mergeStep.multiplyAdds)]
        default:   // the projector's MLP, eq. (4)–(5)
            return [linear(block + ".linear_1", rows: merged), elementwise(block, "GELU", [merged, text.hiddenSize]),
                    linear(block + ".linear_2", rows: merged)]
        }
    }
}
