// The bugs `assay selftest` plants in a copy of the reference backend — spec/conformance.md §7. Each is a mistake
// ports of DeepSeek-style MLA, YaRN and Pixtral have made, written as the smallest change to the reference's
// inputs (config, weights, one seam of the attention block) that reproduces what the buggy port computes.

#if canImport(Glibc)
import Glibc
#endif
import MistralSmall4
import Tensor

/// A named bug, what it does, and the tap an isolated diff must fail at first.
public enum PlantedBug: String, CaseIterable, Sendable {
    case ropeHalfSplit = "rope-half-split"
    case yarnRangeFromMaxPositions = "yarn-range-from-max-positions"
    case missingMscaleSquared = "missing-mscale-squared"
    case temperatureAtPositionPlusOne = "temperature-position-plus-one"
    case normEpsilon = "rmsnorm-epsilon"
    case paddingVisible = "padding-visible"
    case kvUpValueFirst = "kv-b-rows-value-first"
    case routerTiesToHigherId = "router-ties-to-higher-id"
    case routerWithoutRenormalization = "router-without-renormalization"
    case expertWeightsTransposed = "expert-weights-transposed"
    case projectorGELUTanh = "projector-gelu-tanh"
    case mergerChannelOrder = "patch-merger-channel-order"

    public var summary: String {
        switch self {
        case .ropeHalfSplit: "RoPE rotates (x[i], x[i+d/2]) pairs instead of interleaved (x[2i], x[2i+1])"
        case .yarnRangeFromMaxPositions: "YaRN's correction range computed from max_position_embeddings, not the original 8192"
        case .missingMscaleSquared: "softmax scale 1/sqrt(d) without YaRN's mscale(s, m_all)^2"
        case .temperatureAtPositionPlusOne: "query temperature tau evaluated at position + 1"
        case .normEpsilon: "RMSNorm epsilon 1e-5 (Pixtral's) where the config's rms_norm_eps applies"
        case .paddingVisible: "the attention mask ignored: left-padding tokens are attended to"
        case .kvUpValueFirst: "kv_b_proj rows read per head as [v | k_nope] instead of [k_nope | v]"
        case .routerTiesToHigherId: "router top-k breaks exact ties toward the higher expert id"
        case .routerWithoutRenormalization: "routing weights not renormalized over the chosen k (norm_topk_prob ignored)"
        case .expertWeightsTransposed: "each routed expert's matrices read transposed from a row-major buffer"
        case .projectorGELUTanh: "projector GELU with the tanh approximation instead of erf"
        case .mergerChannelOrder: "patch merger concatenates whole patches [p00 | p01 | p10 | p11], not channel-major"
        }
    }

    /// Where the spec defines what the bug breaks, and the public reports of ports that made it (the "What ports got
    /// wrong" sections of spec/), for `--diagnose`.
    public var evidence: (spec: String, reports: [String]) {
        switch self {
        case .ropeHalfSplit: ("spec/rope.md eq. 9–10 (interleaved pairs)", ["Megatron-LM#1547", "nurl#584"])
        case .yarnRangeFromMaxPositions: ("spec/rope.md eq. 3 (L is original_max_position_embeddings)", [])
        case .missingMscaleSquared: ("spec/attention.md eq. 6 (σ = mscale² / √d)", ["transformers#47435", "mobius#548"])
        case .temperatureAtPositionPlusOne: ("spec/rope.md eq. 11 (τ at p)", ["vllm#16417", "TensorRT-LLM#3491"])
        case .normEpsilon: ("spec/rmsnorm.md eq. 1 (ε = rms_norm_eps)", ["torchtitan#4395"])
        case .paddingVisible: ("spec/attention.md eq. 11 (mask 0 is no key)", [])
        case .kvUpValueFirst: ("spec/attention.md eq. 5, 9 (kv_b per head [k_nope | v])",
                               ["Megatron-LM#3193", "sglang-jax#950"])
        case .routerTiesToHigherId: ("spec/router.md eq. 5 (ties to the lower id)", [])
        case .routerWithoutRenormalization: ("spec/router.md eq. 6 (norm_topk_prob)", ["torchtitan#1448"])
        case .expertWeightsTransposed: ("spec/experts.md eq. 4 (gate_up [E, 2I, H], down [E, H, I])", ["ROCmFPX#49"])
        case .projectorGELUTanh: ("spec/projector.md eq. 5 (exact erf GELU)", [])
        case .mergerChannelOrder: ("spec/projector.md eq. 2 (unfold's channel-major v[4c + 2a + b])", ["mlxcel#1619"])
        }
    }

