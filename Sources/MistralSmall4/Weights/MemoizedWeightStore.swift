// A store that keeps what it has read, for benchmarks that run the same layer again and again: the second run
// times the kernels, not the generation of synthetic weights. Routed experts (`….experts.*`) pass through: at
// full width they are 3.2 B parameters a layer, which a backend keeps in its own precision if it wants them.

import Tensor

/// `base` with every non-expert slab memoized after its first read.
public struct MemoizedWeightStore: WeightStore {
    public let base: any WeightStore
    public var config: ModelConfig { base.config }
    public var inventory: TensorInventory { base.inventory }
    private let kept = KeyedMemo<Tensor<Double>>()

    public init(_ base: any WeightStore) { self.base = base }

    public func rows(_ name: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> {
        guard !TensorInventory.isRoutedExpert(name) else { return try base.rows(name, rows) }
        return try kept.value("\(name)[\(rows.lowerBound)..<\(rows.upperBound)]") { () throws(WeightError) in
            try base.rows(name, rows)
        }
    }

    public func quantization(of name: String, row: Int?) throws(WeightError) -> LinearQuantization? {
        try base.quantization(of: name, row: row)
    }

    public var holdsQuantized: Bool { base.holdsQuantized }
}
