// The machine's float32 GEMM rate as OpenBLAS achieves it, measured in the same run as a benchmark so the linears'
// throughput can be read as a fraction of it.

import COpenBLAS
import Tensor

public enum OpenBLAS {
    /// Caps OpenBLAS's threads (call before timing).
    public static func setThreads(_ threads: Int) { openblas_set_num_threads(Int32(threads)) }

    /// GFLOP/s of the best of `repeats` square sgemms of side `size` (2·size³ FLOPs each), after one warm-up,
    /// through the backend's own GEMM call.
    public static func sgemmGFLOPs(size: Int = 2048, repeats: Int = 3) -> Double {
        let a = Matrix(rows: size, cols: size, values: [Float](repeating: 0.5, count: size * size))
        let b = Matrix(rows: size, cols: size, values: [Float](repeating: 0.25, count: size * size))
        var best = Double.infinity
        for run in 0...repeats {
            let start = monotonicSeconds()
            _ = Kernels.linear(a, b)
            if run > 0 { best = min(best, monotonicSeconds() - start) }
        }
        _ = GEMMMeter.take()   // the peak is not part of the layer's figures
        return 2 * Double(size * size * size) / best / 1e9
    }
}
