// CheckpointWeightStore: parameters read from a checkpoint directory in either layout — spec/checkpoints.md:
//
//   Hugging Face   config.json + model.safetensors or shards with model.safetensors.index.json; the inventory's
//                  names (or transformers 4.x's legacy spelling, below); FP8 weights beside `weight_scale_inv` and
//                  `activation_scale`, fused experts beside `gate_up_proj_scale_inv` [E, 1, 1] (or [E], or
//                  [E, 2, 1]: gate and up halves each under their own scale, kept as stored) and
//                  `gate_up_proj_activation_scale` [E]
//                  NVFP4 linears in ModelOpt's or compressed-tensors' names (CheckpointNVFP4), NVFP4 experts one
//                  module per expert and projection (`…mlp.experts.{e}.gate_proj`), gate and up fused on reading
//   Mistral        params.json + consolidated*.safetensors; Mistral's names (MistralCheckpointNames), one tensor per
//                  expert and projection, `qscale_weight` / `qscale_act` scales, vision q/k rows in native order
//
// Every inventory tensor is located and checked (dtype, shape, FP8 scales) when the store opens; values are read
// on request, a run of rows at a time, from mmapped shards, so a caller that asks for one layer's weights and the
// experts its tokens route to touches nothing else. FP8 weights arrive dequantized (w_q · s_w, exact in float64)
// with their `FP8Quantization` beside them (spec/quant.md §4). For Mistral's experts, gate (w1) and up (w3) are
// fused under the larger scale as transformers' converter fuses them (spec/quant.md eq. 7), with the larger of their
// activation scales, so both layouts of one checkpoint give the same weights.

import Tensor

/// The key layout transformers 4.x used for Mistral3ForConditionalGeneration, which 5.x still writes from
/// `save_pretrained` and reads back: `language_model.model.…` for `model.language_model.…`,
/// `language_model.lm_head.weight`, `vision_tower.…` and `multi_modal_projector.…` without `model.`.
func legacyCheckpointName(_ name: String) -> String? {
    let renames = [(ModelPaths.multimodalText + ".", "language_model.model."),
                   (TapKind.lmHead.row.module + ".", "language_model.lm_head."),
                   (ModelPaths.visionTower + ".", "vision_tower."), (ModelPaths.projector + ".", "multi_modal_projector.")]
    for (current, legacy) in renames where name.hasPrefix(current) { return legacy + name.dropFirst(current.count) }
    return nil
}

/// The two checkpoint layouts.
public enum CheckpointLayout: String, Sendable {
    /// transformers' names and files.
    case huggingFace = "hugging-face"
    /// Mistral's native names and `consolidated*.safetensors` files.
    case mistral
}

/// Weights in a checkpoint, validated against its config.
public final class CheckpointWeightStore: WeightStore {
    public let config: ModelConfig
    public let checkpoint: Checkpoint
    public let inventory: TensorInventory
    public let layout: CheckpointLayout
    /// How the checkpoint's FP8 linears quantize activations (spec/quant.md §2) and which expert activation scale
    /// they use (eq. 8).
    public let convention: FP8ActivationConvention
    public let expertActivationScale: FP8ExpertActivationScale
    private let sources: [String: WeightSource]

    /// Where one inventory tensor's values are stored.
    private enum WeightSource {
        /// One stored tensor with the inventory's shape.
        case plain(StoredLinear)
        /// A vision q/k weight stored in native row order (Mistral's layout).
        case nativeRotaryRows(StoredSlab)
        /// A fused expert tensor stored one tensor per expert and part: `[expert][part]`.
        case perExpert([[StoredLinear]])
        /// A linear stored in NVFP4.
        case nvfp4(StoredNVFP4)
        /// A fused expert tensor stored in NVFP4, one module per expert and part: `[expert][part]`.
        case nvfp4Experts([[StoredNVFP4]])

        var holdsQuantized: Bool {
            switch self {
            case .plain(let linear): linear.fp8 != nil
            case .nativeRotaryRows: false
            case .perExpert(let experts): experts.first?.first?.fp8 != nil
            case .nvfp4, .nvfp4Experts: true
            }
        }
    }

