// Multi-head Latent Attention (DeepSeek-V2 MLA as Mistral Small 4 uses it) — spec/attention.md eq. (1)–(12).
//
// Goals, in order: transformers' `Mistral4Attention` to float64 rounding; then two algorithms side by side that
// must agree (expanded = what transformers computes, absorbed = what serving kernels compute); then a decode
// path that is the prefill path fed one token at a time through the same latent cache.
//
//   q      = W_qb · RMSNorm_q(W_qa · x)                          per head [q_n (d_n) | q_r (d_r)]      (1)
//   [c | k_r] = W_kva · x,   ĉ = RMSNorm_kv(c)                    latent (r_kv) and shared key (d_r)    (2)
//   q_r ← RoPE(q_r, p),  k_r ← RoPE(k_r, p)                       spec/rope.md                           (3)
//   q ← τ(p) · [q_n | q_r]                                        whole query                            (4)
//   k_n^h = W_UK^h · ĉ,  v^h = W_UV^h · ĉ                         kv_b rows per head: [d_n W_UK | d_v W_UV] (5)
//   s_ij^h = σ · (q_i^h · [k_n,j^h | k_r,j])                      σ = mscale(s, m_all)² / sqrt(d_n + d_r) (6)
//   P_ij^h = softmax_j over visible j ≤ i                         causal by cache index, masked keys out (7)
//   o_i^h = Σ_j P_ij^h v_j^h,   y = W_o · [o^1 … o^n]                                                 (8)
// Absorbed (same numbers, other order):
//   q̃^h = (W_UK^h)ᵀ q_n^h  (r_kv),  s_ij^h = σ · (q̃^h · ĉ_j + q_r^h · k_r,j)                         (9)
//   õ_i^h = Σ_j P_ij^h ĉ_j  (r_kv),  o_i^h = W_UV^h · õ_i^h                                           (10)
//   V_i = { j ≤ i (cache index) : attention_mask_j = 1 }         the keys query i sees                  (11)
//   o_i^h = 0 when V_i is empty (a left-pad query)                transformers: an arbitrary average      (12)

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensor

/// How scores and values are formed from the latent cache.
public enum AttentionAlgorithm: String, CaseIterable, Sendable {
    /// Decompress K and V per head with kv_b (eq. 5–8), as transformers does.
    case expanded
    /// Fold W_UK into the query and W_UV after the weighted sum (eq. 9–10), attending over the latent cache.
    case absorbed
}

/// One MLA block of the text decoder.
public struct MLAAttention: Sendable {
    public var weights: MLAWeights
    public let config: TextConfig
    public let profile: PrecisionProfile
    /// The rotation of eq. (3), from `config`.
    public var rope: YarnRoPE
    /// τ(p) of eq. (4), from `config`.
    public var temperature: @Sendable (Int) -> Double
    /// σ of eq. (6), from `config`.
    public var softmaxScale: Double

    /// The block as the spec defines it. `rope`, `temperature` and `softmaxScale` are variables only so that
    /// `assay selftest` can plant the bugs ports make in them (spec/conformance.md §7).
    public init(weights: MLAWeights, config: TextConfig, profile: PrecisionProfile = .exact) {
        self.weights = weights
        self.config = config
        self.profile = profile
        rope = YarnRoPE(config, profile: profile)
        temperature = { queryTemperature(position: $0, config, profile) }
        softmaxScale = Self.softmaxScale(config)
    }

    /// σ of eq. (6): 1/sqrt(d_n + d_r), times mscale(factor, mscale_all_dim)² under YaRN.
    public static func softmaxScale(_ config: TextConfig) -> Double {
        var scale = pow(Double(config.qkHeadDim), -0.5)   // as transformers writes it: `qk_head_dim ** (-0.5)`
        if let yarn = config.rope.yarn, yarn.mscaleAllDim != 0 {
            let m = yarnMscale(yarn.factor, yarn.mscaleAllDim)
            scale = scale * m * m
        }
        return scale
    }

    /// One sequence's tokens through the block.
    ///
    /// `x [s, H]` (the normed hidden states) at `positions [s]` with `visible [s]` (the attention mask), appended
    /// to `cache` and attending to everything cached before them and to themselves.
    /// Returns `output [s, H]` and this call's cache rows `latents [s, r_kv + d_r]`.
    public func callAsFunction(
        _ x: Tensor<Double>, positions: [Int], visible: [Bool], cache: inout LatentCache,
        algorithm: AttentionAlgorithm = .expanded
    ) -> (output: Tensor<Double>, latents: Tensor<Double>) {
        let tokens = x.shape[0]
        precondition(positions.count == tokens && visible.count == tokens, "MLA: \(tokens) tokens, "
                     + "\(positions.count) positions, \(visible.count) mask entries")
        let angles = positions.map { rope.angles(position: $0) }     // shared by the queries and the keys
        let queries = projectQueries(x, positions: positions, angles: angles)
        let latents = projectLatents(x, angles: angles)
        let start = cache.count
        for t in 0..<tokens {
            cache.append(latents.scalars[(t * cache.width)..<((t + 1) * cache.width)], visible: visible[t])
        }
        let heads = switch algorithm {
        case .expanded: attendExpanded(queries, cache: cache, start: start)
        case .absorbed: attendAbsorbed(queries, cache: cache, start: start)
        }
        let output = profile.roundedAsActivations(weights.output(heads))   // (8)
        return (output, latents)
    }

