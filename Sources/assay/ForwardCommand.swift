// `assay forward`: run the float64 reference model on token ids (and images) and write its taps.

import ArgumentParser
import MistralSmall4
import Tensor

struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run the reference model and write its taps (layer-boundary tensors) as safetensors.",
        discussion: """
            The tokens come from --input IN or --prompt. IN holds input_ids [batch, seq] (I64 or I32) and optionally \
            position_ids [batch, seq] (default 0…seq−1), attention_mask [batch, seq] of 0/1 (default all 1), and, \
            for a model with a vision tower, pixel_values [images, 3, H, W] (F64/F32/BF16/F16, preprocessed) with \
            image_sizes [images, 2] (I64 or I32; each side a multiple of patch_size × spatial_merge_size). Each \
            image needs its token block in input_ids: ([IMG] × cols, [IMG_BREAK]) × rows, the last break [IMG_END] \
            (spec/projector.md eq. 6). --prompt gives one sequence of token ids in which each [IMG] id marks where \
            the next --image goes; images are read (PNG or binary PPM) and preprocessed as transformers' Pixtral \
            processor does (spec/preprocessing.md). \
            TAPS gets one tensor per tap, named by the transformers module path (spec/taps.md; a text-only config's \
            text taps start with model. instead of model.language_model.; vision, projector and merge taps only \
            with images): \(ModelPaths.tapPatterns.joined(separator: ", ")). \
            Router and routed-expert taps are [batch·seq, …] as transformers' modules see them; the others are \
            [batch, seq, …] (vision [1, patches, …], patch convolution [images, hidden, rows, cols], projector \
            [patches, …]). \
            With --layers A-B (or one layer N) only those decoder layers run, from a captured hidden state: IN \
            holds it as --hidden NAME [batch, seq, hidden] (e.g. the output tap of layer A − 1 of an earlier run), \
            and position_ids and attention_mask, or --replay-inputs names the earlier run's inputs file that has \
            them (a taps file holds none, and a replay at other positions silently differs); only those layers' \
            weights are read, and of their routed experts only the ones the tokens route to. --vision-layers does \
            the same for the vision transformer: --hidden [1, patches, hidden] (e.g. the tap of the block before), \
            and image_sizes from IN or --replay-inputs. \
            Bad input prints one line naming the file, tensor or field, and exits 1.
            """)

    @OptionGroup var source: ModelSourceOptions

    @Option(help: "Safetensors file with input_ids, optionally position_ids, attention_mask, pixel_values + image_sizes.")
    var input: String?

    @Option(help: "Instead of --input: one sequence of token ids, comma-separated; each [IMG] id marks an --image.")
    var prompt: String?

    @Option(help: "An image (PNG or binary PPM) for the next [IMG] of --prompt; repeatable.")
    var image: [String] = []

    @Option(help: "Where to write the taps (written atomically; a new path or a regular file only).")
    var output: String

    @Option(help: "Stored dtype of the real-valued taps: f32 or f64 (router indices are I64).")
    var dtype: TapDType = .f32

    @Option(help: ArgumentHelp("Precision profile: exact (float64), hf-bf16 (transformers' casts in bfloat16; "
            + "spec/precision.md), an FP8 one: fp8-static, fp8-static-vllm, hf-fp8-static (spec/quant.md §6), or "
            + "nvfp4 (§11)."))
    var profile: PrecisionProfile = .exact

    @Option(help: "MLA algorithm: expanded (decompress K and V, as transformers) or absorbed (attend over the latent).")
    var attention: AttentionAlgorithm = .expanded

    @Option(help: "Keep only taps whose name matches this regular expression (anywhere in the name); none is an error.")
    var taps: TapFilter?

    @Option(help: "Run only these decoder layers (N or A-B) from the hidden state in --input.")
    var layers: LayerRange?

    @Option(help: "Run only these vision transformer layers (N or A-B) from the patch states in --input.")
    var visionLayers: LayerRange?

    @Option(help: "With --layers or --vision-layers: the --input tensor that holds the hidden state.")
    var hidden = "hidden_states"

    @Option(help: ArgumentHelp("With --layers or --vision-layers: the inputs file of the run the hidden state was "
                               + "captured from; its position_ids and attention_mask (image_sizes) when --input lacks them."))
    var replayInputs: String?

    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        guard (input == nil) != (prompt == nil) else { throw ValidationError("give exactly one of --input, --prompt") }
        guard layers == nil || visionLayers == nil else { throw ValidationError("give --layers or --vision-layers, not both") }
        guard (layers == nil && visionLayers == nil) || input != nil else {
            throw ValidationError("--layers and --vision-layers read their hidden state from --input")
        }
        guard image.isEmpty || prompt != nil else { throw ValidationError("--image goes with --prompt") }
        guard replayInputs == nil || layers != nil || visionLayers != nil else {
            throw ValidationError("--replay-inputs goes with --layers or --vision-layers")
        }
    }

    func run() throws {
        let filter = taps?.regex
        let store = try source.store(profile: profile)
        let reporter = progress.reporter("forward \(source.name)"), text = layers?.layers
        reporter.plan(cases: 1, steps: text?.count ?? store.config.text.numHiddenLayers, first: text?.lowerBound ?? 0)
        reporter.begin(case: "", index: 0)
        defer { reporter.finish() }
        if let range = layers ?? visionLayers, let input {
            let recorder = TapRecorder(filter: filter)
            recorder.onRecord = reporter.heard
            let context = try LayerReplay(store: store, profile: profile, algorithm: attention, hiddenName: hidden)
                .run(range, vision: visionLayers != nil, input: input, replayInputs: replayInputs, taps: recorder)
            return try write(recorder, context: context)
        }
        let (inputs, images) = try input.map { path in try ForwardInputs.read(path: path, config: store.config) }
            ?? promptInputs(config: store.config)
        let recorder = TapRecorder(filter: filter)
        recorder.onRecord = reporter.heard
        do {
            try MultimodalModel(store: store, profile: profile, algorithm: attention)
                .forward(inputs, images: images, taps: recorder)
        } catch let error as InputError {   // image tokens that do not fit the images
            throw SafeTensorsError(file: input ?? "--prompt", tensor: error.field, error.message)
        }
        try write(recorder, context: RunContext.metadata(inputs, images: images))
    }

    /// The recorded taps to --output, atomically, with the run's positions, mask and image sizes as metadata (what
    /// a later `--layers` replay needs, RunContext); none (--taps matched nothing) is an error, and nothing is written.
    private func write(_ recorder: TapRecorder, context: [String: String]) throws {
        if let taps, recorder.taps.isEmpty {
            throw CommandError("--taps '\(Escaped.line(taps.text))' matches no tap of this run; nothing written")
        }
        let stored = try recorder.taps.map { tap throws(SafeTensorsError) in try tap.value.stored(name: tap.name, real: dtype.dtype) }
        try SafeTensorsWriter.write(stored, metadata: context.merging(["assay.profile": profile.rawValue]) { $1 },
                                    to: output)
    }
}

