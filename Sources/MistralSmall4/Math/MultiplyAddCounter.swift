// MultiplyAddCounter: counts the multiply-adds of the reference's matrix products while a body runs, so the cost
// model of `assay explain` (spec/explain.md §3) is checked against what the code actually does, not against itself.
//
// What counts: every `linear` (rows · outputs · inputs of the tensors it is given) and the attention products of
// MLA and the vision tower (the trip counts of their loops over visible keys). Elementwise work — norms, RoPE,
// softmax, SiLU/GELU — is not counted; spec/explain.md says why it does not change the figures.
//
// The counter is a task-local value: nothing is counted (and nothing is paid but one lookup per product) unless a
// caller asks, and tests that count in parallel do not see each other's work.

import Tensor

/// A running count of multiply-adds, safe to add to from several threads.
public final class MultiplyAddCounter: @unchecked Sendable {
    private let lock = Lock()
    private var total = 0

    public init() {}

    /// The multiply-adds counted so far.
    public var count: Int { lock.withLock { total } }

    func add(_ multiplyAdds: Int) { lock.withLock { total += multiplyAdds } }

    /// The counter of the running task, if a caller is counting.
    @TaskLocal public static var current: MultiplyAddCounter?

    /// Runs `body` counting its multiply-adds: returns its result and the count.
    public static func counting<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> (result: R, multiplyAdds: Int) {
        let counter = MultiplyAddCounter()
        // `withValue` rethrows untyped errors, so the typed error travels in a Result.
        let result = $current.withValue(counter) { Result { () throws(E) -> R in try body() } }
        return (try result.get(), counter.count)
    }

    /// Adds to the running task's counter, if any. Call it on the thread that runs the op, before fanning out.
    static func record(_ multiplyAdds: Int) { current?.add(multiplyAdds) }
}
