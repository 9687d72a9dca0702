// Synthetic weights written as a Hugging Face checkpoint (config.json + model.safetensors): what
// `assay export-checkpoint` writes, and the weights a golden set ships for small presets and configs.

import Tensor

public enum SyntheticCheckpoint {
    /// Writes `config.json` (the preset's bytes, as compiled in) and `model.safetensors` (every inventory tensor
    /// in `dtype`, metadata `format: pt`) into the existing `directory`.
    public static func write(_ preset: Preset, seed: UInt64, dtype: DType, into directory: String) throws {
        try write(try preset.load(), configBytes: preset.bytes, seed: seed, dtype: dtype, into: directory)
    }

    /// Writes `configBytes` (a config.json that decodes to `config`) as `config.json` and the synthetic weights of
    /// `config` and `seed` as `model.safetensors` into the existing `directory`.
    public static func write(_ config: ModelConfig, configBytes: [UInt8], seed: UInt64, dtype: DType,
                             into directory: String) throws {
        let store = SyntheticWeightStore(config: config, seed: seed)
        let tensors = try TensorInventory(config).entries.map { entry in
            try StoredTensor(name: entry.name, encoding: try store.tensor(entry.name), as: dtype)
        }
        try AtomicDirectory.writeFile(configBytes, to: FilePath.join(directory, "config.json"))
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: FilePath.join(directory, "model.safetensors"))
    }
}
