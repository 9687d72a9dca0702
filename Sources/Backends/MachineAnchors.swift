// The machine's limits that `assay bench` states its rates against (issue 24): the FMA peak of the vector units
// (registers only) and the memory read rate, measured in the same run beside sgemm's rate (OpenBLAS.sgemmGFLOPs).

import CPanelGEMM

public struct MachineAnchors: Sendable {
    /// GFLOP/s of register-only fused multiply-adds on every thread.
    public let fmaGFLOPs: Double
    /// The vector units measured: "avx512f", "avx2+fma" or "scalar".
    public let fmaUnits: String
    /// GB/s of a multi-threaded read of a buffer far larger than the caches.
    public let readGBytesPerSecond: Double

    /// Measures both on `threads` threads (about a second in all).
    public init(threads: Int) {
        fmaGFLOPs = assay_fma_peak_gflops(Int32(threads), 0.3)
        fmaUnits = String(cString: assay_fma_peak_units())
        readGBytesPerSecond = assay_read_gbytes_per_second(Int32(threads), 512, 3)
    }

    /// The least time `flops` FLOPs reading `bytes` bytes of weights can take here, and which limit sets it.
    public func bound(flops: Double, bytes: Double) -> (seconds: Double, kind: String) {
        let (compute, memory) = (flops / (fmaGFLOPs * 1e9), bytes / (readGBytesPerSecond * 1e9))
        return compute >= memory ? (compute, "compute") : (memory, "memory")
    }
}
