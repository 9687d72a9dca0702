// The router and expert plants of BuggyBackend (spec/router.md, spec/experts.md): a config field, the groups
// relabelled so the reference's tie rule picks what the port's picks, the ties at the k-th place all kept, the expert weights as the port reads them,
// or the op recomposed from the reference's.

import MistralSmall4
import Tensor

extension BuggyBackend {
    public func router(_ x: Tensor<Double>, weight: Tensor<Double>, config: TextConfig) throws -> Routing {
        var wrong = config
        switch bug {
        case .routerWithoutRenormalization: wrong.normTopkProb = false
        case .routedScalingMissing: wrong.routedScalingFactor = 1
        case .routerThresholdTopK:        // the reference's experts, weighted as if every tied one were kept too
            let routing = try base.router(x, weight: weight, config: config)
            let k = config.numExpertsPerTok
            let kept = Self.thresholdRouting(routing, config: config)
            let width = kept.weights.shape[1]
            return Routing(logits: routing.logits, weights: Tensor(shape: routing.weights.shape, scalars:
                               (0..<routing.weights.count).map { kept.weights.scalars[$0 / k * width + $0 % k] }),
                           indices: routing.indices, margin: routing.margin)
        case .groupTiesToHigherId:        // the groups in reverse order, each group's experts in their own order
            let size = config.nRoutedExperts / config.nGroup
            let groups = config.nGroup
            return try relabelled(x, weight: weight, config: config) { $0 % size + (groups - 1 - $0 / size) * size }
        default: break
        }
        return try base.router(x, weight: weight, config: wrong)
    }

    /// Top-k as a threshold, π̂ ≥ π̂₍ₖ₎: each token's k experts, then every other expert tied with the k-th (an exact
    /// tie keeps them all), with π renormalized over all kept and scaled (eq. 6). Indices and weights [T, W], W the
    /// most experts a token keeps; a token that keeps fewer is padded with its first expert at weight 0.
    static func thresholdRouting(_ routing: Routing, config: TextConfig) -> Routing {
        let router = Router(selecting: config, profile: .exact)
        let (tokens, experts, k) = (routing.logits.shape[0], config.nRoutedExperts, config.numExpertsPerTok)
        var rows = [(indices: [Int], weights: [Double])]()
        for t in 0..<tokens {
            let logits = Array(routing.logits.scalars[(t * experts)..<((t + 1) * experts)])
            let chosen = Array(routing.indices.scalars[(t * k)..<((t + 1) * k)])
            let kept = chosen + router.choices(logits).tied.subtracting(chosen).sorted()
            let probabilities = router.probabilities(logits)
            let denominator = config.normTopkProb ? kept.reduce(0) { $0 + probabilities[$1] } + 1e-20 : 1
            rows.append((kept, kept.map { probabilities[$0] / denominator * config.routedScalingFactor }))
        }
        let width = rows.map(\.indices.count).max() ?? k
        let padded = rows.map { row in
            (row.indices + Array(repeating: row.indices[0], count: width - row.indices.count),
             row.weights + Array(repeating: 0, count: width - row.weights.count))
        }
        return Routing(logits: routing.logits, weights: Tensor(shape: [tokens, width], scalars: padded.flatMap(\.1)),
                       indices: Tensor(shape: [tokens, width], scalars: padded.flatMap(\.0)), margin: routing.margin)
    }

    /// The reference router over the experts relabelled so that new id n is old id `old(n)` (a permutation): the
    /// reference's ties to the lower id become ties to the lower new id. Indices and logits mapped back.
    private func relabelled(_ x: Tensor<Double>, weight: Tensor<Double>, config: TextConfig, old: (Int) -> Int) throws
        -> Routing
    {
        let experts = weight.shape[0]
        let new = Dictionary(uniqueKeysWithValues: (0..<experts).map { (old($0), $0) })
        var routing = try base.router(x, weight: gatherRows(weight, old), config: config)
        routing.indices = routing.indices.map(old)
        routing.logits = Tensor(shape: routing.logits.shape, scalars: (0..<routing.logits.count).map {
            routing.logits.scalars[$0 / experts * experts + new[$0 % experts]!]
        })
        return routing
    }

    public func routedExperts(_ x: Tensor<Double>, routing: Routing, store: any WeightStore, prefix: String)
        throws -> Tensor<Double>
    {
        switch bug {
        case .routerThresholdTopK:
            return try base.routedExperts(x, routing: Self.thresholdRouting(routing, config: store.config.text),
                                          store: store, prefix: prefix)
        case .expertWeightsTransposed, .gateUpSwapped:
            let swapped = bug == .gateUpSwapped
            return try base.routedExperts(x, routing: routing, store: TransformedWeightStore(store) { name, slab in
                guard name.hasPrefix(prefix) else { return slab }
                guard swapped else { return Self.readTransposed(slab) }
                return name.hasSuffix(".gate_up_proj") ? Self.halvesSwapped(slab) : slab
            }, prefix: prefix)
        case .routingWeightsOnInputs:
            // Σ_r Expert_{S_r}(w_r · x): the reference once per rank r, with that rank's expert at weight 1.
            let (tokens, hidden, k) = (x.shape[0], x.shape[1], routing.indices.shape[1])
            var sum = Tensor<Double>(shape: x.shape, repeating: 0)
            for rank in 0..<k {
                let column = (0..<tokens).map { $0 * k + rank }
                let chosen = Tensor(shape: [tokens, 1], scalars: column.map { routing.indices.scalars[$0] })
                let one = Routing(logits: routing.logits, weights: Tensor(shape: [tokens, 1], repeating: 1),
                                  indices: chosen, margin: routing.margin)
                let scaled = Tensor(shape: x.shape, scalars: x.scalars.indices.map {
                    x.scalars[$0] * routing.weights.scalars[column[$0 / hidden]]
                })
                let y = try base.routedExperts(scaled, routing: one, store: store, prefix: prefix)
                sum = try base.add(sum, y)
            }
            return sum
        default:
            return try base.routedExperts(x, routing: routing, store: store, prefix: prefix)
        }
    }

    public func swiglu(_ x: Tensor<Double>, store: any WeightStore, prefix: String) throws -> Tensor<Double> {
        guard prefix.hasSuffix(".shared_experts") else { return try base.swiglu(x, store: store, prefix: prefix) }
        switch bug {
        case .sharedExpertSkipped: return Tensor(shape: x.shape, repeating: 0)
        case .sharedExpertScaled:
            let scale = store.config.text.routedScalingFactor
            return try base.swiglu(x, store: store, prefix: prefix).map { $0 * scale }
        default: return try base.swiglu(x, store: store, prefix: prefix)
        }
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

    /// Each [2I, H] matrix of a slab [n, 2I, H] with its halves swapped: what a port taking the up rows first reads
    /// as gate and up.
    static func halvesSwapped(_ slab: Tensor<Double>) -> Tensor<Double> {
        let rows = slab.shape[1]
        let matrices = gatherRows(slab.reshaped([slab.shape[0] * rows, slab.count / slab.shape[0] / rows])) { row in
            row / rows * rows + (row % rows + rows / 2) % rows
        }
        return matrices.reshaped(slab.shape)
    }
}
