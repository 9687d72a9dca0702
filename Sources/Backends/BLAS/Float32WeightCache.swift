// Float32 copies of weights the BLAS backend has converted, keyed by tensor name, for runs that use the same
// weights again (`assay bench`). A diff never caches: every op reads the store it is handed.

#if canImport(Glibc)
import Glibc
#endif

/// Converted weights by key (a module name, `…#expert` for one routed expert).
final class Float32WeightCache: @unchecked Sendable {
    private var kept: [String: Any] = [:]
    private var lock = pthread_mutex_t()

    init() { pthread_mutex_init(&lock, nil) }
    deinit { pthread_mutex_destroy(&lock) }

    /// The value under `key`, made by `convert` on first use.
    func value<T>(_ key: String, _ convert: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&lock)
        let found = kept[key] as? T
        pthread_mutex_unlock(&lock)
        if let found { return found }
        let made = try convert()
        pthread_mutex_lock(&lock)
        kept[key] = made
        pthread_mutex_unlock(&lock)
        return made
    }
}