    /// B sequences at once: `x [B·S, H]` (batch-major) with `inputs`' positions and mask, sequence b appended to
    /// `caches[b]`. Returns `output [B·S, H]` and this call's cache rows `latents [B·S, r_kv + d_r]`.
    public func callAsFunction(
        _ x: Tensor<Double>, inputs: ForwardInputs, caches: inout [LatentCache], algorithm: AttentionAlgorithm = .expanded
    ) -> (output: Tensor<Double>, latents: Tensor<Double>) {
        let length = inputs.length
        var output = [Double](), latents = [Double]()
        for b in 0..<inputs.batch {
            let (out, rows) = self(
                x.slice((b * length)..<((b + 1) * length)), positions: inputs.row(inputs.positionIds, b),
                visible: inputs.row(inputs.attentionMask, b).map { $0 == 1 }, cache: &caches[b], algorithm: algorithm)
            output += out.scalars
            latents += rows.scalars
        }
        return (Tensor(shape: [x.shape[0], x.shape[1]], scalars: output),
                Tensor(shape: [x.shape[0], caches[0].width], scalars: latents))
    }

    /// Eq. (1), (3), (4): `x [s, H] -> q [s, n·(d_n + d_r)]`, RoPE applied and τ(p) folded in.
    /// `angles[t]` is `rope.angles(position: positions[t])`.
    func projectQueries(_ x: Tensor<Double>, positions: [Int], angles: [(cos: [Double], sin: [Double])])
        -> Tensor<Double>
    {
        var q: Tensor<Double>
        if let down = weights.queryDown, let norm = weights.queryNorm {
            let compressed = profile.roundedAsActivations(down(x))
            q = profile.roundedAsActivations(weights.queryUp(norm(compressed, profile)))
        } else {
            q = profile.roundedAsActivations(weights.queryUp(x))
        }
        let (dn, dr, qk) = (config.qkNopeHeadDim, config.qkRopeHeadDim, config.qkHeadDim)
        q.scalars.withUnsafeMutableBufferPointer { buffer in
            for (t, position) in positions.enumerated() {
                let (cosines, sines) = angles[t]
                let tau = temperature(position)
                for h in 0..<config.numAttentionHeads {
                    let head = buffer.baseAddress! + (t * config.numAttentionHeads + h) * qk
                    rope.rotate(head + dn, cos: cosines, sin: sines)                           // (3)
                    for i in 0..<(dn + dr) { head[i] = profile.roundedAsActivation(head[i] * tau) }   // (4)
                }
            }
        }
        return q
    }

    /// Eq. (2), (3): `x [s, H] -> [ĉ ‖ RoPE(k_r)] [s, r_kv + d_r]`, the rows the cache keeps.
    func projectLatents(_ x: Tensor<Double>, angles: [(cos: [Double], sin: [Double])]) -> Tensor<Double> {
        let (rank, dr) = (config.kvLoraRank, config.qkRopeHeadDim)
        let compressed = profile.roundedAsActivations(weights.kvDown(x))
        var rows = compressed.scalars
        for (t, (cosines, sines)) in angles.enumerated() {
            let row = t * (rank + dr)
            let c = Tensor(shape: [1, rank], scalars: Array(rows[row..<(row + rank)]))
            rows.replaceSubrange(row..<(row + rank), with: weights.kvNorm(c, profile).scalars)
            rows.withUnsafeMutableBufferPointer { rope.rotate($0.baseAddress! + row + rank, cos: cosines, sin: sines) }
        }
        return Tensor(shape: [angles.count, rank + dr], scalars: rows)
    }

    /// The ĉ part of every cache row: `[cached, r_kv]`.
    private func cachedLatents(_ cache: LatentCache) -> Tensor<Double> {
        let rank = config.kvLoraRank
        return Tensor(shape: [cache.count, rank],
                      scalars: (0..<cache.count).flatMap { cache.rows[($0 * cache.width)..<($0 * cache.width + rank)] })
    }

    /// The cache indices query `i` (cache index `start + i`) may attend to: visible and not in the future.
    private func keys(for i: Int, start: Int, cache: LatentCache) -> [Int] {
        (0...(start + i)).filter { cache.visible[$0] }
    }

