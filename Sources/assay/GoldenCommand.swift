// `assay golden`: write a golden set (spec/goldens.md).

import ArgumentParser
import MistralSmall4
import Tensor
import Validation

struct GoldenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "golden",
        abstract: "Write a golden set from a preset, a config or a checkpoint: inputs, every tap, manifest.json with sha256s.",
        discussion: """
            Cases (spec/goldens.md §2): start (positions 0…), step (across the query temperature's first step), \
            long (262,144…) and far (1,000,000…), each BATCH \
            sequences of TOKENS text ids with row 1 left-padded by 2; --positions START replaces them by one case. \
            A model with a vision tower adds an images case (--images, default 2). The model: --preset, --config \
            FILE (any valid config.json or params.json, synthetic weights from --seed) or --checkpoint DIR (either \
            layout, FP8 included: its own weights; the manifest records each of its files with its sha256). Models \
            of at most 1M parameters ship their weights (a preset or config.json: config.json + model.safetensors, \
            BF16, so the set is also a checkpoint; a checkpoint: its own files) unless --no-weights; a set without \
            a checkpoint's weights is diffed with `assay diff --checkpoint DIR`, which checks the sha256s. The same \
            options write byte-identical files; DIR must not exist (written to a temp sibling and renamed; SIGINT, \
            SIGTERM or SIGHUP removes the temp sibling before the process ends). --layers A-B makes a layer-range set: \
            each text case stores a hidden state (standard normals of its own Philox stream) that layer A takes, \
            and the taps of layers A…B; verify, diff and conform read it like any set. Progress goes to standard \
            error.
            """)

    @OptionGroup var source: ModelSourceOptions

    @Option(help: "The golden set directory to create.")
    var out: String

    @Option(help: ArgumentHelp("Precision profile: exact, hf-bf16, an FP8 one (fp8-static, fp8-static-vllm, "
            + "hf-fp8-static; spec/quant.md §6) or nvfp4 (§11)."))
    var profile: PrecisionProfile = .exact

    @Option(help: "Text tokens per sequence.")
    var tokens = 8

    @Option(help: "Sequences per text case.")
    var batch = 2

    @Option(help: "One text case starting at this position instead of the default four.")
    var positions: Int?

    @Option(help: "Images in the images case (0: no images case).")
    var images = 2

    @Option(help: "Stored dtype of the real-valued taps: f32 or f64.")
    var dtype: TapDType = .f32

    @Option(help: "Threads to compute with (default: all cores); the output does not depend on it.")
    var threads: Int?

    @Option(help: ArgumentHelp("Only these decoder layers (N or A-B), each text case run from a hidden state of its own "
                               + "that the set stores (spec/goldens.md §3.2); no images case."))
    var layers: LayerRange?

    @Flag(help: "Ship no weights, even for a small model (a checkpoint is then recorded by its sha256s only).")
    var noWeights = false

    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        guard tokens >= 2 else { throw ValidationError("--tokens must be at least 2 (row 1 is left-padded)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard images >= 0 else { throw ValidationError("--images must not be negative") }
        guard (threads ?? 1) >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        AtomicDirectory.removeTempDirectoriesOnSignals()   // first: before any compute thread starts
        if let threads { ComputeThreads.limit(to: threads) }
        var options = GoldenOptions(source: try source.goldenSource)
        options.seed = source.seed
        options.profile = profile
        options.tokens = tokens
        options.batch = batch
        options.positions = positions
        options.images = images
        options.dtype = dtype.dtype
        options.shipsSmallWeights = !noWeights
        options.layers = layers?.layers
        try GoldenSet.write(options, to: out, progress: progress.reporter("golden \(source.name)"))
        print("wrote \(out)")
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a golden set: manifest schema and version, config, every tensor's dtype, shape and sha256, every file's sha256.",
        discussion: "Prints a one-line summary, or the first problem (naming the file and tensor) and exits 1.")

    @Argument(help: "The golden set directory.")
    var directory: String

    func run() throws {
        let summary = try GoldenVerifier.verify(directory)
        print("\(directory): OK — \(summary.source), cases \(summary.cases.map { Escaped.line($0) }.joined(separator: ", ")), "
              + "\(summary.tensors) tensors, \(summary.files) files")
    }
}
