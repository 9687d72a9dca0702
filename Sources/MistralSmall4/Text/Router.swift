// The MoE router (transformers' `Mistral4TopkRouter`) — spec/router.md eq. (1)–(7).
//
//   z = W_g · x                          logits over E experts                                   (1)
//   π = softmax(z)                       over all E experts                                      (2)
//   G_g = sum of the 2 largest π in group g  (E / n_group experts per group)                      (3)
//   keep the topk_group groups with the largest G; π̂ = π on kept groups, 0 elsewhere             (4)
//   S = the k experts with the largest π̂, ties to the lower index, in descending order          (5)
//   w_e = π_e / (Σ_{e∈S} π_e + 1e-20)  if norm_topk_prob, else π_e;  then w_e ← w_e · routed_scaling (6)
//   margin = π̂_(k) − π̂_(k+1)             the k-th minus the (k+1)-th largest π̂                    (7)
// The margin says how close a token is to a different expert set: a backend whose error exceeds it may swap
// an expert legitimately, and the diff accepts that swap only there. A margin of 0 is an exact tie: any k of the
// tied experts is a valid choice (`choices`); a tie between group scores is not free (lower group index).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensor

/// The router's outputs for T tokens.
public struct Routing: Sendable, Equatable {
    /// z of eq. (1). [T, E]
    public var logits: Tensor<Double>
    /// w of eq. (6), in the order of `indices`. [T, k]
    public var weights: Tensor<Double>
    /// S of eq. (5): expert ids, largest probability first, ties to the lower id. [T, k]
    public var indices: Tensor<Int>
    /// Eq. (7). [T]
    public var margin: Tensor<Double>

    public init(logits: Tensor<Double>, weights: Tensor<Double>, indices: Tensor<Int>, margin: Tensor<Double>) {
        (self.logits, self.weights, self.indices, self.margin) = (logits, weights, indices, margin)
    }
}

/// Group-limited top-k routing over softmax probabilities.
public struct Router: Sendable {
    /// `mlp.gate.weight`. [E, H] (unused by `select`)
    public let weight: Tensor<Double>
    public let config: TextConfig
    public let profile: PrecisionProfile

    public init(weight: Tensor<Double>, config: TextConfig, profile: PrecisionProfile = .exact) {
        self.weight = weight
        self.config = config
        self.profile = profile
    }

    /// A router that selects from given logits (`select`, `choices`) and holds no weight.
    public init(selecting config: TextConfig, profile: PrecisionProfile) {
        self.init(weight: Tensor(shape: [0, config.hiddenSize], scalars: []), config: config, profile: profile)
    }

    /// `x [T, H] -> Routing`.
    public func callAsFunction(_ x: Tensor<Double>) -> Routing {
        select(profile.roundedAsActivations(linear(x, weight)))                                           // (1)
    }

    /// Eq. (2)–(7) from the logits `[T, E]` of eq. (1), however they were computed (a backend's own GEMM).
    public func select(_ logits: Tensor<Double>) -> Routing {
        let (tokens, experts, k) = (logits.shape[0], config.nRoutedExperts, config.numExpertsPerTok)
        var weights = [Double](), indices = [Int](), margins = [Double]()
        for t in 0..<tokens {
            let probabilities = profile.softmax(Array(logits.scalars[(t * experts)..<((t + 1) * experts)]))   // (2)
            let candidates = groupLimited(probabilities)                                        // (3), (4)
            let order = ranked(candidates)
            let chosen = Array(order.prefix(k))                                                 // (5)
            var picked = chosen.map { probabilities[$0] }
            if config.normTopkProb {
                let denominator = profile.roundedAsActivation(profile.roundedAsActivation(picked.reduce(0, +)) + 1e-20)
                picked = picked.map { profile.roundedAsActivation($0 / denominator) }
            }
            weights += picked.map { profile.roundedAsActivation($0 * config.routedScalingFactor) }        // (6)
            indices += chosen
            margins.append(candidates[order[k - 1]] - (k < experts ? candidates[order[k]] : 0))     // (7)
        }
        return Routing(
            logits: logits, weights: Tensor(shape: [tokens, k], scalars: weights),
            indices: Tensor(shape: [tokens, k], scalars: indices), margin: Tensor(shape: [tokens], scalars: margins))
    }

    /// Eq. (2) for one token's logits `[E]`, in the profile's precision.
    public func probabilities(_ logits: [Double]) -> [Double] { profile.softmax(logits) }

    /// The valid choices of eq. (5) for one token's logits `[E]` (spec/router.md, "Ties"): every valid choice holds
    /// the experts `above` (π̂ larger than the k-th largest π̂) and fills its other places with distinct experts of
    /// `tied` (π̂ equal to the k-th largest, in a kept group). Without a tie at the k-th place, `tied` is only the
    /// k-th expert itself, and the one valid choice is the reference's.
    public func choices(_ logits: [Double]) -> (above: Set<Int>, tied: Set<Int>) {
        let probabilities = profile.softmax(logits)
        let candidates = groupLimited(probabilities)                      // π̂: π in kept groups, 0 in the others
        let kth = candidates[ranked(candidates)[config.numExpertsPerTok - 1]]
        let above = Set(candidates.indices.filter { candidates[$0] > kth })
        let kept = { (e: Int) in candidates[e] == probabilities[e] }
        return (above, Set(candidates.indices.filter { candidates[$0] == kth && kept($0) }))
    }

    /// Eq. (3)–(4): the probabilities with every expert outside the best `topk_group` groups set to 0.
    func groupLimited(_ probabilities: [Double]) -> [Double] {
        let groups = config.nGroup
        let size = probabilities.count / groups
        let groupScores = (0..<groups).map { g in
            let top = probabilities[(g * size)..<((g + 1) * size)].sorted(by: >)
            return profile.roundedAsActivation(top.prefix(2).reduce(0, +))
        }
        let kept = Set(ranked(groupScores).prefix(config.topkGroup))
        return probabilities.indices.map { kept.contains($0 / size) ? probabilities[$0] : 0 }
    }

    /// The indices of `values`, largest first, ties to the lower index (eq. 4–5).
    private func ranked(_ values: [Double]) -> [Int] {
        values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
    }
}
