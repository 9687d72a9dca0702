// A store that keeps what it has read, for benchmarks that run the same layer again and again: the second run
// times the kernels, not the generation of synthetic weights. Routed experts (`….experts.*`) pass through: at
// full width they are 3.2 B parameters a layer, which a backend keeps in its own precision if it wants them.

#if canImport(Glibc)
import Glibc
#endif
import Tensor

/// `base` with every non-expert slab memoized after its first read.
public final class MemoizedWeightStore: WeightStore, @unchecked Sendable {
    public let base: any WeightStore
    public var config: ModelConfig { base.config }
    public var inventory: TensorInventory { base.inventory }
    private var kept: [String: Tensor<Double>] = [:]
    private var lock = pthread_mutex_t()

    public init(_ base: any WeightStore) {
        self.base = base
        pthread_mutex_init(&lock, nil)
    }

    deinit { pthread_mutex_destroy(&lock) }

    public func rows(_ name: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> {
        guard !name.contains(".experts.") else { return try base.rows(name, rows) }
        let key = "\(name)[\(rows.lowerBound)..<\(rows.upperBound)]"
        pthread_mutex_lock(&lock)
        let found = kept[key]
        pthread_mutex_unlock(&lock)
        if let found { return found }
        let slab = try base.rows(name, rows)
        pthread_mutex_lock(&lock)
        kept[key] = slab
        pthread_mutex_unlock(&lock)
        return slab
    }
}
