// The synthetic Mistral Small 4: every parameter drawn from its own Philox stream (spec/rng.md eq. 8) with a
// mean and standard deviation chosen per kind of tensor (spec/rng.md §4.1), so activations keep unit scale
// through any number of layers and any port can regenerate any tensor, or any slice of one, from its name.
// A few experts are drawn as copies of others (spec/rng.md §4.3), so the router meets exact ties by construction.

import Tensor

extension TensorEntry {
    /// The (mean, std) the synthetic model draws this tensor with (spec/rng.md §4.1):
    ///
    /// ```
    /// RMSNorm weight (…norm.weight, ln_pre.weight)   mean 1, std 0.1
    /// bias                                           mean 0, std 0.02
    /// embed_tokens                                   mean 0, std 1
    /// any other matrix [.., out, in] / conv [out, C, p, p]   mean 0, std 1/sqrt(fan_in)
    ///   fan_in = in (last axis) for rank 2 and 3 (stacked experts), C·p·p for rank 4
    /// ```
    public var syntheticDistribution: (mean: Double, std: Double) {
        if name.hasSuffix(".bias") { return (0, 0.02) }
        if shape.count == 1 { return (1, 0.1) }
        if component == .embedding { return (0, 1) }
        let fanIn = shape.count == 4 ? shape.dropFirst().reduce(1, *) : shape.last!
        return (0, 1 / Double(fanIn).squareRoot())
    }
}

extension TextConfig {
    /// The expert whose parameters the synthetic model draws for `expert` (spec/rng.md §4.3): with groups of
    /// m = E / n_group experts, expert m − 1 copies m − 2 (two experts of group 0 tie exactly), and when n_group ≥ 2
    /// and m ≥ 4, experts m and m + 1 copy 0 and 1 (groups 0 and 1 tie whenever those pairs lead both). Every
    /// other expert is its own. A source is never itself a copy.
    ///
    /// ```
    /// tiny (E 8, n_group 2):  3 ← 2,  4 ← 0,  5 ← 1        full (E 128, n_group 1):  127 ← 126
    /// ```
    public func syntheticSource(ofExpert expert: Int) -> Int {
        let size = nRoutedExperts / max(nGroup, 1)
        if size >= 2, expert == size - 1 { return size - 2 }
        if nGroup >= 2, size >= 4, expert == size || expert == size + 1 { return expert - size }
        return expert
    }
}

/// The weights of `config` drawn from `seed`: nothing is held, every request generates its rows.
public struct SyntheticWeightStore: WeightStore {
    public let config: ModelConfig
    public let seed: UInt64
    public let inventory: TensorInventory

    /// Elements drawn per task when generating in parallel.
    private static let run = 1 << 16

    public init(config: ModelConfig, seed: UInt64) {
        self.config = config
        self.seed = seed
        inventory = TensorInventory(config)
    }

    public func rows(_ name: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> {
        let entry = try entry(name)
        let outer = entry.shape.first ?? 1
        precondition(rows.lowerBound >= 0 && rows.upperBound <= outer, "rows \(rows) of \(name) \(entry.shape)")
        if [.router, .routedExperts].contains(entry.component),
           rows.contains(where: { config.text.syntheticSource(ofExpert: $0) != $0 }) {   // rows are experts: copies drawn
            var scalars = [Double]()
            for expert in rows {
                let source = config.text.syntheticSource(ofExpert: expert)
                scalars += try drawn(name, entry, source..<(source + 1)).scalars
            }
            return Tensor(shape: [rows.count] + entry.shape.dropFirst(), scalars: scalars)
        }
        return try drawn(name, entry, rows)
    }

    /// Rows `rows` of `entry` as eq. (8) draws them, elements numbered by their place in the whole tensor.
    private func drawn(_ name: String, _ entry: TensorEntry, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> {
        let inner = entry.shape.dropFirst().reduce(1, *)
        let (mean, std) = entry.syntheticDistribution
        let elements = (rows.lowerBound * inner)..<(rows.upperBound * inner)
        // Elements are a pure function of (seed, name, index), so cores draw disjoint runs of them.
        let weights = SyntheticWeights(seed: seed)
        let scalars = [Double](unsafeUninitializedCapacity: elements.count) { buffer, initialized in
            let base = buffer.baseAddress!
            let runs = (elements.count + Self.run - 1) / Self.run
            parallelChunks(runs, work: elements.count * 64) { chunk in
                for run in chunk {
                    let local = (run * Self.run)..<min((run + 1) * Self.run, elements.count)
                    let global = (elements.lowerBound + local.lowerBound)..<(elements.lowerBound + local.upperBound)
                    weights.fill(name, elements: global, std: std, mean: mean, into: base + local.lowerBound)
                }
            }
            initialized = elements.count
        }
        return Tensor(shape: [rows.count] + entry.shape.dropFirst(), scalars: scalars)
    }
}
