// MLA prefill in float32 — spec/attention.md eq. (1)–(8), (11)–(12), the expanded algorithm, every projection
// and both attention products (QKᵀ, PV) per head as one sgemm over a sequence.
//
//   q = W_qb · RMSNorm_q(W_qa · x)          [S, n·(d_n + d_r)]                                     (1)
//   [c | k_r] = W_kva · x,  ĉ = RMSNorm_kv(c)                                                      (2)
//   RoPE on q_r and k_r (float64 angles, rounded to float32), τ(p) on the whole query              (3), (4)
//   [k_n | v] per head = W_kvb · ĉ          [S, n·(d_n + d_v)]                                     (5)
//   S_h = σ · Q_h K_hᵀ, causal and masked, softmax, O_h = P_h V_h                                   (6)–(8), (11)–(12)
// Decode, one token over the latent cache C [L, r_kv] and K_r [L, d_r] (absorbed, eq. 9–10):
//   Q̃ [n, r_kv] = q_n^h · W_UK^h per head,  S [n, L] = σ · (Q̃ Cᵀ + Q_r K_rᵀ),  Õ [n, r_kv] = P C,
//   o^h = W_UV^h · õ^h

import MistralSmall4
import Tensor

extension BLASBackend {
    public func mlaAttention(_ x: Tensor<Double>, inputs: ForwardInputs, store: any WeightStore, prefix: String)
        throws -> (output: Tensor<Double>, latents: Tensor<Double>)
    {
        let config = store.config.text
        let block = try weights(prefix) { AttentionBlock(weights: try MLAWeights(store, prefix: prefix), config: config) }
        let length = inputs.length
        var output = [Float](), latents = [Float]()
        let all = Matrix(x)
        for b in 0..<inputs.batch {
            let rows = (b * length)..<((b + 1) * length)
            let (out, latent) = block(all.rows(rows), positions: Array(inputs.positionIds.scalars[rows]),
                                      visible: inputs.attentionMask.scalars[rows].map { $0 == 1 })
            output += out.values
            latents += latent.values
        }
        return (Matrix(rows: all.rows, cols: config.hiddenSize, values: output).tensor(),
                Matrix(rows: all.rows, cols: config.latentCacheWidth, values: latents).tensor())
    }
}

extension BLASBackend {
    public func mlaDecode(_ x: Tensor<Double>, positions: [Int], visible: [Bool], caches: inout [LatentCache],
                          store: any WeightStore, prefix: String) throws
        -> (output: Tensor<Double>, latents: Tensor<Double>)
    {
        let config = store.config.text
        let block = try weights(prefix) { AttentionBlock(weights: try MLAWeights(store, prefix: prefix), config: config) }
        let input = Matrix(x)
        var output = [Float](), latents = [Float]()
        for b in 0..<positions.count {
            let (out, row) = block.decode(input.rows(b..<(b + 1)), position: positions[b], visible: visible[b],
                                          cache: &caches[b])
            output += out.values
            latents += row.values
        }
        return (Matrix(rows: positions.count, cols: config.hiddenSize, values: output).tensor(),
                Matrix(rows: positions.count, cols: caches[0].width, values: latents).tensor())
    }
}

/// One MLA block's float32 weights and the sequence-level computation.
struct AttentionBlock {
    let config: TextConfig
    let queryDown: ProjectionWeight?, queryNorm: [Float]?, queryUp: ProjectionWeight
    let kvDown: ProjectionWeight, kvNorm: [Float], kvUp: ProjectionWeight
    /// W_UK | W_UV per head as the absorbed products fold them (FP8: dequantized), and kv_b's FP8 scales.
    let kvUpValues: Matrix, kvUpQuantization: LinearQuantization?
    let output: ProjectionWeight
    let rope: YarnRoPE
    let scale: Float

