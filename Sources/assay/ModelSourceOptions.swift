// Where a command's weights come from: a preset's synthetic weights (seed) or a Hugging Face checkpoint.

import ArgumentParser
import MistralSmall4

struct ModelSourceOptions: ParsableArguments {
    @Option(help: "A preset with synthetic weights: \(ParamsCommand.presetNames).")
    var preset: String?

    @Option(help: "The seed of the synthetic weights (spec/rng.md).")
    var seed: UInt64 = 0

    @Option(help: """
        A Hugging Face checkpoint directory: config.json (mistral3 or mistral4) and model.safetensors or shards \
        with model.safetensors.index.json; weights F64, F32, BF16 or F16.
        """)
    var checkpoint: String?

    func validate() throws {
        guard (preset == nil) != (checkpoint == nil) else {
            throw ValidationError("give exactly one of --preset, --checkpoint")
        }
        if let preset { _ = try Preset.named(preset) }
    }

    /// The config the options name: the preset's, or the checkpoint's config.json (or params.json).
    func config() throws -> ModelConfig {
        if let directory = checkpoint { return try ModelConfig.load(path: directory) }
        guard let name = preset, let preset = Preset(rawValue: name) else {
            throw ValidationError("give exactly one of --preset, --checkpoint")
        }
        return try preset.load()
    }

    /// The weight store the options name; errors name the file and tensor at fault.
    func store() throws -> any WeightStore {
        let config = try config()
        if let directory = checkpoint { return try CheckpointWeightStore(config: config, directory: directory) }
        return SyntheticWeightStore(config: config, seed: seed)
    }
}
