// `assay export-checkpoint`: a preset's synthetic weights as a Hugging Face checkpoint transformers loads.

import ArgumentParser
import MistralSmall4
import Tensor

struct ExportCheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-checkpoint",
        abstract: "Write a preset's synthetic weights as a Hugging Face checkpoint (config.json + model.safetensors).",
        discussion: """
            Every tensor of the preset's inventory, drawn from the Philox stream of (seed, name) (spec/rng.md). \
            Synthetic weights are exact bfloat16 values, so the default BF16 file loses nothing. DIR must not exist \
            yet: the checkpoint is written to a temporary sibling and renamed into place.
            """)

    @Option(help: "The preset: \(ParamsCommand.presetNames).")
    var preset: String

    @Option(help: "The seed of the synthetic weights.")
    var seed: UInt64 = 0

    @Option(help: "The checkpoint directory to create.")
    var out: String

    @Option(help: "Stored weight dtype: bf16, f32 or f64.")
    var dtype: WeightDType = .bf16

    func validate() throws {
        _ = try Preset.named(preset)
    }

    func run() throws {
        let preset = try Preset.named(preset)
        AtomicDirectory.removeTempDirectoriesOnSignals()
        try AtomicDirectory.create(out) { directory in
            try SyntheticCheckpoint.write(preset, seed: seed, dtype: dtype.dtype, into: directory)
        }
    }
}

enum WeightDType: String, ExpressibleByArgument, CaseIterable {
    case bf16, f32, f64

    var dtype: DType {
        switch self {
        case .bf16: .bf16
        case .f32: .f32
        case .f64: .f64
        }
    }
}
