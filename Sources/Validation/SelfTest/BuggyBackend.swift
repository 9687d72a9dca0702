// BuggyBackend: the reference backend with one PlantedBug planted — spec/conformance.md §7. Every op forwards to
// the reference; the ops a bug lives in are overridden here and in the area files (BuggyBackend+Attention.swift,
// +MoE, +Vision), each override the smallest change of config, weights or one seam that computes what the buggy
// port computes.

import MistralSmall4
import Tensor

/// The reference backend with one planted bug.
public struct BuggyBackend: DelegatingBackend {
    public let bug: PlantedBug
    public let profile: PrecisionProfile
    public let base: any Backend

    /// The reference in `profile` with `bug` planted.
    public init(_ bug: PlantedBug, profile: PrecisionProfile = .exact) {
        (self.bug, self.profile) = (bug, profile)
        var base = ReferenceBackend(profile: profile)
        if let plant = Self.attentionPlant(bug) {
            base.makeAttention = { weights, config, profile in
                var attention = MLAAttention(weights: weights, config: config, profile: profile)
                plant(&attention)
                return attention
            }
        }
        self.base = base
    }

    public var name: String { "reference+" + bug.rawValue }

    public func embedding(_ ids: [Int], table: String, store: any WeightStore) throws -> Tensor<Double> {
        let rows = try base.embedding(ids, table: table, store: store)
        guard bug == .embeddingScaled else { return rows }
        let scale = Double(rows.shape[1]).squareRoot()
        return rows.map { $0 * scale }
    }

    public func rmsNorm(_ x: Tensor<Double>, weight: Tensor<Double>, epsilon: Double) throws -> Tensor<Double> {
        switch bug {
        case .normEpsilon: return try base.rmsNorm(x, weight: weight, epsilon: 1e-5)
        case .visionNormEpsilon:   // the vision norms are the ones at Pixtral's ε (no preset's rms_norm_eps is 1e-5)
            return try base.rmsNorm(x, weight: weight, epsilon: epsilon == visionNormEpsilon ? 1e-6 : epsilon)
        case .normEpsilonOutsideSqrt:
            // x / (r + ε) with r = sqrt(mean x²) is the reference's x / sqrt(r² + ε') for ε' = 2εr + ε², row by row.
            let width = weight.count
            let rows = try (0..<(x.count / width)).map { row in
                let values = Tensor(shape: [1, width], scalars: Array(x.scalars[(row * width)..<((row + 1) * width)]))
                let r = (values.scalars.reduce(0) { $0 + $1 * $1 } / Double(width)).squareRoot()
                return try base.rmsNorm(values, weight: weight, epsilon: 2 * epsilon * r + epsilon * epsilon).scalars
            }
            return Tensor(shape: x.shape, scalars: rows.flatMap { $0 })
        default: return try base.rmsNorm(x, weight: weight, epsilon: epsilon)
        }
    }

    public func lmHead(_ x: Tensor<Double>, name: String, store: any WeightStore) throws -> Tensor<Double> {
        let table = ModelPaths(store.config).tap(.embedTokens).weight
        return try base.lmHead(x, name: bug == .lmHeadTied ? table : name, store: store)
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

    func quantization(of name: String, row: Int?) throws(WeightError) -> LinearQuantization? {
        try base.quantization(of: name, row: row)
    }
}

/// `t` [rows, …] with row r taken from row `source(r)`: how a port that reads a matrix in another row order sees it.
func gatherRows(_ t: Tensor<Double>, _ source: (Int) -> Int) -> Tensor<Double> {
    let width = t.count / t.shape[0]
    return Tensor(shape: t.shape, scalars: (0..<t.shape[0]).flatMap { r in
        t.scalars[(source(r) * width)..<((source(r) + 1) * width)]
    })
}
