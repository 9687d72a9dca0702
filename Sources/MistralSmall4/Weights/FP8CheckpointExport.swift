// FP8CheckpointExport: the synthetic FP8 checkpoint (spec/quant.md §6) of a preset's first N decoder layers, at any
// width, in the Hugging Face layout, Mistral's, or both from one pass over the weights — spec/checkpoints.md §8.
//
//   config    the preset's text decoder alone (a bare mistral4 config.json: `model.layers.N…`, no vision tower) with
//             num_hidden_layers N and an FP8 quantization_config; Mistral's params.json says the same
//             (MistralParams.params(forConfig:))
//   weights   PrecisionProfile.fp8Static over the synthetic store: E4M3 codes (FP8Quantization.weightCodes) with their
//             float32 s_w and s_a for the FP8 modules, BF16 for the rest (synthetic weights are bf16 values)
//   names     spec/checkpoints.md §2–3: fused experts [E, 2I, H] with scales [E, 1, 1] and [E] (Hugging Face); one
//             tensor per expert and part with scalar qscale_weight / qscale_act (Mistral)
//   files     shards of at most `shardBytes` (a larger tensor gets a shard of its own) and an index when there are
//             several; filled by runs (one expert, a block of embedding rows), so memory holds one run at a time

import Synchronization
import Tensor

public enum FP8CheckpointExport {
    /// The config.json of the first `layers` decoder layers of `preset`'s text decoder, quantized to FP8.
    public static func configDocument(_ preset: Preset, layers: Int) throws -> JSONValue {
        let document = try JSONValue.parse(preset.bytes)
        let text = document["text_config"] ?? document
        let limit = try preset.load().text.numHiddenLayers
        guard (1...limit).contains(layers) else {
            throw WeightError(source: preset.fileName, tensor: nil, "--first-layers \(layers) is outside 1...\(limit)")
        }
        let tie = document["tie_word_embeddings"] ?? text["tie_word_embeddings"] ?? .bool(false)
        let quantization = JSONValue.object([
            ("quant_method", .string("fp8")), ("activation_scheme", .string("static")), ("weight_block_size", .null),
            ("modules_to_not_convert", .array([.string(TapKind.lmHead.row.module)])),
        ])
        return (text.setting(.array([.string("Mistral4ForCausalLM")]), at: ["architectures"]))
            .setting(.int(layers), at: ["num_hidden_layers"])
            .setting(tie, at: ["tie_word_embeddings"])
            .setting(quantization, at: ["quantization_config"])
    }

    /// Writes the checkpoint of `preset`'s first `layers` layers (seed `seed`) into each existing directory of
    /// `targets`, in its layout, and opens each with CheckpointWeightStore to check it.
    public static func write(_ preset: Preset, layers: Int, seed: UInt64, shardBytes: Int,
                             into targets: [(layout: CheckpointLayout, directory: String)]) throws {
        let document = try configDocument(preset, layers: layers)
        let configBytes = Array(document.serialized(pretty: true).utf8) + [UInt8(ascii: "\n")]
        let config = try ModelConfig.decode(configBytes, fileName: "config.json")
        let store = PrecisionProfile.fp8Static.weights(SyntheticWeightStore(config: config, seed: seed).keepingLastSlab())
        let plans = targets.map { LayoutPlan(layout: $0.layout, config: config) }
        var files: [ShardedFiles] = []
        for (plan, target) in zip(plans, targets) {
            let configFile = plan.layout == .mistral
                ? ("params.json", Array(MistralParams.params(forConfig: document).serialized(pretty: true).utf8) + [10])
                : ("config.json", configBytes)
            try AtomicDirectory.writeFile(configFile.1, to: FilePath.join(target.directory, configFile.0))
            files.append(try ShardedFiles(plan.slots, layout: plan.layout, shardBytes: shardBytes,
                                          directory: target.directory))
        }
        for entry in TensorInventory(config).entries {
            try emit(entry, store: store) { piece throws in
                for (plan, sharded) in zip(plans, files) {
                    for (name, bytes, offset) in plan.stored(piece) { try sharded.write(bytes, tensor: name, at: offset) }
                }
            }
        }
        for (sharded, target) in zip(files, targets) {
            try sharded.finish()
            _ = try CheckpointWeightStore(config: try ModelConfig.load(path: target.directory), directory: target.directory)
        }
    }