    /// Eq. (5)–(8): decompress every cached latent into per-head keys and values, attend.
    /// `queries [s, n·(d_n + d_r)] -> heads [s, n·d_v]`.
    func attendExpanded(_ queries: Tensor<Double>, cache: LatentCache, start: Int) -> Tensor<Double> {
        let (n, dn, dr, dv, rank) = (config.numAttentionHeads, config.qkNopeHeadDim, config.qkRopeHeadDim,
                                     config.vHeadDim, config.kvLoraRank)
        let tokens = queries.shape[0]
        let latent = cachedLatents(cache)
        let expanded = profile.roundedAsActivations(weights.kvUp(latent))                           // (5)
        var out = [Double](repeating: 0, count: tokens * n * dv)
        for i in 0..<tokens {
            let visible = keys(for: i, start: start, cache: cache)
            MultiplyAddCounter.record(n * visible.count * (dn + dr + dv))   // (6) and (8), every head
            for h in 0..<n {
                let q = Array(queries.scalars[((i * n + h) * (dn + dr))..<((i * n + h + 1) * (dn + dr))])
                let scores = visible.map { j in
                    let kv = j * n * (dn + dv) + h * (dn + dv)
                    let key = Array(expanded.scalars[kv..<(kv + dn)])
                        + cache.rows[(j * cache.width + rank)..<((j + 1) * cache.width)]
                    return score(dot(q, key))                                                        // (6)
                }
                let p = profile.softmax(scores)   // (7); no visible key: no weights, zero output (12)
                for d in 0..<dv {
                    var sum = 0.0
                    for (slot, j) in visible.enumerated() { sum += p[slot] * expanded.scalars[j * n * (dn + dv) + h * (dn + dv) + dn + d] }
                    out[(i * n + h) * dv + d] = profile.roundedAsActivation(sum)                              // (8)
                }
            }
        }
        return Tensor(shape: [tokens, n * dv], scalars: out)
    }

    /// Eq. (9)–(10): attend over the latent cache itself, with W_UK folded into the query and W_UV applied after.
    /// `queries [s, n·(d_n + d_r)] -> heads [s, n·d_v]`.
    func attendAbsorbed(_ queries: Tensor<Double>, cache: LatentCache, start: Int) -> Tensor<Double> {
        let (n, dn, dr, dv, rank) = (config.numAttentionHeads, config.qkNopeHeadDim, config.qkRopeHeadDim,
                                     config.vHeadDim, config.kvLoraRank)
        let tokens = queries.shape[0]
        let up = weights.kvUp.weight.scalars                           // [n·(d_n + d_v), r_kv]
        // ĉ as kv_b_proj sees it (FP8: quantized, spec/quant.md), so absorbing W_UK changes no input.   [cached, r_kv]
        let latent = weights.kvUp.effectiveInput(cachedLatents(cache))
        var out = [Double](repeating: 0, count: tokens * n * dv)
        for i in 0..<tokens {
            let visible = keys(for: i, start: start, cache: cache)
            MultiplyAddCounter.record(n * (rank * (dn + dv) + visible.count * (2 * rank + dr)))   // (9)–(10), every head
            for h in 0..<n {
                let q = (i * n + h) * (dn + dr)
                let ukRows = h * (dn + dv)                             // W_UK^h: rows ukRows ..< ukRows + d_n
                var absorbed = [Double](repeating: 0, count: rank)     // q̃ = (W_UK^h)ᵀ q_n   (9)
                for d in 0..<dn {
                    let qd = queries.scalars[q + d]
                    for c in 0..<rank { absorbed[c] += qd * up[(ukRows + d) * rank + c] }
                }
                let queryRope = Array(queries.scalars[(q + dn)..<(q + dn + dr)])
                let scores = visible.map { j in
                    let row = j * cache.width
                    return score(dot(absorbed, Array(latent.scalars[(j * rank)..<((j + 1) * rank)]))
                                 + dot(queryRope, Array(cache.rows[(row + rank)..<(row + cache.width)])))
                }
                let p = profile.softmax(scores)
                var mixed = [Double](repeating: 0, count: rank)        // õ = Σ_j P_j ĉ_j   (10)
                for (slot, j) in visible.enumerated() {
                    for c in 0..<rank { mixed[c] += p[slot] * latent.scalars[j * rank + c] }
                }
                for d in 0..<dv {
                    let row = (ukRows + dn + d) * rank
                    out[(i * n + h) * dv + d] = profile.roundedAsActivation(dot(Array(up[row..<(row + rank)]), mixed))
                }
            }
        }
        return Tensor(shape: [tokens, n * dv], scalars: out)
    }

    /// A raw q·k product scaled by σ, with the roundings of a bf16 matmul then a bf16 multiply under `hf-bf16`.
    private func score(_ product: Double) -> Double {
        profile.roundedAsActivation(profile.roundedAsActivation(product) * softmaxScale)
    }
}
