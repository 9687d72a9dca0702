// ShapeTrace: what every step of one decoder layer and of the vision path maps, holds and costs — the table of
// `assay explain` (spec/explain.md §2).
//
// Goals, in order: every figure is read off the tensor inventory (a linear's multiply-adds per row are its weight's
// elements), so no shape is written twice; the attention products, which have no weight, follow the loops of
// spec/attention.md eq. (6)–(10) and spec/vision.md eq. (9); the steps come in data-flow order, named by the module
// path their tap carries.
//
// Multiply-adds count matrix products only (linears and attention products); MultiplyAddCounter counts the same
// thing in the running reference, and ExplainTests holds the two equal.

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

    // MARK: Text

    /// The steps of decoder layer `layer` for `span`, attention by `algorithm` (spec/attention.md eq. 1–10).
    public func decoderLayer(_ layer: Int, span: TokenSpan, algorithm: AttentionAlgorithm) -> [TraceStep] {
        let prefix = ModelPaths(config).layer(layer)
        let rows = span.rows
        let hidden = text.hiddenSize
        return [norm(prefix + ".input_layernorm", rows: rows)]
            + attention(prefix + ".self_attn", span: span, algorithm: algorithm)
            + [elementwise(prefix, "residual add", [rows, hidden]),
               norm(prefix + ".post_attention_layernorm", rows: rows)]
            + (text.isMoELayer(layer) ? moe(prefix + ".mlp", rows: rows) : swiGLU(prefix + ".mlp", rows: rows))
            + [elementwise(prefix, "residual add", [rows, hidden])]
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

    /// The MoE block: router, k of E routed experts per row, shared experts, combine (spec/router.md,
    /// spec/experts.md eq. 1–3).
    func moe(_ m: String, rows: Int) -> [TraceStep] {
        let (k, hidden) = (text.numExpertsPerTok, text.hiddenSize)
        let gateUp = entry(m + ".experts.gate_up_proj"), down = entry(m + ".experts.down_proj")
        let perExpert = (gateUp.elementCount + down.elementCount) / text.nRoutedExperts
        return [
            linear(m + ".gate", rows: rows),
            TraceStep(module: m + ".experts", operation: "\(k) of \(text.nRoutedExperts) SwiGLU experts",
                      input: [rows, hidden], output: [rows, hidden], parameters: gateUp.elementCount + down.elementCount,
                      multiplyAdds: rows * k * perExpert),
        ] + swiGLU(m + ".shared_experts", rows: rows)
            + [elementwise(m, "combine", [rows, hidden])]
    }

    /// A SwiGLU MLP as one step (gate, up, down).
    func swiGLU(_ m: String, rows: Int) -> [TraceStep] {
        let parts = ["gate_proj", "up_proj", "down_proj"].map { linear(m + "." + $0, rows: rows) }
        return [TraceStep(module: m, operation: "SwiGLU", input: parts[0].input, output: parts[2].output,
                          parameters: parts.map(\.parameters).reduce(0, +), multiplyAdds: parts.map(\.multiplyAdds).reduce(0, +))]
    }

    /// Multiply-adds of layer `layer`'s products with weights over `span` (its linears, the expanded kv_b and the
    /// routed experts; the attention products, which have no weight, excluded): ×2 for FLOPs.
    public func weightMultiplyAdds(layer: Int, span: TokenSpan) -> Int {
        decoderLayer(layer, span: span, algorithm: .expanded).filter { $0.parameters > 0 }.map(\.multiplyAdds).reduce(0, +)
    }

    /// The whole text decoder over `span`: every layer, the final norm and lm_head.
    public func decoder(span: TokenSpan, algorithm: AttentionAlgorithm) -> [TraceStep] {
        let prefix = ModelPaths(config).text
        let head = config.tieWordEmbeddings ? prefix + ".embed_tokens" : "lm_head"
        let headWeight = entry(head + ".weight")
        return [elementwise(prefix + ".embed_tokens", "gather", [span.rows], to: [span.rows, text.hiddenSize])]
            + (0..<text.numHiddenLayers).flatMap { decoderLayer($0, span: span, algorithm: algorithm) }
            + [norm(prefix + ".norm", rows: span.rows),
               TraceStep(module: "lm_head", operation: "linear", input: [span.rows, text.hiddenSize],
                         output: [span.rows, text.vocabSize], parameters: config.tieWordEmbeddings ? 0 : headWeight.elementCount,
                         multiplyAdds: span.rows * headWeight.elementCount)]
    }

    // MARK: Vision

    /// The vision tower and projector over one image of `height × width` pixels (multiples of the patch size times
    /// the merge size): every tower block, or only the first with `allBlocks` false. nil without a vision config.
    public func visionPath(height: Int, width: Int, allBlocks: Bool = true) -> [TraceStep]? {
        guard let m = config.multimodal else { return nil }
        let v = m.vision
        let (tower, projector) = ("model.vision_tower", "model.multi_modal_projector")
        let patches = (height / v.patchSize) * (width / v.patchSize)
        let merged = patches / (m.spatialMergeSize * m.spatialMergeSize)
        let conv = entry(tower + ".patch_conv.weight")
        var steps = [
            TraceStep(module: tower + ".patch_conv", operation: "patch convolution",
                      input: [v.numChannels, height, width], output: [patches, v.hiddenSize],
                      parameters: conv.elementCount, multiplyAdds: patches * conv.elementCount),
            norm(tower + ".ln_pre", rows: patches),
        ]
        for layer in 0..<(allBlocks ? v.numHiddenLayers : min(1, v.numHiddenLayers)) {
            let block = "\(tower).transformer.layers.\(layer)"
            steps += [norm(block + ".attention_norm", rows: patches)]
            steps += ["q_proj", "k_proj", "v_proj"].map { linear(block + ".attention." + $0, rows: patches) }
            steps += [
                elementwise(block + ".attention", "2D rope", [patches, v.hiddenSize]),
                TraceStep(module: block + ".attention", operation: "attention q·kᵀ, p·v", input: [patches, v.hiddenSize],
                          output: [patches, v.hiddenSize], parameters: 0,
                          multiplyAdds: 2 * patches * patches * v.hiddenSize),
                linear(block + ".attention.o_proj", rows: patches),
                norm(block + ".ffn_norm", rows: patches),
            ]
            steps += swiGLU(block + ".feed_forward", rows: patches)
        }
        let mergeStep = linear(projector + ".patch_merger.merging_layer", rows: merged)
        return steps + [
            norm(projector + ".norm", rows: patches),
            TraceStep(module: projector + ".patch_merger", operation: "merge \(m.spatialMergeSize)×\(m.spatialMergeSize)",
                      input: [patches, v.hiddenSize], output: mergeStep.output, parameters: mergeStep.parameters,
                      multiplyAdds: mergeStep.multiplyAdds),
            linear(projector + ".linear_1", rows: merged),
            elementwise(projector, "GELU", [merged, text.hiddenSize]),
            linear(projector + ".linear_2", rows: merged),
        ]
    }
}