    /// Opens `directory` (its layout from its files: `model*` or `consolidated*`) and checks that every tensor the
    /// config needs is present with the inventory's shape, a readable dtype and, for E4M3, valid scales. Throws
    /// naming the first tensor that is not.
    public init(config: ModelConfig, directory: String, convention: FP8ActivationConvention = .huggingFace,
                expertActivationScale: FP8ExpertActivationScale = .perExpert) throws(WeightError) {
        self.config = config
        inventory = TensorInventory(config)
        self.convention = convention
        self.expertActivationScale = expertActivationScale
        do {
            checkpoint = try Checkpoint(directory: directory)
        } catch {
            throw WeightError(source: error.file ?? directory, tensor: error.tensor, error.message)
        }
        layout = checkpoint.stem == "consolidated" ? .mistral : .huggingFace
        var sources: [String: WeightSource] = [:]
        for entry in inventory.entries {
            sources[entry.name] = try layout == .mistral ? Self.mistralSource(entry, checkpoint, config)
                : Self.huggingFaceSource(entry, checkpoint, config)
        }
        self.sources = sources
    }

    /// Opens `directory` with the FP8 activation convention and expert scale of `profile` (transformers' when the
    /// profile does not quantize): how a run in `profile` multiplies an FP8 checkpoint's linears (spec/quant.md §6).
    public convenience init(config: ModelConfig, directory: String, profile: PrecisionProfile) throws(WeightError) {
        let (convention, expertScale) = profile.fp8Scheme ?? (.huggingFace, .perExpert)
        try self.init(config: config, directory: directory, convention: convention, expertActivationScale: expertScale)
    }

    /// Whether any weight is stored in FP8 or NVFP4 (then the checkpoint's own scales are run, spec/quant.md §6).
    public var holdsQuantized: Bool { sources.values.contains { $0.holdsQuantized } }

    private static func huggingFaceSource(_ entry: TensorEntry, _ checkpoint: Checkpoint, _ config: ModelConfig)
        throws(WeightError) -> WeightSource
    {
        let name = entry.name
        let legacy = legacyCheckpointName(name)
        if let nvfp4 = try nvfp4Source(entry, legacy: legacy, checkpoint, config) { return nvfp4 }
        let stored = checkpoint.contains(name) ? name : legacy.flatMap { checkpoint.contains($0) ? $0 : nil } ?? name
        let slab = try checkpoint.slab(stored, of: name, shape: entry.shape,
                                       layoutNote: legacy.map { " (nor as '\($0)')" } ?? "")
        let stacked = FP8Modules.isStacked(name)
        let module = stacked ? stored : String(stored.dropLast(".weight".count))
        let scaleNames = stacked ? (module + "_scale_inv", module + "_activation_scale")
            : (module + ".weight_scale_inv", module + ".activation_scale")
        return .plain(try checkpoint.linear(slab, of: name, config: config, scaleNames: scaleNames,
                                            experts: stacked ? entry.shape[0] : nil))
    }

    /// `entry` stored in NVFP4 (under its name or its legacy one), or nil: a linear as one module, a stacked expert
    /// tensor as one module per expert and part (`…experts.{e}.gate_proj` and `.up_proj` for `gate_up_proj`).
    private static func nvfp4Source(_ entry: TensorEntry, legacy: String?, _ checkpoint: Checkpoint,
                                    _ config: ModelConfig) throws(WeightError) -> WeightSource? {
        let name = entry.name
        let stacked = FP8Modules.isStacked(name)
        let suffix = stacked ? "" : ".weight"
        guard name.hasSuffix(suffix) else { return nil }
        let candidates = [name] + (legacy.map { [$0] } ?? [])
        guard !stacked else {
            let parts = name.hasSuffix(".gate_up_proj") ? ["gate_proj", "up_proj"] : ["down_proj"]
            let prefixes = candidates.map { String($0[..<$0.lastIndex(of: ".")!]) }          // …mlp.experts
            guard let prefix = prefixes.first(where: { checkpoint.nvfp4Storage(of: "\($0).0.\(parts[0])") != nil })
            else { return nil }
            let partShape = [entry.shape[1] / parts.count, entry.shape[2]]
            var experts: [[StoredNVFP4]] = []
            for expert in 0..<entry.shape[0] {
                experts.append(try parts.map { part throws(WeightError) in
                    let module = "\(prefix).\(expert).\(part)"
                    guard let stored = try checkpoint.nvfp4(module, of: name, shape: partShape, config: config) else {
                        throw WeightError(source: checkpoint.directory, tensor: name, "'\(module)' is not stored in "
                                          + "NVFP4, while expert 0's \(parts[0]) is: an NVFP4 expert tensor has all "
                                          + "its experts in NVFP4")
                    }
                    return stored
                })
            }
            return .nvfp4Experts(experts)
        }
        for candidate in candidates {
            let module = String(candidate.dropLast(suffix.count))
            if let stored = try checkpoint.nvfp4(module, of: name, shape: entry.shape, config: config) {
                return .nvfp4(stored)
            }
        }
        return nil
    }

