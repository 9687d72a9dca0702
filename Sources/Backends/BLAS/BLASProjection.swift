// A linear layer as the BLAS backend runs it: full precision, FP8 emulated (spec/quant.md eq. 2–5) or NVFP4
// emulated (eq. 13–15):
//
//   FP8     x_q = Q(x; s_a)          E4M3 activation values held in float32
//           y   = F(F(x_q · w_qᵀ) · F(s_a · s_w)) + b      E4M3 weight values in float32, one sgemm (float32 sums),
//                                                          scaled (s_w of each output's block: a fused gate|up may
//                                                          have two)
//   NVFP4   x̂ = x_q · s_x            each block's E2M1 values times its E4M3 scale (eq. 13, decided in float64)
//           y   = F(F(x̂ · ŵᵀ) · F(g_w / g_x)) + b           ŵ = e2m1 · s_w, one sgemm (float32 sums), scaled
//
// E4M3 values, E2M1 × E4M3 products and the products of those are exact in float32, so the only roundings are the
// GEMM's sums and the scale: what a W8A8 kernel, or a block-scaled FP4 kernel that sums in float32, computes.

import MistralSmall4
import Tensor

/// A weight ready for `Kernels.linear`, its bias, and the module's quantization.
struct ProjectionWeight {
    /// Full precision: W. FP8: the E4M3 values w_q (W = w_q · s_w). NVFP4: e2m1 · s_w (W = that · g_w).
    let weight: LinearWeight
    let bias: [Float]?
    let quantization: LinearQuantization?

    init(_ layer: LinearLayer) {
        quantization = layer.quantization
        let values = switch layer.quantization {
        case nil: layer.weight
        case .fp8(let fp8): fp8.weightCodes(layer.weight)
        case .nvfp4(let nvfp4): nvfp4.blockScaledValues(layer.weight)
        }
        weight = LinearWeight(Matrix(values))
        bias = layer.bias.map { Matrix($0).values }
    }
}

extension Kernels {
    /// `a [m, in] -> [m, out]` through `p` (eq. 2–5 when it is FP8, 13–15 when NVFP4).
    static func linear(_ a: Matrix, _ p: ProjectionWeight) -> Matrix {
        guard let quantization = p.quantization else { return linear(a, p.weight, bias: p.bias) }
        var c = linear(quantized(a, quantization), p.weight)                                         // the sums
        let scales = (0..<c.cols).map { column -> Float in
            switch quantization {
            case .fp8(let fp8): Float(fp8.activationScale) * Float(fp8.weightScale(ofRow: column, rows: c.cols))
            case .nvfp4(let nvfp4): Float(nvfp4.weightGlobal(ofRow: column, rows: c.cols) / nvfp4.inputGlobal)
            }
        }
        for row in 0..<c.rows {
            for column in 0..<c.cols { c.values[row * c.cols + column] *= scales[column] }
        }
        addBias(p.bias, to: &c)
        return c
    }

    /// The activations a quantized product multiplies: FP8's E4M3 values x_q (eq. 2–3), NVFP4's x_q · s_x (eq. 13).
    static func quantized(_ a: Matrix, _ quantization: LinearQuantization) -> Matrix {
        switch quantization {
        case .fp8(let fp8):
            return Matrix(rows: a.rows, cols: a.cols, values: a.values.map {
                Float(FP8StaticLinear.quantizeActivation(Double($0), scale: fp8.activationScale, fp8.convention))
            })
        case .nvfp4(let nvfp4):
            var values = [Float]()
            values.reserveCapacity(a.values.count)
            for row in 0..<a.rows {
                let x = a.values[(row * a.cols)..<((row + 1) * a.cols)].map(Double.init)
                let (codes, scales) = NVFP4Linear.quantizeActivations(x[...], globalScale: nvfp4.inputGlobal)
                values += codes.enumerated().map { Float($1 * scales[$0 / NVFP4Weight.blockSize]) }
            }
            return Matrix(rows: a.rows, cols: a.cols, values: values)
        }
    }

    /// `a` as the module multiplies it: itself, or the dequantized activations (FP8 x_q · s_a, NVFP4
    /// x_q · s_x / g_x) for the absorbed MLA products.
    static func effectiveInput(_ a: Matrix, _ quantization: LinearQuantization?) -> Matrix {
        guard let quantization else { return a }
        var q = quantized(a, quantization)
        let scale: Float = switch quantization {
        case .fp8(let fp8): Float(fp8.activationScale)
        case .nvfp4(let nvfp4): Float(1 / nvfp4.inputGlobal)
        }
        q.values = q.values.map { $0 * scale }
        return q
    }
}
