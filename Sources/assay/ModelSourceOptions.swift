// Where a command's weights come from: a preset's or a config file's synthetic weights (seed), or a checkpoint.

import ArgumentParser
import MistralSmall4
import Tensor
import Validation

struct ModelSourceOptions: ParsableArguments {
    @Option(help: "A preset with synthetic weights: \(ParamsCommand.presetNames).")
    var preset: String?

    @Option(name: .customLong("config"), help: ArgumentHelp("A config file with synthetic weights: a config.json or params.json of any valid "
                               + "dimensions (spec/config.md)."))
    var configFile: String?

    @Option(help: "The seed of the synthetic weights (spec/rng.md); `golden` draws its inputs from it too.")
    var seed: UInt64 = 0

    @Option(help: """
        A checkpoint directory, Hugging Face (config.json and model.safetensors, or shards with \
        model.safetensors.index.json) or Mistral (params.json and consolidated*.safetensors); weights F64, F32, \
        BF16, F16, F8_E4M3 with static scales, or NVFP4 in ModelOpt or compressed-tensors storage (Hugging Face \
        layout; spec/checkpoints.md).
        """)
    var checkpoint: String?

    func validate() throws {
        guard [preset, configFile, checkpoint].compactMap({ $0 }).count == 1 else { throw Self.oneSource }
        if let preset { _ = try Preset.named(preset) }
    }

    private static let oneSource = ValidationError("give exactly one of --preset, --config, --checkpoint")

    /// The options as a golden set's source.
    var goldenSource: GoldenSource {
        get throws {
            if let checkpoint { return .checkpoint(directory: checkpoint) }
            if let configFile { return .config(path: configFile) }
            return .preset(try Preset.named(preset ?? ""))
        }
    }

    /// The source in a few words, for progress lines: the preset's name, or the file or directory's last component.
    var name: String { preset ?? FilePath.lastComponent(checkpoint ?? configFile ?? "") }

    /// The config the options name: the preset's, the config file's, or the checkpoint's config.json (or params.json).
    func config() throws -> ModelConfig {
        if let directory = checkpoint {
            return try ModelConfig.load(directory, directory: true, option: GoldenSource.checkpointOption)
        }
        if let file = configFile { return try ModelConfig.load(file, directory: false, option: GoldenSource.configOption) }
        guard let name = preset, let preset = Preset(rawValue: name) else { throw Self.oneSource }
        return try preset.load()
    }

    /// The weight store the options name; errors name the file and tensor at fault. An FP8 checkpoint's linears
    /// quantize activations as `profile` says (spec/quant.md §6; transformers' convention for a non-FP8 profile).
    func store(profile: PrecisionProfile = .exact) throws -> any WeightStore {
        let config = try config()
        if let directory = checkpoint {
            return try CheckpointWeightStore(config: config, directory: directory, profile: profile)
        }
        return SyntheticWeightStore(config: config, seed: seed)
    }
}