    /// A run of one inventory tensor's stored values, before a layout names it.
    enum Piece {
        /// Rows starting at byte `offset` of a tensor kept in full precision: BF16 bytes.
        case plain(name: String, bytes: [UInt8], offset: Int)
        /// An FP8 linear's codes and scales.
        case linear(name: String, codes: [UInt8], quantization: FP8Quantization)
        /// Expert `expert` of a stacked expert tensor: its codes ([2I, H] or [H, I]) and scales.
        case expert(name: String, expert: Int, codes: [UInt8], quantization: FP8Quantization)
    }

    /// Hands `entry`'s values to `body` a piece at a time: an expert, a linear, or up to 2^22 elements of rows.
    static func emit(_ entry: TensorEntry, store: any WeightStore, _ body: (Piece) throws -> Void) throws {
        let name = entry.name
        func codes(_ w: Tensor<Double>, _ quantization: FP8Quantization) throws -> [UInt8] {
            try ExactE4M3.codes(quantization.weightCodes(w), tensor: name)
        }
        if FP8Modules.isStacked(name), try store.fp8Quantization(of: name, row: 0) != nil {
            for expert in 0..<entry.shape[0] {
                let quantization = try store.fp8Quantization(of: name, row: expert)!
                try body(.expert(name: name, expert: expert, codes: try codes(store.row(name, expert), quantization),
                                 quantization: quantization))
            }
        } else if let quantization = try store.fp8Quantization(of: name, row: nil) {
            try body(.linear(name: name, codes: try codes(store.tensor(name), quantization), quantization: quantization))
        } else {
            let outer = entry.shape.first ?? 1
            let inner = entry.elementCount / max(outer, 1)
            let step = max(1, (1 << 22) / max(inner, 1))
            for start in stride(from: 0, to: outer, by: step) {
                let slab = try store.rows(name, start..<min(start + step, outer))
                try body(.plain(name: name, bytes: try StoredTensor(name: name, encoding: slab, as: .bf16).bytes,
                                offset: start * inner * 2))
            }
        }
    }

    /// One layout's names for the pieces, and the tensors it stores.
    struct LayoutPlan {
        let layout: CheckpointLayout
        let paths: ModelPaths
        /// Every stored tensor, in inventory order (weights, then their scales).
        let slots: [TensorSlot]

        init(layout: CheckpointLayout, config: ModelConfig) {
            self.layout = layout
            paths = ModelPaths(config)
            var slots: [TensorSlot] = []
            for entry in TensorInventory(config).entries {
                slots += Self.slots(entry, quantized: FP8Modules.isQuantized(entry.name, config: config),
                                    layout: layout, paths: paths)
            }
            self.slots = slots
        }

        /// The stored tensors of `entry` (an FP8 weight when `quantized`).
        private static func slots(_ entry: TensorEntry, quantized: Bool, layout: CheckpointLayout,
                                  paths: ModelPaths) -> [TensorSlot] {
            func slot(_ name: String, _ dtype: DType, _ shape: [Int]) -> TensorSlot {
                try! TensorSlot(name: name, dtype: dtype, shape: shape)   // inventory names and shapes are valid
            }
            guard quantized else { return [slot(storedName(entry.name, layout, paths), .bf16, entry.shape)] }
            func linear(_ weight: String, _ shape: [Int]) -> [TensorSlot] {
                let scales = scaleNames(weight, layout)
                return [slot(weight, .f8e4m3, shape), slot(scales.weight, .f32, []), slot(scales.activation, .f32, [])]
            }
            guard FP8Modules.isStacked(entry.name) else {
                return linear(storedName(entry.name, layout, paths), entry.shape)
            }
            let experts = entry.shape[0]
            guard layout == .mistral else {
                return [slot(entry.name, .f8e4m3, entry.shape), slot(entry.name + "_scale_inv", .f32, [experts, 1, 1]),
                        slot(entry.name + "_activation_scale", .f32, [experts])]
            }
            let (layer, parts) = perExpert(entry.name, paths)
            return (0..<experts).flatMap { expert in
                parts.flatMap { part in
                    linear(MistralStoredWeight.expertModule(layer: layer, expert: expert, part: part) + ".weight",
                           [entry.shape[1] / parts.count, entry.shape[2]])   // [I, H] (w1, w3) or [H, I] (w2)
                }
            }
        }

