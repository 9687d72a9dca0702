// Float32 building blocks of the BLAS backend: conversions at the Backend boundary, the two GEMM layouts, and
// the row-wise ops (RMSNorm, softmax) every layer uses. Accumulation is float32 throughout, as a float32 kernel
// author would write it.

#if canImport(Glibc)
import Glibc
#endif
import COpenBLAS
import Tensor

/// A row-major float32 matrix.
struct Matrix {
    var rows: Int
    var cols: Int
    var values: [Float]

    init(rows: Int, cols: Int, values: [Float]) {
        precondition(values.count == rows * cols, "Matrix \(rows)×\(cols) with \(values.count) values")
        (self.rows, self.cols, self.values) = (rows, cols, values)
    }

    init(rows: Int, cols: Int) { self.init(rows: rows, cols: cols, values: [Float](repeating: 0, count: rows * cols)) }

    /// A rank-2 float64 tensor rounded to float32.
    init(_ t: Tensor<Double>) {
        let cols = t.shape.last ?? 1
        self.init(rows: t.count / max(cols, 1), cols: cols, values: t.scalars.map { Float($0) })
    }

    /// Back across the Backend boundary (exact: every float32 is a float64).
    func tensor(_ shape: [Int]? = nil) -> Tensor<Double> {
        Tensor(shape: shape ?? [rows, cols], scalars: values.map(Double.init))
    }

    /// Rows `range` as a new matrix.
    func rows(_ range: Range<Int>) -> Matrix {
        Matrix(rows: range.count, cols: cols, values: Array(values[(range.lowerBound * cols)..<(range.upperBound * cols)]))
    }

    /// Columns `range` of every row.
    func columns(_ range: Range<Int>) -> Matrix {
        var out = [Float]()
        out.reserveCapacity(rows * range.count)
        for r in 0..<rows { out += values[(r * cols + range.lowerBound)..<(r * cols + range.upperBound)] }
        return Matrix(rows: rows, cols: range.count, values: out)
    }
}

enum Kernels {
    /// `a [m, k] · bᵀ (b [n, k]) -> [m, n]` (+ bias [n]): a linear layer with checkpoint-layout weights.
    static func linear(_ a: Matrix, _ b: Matrix, bias: [Float]? = nil) -> Matrix {
        precondition(a.cols == b.cols, "linear: [\(a.rows), \(a.cols)] by weight [\(b.rows), \(b.cols)]")
        var c = gemm(a, b, n: b.rows, transposeB: true)
        addBias(bias, to: &c)
        return c
    }

    /// `c[r, j] += bias[j]` on every row, when there is a bias.
    static func addBias(_ bias: [Float]?, to c: inout Matrix) {
        guard let bias else { return }
        for r in 0..<c.rows { for j in 0..<c.cols { c.values[r * c.cols + j] += bias[j] } }
    }

    /// `a [m, k] · b [k, n] -> [m, n]`: probabilities times values.
    static func product(_ a: Matrix, _ b: Matrix) -> Matrix {
        precondition(a.cols == b.rows, "product: [\(a.rows), \(a.cols)] by [\(b.rows), \(b.cols)]")
        return gemm(a, b, n: b.cols, transposeB: false)
    }

    /// Row-major `a [m, k] · (bᵀ or b) -> [m, n]`, one cblas_sgemm (counted in `GEMMMeter`).
    private static func gemm(_ a: Matrix, _ b: Matrix, n: Int, transposeB: Bool) -> Matrix {
        var c = Matrix(rows: a.rows, cols: n)
        guard a.rows > 0, n > 0, a.cols > 0 else { return c }
        let start = monotonicSeconds()
        defer { GEMMMeter.add(flops: 2 * Double(a.rows * n * a.cols), seconds: monotonicSeconds() - start) }
        a.values.withUnsafeBufferPointer { pa in
            b.values.withUnsafeBufferPointer { pb in
                c.values.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, Int32(a.rows),
                                Int32(n), Int32(a.cols), 1, pa.baseAddress!, Int32(a.cols), pb.baseAddress!,
                                Int32(b.cols), 0, pc.baseAddress!, Int32(n))
                }
            }
        }
        return c
    }

    /// spec/rmsnorm.md eq. (1)–(2) on every row: `y = w · (x / sqrt(mean x² + ε))`, sums in float32.
    static func rmsNorm(_ x: Matrix, weight: [Float], epsilon: Float) -> Matrix {
        var y = x
        for r in 0..<x.rows {
            var sum: Float = 0
            for i in 0..<x.cols { sum += x.values[r * x.cols + i] * x.values[r * x.cols + i] }
            let inverse = 1 / (sum / Float(x.cols) + epsilon).squareRoot()
            for i in 0..<x.cols { y.values[r * x.cols + i] = weight[i] * (x.values[r * x.cols + i] * inverse) }
        }
        return y
    }

    /// Max-subtracted softmax of `scores` in place over the entries where `keep` is true; the others become 0
    /// (all 0 when none is kept).
    static func softmax(_ scores: inout ArraySlice<Float>, keep: (Int) -> Bool) {
        var top = -Float.infinity
        for (i, s) in zip(scores.indices, scores) where keep(i - scores.startIndex) { top = max(top, s) }
        var total: Float = 0
        for i in scores.indices {
            scores[i] = keep(i - scores.startIndex) && top > -.infinity ? expf(scores[i] - top) : 0
            total += scores[i]
        }
        if total > 0 { for i in scores.indices { scores[i] /= total } }
    }

    /// silu(gate) · up over `[T, 2I]` rows laid out [gate | up] -> `[T, I]` (spec/experts.md eq. 1).
    static func gatedSiLU(_ gateUp: Matrix) -> Matrix {
        let width = gateUp.cols / 2
        var h = Matrix(rows: gateUp.rows, cols: width)
        for t in 0..<gateUp.rows {
            for i in 0..<width {
                let (a, u) = (gateUp.values[t * 2 * width + i], gateUp.values[t * 2 * width + width + i])
                h.values[t * width + i] = a / (1 + expf(-a)) * u
            }
        }
        return h
    }
}

/// FLOPs and seconds spent inside the backend's GEMM calls (sgemm and the panel GEMM), for `assay bench` (the calls
/// come from one thread).
public enum GEMMMeter {
    nonisolated(unsafe) private static var totals = (flops: 0.0, seconds: 0.0)

    /// The totals since the last reset, then zeroes them.
    public static func take() -> (flops: Double, seconds: Double) {
        defer { totals = (0, 0) }
        return totals
    }

    static func add(flops: Double, seconds: Double) {
        totals.flops += flops
        totals.seconds += seconds
    }
}
