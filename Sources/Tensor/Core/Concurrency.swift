// The few shared-state primitives Assay needs: a lock, a memo keyed by name, and the monotonic clock. One place, so
// every cache and timer in the project uses the same (allocated, address-stable) pthread mutex.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutual-exclusion lock.
public final class Lock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// `body` with the lock held.
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// Values made once per key and kept, safe to share across threads (two threads may both make a missing value;
/// the later one is kept, and both are equal by construction of the callers).
public final class KeyedMemo<Value>: @unchecked Sendable {
    private let lock = Lock()
    private var kept: [String: Value] = [:]

    public init() {}

    /// The value under `key`, made by `make` on first use.
    public func value<Failure: Error>(_ key: String, _ make: () throws(Failure) -> Value) throws(Failure) -> Value {
        if let found = lock.withLock({ kept[key] }) { return found }
        let made = try make()
        lock.withLock { kept[key] = made }
        return made
    }
}

/// Seconds on the monotonic clock.
public func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}
