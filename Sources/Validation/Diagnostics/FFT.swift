// Discrete Fourier transforms through FFTW (double precision, FFTW_ESTIMATE plans: no timing-dependent choices,
// so results are deterministic). Used by the independent oracles (FFT convolution) and diagnostics (RoPE
// spectrum); no model layer depends on it.

import CFFTW
import Tensor

/// A complex number as (re, im).
public typealias Complex = (re: Double, im: Double)

public enum FFT {
    /// FFTW's planner is not thread-safe: plans are made and destroyed under this lock (execution needs none).
    private static let planner = Lock()

    /// The forward (sign −1) or inverse (sign +1, unnormalized) DFT of `values`, laid out row-major over `shape`
    /// (1 or 2 axes).
    public static func transform(_ values: [Complex], shape: [Int], inverse: Bool = false) -> [Complex] {
        precondition(shape.reduce(1, *) == values.count && (1...2).contains(shape.count), "FFT of \(values.count) values as \(shape)")
        let count = values.count
        let input = fftw_alloc_complex(count)!, output = fftw_alloc_complex(count)!
        defer { fftw_free(input); fftw_free(output) }
        let sign = inverse ? FFTW_BACKWARD : FFTW_FORWARD
        let plan = planner.withLock {
            shape.count == 1
                ? fftw_plan_dft_1d(Int32(shape[0]), input, output, sign, FFTW_ESTIMATE)
                : fftw_plan_dft_2d(Int32(shape[0]), Int32(shape[1]), input, output, sign, FFTW_ESTIMATE)
        }
        defer { planner.withLock { fftw_destroy_plan(plan) } }
        for (i, v) in values.enumerated() { input[i] = (v.re, v.im) }
        fftw_execute(plan)
        return (0..<count).map { (output[$0].0, output[$0].1) }
    }
}