    init(weights: MLAWeights, config: TextConfig) {
        self.config = config
        queryDown = weights.queryDown.map(ProjectionWeight.init)
        queryNorm = weights.queryNorm.map { Matrix($0.weight).values }
        queryUp = ProjectionWeight(weights.queryUp)
        kvDown = ProjectionWeight(weights.kvDown)
        kvNorm = Matrix(weights.kvNorm.weight).values
        kvUp = ProjectionWeight(weights.kvUp)
        (kvUpValues, kvUpQuantization) = (Matrix(weights.kvUp.weight), weights.kvUp.quantization)
        output = ProjectionWeight(weights.output)
        rope = YarnRoPE(config)
        scale = Float(MLAAttention.softmaxScale(config))
    }

    /// One sequence: `x [S, H]` at `positions`, `visible` its attention mask. Returns `[S, H]` and the latent
    /// cache rows `[S, r_kv + d_r]`.
    func callAsFunction(_ x: Matrix, positions: [Int], visible: [Bool]) -> (output: Matrix, latents: Matrix) {
        let (n, dn, dr, dv, rank) = (config.numAttentionHeads, config.qkNopeHeadDim, config.qkRopeHeadDim,
                                     config.vHeadDim, config.kvLoraRank)
        let tokens = x.rows
        let (q, latents) = project(x, positions: positions)
        let normed = latents.columns(0..<rank)
        let expanded = Kernels.linear(normed, kvUp)                                                      // (5) [S, n·(d_n + d_v)]
        let keyRope = latents.columns(rank..<(rank + dr))
        var heads = Matrix(rows: tokens, cols: n * dv)
        for h in 0..<n {
            let query = q.columns((h * (dn + dr))..<((h + 1) * (dn + dr)))
            let keyNope = expanded.columns((h * (dn + dv))..<(h * (dn + dv) + dn))
            var key = Matrix(rows: tokens, cols: dn + dr)
            for t in 0..<tokens {
                key.values.replaceSubrange((t * (dn + dr))..<(t * (dn + dr) + dn), with: keyNope.values[(t * dn)..<((t + 1) * dn)])
                key.values.replaceSubrange((t * (dn + dr) + dn)..<((t + 1) * (dn + dr)),
                                           with: keyRope.values[(t * dr)..<((t + 1) * dr)])
            }
            var scores = Kernels.linear(query, key)                                                      // (6) [S, S]
            for i in 0..<tokens {
                var row = scores.values[(i * tokens)..<((i + 1) * tokens)]
                for j in row.indices { row[j] *= scale }
                Kernels.softmax(&row) { j in j <= i && visible[j] }                                    // (7), (11), (12)
                scores.values.replaceSubrange((i * tokens)..<((i + 1) * tokens), with: row)
            }
            let value = expanded.columns((h * (dn + dv) + dn)..<((h + 1) * (dn + dv)))
            let mixed = Kernels.product(scores, value)                                                    // (8) [S, d_v]
            for t in 0..<tokens {
                heads.values.replaceSubrange((t * n * dv + h * dv)..<(t * n * dv + (h + 1) * dv),
                                             with: mixed.values[(t * dv)..<((t + 1) * dv)])
            }
        }
        return (Kernels.linear(heads, output), latents)
    }

    /// Eq. (1)–(4) for `x [S, H]`: the queries `[S, n·(d_n + d_r)]` (RoPE and τ applied) and the cache rows
    /// `[S, r_kv + d_r]` ([ĉ | RoPE(k_r)]).
    func project(_ x: Matrix, positions: [Int]) -> (queries: Matrix, latents: Matrix) {
        let (n, dn, dr, rank) = (config.numAttentionHeads, config.qkNopeHeadDim, config.qkRopeHeadDim, config.kvLoraRank)
        let epsilon = Float(MLAWeights.latentNormEpsilon)
        let tokens = x.rows
        var q = if let queryDown, let queryNorm {                                                        // (1)
            Kernels.linear(Kernels.rmsNorm(Kernels.linear(x, queryDown), weight: queryNorm,
                                           epsilon: epsilon), queryUp)
        } else {
            Kernels.linear(x, queryUp)
        }
        var latents = Kernels.linear(x, kvDown)                                       // (2)
        let normed = Kernels.rmsNorm(latents.columns(0..<rank), weight: kvNorm, epsilon: epsilon)
        for t in 0..<tokens {
            let (cosines, sines) = rope.angles(position: positions[t])
            let (cos, sin) = (cosines.map { Float($0) }, sines.map { Float($0) })
            let tau = Float(queryTemperature(position: positions[t], config))
            for i in 0..<rank { latents.values[t * (rank + dr) + i] = normed.values[t * rank + i] }
            rotate(&latents.values, at: t * (rank + dr) + rank, count: dr, cos: cos, sin: sin)           // (3)
            for h in 0..<n {
                let head = (t * n + h) * (dn + dr)
                rotate(&q.values, at: head + dn, count: dr, cos: cos, sin: sin)
                for i in head..<(head + dn + dr) { q.values[i] *= tau }                                   // (4)
            }
        }
        return (q, latents)
    }