        /// The (stored tensor, bytes, byte offset) writes of `piece`.
        func stored(_ piece: Piece) -> [(String, [UInt8], Int)] {
            func f32(_ x: Double) -> [UInt8] { withUnsafeBytes(of: Float(x).bitPattern.littleEndian, Array.init) }
            switch piece {
            case .plain(let name, let bytes, let offset):
                return [(Self.storedName(name, layout, paths), bytes, offset)]
            case .linear(let name, let codes, let quantization):
                let weight = Self.storedName(name, layout, paths)
                let scales = Self.scaleNames(weight, layout)
                return [(weight, codes, 0), (scales.weight, f32(quantization.weightScales[0]), 0),
                        (scales.activation, f32(quantization.activationScale), 0)]
            case .expert(let name, let expert, let codes, let quantization):
                precondition(quantization.weightScales.count == 1, "one s_w per synthetic expert")
                let (sw, sa) = (f32(quantization.weightScales[0]), f32(quantization.activationScale))
                guard layout == .mistral else {
                    return [(name, codes, expert * codes.count), (name + "_scale_inv", sw, expert * 4),
                            (name + "_activation_scale", sa, expert * 4)]
                }
                let (layer, parts) = Self.perExpert(name, paths)
                let part = codes.count / parts.count
                return parts.enumerated().flatMap { index, partName in
                    let weight = MistralStoredWeight.expertModule(layer: layer, expert: expert, part: partName) + ".weight"
                    let scales = Self.scaleNames(weight, layout)
                    return [(weight, Array(codes[(index * part)..<((index + 1) * part)]), 0),
                            (scales.weight, sw, 0), (scales.activation, sa, 0)]
                }
            }
        }

        /// The stored name of a tensor that is not a stacked expert tensor.
        private static func storedName(_ name: String, _ layout: CheckpointLayout, _ paths: ModelPaths) -> String {
            guard layout == .mistral else { return name }
            guard case .tensor(let stored) = MistralCheckpointNames.stored(name, paths: paths) else {
                preconditionFailure("\(name): a bare text config has a Mistral name for every tensor")
            }
            return stored
        }

        /// The layer and parts of a stacked expert tensor in Mistral's layout.
        private static func perExpert(_ name: String, _ paths: ModelPaths) -> (layer: Int, parts: [String]) {
            guard case .perExpert(let layer, let parts) = MistralCheckpointNames.stored(name, paths: paths) else {
                preconditionFailure("\(name) is stored per expert in Mistral's layout")
            }
            return (layer, parts)
        }

        /// The scale tensors of the FP8 weight stored as `weight` (`….weight`).
        private static func scaleNames(_ weight: String, _ layout: CheckpointLayout)
            -> (weight: String, activation: String) {
            guard layout == .huggingFace else { return MistralCheckpointNames.scaleNames(ofStored: weight) }
            let module = String(weight.dropLast(".weight".count))
            return (module + ".weight_scale_inv", module + ".activation_scale")
        }
    }

    /// A layout's shards, open for writing: `model.safetensors` or `consolidated.safetensors` when one holds all,
    /// else `<stem>-0000i-of-0000n.safetensors` and `<stem>.safetensors.index.json`.
    final class ShardedFiles {
        private var writers: [SafeTensorsFileWriter] = []
        private var shardOf: [String: Int] = [:]