    private static func mistralSource(_ entry: TensorEntry, _ checkpoint: Checkpoint, _ config: ModelConfig)
        throws(WeightError) -> WeightSource
    {
        let name = entry.name
        guard let location = MistralCheckpointNames.stored(name, paths: ModelPaths(config)) else {
            throw WeightError(source: checkpoint.directory, tensor: name, "Mistral's layout has no name for this tensor")
        }
        func linear(_ stored: String, shape: [Int]) throws(WeightError) -> StoredLinear {
            let slab = try checkpoint.slab(stored, of: name, shape: shape, layoutNote: " (as '\(stored)')")
            return try checkpoint.linear(slab, of: name, config: config,
                                         scaleNames: MistralCheckpointNames.scaleNames(ofStored: stored), experts: nil)
        }
        switch location {
        case .tensor(let stored):
            return .plain(try linear(stored, shape: entry.shape))
        case .nativeRotaryRows(let stored):
            return .nativeRotaryRows(try checkpoint.slab(stored, of: name, shape: entry.shape,
                                                         layoutNote: " (as '\(stored)')"))
        case .perExpert(let layer, let parts):
            let partShape = [entry.shape[1] / parts.count, entry.shape[2]]
            var experts: [[StoredLinear]] = []
            for expert in 0..<entry.shape[0] {
                var stored: [StoredLinear] = []
                for part in parts {
                    let module = MistralStoredWeight.expertModule(layer: layer, expert: expert, part: part)
                    stored.append(try linear(module + ".weight", shape: partShape))
                }
                let quantized = Set((experts.first ?? stored).map { $0.fp8 != nil }).union(stored.map { $0.fp8 != nil })
                guard quantized.count == 1 else {
                    throw WeightError(source: checkpoint.directory, tensor: name, "expert \(expert): "
                                      + "\(parts.joined(separator: "/")) mix F8_E4M3 and full-precision experts or parts")
                }
                experts.append(stored)
            }
            return .perExpert(experts)
        }
    }

    private func source(_ name: String) throws(WeightError) -> WeightSource {
        guard let source = sources[name] else { _ = try entry(name); preconditionFailure("inventory without source") }
        return source
    }

