// The stored tensors behind a checkpoint's weights — spec/checkpoints.md §3 (what is checked when a checkpoint
// opens). This file reads one stored tensor at a time: it finds it, checks its dtype and shape against what the
// inventory needs, reads its FP8 scales, and decodes its values (E4M3 codes to their values, everything else
// widened exactly) with a finiteness check. Which stored tensors make up an inventory weight is
// CheckpointWeightStore's business.

import Tensor

/// One stored tensor whose header was checked.
struct StoredSlab: Sendable {
    let shard: SafeTensorsFile
    let info: TensorInfo
}

/// The static FP8 scales stored beside an E4M3 weight: one set for a linear, one per expert for a stacked expert
/// tensor (spec/quant.md §4).
struct StoredFP8Scales: Sendable {
    /// s_w (`weight_scale_inv` / `qscale_weight`) per expert (one entry for a linear), each [s_w] or, for a fused
    /// gate|up stored with [E, 2, 1] scales, [s_gate, s_up].
    let weight: [[Double]]
    /// s_a (`activation_scale` / `qscale_act`) per expert (one entry for a linear).
    let activation: [Double]

    /// The one weight scale of a linear.
    var linearWeight: Double { weight[0][0] }
}

/// A stored weight and, when it is E4M3, its scales.
struct StoredLinear: Sendable {
    let slab: StoredSlab
    let fp8: StoredFP8Scales?
}

extension Checkpoint {
    /// Dtypes a weight may be stored in: floats that widen exactly to float64, and E4M3 codes.
    static let weightDTypes: Set<DType> = [.f64, .f32, .bf16, .f16, .f8e4m3]
    /// Dtypes a scale may be stored in.
    static let scaleDTypes: Set<DType> = [.f64, .f32, .bf16, .f16]

    /// Stored tensor `stored`, which holds weight `weight`, checked for a weight dtype and for `shape`.
    func slab(_ stored: String, of weight: String, shape: [Int], layoutNote: String = "") throws(WeightError)
        -> StoredSlab
    {
        guard contains(stored) else {
            throw WeightError(source: directory, tensor: weight, "missing from the checkpoint\(layoutNote)")
        }
        let slab = try read(stored, of: weight) { shard throws(SafeTensorsError) in
            StoredSlab(shard: shard, info: try shard.info(stored))
        }
        guard Self.weightDTypes.contains(slab.info.dtype) else {
            throw WeightError(source: slab.shard.name, tensor: weight, "dtype \(slab.info.dtype.rawValue) is not a "
                              + "weight dtype the reference reads (F64, F32, BF16, F16, or F8_E4M3 with scales)")
        }
        guard slab.info.shape == shape else {
            let which = stored == weight ? "" : "'\(stored)' has "
            throw WeightError(source: slab.shard.name, tensor: weight,
                              "\(which)shape \(Shape.describe(slab.info.shape)) but the config needs \(Shape.describe(shape))")
        }
        return slab
    }

    /// `slab` with its FP8 scales when it is E4M3: `scaleNames` hold s_w and s_a, `experts` values each for a
    /// stacked expert tensor (nil: one). An E4M3 tensor outside the quantized modules is an error.
    func linear(_ slab: StoredSlab, of weight: String, config: ModelConfig,
                scaleNames: (weight: String, activation: String), experts: Int?) throws(WeightError) -> StoredLinear {
        guard slab.info.dtype == .f8e4m3 else { return StoredLinear(slab: slab, fp8: nil) }
        guard FP8Modules.isQuantized(weight, config: config) else {
            throw WeightError(source: slab.shard.name, tensor: weight, "dtype F8_E4M3, but this module stays in "
                              + "full precision in the FP8 checkpoint (spec/quant.md §3): store it as BF16")
        }
        if let excluded = config.quantization?.modulesToNotConvert?.first(where: { weight.hasPrefix($0 + ".") }) {
            throw WeightError(source: slab.shard.name, tensor: weight, "dtype F8_E4M3, but the config's "
                              + "quantization_config.modules_to_not_convert lists '\(excluded)'")
        }
        let blocks = FP8Modules.weightScaleBlocks(weight)
        let weightScales = try scale(scaleNames.weight, of: weight, shapes: Self.scaleShapes(experts, blocks: blocks))
        let activation = try scale(scaleNames.activation, of: weight, shapes: Self.scaleShapes(experts, blocks: 1))
        let perExpert = weightScales.count / activation.count                   // 1, or 2 for [E, 2, 1]
        let scales = StoredFP8Scales(weight: activation.indices.map {
            Array(weightScales[($0 * perExpert)..<(($0 + 1) * perExpert)])
        }, activation: activation)
        for (s, a) in zip(scales.weight, scales.activation) {
            _ = try FP8Quantization(weightScales: s, activationScale: a, convention: .huggingFace, tensor: weight)
        }
        return StoredLinear(slab: slab, fp8: scales)
    }