        init(_ slots: [TensorSlot], layout: CheckpointLayout, shardBytes: Int, directory: String) throws {
            var shards: [[TensorSlot]] = [[]]
            var size = 0
            for slot in slots {
                if size + slot.byteCount > shardBytes, !shards[shards.count - 1].isEmpty {
                    shards.append([])
                    size = 0
                }
                shards[shards.count - 1].append(slot)
                size += slot.byteCount
            }
            let stem = layout == .mistral ? "consolidated" : "model"
            func padded(_ n: Int) -> String { String(repeating: "0", count: max(0, 5 - String(n).count)) + String(n) }
            let names = shards.count == 1 ? ["\(stem).safetensors"]
                : shards.indices.map { "\(stem)-\(padded($0 + 1))-of-\(padded(shards.count)).safetensors" }
            let metadata = layout == .huggingFace ? ["format": "pt"] : [:]
            for (index, (shard, name)) in zip(shards, names).enumerated() {
                writers.append(try SafeTensorsFileWriter(path: FilePath.join(directory, name), tensors: shard,
                                                         metadata: metadata))
                for slot in shard { shardOf[slot.name] = index }
            }
            guard shards.count > 1 else { return }
            let map = slots.map(\.name).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            let index = JSONValue.object([
                ("metadata", .object([("total_size", .int(slots.reduce(0) { $0 + $1.byteCount }))])),
                ("weight_map", .object(map.map { ($0, .string(names[shardOf[$0]!])) })),
            ])
            try AtomicDirectory.writeFile(Array(index.serialized(pretty: true).utf8) + [10],
                                          to: FilePath.join(directory, stem + ".safetensors.index.json"))
        }

        func write(_ bytes: [UInt8], tensor: String, at offset: Int) throws {
            try writers[shardOf[tensor]!].write(bytes, tensor: tensor, at: offset)
        }

        func finish() throws { for writer in writers { try writer.finish() } }
    }
}

/// The E4M3 codes of values that are E4M3 values already (the w_q of `FP8Quantization.weightCodes`), by a table on
/// the top 12 bits of their float32 pattern (sign, exponent, 3 mantissa bits): rounding each value again, as a dtype
/// cast does, took half of a full-width export's time.
enum ExactE4M3 {
    /// Code by float32 bits >> 20; -1 where no finite E4M3 value has those bits.
    private static let table: [Int16] = {
        var table = [Int16](repeating: -1, count: 1 << 12)
        for code in 0...255 {
            let value = MiniFloatFormat.e4m3fn.decode(UInt8(code))
            if value.isFinite { table[Int(Float(value).bitPattern >> 20)] = Int16(code) }
        }
        return table
    }()

    /// The codes of `values` (any shape, row-major); a value that is not an E4M3 value is an error naming `tensor`.
    static func codes(_ values: Tensor<Double>, tensor: String) throws(WeightError) -> [UInt8] {
        var codes = [UInt8](repeating: 0, count: values.count)
        for (index, x) in values.scalars.enumerated() {
            let bits = Float(x).bitPattern
            let code = table[Int(bits >> 20)]
            guard code >= 0, bits & 0xF_FFFF == 0, Double(Float(x)) == x else {
                throw WeightError(source: "fp8 export", tensor: tensor, "element \(index) (\(x)) is not an E4M3 value")
            }
            codes[index] = UInt8(code)
        }
        return codes
    }
}

extension WeightStore {
    /// This store, keeping its last slab: the FP8 rule reads an expert once for its scale and again for its values.
    func keepingLastSlab() -> any WeightStore { LastSlabStore(base: self) }
}

/// `base` with the last slab it returned kept for a repeated request (one slab: an expert is 128 MiB at full width).
private final class LastSlabStore: WeightStore {
    let base: any WeightStore
    var config: ModelConfig { base.config }
    var inventory: TensorInventory { base.inventory }
    private let last = Mutex<(key: String, slab: Tensor<Double>)?>(nil)

    init(base: any WeightStore) { self.base = base }

    func rows(_ name: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> {
        let key = "\(name)[\(rows.lowerBound)..<\(rows.upperBound)]"
        if let kept = last.withLock({ $0?.key == key ? $0?.slab : nil }) { return kept }
        let slab = try base.rows(name, rows)
        last.withLock { $0 = (key, slab) }
        return slab
    }
}