    /// The (case, tap) where an isolated diff against the selftest goldens (of the model of `paths`) must fail
    /// first.
    public func expectedFirstFailure(_ paths: ModelPaths) -> (caseName: String, tap: String) {
        let (caseName, kind, layer): (String, TapKind, Int?) = switch self {
        case .ropeHalfSplit, .yarnRangeFromMaxPositions: ("start", .kvLatent, 0)
        case .missingMscaleSquared, .kvUpValueFirst, .paddingVisible: ("start", .selfAttention, 0)
        case .temperatureAtPositionPlusOne: ("long", .selfAttention, 0)
        case .normEpsilon: ("start", .inputNorm, 0)
        case .routerTiesToHigherId: ("start", .routerIndices, SelfTest.tiedLayer)
        case .routerWithoutRenormalization: ("start", .routerWeights, 1)
        case .expertWeightsTransposed: ("start", .routedExperts, 1)
        case .projectorGELUTanh: ("images", .projector, nil)
        case .mergerChannelOrder: ("images", .patchMerger, nil)
        }
        return (caseName, paths.tap(kind, layer: layer).name)
    }
}

/// The reference backend with one planted bug.
public struct BuggyBackend: DelegatingBackend {
    public let bug: PlantedBug
    public let profile: PrecisionProfile
    public let base: any Backend

    /// The reference in `profile` with `bug` planted.
    public init(_ bug: PlantedBug, profile: PrecisionProfile = .exact) {
        (self.bug, self.profile) = (bug, profile)
        var base = ReferenceBackend(profile: profile)
        switch bug {
        case .ropeHalfSplit, .yarnRangeFromMaxPositions:
            base.makeAttention = { weights, config, profile in
                var attention = MLAAttention(weights: weights, config: config, profile: profile)
                var wrong = config
                if bug == .ropeHalfSplit { wrong.ropeInterleave.toggle() }
                else { wrong.rope.originalMaxPositionEmbeddings = config.maxPositionEmbeddings }
                attention.rope = YarnRoPE(wrong, profile: profile)
                return attention
            }
        case .missingMscaleSquared:
            base.makeAttention = { weights, config, profile in
                var attention = MLAAttention(weights: weights, config: config, profile: profile)
                attention.softmaxScale = pow(Double(config.qkHeadDim), -0.5)
                return attention
            }
        case .temperatureAtPositionPlusOne:
            base.makeAttention = { weights, config, profile in
                var attention = MLAAttention(weights: weights, config: config, profile: profile)
                attention.temperature = { queryTemperature(position: $0 + 1, config, profile) }
                return attention
            }
        case .kvUpValueFirst:
            base.makeAttention = { weights, config, profile in
                var swapped = weights
                swapped.kvUp.weight = Self.valueRowsFirst(weights.kvUp.weight, config)
                return MLAAttention(weights: swapped, config: config, profile: profile)
            }
        default: break
        }
        self.base = base
    }

    public var name: String { "reference+" + bug.rawValue }
    public func rmsNorm(_ x: Tensor<Double>, weight: Tensor<Double>, epsilon: Double) throws -> Tensor<Double> {
        try base.rmsNorm(x, weight: weight, epsilon: bug == .normEpsilon ? 1e-5 : epsilon)
    }

    public func mlaAttention(_ x: Tensor<Double>, inputs: ForwardInputs, store: any WeightStore, prefix: String)
        throws -> (output: Tensor<Double>, latents: Tensor<Double>)
    {
        guard bug == .paddingVisible else { return try base.mlaAttention(x, inputs: inputs, store: store, prefix: prefix) }
        let unmasked = try ForwardInputs(inputIds: inputs.inputIds, positionIds: inputs.positionIds, config: store.config.text)
        return try base.mlaAttention(x, inputs: unmasked, store: store, prefix: prefix)
    }

    public func router(_ x: Tensor<Double>, weight: Tensor<Double>, config: TextConfig) throws -> Routing {
        switch bug {
        case .routerWithoutRenormalization:
            var wrong = config
            wrong.normTopkProb = false
            return try base.router(x, weight: weight, config: wrong)
        case .routerTiesToHigherId:   // rank the experts in reverse id order, then map the ids back
            let experts = weight.shape[0]
            let reversed = Tensor(shape: weight.shape, scalars: (0..<experts).reversed().flatMap {
                weight.scalars[($0 * weight.shape[1])..<(($0 + 1) * weight.shape[1])]
            })
            var routing = try base.router(x, weight: reversed, config: config)
            routing.indices = routing.indices.map { experts - 1 - $0 }
            routing.logits = Tensor(shape: routing.logits.shape, scalars: (0..<routing.logits.count).map {
                routing.logits.scalars[$0 / experts * experts + experts - 1 - $0 % experts]
            })
            return routing
        default:
            return try base.router(x, weight: weight, config: config)
        }
    }

