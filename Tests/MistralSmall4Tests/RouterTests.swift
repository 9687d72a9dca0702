// The router on hand-made logits: softmax over all experts, group limit, ties to the lower id, renormalization,
// scaling, and the margin (spec/router.md eq. 1–7).

import Foundation
import Testing
import Tensor
@testable import MistralSmall4

@Suite struct RouterTests {
    /// A router over E = 8 experts whose weight is the identity on the first 8 hidden channels, so a token's
    /// logits are its first 8 values.
    private func router(groups: Int, topkGroup: Int, k: Int, normalize: Bool = true, scale: Double = 2.5) -> Router {
        var config = Preset.tiny.config.text
        (config.nGroup, config.topkGroup, config.numExpertsPerTok) = (groups, topkGroup, k)
        (config.normTopkProb, config.routedScalingFactor) = (normalize, scale)
        let identity = (0..<8).flatMap { e in (0..<config.hiddenSize).map { $0 == e ? 1.0 : 0.0 } }
        return Router(weight: Tensor(shape: [8, config.hiddenSize], scalars: identity), config: config)
    }

    private func token(_ logits: [Double]) -> Tensor<Double> {
        Tensor(shape: [1, 64], scalars: logits + Array(repeating: 0, count: 64 - logits.count))
    }

    @Test func picksTheLargestProbabilitiesInDescendingOrder() {
        let routing = router(groups: 1, topkGroup: 1, k: 2)(token([0, 3, 1, 2, 0, 0, 0, 0]))
        #expect(routing.indices.scalars == [1, 3])
        let p = softmax([0, 3, 1, 2, 0, 0, 0, 0])
        let w1 = p[1] / (p[1] + p[3] + 1e-20), w3 = p[3] / (p[1] + p[3] + 1e-20)
        #expect(routing.weights.scalars == [w1 * 2.5, w3 * 2.5])
        #expect(abs(routing.margin.scalars[0] - (p[3] - p[2])) < 1e-15)
    }

    @Test func tiesGoToTheLowerExpertId() {
        let routing = router(groups: 1, topkGroup: 1, k: 2)(token([1, 2, 2, 2, 0, 0, 0, 0]))
        #expect(routing.indices.scalars == [1, 2])
        #expect(routing.margin.scalars[0] == 0, "a tie at the k-th place has zero margin")
    }

    @Test func groupLimitExcludesTheLosingGroup() {
        // Groups {0…3} and {4…7}. Group scores: top-2 sums. Group 0 holds the single largest probability (expert 0)
        // but group 1's top two sum higher, so only experts 4…7 may be chosen.
        let logits: [Double] = [3.0, 0, 0, 0, 2.6, 2.6, 0, 0]
        let routing = router(groups: 2, topkGroup: 1, k: 2)(token(logits))
        #expect(routing.indices.scalars == [4, 5])
        let p = softmax(logits)
        #expect(abs(routing.margin.scalars[0] - (p[5] - p[6])) < 1e-15, "margin among the kept group")
    }

    @Test func withoutRenormalizationWeightsAreScaledProbabilities() {
        let logits: [Double] = [0, 1, 2, 3, 4, 5, 6, 7]
        let routing = router(groups: 1, topkGroup: 1, k: 3, normalize: false, scale: 1)(token(logits))
        let p = softmax(logits)
        #expect(routing.indices.scalars == [7, 6, 5])
        #expect(routing.weights.scalars == [p[7], p[6], p[5]])
    }

    @Test func logitsAreTheGateProduct() {
        let routing = router(groups: 1, topkGroup: 1, k: 2)(token([0.5, -1, 2, 0, 0, 0, 0, 0.25]))
        #expect(routing.logits.scalars == [0.5, -1, 2, 0, 0, 0, 0, 0.25])
    }

    /// At a tie at the k-th place any of the tied experts may fill it; the experts above it may not change.
    @Test func choicesAtAnExpertTieHoldTheExpertsAboveAndFreeTheTied() {
        let router = router(groups: 2, topkGroup: 1, k: 2)
        let logits: [Double] = [2, 0, 1, 1, 0, 0, 0, 0]
        #expect(router.select(Tensor(shape: [1, 8], scalars: logits)).indices.scalars == [0, 2])
        let (above, tied) = router.choices(logits)
        #expect(above == [0] && tied == [2, 3])
        #expect(router.choices([2, 0, 1, 0.5, 0, 0, 0, 0]) == (above: [0], tied: [2]), "no tie: only the k-th itself")
    }

    /// Equal group scores keep the lower group (eq. 4): the other group's experts are no valid choice, even when
    /// their probabilities equal the chosen ones.
    @Test func aGroupTieKeepsTheLowerGroup() {
        let router = router(groups: 2, topkGroup: 1, k: 2)
        let logits: [Double] = [1, 1, 0, 0, 1, 1, 0, 0]
        #expect(router.select(Tensor(shape: [1, 8], scalars: logits)).indices.scalars == [0, 1])
        let (above, tied) = router.choices(logits)
        #expect(above.isEmpty && tied == [0, 1])
    }

    private func softmax(_ z: [Double]) -> [Double] {
        let top = z.max()!
        let e = z.map { exp($0 - top) }
        let total = e.reduce(0, +)
        return e.map { $0 / total }
    }
}
