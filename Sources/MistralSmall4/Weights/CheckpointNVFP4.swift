// NVFP4 weights as a checkpoint stores them — spec/quant.md §10.1, spec/checkpoints.md §7: one linear module's
// packed E2M1 codes, E4M3 block scales and float32 global scales, in ModelOpt's or compressed-tensors' names and
// conventions. This file finds and checks them when the checkpoint opens and decodes them on request, a run of rows
// at a time; which modules make up an inventory weight is CheckpointWeightStore's business.
//
//   compressed-tensors   <module>.weight_packed U8 [out, in/2], .weight_scale F8_E4M3 [out, ⌈in/16⌉],
//                        .weight_global_scale F32 [1] (a divisor), .input_global_scale F32 [1] (a divisor)
//   ModelOpt             <module>.weight U8 [out, in/2], .weight_scale F8_E4M3 [out, ⌈in/16⌉],
//                        .weight_scale_2 F32 [] (a multiplier), .input_scale F32 [] (a multiplier)

import Tensor

/// One linear module stored in NVFP4, its headers checked and its global scales read.
struct StoredNVFP4: Sendable {
    let packed: StoredSlab
    let blockScales: StoredSlab
    /// The weight the module holds, `[out, in]`.
    let shape: [Int]
    /// g_w (eq. 12), a multiplier, and g_x (eq. 14), a divisor, as the storage's convention reads them.
    let weightGlobal: Double
    let inputGlobal: Double
}

extension Checkpoint {
    /// The storage `module` is kept in when it is NVFP4 (by the names beside it), else nil.
    func nvfp4Storage(of module: String) -> NVFP4Storage? {
        if contains(module + ".weight_packed") { return .compressedTensors }
        if contains(module + ".weight_scale_2") { return .modelOpt }
        return nil
    }

    /// `module` (…q_a_proj) stored in NVFP4, holding weight `weight` of inventory shape `shape` [out, in]; nil when
    /// the module is not NVFP4. Errors name the weight and the stored tensor at fault.
    func nvfp4(_ module: String, of weight: String, shape: [Int], config: ModelConfig) throws(WeightError)
        -> StoredNVFP4?
    {
        guard let storage = nvfp4Storage(of: module) else { return nil }
        guard FP8Modules.isQuantized(weight, config: config) else {
            throw WeightError(source: directory, tensor: weight, "stored in NVFP4, but this module stays in full "
                              + "precision in the quantized checkpoints (spec/quant.md §3): store it as BF16")
        }
        let names = storage.tensorNames
        let (outputs, inputs) = (shape[0], shape[1])
        func field(_ name: String, dtype: DType, shapes: [[Int]]) throws(WeightError) -> StoredSlab {
            let stored = module + "." + name
            guard contains(stored) else {
                throw WeightError(source: directory, tensor: weight, "NVFP4 (\(storage.rawValue)) without '\(stored)'")
            }
            let slab = try read(stored, of: weight) { shard throws(SafeTensorsError) in
                StoredSlab(shard: shard, info: try shard.info(stored))
            }
            guard slab.info.dtype == dtype, shapes.contains(slab.info.shape) else {
                throw WeightError(source: slab.shard.name, tensor: weight, "'\(stored)' is \(slab.info.dtype.rawValue) "
                                  + "\(Shape.describe(slab.info.shape)); NVFP4 (\(storage.rawValue)) stores it as "
                                  + "\(dtype.rawValue) " + shapes.map(Shape.describe).joined(separator: " or "))
            }
            return slab
        }
        func global(_ name: String) throws(WeightError) -> Double {
            let slab = try field(name, dtype: .f32, shapes: [[], [1]])
            let value = try read(slab.info.name, of: weight) { shard throws(SafeTensorsError) in
                try shard.doubles(slab.info.name).scalars[0]
            }
            guard value.isFinite, value > 0 else {
                throw WeightError(source: slab.shard.name, tensor: weight, "'\(slab.info.name)' is \(value); NVFP4 "
                                  + "global scales are finite and positive")
            }
            return storage.multiplier(value)
        }
        guard inputs % 2 == 0 else {
            throw WeightError(source: directory, tensor: weight, "NVFP4 packs two codes a byte, but the input width is "
                              + "\(inputs)")
        }
        return StoredNVFP4(packed: try field(names.packed, dtype: .u8, shapes: [[outputs, inputs / 2]]),
                           blockScales: try field(names.blockScales, dtype: .f8e4m3,
                                                  shapes: [[outputs, NVFP4Weight.blocks(inputs)]]),
                           shape: shape, weightGlobal: try global(names.weightGlobal),
                           inputGlobal: 1 / (try global(names.inputGlobal)))
    }

    /// Rows `rows` of `stored`'s E4M3 block scales, `[rows, ⌈in/16⌉]`, each finite and not negative.
    func nvfp4BlockScales(_ stored: StoredNVFP4, rows: Range<Int>, of weight: String) throws(WeightError)
        -> Tensor<Double>
    {
        let name = stored.blockScales.info.name
        let scales = try read(name, of: weight) { shard throws(SafeTensorsError) in
            try shard.doubles(name, rows: rows)
        }
        if let bad = scales.scalars.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
            throw WeightError(source: stored.blockScales.shard.name, tensor: weight, "'\(name)' element "
                              + "\(rows.lowerBound * scales.shape[1] + bad) is \(scales.scalars[bad]); block scales are "
                              + "finite and not negative")
        }
        return scales
    }

    /// Rows `rows` of `stored` dequantized, eq. (11): e2m1 · s_w · g_w, `[rows, in]` (exact in float64).
    func nvfp4Values(_ stored: StoredNVFP4, rows: Range<Int>, of weight: String) throws(WeightError) -> Tensor<Double> {
        let name = stored.packed.info.name
        let bytes = try read(name, of: weight) { shard throws(SafeTensorsError) in
            try shard.doubles(name, rows: rows).scalars.map { UInt8($0) }
        }
        let scales = try nvfp4BlockScales(stored, rows: rows, of: weight)
        let inputs = stored.shape[1]
        let codes = FP4Packing.unpack(bytes, count: rows.count * inputs)
        let values = codes.enumerated().map { index, code in
            MiniFloatFormat.e2m1.decode(code) * scales.scalars[(index / inputs) * scales.shape[1]
                                                               + (index % inputs) / NVFP4Weight.blockSize]
                * stored.weightGlobal
        }
        return Tensor(shape: [rows.count, inputs], scalars: values)
    }

    /// The scales of rows `rows` of `stored` as the layers take them.
    func nvfp4Quantization(_ stored: StoredNVFP4, rows: Range<Int>, of weight: String) throws(WeightError)
        -> NVFP4Quantization
    {
        try NVFP4Quantization(blockScales: try nvfp4BlockScales(stored, rows: rows, of: weight),
                              weightGlobals: [stored.weightGlobal], inputGlobal: stored.inputGlobal, tensor: weight)
    }
}