    /// The shapes a scale may have: [] or [1] for a linear; [E] or [E, 1, 1] for a stacked expert tensor of E
    /// experts, and [E, 2, 1] too (one scale per half, transformers' `FP8Experts`) for one of 2 weight blocks.
    static func scaleShapes(_ experts: Int?, blocks: Int) -> [[Int]] {
        guard let experts else { return [[], [1]] }
        return [[experts], [experts, 1, 1]] + (blocks > 1 ? [[experts, blocks, 1]] : [])
    }

    /// The values of scale tensor `stored`, whose shape must be one of `shapes`, in storage order.
    private func scale(_ stored: String, of weight: String, shapes: [[Int]]) throws(WeightError) -> [Double] {
        guard contains(stored) else {
            throw WeightError(source: directory, tensor: weight, "F8_E4M3 weight without its scale '\(stored)' "
                              + "(a static FP8 linear needs a weight scale and an activation scale)")
        }
        let (shard, info) = try read(stored, of: weight) { shard throws(SafeTensorsError) in (shard, try shard.info(stored)) }
        guard shapes.contains(info.shape) else {
            let accepted = shapes.map(Shape.describe)
            throw WeightError(source: shard.name, tensor: weight, "scale '\(stored)' has shape "
                              + "\(Shape.describe(info.shape)); expected " + accepted.dropLast().joined(separator: ", ")
                              + (accepted.count > 1 ? " or " : "") + accepted.last!)
        }
        guard Self.scaleDTypes.contains(info.dtype) else {
            throw WeightError(source: shard.name, tensor: weight,
                              "scale '\(stored)' has dtype \(info.dtype.rawValue); scales are F32 (or F64, BF16, F16)")
        }
        return try read(stored, of: weight) { shard throws(SafeTensorsError) in try shard.doubles(stored).scalars }
    }

    /// Rows `rows` (nil: all) of `slab` as float64 values (E4M3: the codes' values), every one finite.
    func values(_ slab: StoredSlab, rows: Range<Int>?, of weight: String) throws(WeightError) -> Tensor<Double> {
        let name = slab.info.name
        let values = try read(name, of: weight) { shard throws(SafeTensorsError) in
            if let rows { try shard.doubles(name, rows: rows) } else { try shard.doubles(name) }
        }
        if let bad = values.scalars.firstIndex(where: { !$0.isFinite }) {
            let first = rows.map { $0.lowerBound * (values.count / max($0.count, 1)) } ?? 0
            let stored = name == weight ? "" : " of '\(name)'"
            throw WeightError(source: slab.shard.name, tensor: weight,
                              "element \(first + bad)\(stored) is \(values.scalars[bad]); weights must be finite")
        }
        return values
    }

    /// `body` on the shard holding `stored`, with safetensors errors turned into weight errors naming `weight`.
    func read<T>(_ stored: String, of weight: String, _ body: (SafeTensorsFile) throws(SafeTensorsError) -> T)
        throws(WeightError) -> T
    {
        do {
            return try body(try shard(containing: stored))
        } catch {
            throw WeightError(source: error.file ?? directory, tensor: weight, error.message)
        }
    }
}