    public func rows(_ name: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> {
        switch try source(name) {
        case .plain(let linear):
            let values = try checkpoint.values(linear.slab, rows: rows, of: name)
            guard let fp8 = linear.fp8 else { return values }
            let perRow = values.count / max(rows.count, 1)
            var scaled = values.scalars
            for (offset, row) in rows.enumerated() {
                let blocks = fp8.weight.count == 1 ? fp8.weight[0] : fp8.weight[row]    // [s_w] or [s_gate, s_up]
                for i in 0..<perRow {
                    scaled[offset * perRow + i] *= blocks[i / (perRow / blocks.count)]                // eq. (6)
                }
            }
            return Tensor(shape: values.shape, scalars: scaled)
        case .nativeRotaryRows(let slab):
            let heads = config.multimodal?.vision.numAttentionHeads ?? 1
            let all = VisionAttentionWeights.huggingFaceRows(try checkpoint.values(slab, rows: nil, of: name),
                                                              heads: heads)                      // vision.md eq. (14)
            let width = all.count / max(all.shape[0], 1)
            return Tensor(shape: [rows.count] + all.shape.dropFirst(),
                          scalars: Array(all.scalars[(rows.lowerBound * width)..<(rows.upperBound * width)]))
        case .nvfp4(let stored):
            return try checkpoint.nvfp4Values(stored, rows: rows, of: name)
        case .nvfp4Experts(let experts):
            var scalars: [Double] = []
            for expert in rows {
                for part in experts[expert] {
                    scalars += try checkpoint.nvfp4Values(part, rows: 0..<part.shape[0], of: name).scalars
                }
            }
            let shape = try entry(name).shape
            return Tensor(shape: [rows.count] + shape.dropFirst(), scalars: scalars)
        case .perExpert(let experts):
            var scalars: [Double] = []
            for expert in rows {
                let fusedScale = Self.fusedScales(experts[expert])?.weight
                for part in experts[expert] {
                    let values = try checkpoint.values(part.slab, rows: nil, of: name).scalars
                    guard let fusedScale, let scale = part.fp8?.linearWeight else { scalars += values; continue }
                    scalars += values.map {                                                    // quant.md eq. (7)
                        FP8StaticLinear.requantizedCode($0, from: scale, to: fusedScale) * fusedScale
                    }
                }
            }
            let shape = try entry(name).shape
            return Tensor(shape: [rows.count] + shape.dropFirst(), scalars: scalars)
        }
    }

    public func quantization(of name: String, row: Int?) throws(WeightError) -> LinearQuantization? {
        switch try source(name) {
        case .nvfp4(let stored):
            try FP8Modules.checkRow(name, row)
            return .nvfp4(try checkpoint.nvfp4Quantization(stored, rows: 0..<stored.shape[0], of: name))
        case .nvfp4Experts(let experts):
            try FP8Modules.checkRow(name, row)
            let parts = try experts[row!].map { part throws(WeightError) in
                try checkpoint.nvfp4Quantization(part, rows: 0..<part.shape[0], of: name)
            }
            guard let fused = parts.dropFirst().reduce(Optional(parts[0]), { $0?.stacked(on: $1) }) else {
                throw WeightError(source: checkpoint.directory, tensor: name, "expert \(row!): gate_proj and up_proj "
                                  + "have different input global scales; they quantize one input, under one")
            }
            return .nvfp4(fused)
        default:
            return try fp8Scales(of: name, row: row).map(LinearQuantization.fp8)
        }
    }

    /// The stored FP8 scales of `name` (of expert `row`), or nil for a full-precision weight.
    private func fp8Scales(of name: String, row: Int?) throws(WeightError) -> FP8Quantization? {
        let scales: (weight: [Double], activation: Double)
        switch try source(name) {
        case .plain(let linear):
            guard let fp8 = linear.fp8 else { return nil }
            try FP8Modules.checkRow(name, row)
            scales = row.map { (fp8.weight[$0], expertActivationScale.scale(of: $0, among: fp8.activation)) }
                ?? (fp8.weight[0], fp8.activation[0])
        case .nativeRotaryRows, .nvfp4, .nvfp4Experts:
            return nil
        case .perExpert(let experts):
            let fused = experts.compactMap(Self.fusedScales)
            guard !fused.isEmpty else { return nil }
            try FP8Modules.checkRow(name, row)
            let expert = row!
            scales = ([fused[expert].weight], expertActivationScale.scale(of: expert, among: fused.map(\.activation)))
        }
        return try FP8Quantization(weightScales: scales.weight, activationScale: scales.activation,
                                   convention: convention, tensor: name)
    }

    /// The scales of one Mistral expert's parts fused (quant.md eq. 7): the larger weight scale and the larger
    /// activation scale; nil for full-precision parts.
    private static func fusedScales(_ parts: [StoredLinear]) -> (weight: Double, activation: Double)? {
        let scales = parts.compactMap(\.fp8)
        guard !scales.isEmpty else { return nil }
        return (scales.map(\.linearWeight).max()!, scales.map { $0.activation[0] }.max()!)
    }
}
