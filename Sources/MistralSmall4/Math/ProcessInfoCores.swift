// The number of cores the reference may use. Results never depend on it (see Dot.swift).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum ProcessInfoCores {
    /// Online processors, at least 1.
    static let active: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}
