// CheckpointWeightStore: parameters read from a Hugging Face checkpoint directory (config.json plus
// model.safetensors or shards with model.safetensors.index.json).
//
// This is the one place that knows how checkpoints store the model: names are the state-dict keys of the
// inventory or their legacy spelling (below), dtypes F64 / F32 / BF16 / F16 widen exactly to float64, and every tensor's dtype and shape are checked
// against the config before a value is read. (FP8 and NVFP4 checkpoints join this file with the quantized paths.
// The vision q/k row permutation is a layout of every Hugging Face store, synthetic ones included, and is undone
// in Vision/VisionWeights.swift.)

import Tensor

/// The key layout transformers 4.x used for Mistral3ForConditionalGeneration, which 5.x still writes from
/// `save_pretrained` and reads back: `language_model.model.…` for `model.language_model.…`,
/// `language_model.lm_head.weight`, `vision_tower.…` and `multi_modal_projector.…` without `model.`.
func legacyCheckpointName(_ name: String) -> String? {
    let renames = [("model.language_model.", "language_model.model."), ("lm_head.", "language_model.lm_head."),
                   ("model.vision_tower.", "vision_tower."), ("model.multi_modal_projector.", "multi_modal_projector.")]
    for (current, legacy) in renames where name.hasPrefix(current) { return legacy + name.dropFirst(current.count) }
    return nil
}

/// Weights in a checkpoint, validated against its config.
public final class CheckpointWeightStore: WeightStore {
    public let config: ModelConfig
    public let checkpoint: Checkpoint
    public let inventory: TensorInventory

    /// Float dtypes read as they are; anything else is refused by name.
    static let readableDTypes: Set<DType> = [.f64, .f32, .bf16, .f16]

    /// Opens `directory` and checks that every tensor the config needs (text, and vision and projector for a
    /// mistral3 config) is present with the inventory's shape and a readable dtype. Throws naming the first
    /// tensor that is not.
    public init(config: ModelConfig, directory: String) throws(WeightError) {
        self.config = config
        inventory = TensorInventory(config)
        do {
            checkpoint = try Checkpoint(directory: directory)
        } catch {
            throw WeightError(source: error.file ?? directory, tensor: error.tensor ?? "-", error.message)
        }
        for entry in inventory.entries { _ = try info(entry) }
    }

    /// The shard and header entry of `entry`'s tensor (under its current or legacy key), checked for dtype and shape.
    private func info(_ entry: TensorEntry) throws(WeightError) -> (SafeTensorsFile, TensorInfo) {
        let name = entry.name
        let stored = checkpoint.contains(name) ? name : legacyCheckpointName(name).flatMap { checkpoint.contains($0) ? $0 : nil }
        guard let stored else {
            let legacy = legacyCheckpointName(name).map { " (nor as '\($0)')" } ?? ""
            throw WeightError(source: checkpoint.directory, tensor: name, "missing from the checkpoint\(legacy)")
        }
        let shard: SafeTensorsFile
        let info: TensorInfo
        do {
            shard = try checkpoint.shard(containing: stored)
            info = try shard.info(stored)
        } catch {
            throw WeightError(source: error.file ?? checkpoint.directory, tensor: name, error.message)
        }
        guard Self.readableDTypes.contains(info.dtype) else {
            throw WeightError(
                source: shard.name, tensor: name,
                "dtype \(info.dtype.rawValue) is not supported by the float64 reference (F64, F32, BF16 or F16)")
        }
        guard info.shape == entry.shape else {
            throw WeightError(
                source: shard.name, tensor: name,
                "shape \(Shape.describe(info.shape)) but the config needs \(Shape.describe(entry.shape))")
        }
        return (shard, info)
    }

    public func rows(_ name: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> {
        let (shard, info) = try info(try entry(name))
        do {
            return try shard.doubles(info.name, rows: rows)
        } catch {
            throw WeightError(source: shard.name, tensor: name, error.message)
        }
    }
}