enum TapDType: String, ExpressibleByArgument, CaseIterable {
    case f32, f64

    var dtype: DType { self == .f32 ? .f32 : .f64 }
}

extension PrecisionProfile: ExpressibleByArgument {}
extension AttentionAlgorithm: ExpressibleByArgument {}

extension TapValue {
    /// The tap as a safetensors tensor: reals in `real`, integers as I64.
    func stored(name: String, real: DType) throws(SafeTensorsError) -> StoredTensor {
        switch self {
        case .real(let t): try StoredTensor(name: name, encoding: t, as: real)
        case .integer(let t): try StoredTensor(name: name, encoding: t, as: .i64)
        }
    }
}

extension ForwardCommand {
    /// `--prompt` ids with each [IMG] expanded to its `--image`'s block, and the preprocessed images.
    func promptInputs(config: ModelConfig) throws -> (ForwardInputs, VisionInputs?) {
        let ids = try (prompt ?? "").split(separator: ",").map { text throws(InputError) in
            guard let id = Int(text.filter { !$0.isWhitespace }) else {
                throw InputError(field: "prompt", "'\(text)' is not a token id (give ids separated by commas)")
            }
            return id
        }
        guard !image.isEmpty else {
            return (try ForwardInputs(inputIds: Tensor(shape: [1, ids.count], scalars: ids), config: config.text), nil)
        }
        guard let multimodal = config.multimodal else {
            throw InputError(field: "image", "the model is text-only (its config has no vision tower)")
        }
        let processed = ImagePreprocessor(multimodal)(try image.map { path throws(ImageError) in try RGBImage.load(path: path) })
        let images = try VisionInputs(pixelValues: processed.pixelValues, imageSizes: processed.imageSizes,
                                      config: multimodal)
        let tokenSide = multimodal.vision.patchSize * multimodal.spatialMergeSize
        let expanded = try ImageTokenLayout(multimodal).expand(prompt: ids, grids: images.grids(cellSide: tokenSide))
        return (try ForwardInputs(inputIds: Tensor(shape: [1, expanded.count], scalars: expanded), config: config.text),
                images)
    }
}

extension ForwardInputs {
    /// Reads `input_ids`, `position_ids`, `attention_mask` and, when present, `pixel_values` with `image_sizes`
    /// from a safetensors file, and validates them.
    static func read(path: String, config: ModelConfig) throws -> (ForwardInputs, VisionInputs?) {
        let file = try SafeTensorsFile(path: path)
        func integers(_ name: String) throws -> Tensor<Int>? {
            guard file.contains(name) else { return nil }
            return try file.integers(name)
        }
        guard file.contains("input_ids") else {
            throw SafeTensorsError(file: file.name, tensor: "input_ids", "missing (the token ids [batch, seq])")
        }
        do {
            try ForwardInputs.checkIdDType(try file.info("input_ids").dtype)
            let ids = try file.integers("input_ids")
            let inputs = try ForwardInputs(inputIds: ids, positionIds: try integers("position_ids"),
                                           attentionMask: try integers("attention_mask"), config: config.text)
            return (inputs, try readImages(file, config: config))
        } catch let error as InputError {
            throw SafeTensorsError(file: file.name, tensor: error.field, error.message)
        }
    }

    /// `pixel_values` and `image_sizes` (both or neither), validated against the vision config.
    private static func readImages(_ file: SafeTensorsFile, config: ModelConfig) throws -> VisionInputs? {
        switch (file.contains("pixel_values"), file.contains("image_sizes")) {
        case (false, false): return nil
        case (true, false): throw InputError(field: "image_sizes", "missing: pixel_values needs image_sizes [images, 2]")
        case (false, true): throw InputError(field: "pixel_values", "missing: image_sizes is given without pixel_values")
        case (true, true): break
        }
        guard let multimodal = config.multimodal else {
            throw InputError(field: "pixel_values", "the model is text-only (its config has no vision tower)")
        }
        return try VisionInputs(pixelValues: try file.doubles("pixel_values"),
                                imageSizes: try file.integers("image_sizes"), config: multimodal)
    }
}