    public func routedExperts(_ x: Tensor<Double>, routing: Routing, store: any WeightStore, prefix: String)
        throws -> Tensor<Double>
    {
        guard bug == .expertWeightsTransposed else {
            return try base.routedExperts(x, routing: routing, store: store, prefix: prefix)
        }
        return try base.routedExperts(x, routing: routing, store: TransformedWeightStore(store) { name, slab in
            name.hasPrefix(prefix) ? Self.readTransposed(slab) : slab
        }, prefix: prefix)
    }

    public func patchMerger(_ x: Tensor<Double>, weight: Tensor<Double>, mergeSize: Int, grids: PatchGrids)
        throws -> Tensor<Double>
    {
        guard bug == .mergerChannelOrder else {
            return try base.patchMerger(x, weight: weight, mergeSize: mergeSize, grids: grids)
        }
        // The buggy port multiplies W by [p_0 | … | p_{s²−1}]; the reference multiplies by v[c·s² + q] (q = a·s + b).
        // Feeding the reference W'[:, c·s² + q] = W[:, q·Hv + c] computes exactly what the port does.
        let (hidden, blocks) = (weight.shape[0], mergeSize * mergeSize)
        let permuted = Tensor(shape: weight.shape, scalars: (0..<weight.count).map { i in
            let (row, column) = (i / weight.shape[1], i % weight.shape[1])
            return weight.scalars[row * weight.shape[1] + (column % blocks) * hidden + column / blocks]
        })
        return try base.patchMerger(x, weight: permuted, mergeSize: mergeSize, grids: grids)
    }

    public func projectorMLP(_ x: Tensor<Double>, linear1: Tensor<Double>, bias1: Tensor<Double>?,
                             linear2: Tensor<Double>, bias2: Tensor<Double>?) throws -> Tensor<Double> {
        guard bug == .projectorGELUTanh else {
            return try base.projectorMLP(x, linear1: linear1, bias1: bias1, linear2: linear2, bias2: bias2)
        }
        return Projector.mlp(x, linear1: linear1, bias1: bias1, linear2: linear2, bias2: bias2, profile: profile) { u in
            0.5 * u * (1 + tanh((2 / Double.pi).squareRoot() * (u + 0.044715 * u * u * u)))
        }
    }

    /// kv_b [n·(d_n + d_v), r] with each head's rows reordered so that reading its first d_n rows as W_UK takes
    /// what a port reading [v | k_nope] takes: rows d_v ..< d_v + d_n, then rows 0 ..< d_v as W_UV.
    static func valueRowsFirst(_ kvUp: Tensor<Double>, _ config: TextConfig) -> Tensor<Double> {
        let (dn, dv, rank) = (config.qkNopeHeadDim, config.vHeadDim, kvUp.shape[1])
        var rows = [Double]()
        for h in 0..<config.numAttentionHeads {
            let head = h * (dn + dv)
            for r in Array(dv..<(dv + dn)) + Array(0..<dv) {
                rows += kvUp.scalars[((head + r) * rank)..<((head + r + 1) * rank)]
            }
        }
        return Tensor(shape: kvUp.shape, scalars: rows)
    }

    /// Each [r, c] matrix of a slab [n, r, c] as a port reads it when it takes the buffer for a [c, r] matrix and
    /// transposes it: the same shape, other values.
    static func readTransposed(_ slab: Tensor<Double>) -> Tensor<Double> {
        let (r, c) = (slab.shape[1], slab.shape[2])
        var out = slab.scalars
        for m in 0..<slab.shape[0] {
            for i in 0..<r {
                for j in 0..<c { out[m * r * c + i * c + j] = slab.scalars[m * r * c + j * r + i] }
            }
        }
        return Tensor(shape: slab.shape, scalars: out)
    }
}

/// Another store with every slab it returns passed through `transform(name, slab)` (shapes unchanged).
struct TransformedWeightStore: WeightStore {
    let base: any WeightStore
    let transform: @Sendable (String, Tensor<Double>) -> Tensor<Double>
    var config: ModelConfig { base.config }
    var inventory: TensorInventory { base.inventory }

    init(_ base: any WeightStore, transform: @escaping @Sendable (String, Tensor<Double>) -> Tensor<Double>) {
        self.base = base
        self.transform = transform
    }

    func rows(_ name: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> {
        transform(name, try base.rows(name, rows))
    }

    func fp8Quantization(of name: String, row: Int?) throws(WeightError) -> FP8Quantization? {
        try base.fp8Quantization(of: name, row: row)
    }
}
