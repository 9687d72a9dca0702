// `assay export-checkpoint`: a preset's synthetic weights as a checkpoint — BF16/F32/F64 in the Hugging Face layout
// (one file), or FP8 (spec/quant.md §6) of the first N text layers at any width, in either layout or both, streamed
// a run of rows at a time into shards (spec/checkpoints.md §8).

import ArgumentParser
import MistralSmall4
import Tensor

struct ExportCheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-checkpoint",
        abstract: "Write a preset's synthetic weights as a checkpoint (Hugging Face layout, or FP8 in either layout).",
        discussion: """
            Every tensor of the preset's inventory, drawn from the Philox stream of (seed, name) (spec/rng.md). \
            Synthetic weights are exact bfloat16 values, so the default BF16 file (config.json + model.safetensors) \
            loses nothing. --dtype fp8 writes the fp8-static profile's weights (E4M3 codes with their scales, \
            spec/quant.md §6) of the preset's text decoder alone (a mistral4 config; --first-layers N keeps layers \
            0…N-1), in shards of --shard-gib with an index, one expert or block of rows in memory at a time; \
            --mistral-out writes Mistral's layout too from the same pass (spec/checkpoints.md §8). DIR must not \
            exist yet: the checkpoint is written to a temporary sibling and renamed into place.
            """)

    @Option(help: "The preset: \(ParamsCommand.presetNames).")
    var preset: String

    @Option(help: "The seed of the synthetic weights.")
    var seed: UInt64 = 0

    @Option(help: "The checkpoint directory to create.")
    var out: String

    @Option(help: "Stored weight dtype: bf16, f32, f64, or fp8 (the fp8-static profile's weights and scales).")
    var dtype: ExportDType = .bf16

    @Option(name: .customLong("first-layers"), help: "With --dtype fp8: keep decoder layers 0…N-1 (default: all).")
    var firstLayers: Int?

    @Option(help: "With --dtype fp8: the layout of DIR, hugging-face or mistral.")
    var layout: CheckpointLayout = .huggingFace

    @Option(name: .customLong("mistral-out"),
            help: "With --dtype fp8 --layout hugging-face: also write Mistral's layout to this new directory.")
    var mistralOut: String?

    @Option(name: .customLong("shard-gib"), help: "With --dtype fp8: the largest shard, in GiB.")
    var shardGiB: Double = 4

    func validate() throws {
        let layers = try Preset.named(preset).load().text.numHiddenLayers
        guard dtype == .fp8 || (firstLayers == nil && layout == .huggingFace && mistralOut == nil) else {
            throw ValidationError("--first-layers, --layout and --mistral-out need --dtype fp8")
        }
        guard mistralOut == nil || layout == .huggingFace else {
            throw ValidationError("--mistral-out goes with --layout hugging-face")
        }
        if let firstLayers, !(1...layers).contains(firstLayers) {
            throw ValidationError("--first-layers \(firstLayers) is outside 1...\(layers), the preset's layers")
        }
        guard shardGiB > 0 else { throw ValidationError("--shard-gib must be positive") }
    }

    func run() throws {
        let preset = try Preset.named(preset)
        AtomicDirectory.removeTempDirectoriesOnSignals()
        guard let stored = dtype.dtype else { return try exportFP8(preset) }
        try AtomicDirectory.create(out) { directory in
            try SyntheticCheckpoint.write(preset, seed: seed, dtype: stored, into: directory)
        }
    }

    /// The FP8 checkpoint into `out` (and `mistralOut`), both renamed into place once complete.
    private func exportFP8(_ preset: Preset) throws {
        let layers = try firstLayers ?? preset.load().text.numHiddenLayers
        let shardBytes = Int(shardGiB * Double(1 << 30))
        try AtomicDirectory.create(out) { directory in
            guard let mistralOut else {
                return try FP8CheckpointExport.write(preset, layers: layers, seed: seed, shardBytes: shardBytes,
                                                     into: [(layout, directory)])
            }
            try AtomicDirectory.create(mistralOut) { mistral in
                try FP8CheckpointExport.write(preset, layers: layers, seed: seed, shardBytes: shardBytes,
                                              into: [(.huggingFace, directory), (.mistral, mistral)])
            }
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

/// What `export-checkpoint` stores: one dtype for every tensor, or fp8 (E4M3 weights, BF16 others, F32 scales).
enum ExportDType: String, ExpressibleByArgument, CaseIterable {
    case bf16, f32, f64, fp8

    /// The one dtype of every tensor; nil for fp8.
    var dtype: DType? { WeightDType(rawValue: rawValue)?.dtype }
}

extension CheckpointLayout: ExpressibleByArgument {}
