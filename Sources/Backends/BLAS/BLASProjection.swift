// A linear layer as the BLAS backend runs it, full precision or FP8 emulated — spec/quant.md eq. (2)–(5):
//
//   x_q = Q(x; s_a)                  activations quantized by the module's convention, E4M3 values held in float32
//   y   = F(F(x_q · w_qᵀ) · F(s_a · s_w)) + b     E4M3 weight values in float32, one sgemm (float32 sums), scaled
//                                                 (s_w of each output's block: a fused gate|up may have two)
//
// E4M3 values and their products are exact in float32, so the only roundings are the GEMM's sums and the scale
// product: what a W8A8 kernel computes (eq. 5).

import MistralSmall4
import Tensor

/// A weight ready for `Kernels.linear`, its bias, and the FP8 scales when the module is quantized.
struct ProjectionWeight {
    /// Full precision: W. FP8: the E4M3 values w_q (W = w_q · s_w).
    let weight: LinearWeight
    let bias: [Float]?
    let fp8: FP8Quantization?

    init(_ layer: LinearLayer) {
        fp8 = layer.fp8
        weight = LinearWeight(Matrix(layer.fp8.map { $0.weightCodes(layer.weight) } ?? layer.weight))
        bias = layer.bias.map { Matrix($0).values }
    }
}

extension Kernels {
    /// `a [m, in] -> [m, out]` through `p` (eq. 2–5 when it is FP8).
    static func linear(_ a: Matrix, _ p: ProjectionWeight) -> Matrix {
        guard let fp8 = p.fp8 else { return linear(a, p.weight, bias: p.bias) }
        var c = linear(quantized(a, fp8), p.weight)                                                    // (5): sums
        let scales = (0..<c.cols).map { Float(fp8.activationScale) * Float(fp8.weightScale(ofRow: $0, rows: c.cols)) }
        for row in 0..<c.rows {
            for column in 0..<c.cols { c.values[row * c.cols + column] *= scales[column] }
        }
        addBias(p.bias, to: &c)
        return c
    }

    /// Eq. (2)–(3): the E4M3 values of `a` under `fp8`'s activation scale and convention.
    static func quantized(_ a: Matrix, _ fp8: FP8Quantization) -> Matrix {
        Matrix(rows: a.rows, cols: a.cols, values: a.values.map {
            Float(FP8StaticLinear.quantizeActivation(Double($0), scale: fp8.activationScale, fp8.convention))
        })
    }

    /// `a` as the module multiplies it: itself, or FP8's dequantized x_q · s_a (for the absorbed MLA products).
    static func effectiveInput(_ a: Matrix, _ fp8: FP8Quantization?) -> Matrix {
        guard let fp8 else { return a }
        var q = quantized(a, fp8)
        q.values = q.values.map { $0 * Float(fp8.activationScale) }
        return q
    }
}
