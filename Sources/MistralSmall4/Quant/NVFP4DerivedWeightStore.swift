// NVFP4 weights derived from a full-precision store — spec/quant.md §11, eq. (16)–(19), the synthetic NVFP4
// checkpoint: what the `nvfp4` profile runs, and the one file that decides its scales.
//
//   quantized   the modules `FP8Modules` names (the same linears as the FP8 checkpoint)
//   g_w         P(amax / (6 · 448)) per scale group (`DerivedScaleGroups`)                                  (16)
//               P(v) = 2^⌈log₂ v⌉, the power of two at or above v (1 for v = 0): a multiplier that ModelOpt's
//               weight_scale_2 and compressed-tensors' divisor weight_global_scale = 1 / g_w both hold exactly
//   s_w[o, b]   E(amax_b / (6 · g_w)), amax_b the largest |W| of the 16 inputs of block b (fewer in a row's
//               last block when its width is not a multiple of 16), E4M3 (≤ 448 by (16))                      (17)
//   w           R(clamp(W / (s_w · g_w), −6, 6)) · s_w · g_w, 0 where s_w = 0 (eq. 11)                       (18)
//   g_x         1 / P(clip / (6 · 448)), clip of `DerivedScaleGroups` (8 to 15, per module and per expert)      (19)

import Tensor

/// `base`'s weights with the text decoder's linears quantized to NVFP4.
public struct NVFP4DerivedWeightStore: WeightStore {
    public let base: any WeightStore
    public var config: ModelConfig { base.config }
    public var inventory: TensorInventory { base.inventory }
    private let weightGlobals = KeyedMemo<Double>()

    public init(_ base: any WeightStore) { self.base = base }

    /// P(v) of eq. (16): the power of two at or above `v` (1 for 0), from v's exponent and significand (a
    /// log₂ would round v just above a power of two down onto it).
    static func powerOfTwo(atOrAbove v: Double) -> Double {
        guard v > 0 else { return 1 }
        return v.significand == 1 ? v : Double(sign: .plus, exponent: v.exponent + 1, significand: 1)
    }

    public func rows(_ name: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> {
        let slab = try base.rows(name, rows)
        guard FP8Modules.isQuantized(name, config: config) else { return slab }
        let width = slab.shape.last!
        var values = slab.scalars
        for (offset, row) in rows.enumerated() {
            let global = try weightGlobal(name, row: FP8Modules.isStacked(name) ? row : nil)
            let perRow = slab.count / max(rows.count, 1)
            for start in stride(from: offset * perRow, to: (offset + 1) * perRow, by: width) {
                let line = start..<(start + width)                                         // one output row [in]
                let scales = Self.blockScales(values[line], global: global)
                for i in line {
                    let scale = scales[(i - start) / NVFP4Weight.blockSize] * global
                    values[i] = scale == 0 ? 0
                        : MiniFloatFormat.e2m1.rounded(min(max(values[i] / scale, -6), 6), saturating: true) * scale  // (18)
                }
            }
        }
        return Tensor(shape: slab.shape, scalars: values)
    }

    public func quantization(of name: String, row: Int?) throws(WeightError) -> LinearQuantization? {
        guard FP8Modules.isQuantized(name, config: config) else { return nil }
        try FP8Modules.checkRow(name, row)
        let global = try weightGlobal(name, row: row)
        let weight = if let row { try base.rows(name, row..<(row + 1)) } else { try base.tensor(name) }
        let (outputs, inputs) = (weight.count / weight.shape.last!, weight.shape.last!)
        let scales = (0..<outputs).flatMap { o in
            Self.blockScales(weight.scalars[(o * inputs)..<((o + 1) * inputs)], global: global)
        }
        let clip = DerivedScaleGroups.clip(DerivedScaleGroups.activationKey(name, expert: row, config: config.text))
        return .nvfp4(try NVFP4Quantization(blockScales: Tensor(shape: [outputs, NVFP4Weight.blocks(inputs)],
                                                                scalars: scales),
                                            weightGlobals: [global],
                                            inputGlobal: 1 / Self.powerOfTwo(atOrAbove: clip / (6 * 448)),   // (19)
                                            tensor: name))
    }

    /// Eq. (17): the E4M3 block scales of one output row under g_w.
    static func blockScales(_ row: ArraySlice<Double>, global: Double) -> [Double] {
        stride(from: row.startIndex, to: row.endIndex, by: NVFP4Weight.blockSize).map { start in
            let amax = row[start..<min(start + NVFP4Weight.blockSize, row.endIndex)].reduce(0.0) { max($0, abs($1)) }
            return MiniFloatFormat.e4m3fn.rounded(amax / (6 * global), saturating: true)
        }
    }

    /// Eq. (16): g_w over the scale group of `name` (row `row` of stacked experts).
    func weightGlobal(_ name: String, row: Int?) throws(WeightError) -> Double {
        try weightGlobals.value(DerivedScaleGroups.group(name) + (row.map { "#\($0)" } ?? "")) { () throws(WeightError) in
            Self.powerOfTwo(atOrAbove: try DerivedScaleGroups.amax(base, name, row: row, source: "nvfp4 quantization")
                                / (6 * 448))
        }
    }
}