    /// Eq. (9)–(10): one token `x [1, H]` appended to `cache`, attending over all of it.
    func decode(_ x: Matrix, position: Int, visible: Bool, cache: inout LatentCache) -> (output: Matrix, latent: Matrix) {
        let (n, dn, dr, dv, rank) = (config.numAttentionHeads, config.qkNopeHeadDim, config.qkRopeHeadDim,
                                     config.vHeadDim, config.kvLoraRank)
        let (q, latent) = project(x, positions: [position])
        cache.append(latent.tensor().scalars[...], visible: visible)
        let cached = Matrix(rows: cache.count, cols: rank + dr, values: cache.rows.map { Float($0) })
        let c = Kernels.effectiveInput(cached.columns(0..<rank), kvUpQuantization)                  // ĉ as kv_b sees it [L, r_kv]
        let keyRope = cached.columns(rank..<(rank + dr))                                   // [L, d_r]
        var absorbed = Matrix(rows: n, cols: rank), queryRope = Matrix(rows: n, cols: dr)
        for h in 0..<n {                                                                    // (9) q̃ = (W_UK^h)ᵀ q_n^h
            let head = h * (dn + dr)
            let nope = Matrix(rows: 1, cols: dn, values: Array(q.values[head..<(head + dn)]))
            let projected = Kernels.product(nope, kvUpValues.rows((h * (dn + dv))..<(h * (dn + dv) + dn)))
            absorbed.values.replaceSubrange((h * rank)..<((h + 1) * rank), with: projected.values)
            queryRope.values.replaceSubrange((h * dr)..<((h + 1) * dr), with: q.values[(head + dn)..<(head + dn + dr)])
        }
        var scores = Kernels.linear(absorbed, c)                                            // [n, L]
        let ropeScores = Kernels.linear(queryRope, keyRope)
        for h in 0..<n {
            var row = scores.values[(h * cache.count)..<((h + 1) * cache.count)]
            for j in row.indices { row[j] = (row[j] + ropeScores.values[j]) * scale }
            Kernels.softmax(&row) { cache.visible[$0] }
            scores.values.replaceSubrange((h * cache.count)..<((h + 1) * cache.count), with: row)
        }
        let mixed = Kernels.product(scores, c)                                              // (10) õ [n, r_kv]
        var heads = Matrix(rows: 1, cols: n * dv)
        for h in 0..<n {
            let value = kvUpValues.rows((h * (dn + dv) + dn)..<((h + 1) * (dn + dv)))              // W_UV^h [d_v, r_kv]
            let out = Kernels.linear(mixed.rows(h..<(h + 1)), value)
            heads.values.replaceSubrange((h * dv)..<((h + 1) * dv), with: out.values)
        }
        return (Kernels.linear(heads, output), latent)
    }

    /// spec/rope.md eq. (9)–(10) on `count` values at `offset`: pairs as the config's `rope_interleave` says
    /// (interleaved (x[2i], x[2i+1]) or half-split (x[i], x[i + d/2])) in, first components to the first half and
    /// second components to the second half out (the layout transformers returns).
    func rotate(_ x: inout [Float], at offset: Int, count: Int, cos: [Float], sin: [Float]) {
        let original = Array(x[offset..<(offset + count)])
        let half = count / 2
        for i in 0..<half {
            let (u, v) = rope.interleaved ? (original[2 * i], original[2 * i + 1]) : (original[i], original[i + half])
            x[offset + i] = u * cos[i] - v * sin[i]
            x[offset + i + half] = v * cos[i] + u * sin[i]
        }
    }
}
