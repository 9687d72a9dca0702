// The machine's memory bandwidth as one large copy achieves it: the bytes side of `assay explain`'s roofline for
// this machine, beside OpenBLAS.sgemmGFLOPs for the FLOPs side.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensor

public enum MemoryBandwidth {
    /// Bytes per second moved (read plus written) by the best of `repeats` copies of a `megabytes` buffer, after
    /// one warm-up; the buffer is far larger than any cache.
    public static func copyBytesPerSecond(megabytes: Int = 256, repeats: Int = 3) -> Double {
        let count = megabytes << 20
        let source = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        let target = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        defer { source.deallocate(); target.deallocate() }
        memset(source, 1, count)
        memset(target, 0, count)
        var best = Double.infinity
        for run in 0...repeats {
            let start = monotonicSeconds()
            memcpy(target, source, count)
            if run > 0 { best = min(best, monotonicSeconds() - start) }
        }
        return 2 * Double(count) / best
    }
}
