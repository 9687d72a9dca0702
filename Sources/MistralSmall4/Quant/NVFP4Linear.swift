// NVFP4 W4A4 linear — spec/quant.md §10, eq. (13)–(15): activations quantized per block of 16 with a dynamic E4M3
// block scale under a static global scale, weights as `NVFP4Weight` holds them, block products scaled and summed.
//
//   s_x[b] = E(min(g_x · amax_b(|x|) / 6, 448))                   block scale, E4M3 round-to-nearest-even   (13)
//   x_q[i] = R(clamp(x[i] · g_x / s_x[b], −6, 6)),  0 if s_x[b] = 0      R: E2M1 round-to-nearest-even
//   g_x = 1 / input_scale (ModelOpt)   or   input_global_scale (compressed-tensors): a divisor              (14)
//   y[o] = (g_w / g_x) · Σ_b s_x[b] · s_w[o, b] · Σ_{i ∈ b} x_q[i] · w_q[o, i]                              (15)
//
// Goals, in order: the arithmetic of a block-scaled FP4 tensor core, exactly: every block sum is exact (E2M1
// products are multiples of 1/4 below 36), every s_x · s_w is exact in float64, and the outer sum is float64; then
// plain loops. A NaN in a block makes that block's outputs NaN, so a diff shows it.

import Tensor

/// One NVFP4 linear layer: its weight and the global activation scale g_x (a divisor, eq. 14).
public struct NVFP4Linear: Sendable {
    public let weight: NVFP4Weight
    /// g_x of eq. (14).
    public let inputGlobalScale: Double

    /// `storedInputGlobal`: the checkpoint's `input_scale` (ModelOpt) or `input_global_scale` (compressed-tensors).
    public init(weight: NVFP4Weight, storedInputGlobal: Double, storage: NVFP4Storage) throws(NVFP4Error) {
        guard storedInputGlobal.isFinite, storedInputGlobal > 0 else {
            throw NVFP4Error(field: storage.tensorNames.inputGlobal,
                             message: "\(storedInputGlobal); a global scale is finite and positive")
        }
        self.init(weight: weight, inputGlobalScale: 1 / storage.multiplier(storedInputGlobal))
    }

    /// `inputGlobalScale`: g_x itself (checked by whoever derived it).
    public init(weight: NVFP4Weight, inputGlobalScale: Double) {
        self.weight = weight
        self.inputGlobalScale = inputGlobalScale
    }

    /// Eq. (13): the E2M1 values and E4M3 block scales of one row `x` (the last block shorter when the row is not a
    /// multiple of 16 long).
    public static func quantizeActivations(_ x: ArraySlice<Double>, globalScale g: Double)
        -> (values: [Double], blockScales: [Double])
    {
        var values = [Double](), scales = [Double]()
        for start in stride(from: x.startIndex, to: x.endIndex, by: NVFP4Weight.blockSize) {
            let block = x[start..<min(start + NVFP4Weight.blockSize, x.endIndex)]
            let amax = block.reduce(0.0) { $1.isNaN || $0.isNaN ? .nan : max($0, abs($1)) }
            let scale = amax.isNaN ? .nan : MiniFloatFormat.e4m3fn.rounded(min(g * amax / 6, 448), saturating: true)
            scales.append(scale)
            values += block.map { v in
                guard scale != 0 else { return 0 }
                return MiniFloatFormat.e2m1.rounded(min(max(v * g / scale, -6), 6), saturating: true)
            }
        }
        return (values, scales)
    }

    /// The activations as the layer multiplies them, x_q · s_x / g_x: `x [rows, in] -> [rows, in]`.
    public func dequantizedActivations(_ x: Tensor<Double>) -> Tensor<Double> {
        Self.dequantizedActivations(x, globalScale: inputGlobalScale)
    }

    /// x_q · s_x / g of every row of `x [rows, in]` (eq. 13) under the global activation scale g.
    public static func dequantizedActivations(_ x: Tensor<Double>, globalScale g: Double) -> Tensor<Double> {
        let inputs = x.shape[1]
        let scalars = (0..<x.shape[0]).flatMap { r in
            let (values, scales) = quantizeActivations(x.scalars[(r * inputs)..<((r + 1) * inputs)], globalScale: g)
            return values.enumerated().map { $1 * scales[$0 / NVFP4Weight.blockSize] / g }
        }
        return Tensor(shape: x.shape, scalars: scalars)
    }

    /// Eq. (15): `x [rows, in] -> [rows, out]`.
    public func callAsFunction(_ x: Tensor<Double>) -> Tensor<Double> {
        let (outputs, inputs) = (weight.values.shape[0], weight.values.shape[1])
        precondition(x.rank == 2 && x.shape[1] == inputs, "NVFP4Linear: x \(x.shape) by W [\(outputs), \(inputs)]")
        let (rows, blocks, size) = (x.shape[0], NVFP4Weight.blocks(inputs), NVFP4Weight.blockSize)
        let alpha = weight.globalScale / inputGlobalScale
        var y = [Double](repeating: 0, count: rows * outputs)
        for r in 0..<rows {
            let row = x.scalars[(r * inputs)..<((r + 1) * inputs)]
            let (xq, xs) = Self.quantizeActivations(row, globalScale: inputGlobalScale)
            for o in 0..<outputs {
                var sum = 0.0
                for b in 0..<blocks {
                    var block = 0.0                                                      // exact: multiples of 1/4
                    for i in (b * size)..<min((b + 1) * size, inputs) { block += xq[i] * weight.values.scalars[o * inputs + i] }
                    sum += xs[b] * weight.blockScales.scalars[o * blocks + b] * block
                }
                y[r * outputs + o] = alpha * sum
            }
        }
        return Tensor(shape: [rows, outputs], scalars: y)
    }
}
