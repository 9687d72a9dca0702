// NVFP4 weights — spec/quant.md §10, eq. (11)–(12): E2M1 codes packed two per byte, one E4M3 scale per 16
// inputs, one float32 global scale per tensor, stored as ModelOpt or as compressed-tensors writes them.
//
//   W[o, i] = e2m1(code[o, i]) · s_b[o, ⌊i/16⌋] · g_w                                              (11)
//   g_w = weight_scale_2 (ModelOpt, a multiplier)   or   1 / weight_global_scale (compressed-tensors, a divisor)  (12)
//
// A row whose length is not a multiple of 16 ends in a shorter block: the zero-padded block of 16, since zeros change
// neither its largest magnitude nor its sums (the released model's widths are all multiples of 16; the tiny presets'
// 24, 28 and 40 are not).
//
// Goals, in order: the two storage conventions stated once and checked on the way in (a bad field is an error
// naming it, never a trap or a silent wrong weight); then plain loops. Unpacking is Tensor's `FP4Packing` (element
// 2k in the low nibble), E2M1 and E4M3 values are `MiniFloatFormat`'s (spec/number-formats.md).

import Tensor

/// How a checkpoint stores an NVFP4 tensor's global scales (spec/quant.md eq. 12, 14).
public enum NVFP4Storage: String, CaseIterable, Sendable {
    /// NVIDIA ModelOpt: `weight` (U8 packed), `weight_scale` (F8_E4M3), `weight_scale_2` and `input_scale` (F32
    /// multipliers, amax / (6 · 448)).
    case modelOpt = "modelopt"
    /// compressed-tensors: `weight_packed`, `weight_scale`, `weight_global_scale` and `input_global_scale` (F32
    /// divisors, 6 · 448 / amax).
    case compressedTensors = "compressed-tensors"

    /// The multiplier a stored global scale stands for (eq. 12, 14): itself, or its reciprocal.
    public func multiplier(_ stored: Double) -> Double {
        self == .modelOpt ? stored : 1 / stored
    }

    /// The names of a weight's packed codes, block scales, global weight scale and global activation scale.
    public var tensorNames: (packed: String, blockScales: String, weightGlobal: String, inputGlobal: String) {
        switch self {
        case .modelOpt: ("weight", "weight_scale", "weight_scale_2", "input_scale")
        case .compressedTensors: ("weight_packed", "weight_scale", "weight_global_scale", "input_global_scale")
        }
    }
}

/// A stored NVFP4 tensor that does not fit its shape or holds a value no checkpoint can mean.
public struct NVFP4Error: Error, CustomStringConvertible, Equatable, Sendable {
    /// The checkpoint name of the offending field (`weight_scale`, `weight_global_scale`, …).
    public let field: String
    public let message: String
    public var description: String { "NVFP4 '\(field)': \(message)" }
}

/// One NVFP4 weight `[out, in]`: E2M1 values, E4M3 block scales and the global multiplier g_w.
public struct NVFP4Weight: Sendable {
    /// Inputs per block scale.
    public static let blockSize = 16
    /// E2M1 values, `[out, in]`.
    public let values: Tensor<Double>
    /// E4M3 values, `[out, ⌈in / 16⌉]`.
    public let blockScales: Tensor<Double>
    /// g_w of eq. (12), a multiplier.
    public let globalScale: Double

    /// Decodes the stored fields of an `[out, in]` weight: `packed` [out · in / 2] bytes (low nibble first),
    /// `blockScaleCodes` [out · ⌈in / 16⌉] E4M3 codes, `storedGlobal` the checkpoint's float32 global scale.
    public init(shape: [Int], packed: [UInt8], blockScaleCodes: [UInt8], storedGlobal: Double, storage: NVFP4Storage)
        throws(NVFP4Error)
    {
        let names = storage.tensorNames
        guard shape.count == 2, shape[1] % 2 == 0, shape[0] > 0, shape[1] > 0 else {
            throw NVFP4Error(field: names.packed, message: "shape \(shape): need [out, in] with in even (two codes a byte)")
        }
        let (outputs, inputs) = (shape[0], shape[1])
        let blocks = Self.blocks(inputs)
        guard packed.count == outputs * inputs / 2 else {
            throw NVFP4Error(field: names.packed, message: "\(packed.count) bytes, but [\(outputs), \(inputs)] packs into "
                             + "\(outputs * inputs / 2)")
        }
        guard blockScaleCodes.count == outputs * blocks else {
            throw NVFP4Error(field: names.blockScales, message: "\(blockScaleCodes.count) scales, but [\(outputs), "
                             + "\(inputs)] has \(outputs * blocks) blocks of 16")
        }
        let e4m3 = MiniFloatFormat.e4m3fn
        if let bad = blockScaleCodes.firstIndex(where: { !e4m3.decode($0).isFinite || e4m3.decode($0) < 0 }) {
            throw NVFP4Error(field: names.blockScales, message: "element \(bad) is code 0x"
                             + String(blockScaleCodes[bad], radix: 16) + " (\(e4m3.decode(blockScaleCodes[bad]))); "
                             + "block scales are finite and not negative")
        }
        guard storedGlobal.isFinite, storedGlobal > 0 else {
            throw NVFP4Error(field: names.weightGlobal, message: "\(storedGlobal); a global scale is finite and positive")
        }
        let codes = FP4Packing.unpack(packed, count: outputs * inputs)
        values = Tensor(shape: shape, scalars: codes.map(MiniFloatFormat.e2m1.decode))
        blockScales = Tensor(shape: [outputs, blocks], scalars: blockScaleCodes.map(e4m3.decode))
        globalScale = storage.multiplier(storedGlobal)
    }

    /// Blocks of a row of `inputs`: ⌈inputs / 16⌉.
    public static func blocks(_ inputs: Int) -> Int { (inputs + blockSize - 1) / blockSize }

    /// Fields already decoded: E2M1 `values` [out, in], E4M3 `blockScales` [out, ⌈in / 16⌉], g_w a multiplier.
    public init(values: Tensor<Double>, blockScales: Tensor<Double>, globalScale: Double) {
        self.values = values
        self.blockScales = blockScales
        self.globalScale = globalScale
    }

    /// Eq. (11), in float64: `[out, in]`.
    public func dequantized() -> Tensor<Double> {
        let (outputs, inputs, blocks) = (values.shape[0], values.shape[1], blockScales.shape[1])
        var w = [Double](repeating: 0, count: outputs * inputs)
        for o in 0..<outputs {
            for i in 0..<inputs {
                let scale = blockScales.scalars[o * blocks + i / Self.blockSize]
                w[o * inputs + i] = values.scalars[o * inputs + i] * scale * globalScale
            }
        }
        return Tensor(shape: values.shape, scalars: w)
    }
}
