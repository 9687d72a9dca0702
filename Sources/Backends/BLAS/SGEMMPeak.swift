// The machine's float32 GEMM rate as OpenBLAS achieves it, measured in the same run as a benchmark so the linears'
// throughput can be read as a fraction of it.

import COpenBLAS
import Tensor

public enum OpenBLAS {
    /// Caps OpenBLAS's threads (call before timing).
    public static func setThreads(_ threads: Int) { openblas_set_num_threads(Int32(threads)) }

    /// GFLOP/s of the best of `repeats` square sgemms of side `size` (2·size³ FLOPs each), after one warm-up.
    public static func sgemmGFLOPs(size: Int = 2048, repeats: Int = 3, clock: () -> Double) -> Double {
        let a = [Float](repeating: 0.5, count: size * size), b = [Float](repeating: 0.25, count: size * size)
        var c = [Float](repeating: 0, count: size * size)
        var best = Double.infinity
        for run in 0...repeats {
            let start = clock()
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        Float.gemmTransposedB(m: size, n: size, k: size, a: pa.baseAddress!, b: pb.baseAddress!,
                                              c: pc.baseAddress!)
                    }
                }
            }
            if run > 0 { best = min(best, clock() - start) }
        }
        return 2 * Double(size * size * size) / best / 1e9
    }
}
