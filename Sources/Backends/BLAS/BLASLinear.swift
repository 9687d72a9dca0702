// BLASLinear: the linear layer `y = x Wᵀ` through OpenBLAS GEMM, in float32 or float64.
//
// Goals, in order: the exact contract of torch's F.linear (weights [out, in], as checkpoints store
// them), shapes checked with a clear error, then speed (one GEMM call, no copies or transposes).

import COpenBLAS
import Tensor

/// A scalar type OpenBLAS multiplies: Float (sgemm) or Double (dgemm).
public protocol BLASScalar: BinaryFloatingPoint, Sendable {
    /// Row-major `C[m, n] = A[m, k] · B[n, k]ᵀ`, accumulating in the type's own precision.
    static func gemmTransposedB(m: Int, n: Int, k: Int, a: UnsafePointer<Self>, b: UnsafePointer<Self>,
                                c: UnsafeMutablePointer<Self>)
}

extension Float: BLASScalar {
    public static func gemmTransposedB(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                       c: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(k), b, Int32(k), 0, c, Int32(n))
    }
}

extension Double: BLASScalar {
    public static func gemmTransposedB(m: Int, n: Int, k: Int, a: UnsafePointer<Double>, b: UnsafePointer<Double>,
                                       c: UnsafeMutablePointer<Double>) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(k), b, Int32(k), 0, c, Int32(n))
    }
}

/// Why a backend op could not run on the shapes it was given.
public struct BackendShapeError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(description: String) { self.description = description }
}

public enum BLASLinear {
    /// `x [tokens, in] @ Wᵀ, W [out, in] -> y [tokens, out]`:
    ///
    /// ```
    /// y[t, o] = Σᵢ x[t, i] · W[o, i]
    /// ```
    public static func apply<Scalar: BLASScalar>(_ x: Tensor<Scalar>, weight w: Tensor<Scalar>)
        throws(BackendShapeError) -> Tensor<Scalar> {
        guard x.rank == 2, w.rank == 2, x.shape[1] == w.shape[1] else {
            throw BackendShapeError(description: "linear: input \(Shape.describe(x.shape)) does not fit weight "
                                    + "\(Shape.describe(w.shape)) (need [tokens, in] and [out, in])")
        }
        let (tokens, inputs, outputs) = (x.shape[0], x.shape[1], w.shape[0])
        guard [tokens, inputs, outputs].allSatisfy({ $0 <= Int(Int32.max) }) else {
            throw BackendShapeError(description: "linear: extents \([tokens, inputs, outputs]) exceed BLAS's 32-bit sizes")
        }
        var y = [Scalar](repeating: 0, count: tokens * outputs)
        if tokens > 0, outputs > 0, inputs > 0 {
            x.scalars.withUnsafeBufferPointer { a in
                w.scalars.withUnsafeBufferPointer { b in
                    y.withUnsafeMutableBufferPointer { c in
                        Scalar.gemmTransposedB(m: tokens, n: outputs, k: inputs, a: a.baseAddress!, b: b.baseAddress!,
                                               c: c.baseAddress!)
                    }
                }
            }
        }
        return Tensor(shape: [tokens, outputs], scalars: y)
    }
}
