// Where a command's weights come from: a preset's synthetic weights (seed) or a Hugging Face checkpoint.

import ArgumentParser
import MistralSmall4
import Tensor

struct ModelSourceOptions: ParsableArguments {
    @Option(help: "A preset with synthetic weights: \(ParamsCommand.presetNames).")
    var preset: String?

    @Option(help: "The seed of the synthetic weights (spec/rng.md).")
    var seed: UInt64 = 0

    @Option(help: """
        A checkpoint directory, Hugging Face (config.json and model.safetensors, or shards with \
        model.safetensors.index.json) or Mistral (params.json and consolidated*.safetensors); weights F64, F32, \
        BF16, F16, F8_E4M3 with static scales, or NVFP4 in ModelOpt or compressed-tensors storage (Hugging Face \
        layout; spec/checkpoints.md).
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
        if let directory = checkpoint {
            // ModelConfig.load also takes a config file; --checkpoint is the checkpoint's directory.
            guard FilePath.isDirectory(directory) else {
                throw SafeTensorsError(file: directory, FilePath.exists(directory)
                                       ? "not a directory (--checkpoint takes the checkpoint's directory)" : "does not exist")
            }
            return try ModelConfig.load(path: directory)
        }
        guard let name = preset, let preset = Preset(rawValue: name) else {
            throw ValidationError("give exactly one of --preset, --checkpoint")
        }
        return try preset.load()
    }

    /// The weight store the options name; errors name the file and tensor at fault. An FP8 checkpoint's linears
    /// quantize activations as `profile` says (spec/quant.md §6; transformers' convention for a non-FP8 profile).
    func store(profile: PrecisionProfile = .exact) throws -> any WeightStore {
        let config = try config()
        if let directory = checkpoint {
            let (convention, expertScale) = profile.fp8Scheme ?? (.huggingFace, .perExpert)
            return try CheckpointWeightStore(config: config, directory: directory, convention: convention,
                                             expertActivationScale: expertScale)
        }
        return SyntheticWeightStore(config: config, seed: seed)
    }
}
