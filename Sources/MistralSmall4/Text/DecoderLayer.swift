// One decoder block — spec/decoder.md eq. (2)–(3), and the MoE block of spec/experts.md eq. (3):
//
//   h' = h + MLA(RMSNorm_in(h))                                                                  (2)
//   h'' = h' + MLP(RMSNorm_post(h'))     MLP = dense SwiGLU below first_k_dense_replace, else MoE  (3)
//   MoE(x) = Σ_{e ∈ S(x)} w_e · Expert_e(x) + SharedExpert(x)                                  experts.md (3)
//
// Written once as spec ops through the run's backend (GraphRun.swift): `assay forward`, every `assay diff` mode and
// `assay bench` walk this code. Weights are read by the ops when they run, routed experts one at a time.

import Tensor

extension GraphRun {
    /// Decoder block `layer`: `h [B·S, H] -> [B·S, H]`.
    public func decoderLayer(_ layer: Int, _ h: Flow) throws -> Flow {
        let tap = { (kind: TapKind) in self.paths.tap(kind, layer: layer) }
        let normed = try rmsNorm(h, tap(.inputNorm), epsilon: config.text.rmsNormEps)
        let attended = try attention(layer, normed)
        let mid = try residual(h, attended, in: paths.layer(layer))                                     // (2)
        let normedMid = try rmsNorm(mid, tap(.postAttentionNorm), epsilon: config.text.rmsNormEps)
        let mlp = config.text.isMoELayer(layer)
            ? try moe(layer, normedMid)
            : try swiglu(normedMid, tap(.denseMLP))
        return try add(mid, mlp, tap(.decoderLayer))                                                     // (3)
    }

    /// The MoE block of layer `layer`: router, routed experts, shared expert(s), their sum. `x [T, H] -> [T, H]`.
    func moe(_ layer: Int, _ x: Flow) throws -> Flow {
        let tap = { (kind: TapKind) in self.paths.tap(kind, layer: layer) }
        let gate = [tap(.routerLogits), tap(.routerWeights), tap(.routerIndices), tap(.routerMargin)]
        let routing = try op(.router, gate, [x]) { inputs in
            let r = try backend.router(try inputs[0].realValue, weight: try store.tensor(gate[0].weight),
                                       config: config.text)
            return [.real(r.logits), .real(r.weights), .integer(r.indices), .real(r.margin)]
        }
        let experts = tap(.routedExperts)
        let routed = try op(.routedExperts, [experts], [x] + routing) { inputs in
            guard case .integer(let indices) = inputs[3] else {
                throw InputError(field: gate[2].name, "router indices must be integers")
            }
            let routing = Routing(logits: try inputs[1].realValue, weights: try inputs[2].realValue, indices: indices,
                                  margin: try inputs[4].realValue)
            return [.real(try backend.routedExperts(try inputs[0].realValue, routing: routing, store: store,
                                                    prefix: experts.module))]
        }[0]
        let shared = try swiglu(x, tap(.sharedExperts))
        return try add(routed, shared, tap(.moe))
    }

    /// MLA over `x [B·S, H]` (normed): a prefill through `mla_attention`, or — once the layer's caches hold rows, or
    /// in a decode diff — one position at a time through `mla_decode`. Appends the new latent rows to the caches.
    func attention(_ layer: Int, _ x: Flow) throws -> Flow {
        let taps = [paths.tap(.kvLatent, layer: layer), paths.tap(.selfAttention, layer: layer)]
        let module = taps[1].module
        let decoding = stepwise || caches[layer].contains { $0.count > 0 }
        return try op(decoding ? .mlaDecode : .mlaAttention, taps, [x]) { values in
            let x = try values[0].realValue
            let (output, latents) = decoding
                ? try decode(x, caches: &caches[layer], prefix: module)
                : try prefill(x, caches: &caches[layer], prefix: module)
            return [.real(latents), .real(output)]
        }[1]
    }

    /// A prefill of every sequence; its latent rows appended to `caches`.
    private func prefill(_ x: Tensor<Double>, caches: inout [LatentCache], prefix: String) throws
        -> (output: Tensor<Double>, latents: Tensor<Double>)
    {
        let (output, latents) = try backend.mlaAttention(x, inputs: inputs, store: store, prefix: prefix)
        let width = latents.shape[1]
        for row in 0..<latents.shape[0] {
            caches[row / inputs.length].append(latents.scalars[(row * width)..<((row + 1) * width)],
                                               visible: inputs.attentionMask.scalars[row] == 1)
        }
        return (output, latents)
    }

    /// `x [B·S, H]` one position at a time, each sequence's tokens appended to its own cache (padding cached
    /// invisible). Returns `[B·S, H]` and `[B·S, r_kv + d_r]`.
    private func decode(_ x: Tensor<Double>, caches: inout [LatentCache], prefix: String) throws
        -> (output: Tensor<Double>, latents: Tensor<Double>)
    {
        let (batch, length, hidden, width) = (inputs.batch, inputs.length, x.shape[1], config.text.latentCacheWidth)
        var output = [Double](repeating: 0, count: batch * length * hidden)
        var latents = [Double](repeating: 0, count: batch * length * width)
        for t in 0..<length {
            let rows = (0..<batch).map { $0 * length + t }                                             // one per sequence
            let step = Tensor(shape: [batch, hidden], scalars: rows.flatMap { x.scalars[($0 * hidden)..<(($0 + 1) * hidden)] })
            let (out, new) = try backend.mlaDecode(step, positions: rows.map { inputs.positionIds.scalars[$0] },
                                                   visible: rows.map { inputs.attentionMask.scalars[$0] == 1 },
                                                   caches: &caches, store: store, prefix: prefix)
            for (b, row) in rows.enumerated() {
                output.replaceSubrange((row * hidden)..<((row + 1) * hidden), with: out.scalars[(b * hidden)..<((b + 1) * hidden)])
                latents.replaceSubrange((row * width)..<((row + 1) * width), with: new.scalars[(b * width)..<((b + 1) * width)])
            }
        }
        return (Tensor(shape: [batch * length, hidden], scalars: output), Tensor(shape: [batch * length, width], scalars: latents))
    }

    // MARK: Ops used throughout the graph

    /// RMSNorm (spec/rmsnorm.md) with the weight of `tap`'s module.
    func rmsNorm(_ x: Flow, _ tap: Tap, epsilon: Double) throws -> Flow {
        try op(.rmsNorm, tap, x) { try backend.rmsNorm($0, weight: try store.tensor(tap.weight), epsilon: epsilon) }
    }

    /// The SwiGLU MLP of `tap`'s module (spec/experts.md eq. 1).
    func swiglu(_ x: Flow, _ tap: Tap) throws -> Flow {
        try op(.swiglu, tap, x) { try backend.swiglu($0, store: store, prefix: tap.module) }
    }

    /// `a + b` recorded as `tap`.
    func add(_ a: Flow, _ b: Flow, _ tap: Tap) throws -> Flow {
        try op(.add, [tap], [a, b]) { [.real(try backend.add(try $0[0].realValue, try $0[1].realValue))] }[0]
    }
}
