// How many threads the reference may use. Results never depend on it (see Dot.swift and `parallelChunks`):
// `assay golden --threads 1` and `--threads 2` write the same bytes, which a test checks.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum ComputeThreads {
    /// Online processors, at least 1.
    public static let online: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Set once, before any computation (a command-line option); nil: all online processors.
    nonisolated(unsafe) private static var limit: Int?

    /// The threads `parallelChunks` may use.
    public static var count: Int { limit ?? online }

    /// Caps the threads at `threads` (≥ 1). Call before computing, not while a computation runs.
    public static func limit(to threads: Int) {
        precondition(threads >= 1, "threads must be at least 1")
        limit = threads
    }
}
