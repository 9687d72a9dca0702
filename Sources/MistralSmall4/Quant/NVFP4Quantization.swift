// The NVFP4 scales of one linear (or of one expert's projection) as a weight store hands them to the layers —
// spec/quant.md eq. (11)–(15). A store that holds NVFP4 weights returns them dequantized (W = e2m1 · s_w · g_w,
// exact in float64) and this value beside them; the layers never see packed codes, storage conventions or names.
//
// One global activation scale quantizes the whole input; the weight may carry one global scale per equal block of
// output rows (a fused gate|up expert whose halves were stored with their own, spec/quant.md §11). Every other
// weight has one.

import Tensor

/// s_w (E4M3 per 16 inputs), g_w (one per block of output rows) and g_x of one NVFP4 linear.
public struct NVFP4Quantization: Sendable, Equatable {
    /// s_w: E4M3 block scales, `[out, ⌈in / 16⌉]`.
    public let blockScales: Tensor<Double>
    /// g_w of eq. (12), a multiplier, one per equal block of output rows; equal ones collapse: [g, g] is [g].
    public let weightGlobals: [Double]
    /// g_x of eq. (14), a divisor.
    public let inputGlobal: Double

    /// The scales of weight `tensor`; a global scale that is not finite and positive, or a block scale that is not
    /// finite and non-negative, is an error naming the tensor, never a trap further on.
    public init(blockScales: Tensor<Double>, weightGlobals: [Double], inputGlobal: Double, tensor: String)
        throws(WeightError)
    {
        precondition(!weightGlobals.isEmpty && blockScales.rank == 2, "NVFP4Quantization: bad scales for \(tensor)")
        for (field, scale) in weightGlobals.map({ ("weight global scale", $0) }) + [("input global scale", inputGlobal)]
        where !(scale.isFinite && scale > 0) {
            throw WeightError(source: "nvfp4 quantization", tensor: tensor,
                              "\(field) is \(scale); global scales are finite and positive")
        }
        if let bad = blockScales.scalars.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
            throw WeightError(source: "nvfp4 quantization", tensor: tensor,
                              "block scale \(bad) is \(blockScales.scalars[bad]); block scales are finite and not negative")
        }
        self.init(checked: blockScales, weightGlobals, inputGlobal)
    }

    private init(checked blockScales: Tensor<Double>, _ weightGlobals: [Double], _ inputGlobal: Double) {
        self.blockScales = blockScales
        self.weightGlobals = Set(weightGlobals).count == 1 ? [weightGlobals[0]] : weightGlobals
        self.inputGlobal = inputGlobal
    }

    /// g_w of output row `row` of a weight with `rows` rows.
    public func weightGlobal(ofRow row: Int, rows: Int) -> Double {
        precondition(rows % weightGlobals.count == 0, "NVFP4Quantization: \(rows) rows in \(weightGlobals.count) blocks")
        return weightGlobals[row / (rows / weightGlobals.count)]
    }

    /// Block `index` of `count` equal blocks of output rows: its block scales and its global scale.
    public func block(_ index: Int, of count: Int) -> NVFP4Quantization {
        let (rows, width) = (blockScales.shape[0] / count, blockScales.shape[1])
        precondition(rows * count == blockScales.shape[0] && (0..<count).contains(index),
                     "NVFP4Quantization: block \(index) of \(count) of \(blockScales.shape)")
        let span = (index * rows * width)..<((index + 1) * rows * width)
        return NVFP4Quantization(checked: Tensor(shape: [rows, width], scalars: Array(blockScales.scalars[span])),
                                 [weightGlobal(ofRow: index * rows, rows: blockScales.shape[0])], inputGlobal)
    }

    /// `self`'s rows stacked on `other`'s (gate on up) as one weight: nil when the two quantize their input
    /// differently (g_x) or either has blocks of its own.
    public func stacked(on other: NVFP4Quantization) -> NVFP4Quantization? {
        guard inputGlobal == other.inputGlobal, weightGlobals.count == 1, other.weightGlobals.count == 1,
              blockScales.shape[1] == other.blockScales.shape[1] else { return nil }
        return NVFP4Quantization(checked: Tensor(shape: [blockScales.shape[0] + other.blockScales.shape[0],
                                                         blockScales.shape[1]],
                                                 scalars: blockScales.scalars + other.blockScales.scalars),
                                 weightGlobals + other.weightGlobals, inputGlobal)
    }

    /// e2m1 · s_w of a dequantized weight `w` [out, in]: `w` over each row's g_w (exact: 2 + 4 + 24 significant
    /// bits), the values a block-scaled FP4 product multiplies before its global scales.
    public func blockScaledValues(_ w: Tensor<Double>) -> Tensor<Double> {
        let (rows, width) = (w.shape[0], w.count / max(w.shape[0], 1))
        var values = w.scalars
        for o in 0..<rows {
            let global = weightGlobal(ofRow: o, rows: rows)
            for i in (o * width)..<((o + 1) * width) { values[i] /= global }
        }
        return Tensor(shape: w.shape, scalars: values)
    }

    /// The E2M1 values of a dequantized weight `w` [out, in]: w / (s_w · g_w), 0 where s_w = 0 (each division exact).
    public func e2m1Values(_ w: Tensor<Double>) -> Tensor<Double> {
        let (rows, inputs, blocks) = (w.shape[0], w.shape[1], blockScales.shape[1])
        precondition(blockScales.shape[0] == rows && blocks == NVFP4Weight.blocks(inputs),
                     "NVFP4Quantization: scales \(blockScales.shape) for a weight \(w.shape)")
        let scaled = blockScaledValues(w)
        return Tensor(shape: w.shape, scalars: (0..<(rows * inputs)).map { index in      // e2m1 = w / (s_w · g_w)
            let scale = blockScales.scalars[(index / inputs) * blocks + (index % inputs) / NVFP4Weight.blockSize]
            return scale == 0 ? 0 : scaled.scalars[index] / scale
        })
    }

    /// Eq. (15) with the dequantized weight `w` [out, in] of a single-global weight: `x [rows, in] -> [rows, out]`.
    func product(_ x: Tensor<Double>, _ w: Tensor<Double>) -> Tensor<Double> {
        precondition(weightGlobals.count == 1, "NVFP4Quantization: one global scale per product")
        let weight = NVFP4Weight(values: e2m1Values(w), blockScales: blockScales, globalScale: weightGlobals[0])
        return NVFP4Linear(weight: weight, inputGlobalScale: inputGlobal)(x)
    }

    /// x_q · s_x / g_x (eq. 13): the activations as the layer multiplies them, `[rows, in] -> [rows, in]`.
    public func dequantizedActivations(_ x: Tensor<Double>) -> Tensor<Double> {
        NVFP4Linear.dequantizedActivations(x, globalScale: inputGlobal)
    }
}
