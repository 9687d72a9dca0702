// Writing a golden set — spec/goldens.md §1–§3: every case's inputs and taps as safetensors, the weights of
// small models (a preset's or a config's as a Hugging Face checkpoint, a checkpoint's own files as they are), and
// manifest.json describing all of it with sha256 checksums.
//
// Goals, in order: byte-identical output for the same options (no time stamps, fixed tensor and member order,
// deterministic arithmetic at any thread count); all or nothing on disk (AtomicDirectory); then a manifest a
// port can read with any JSON parser.

import MistralSmall4
import Tensor

/// What to put in a golden set.
public struct GoldenOptions: Sendable {
    public var source: GoldenSource
    public var seed: UInt64 = 0
    public var profile: PrecisionProfile = .exact
    /// Text tokens per sequence.
    public var tokens = 8
    /// Sequences per text case.
    public var batch = 2
    /// One text case starting here instead of the three default ones.
    public var positions: Int?
    /// Images in the image case (0: none); only for presets with a vision tower.
    public var images = 2
    /// Stored dtype of the real-valued taps: F32 or F64.
    public var dtype: DType = .f32
    /// Only these decoder layers, from a hidden state each case carries (spec/goldens.md §3.2); nil: the model.
    public var layers: ClosedRange<Int>?
    /// Ship the weights when the model has at most `GoldenSet.weightsLimit` parameters; false: never (the set
    /// then records a checkpoint's sha256s only).
    public var shipsSmallWeights = true

    public init(source: GoldenSource) { self.source = source }

    public init(preset: Preset) { self.init(source: .preset(preset)) }
}

/// Golden sets: the format's constants and the writer.
public enum GoldenSet {
    public static let format = "assay-golden"
    public static let formatVersion = 1
    /// Models whose inventory has at most this many parameters ship their weights in the set.
    public static let weightsLimit = 1_000_000

    /// Writes the golden set `options` describes to the new directory `path`. `progress` hears each case begin
    /// and every tap its run produces.
    public static func write(_ options: GoldenOptions, to path: String, progress: RunProgress? = nil) throws {
        let source = try OpenedSource(options.source, seed: options.seed, profile: options.profile)
        let config = source.config
        if let layers = options.layers, layers.upperBound >= config.text.numHiddenLayers {
            throw InputError(field: "layers", "\(layers.lowerBound)-\(layers.upperBound): the model has layers "
                             + "0-\(config.text.numHiddenLayers - 1)")
        }
        let cases = try GoldenCase.defaults(config, seed: options.seed, tokens: options.tokens, batch: options.batch,
                                            positions: options.positions, images: options.images,
                                            layers: options.layers != nil)
        let model = MultimodalModel(store: source.store, profile: options.profile)
        let small = TensorInventory(config).entries.reduce(0) { $0 + $1.elementCount } <= weightsLimit
        let layers = options.layers ?? 0...(config.text.numHiddenLayers - 1)
        progress?.plan(cases: cases.count, steps: layers.count, first: layers.lowerBound)
        defer { progress?.finish() }
        try AtomicDirectory.create(path) { directory in
            var manifest = GoldenManifest(options: options, source: source)
            if small && options.shipsSmallWeights { try shipWeights(source, options: options, into: directory, &manifest) }
            for (index, golden) in cases.enumerated() {
                progress?.begin(case: golden.name, index: index)
                let recorder = TapRecorder()
                recorder.onRecord = progress?.heard
                if let hidden = golden.hidden {
                    try model.text.forward(layers: layers, hidden: hidden, inputs: golden.inputs, taps: recorder)
                } else {
                    try model.forward(golden.inputs, images: golden.images, taps: recorder)
                }
                let inputs = try inputTensors(golden)
                let taps = try recorder.taps.map { tap throws(SafeTensorsError) in
                    switch tap.value {
                    case .real(let t): try StoredTensor(name: tap.name, encoding: t, as: options.dtype)
                    case .integer(let t): try StoredTensor(name: tap.name, encoding: t, as: .i64)
                    }
                }
                let inputFile = golden.name + ".inputs.safetensors", tapFile = golden.name + ".taps.safetensors"
                try SafeTensorsWriter.write(inputs, metadata: [:], to: FilePath.join(directory, inputFile))
                try SafeTensorsWriter.write(taps, metadata: ["assay.profile": options.profile.rawValue],
                                            to: FilePath.join(directory, tapFile))
                manifest.cases.append(.init(golden: golden, inputFile: inputFile, inputs: inputs, tapFile: tapFile,
                                            taps: taps, recorder: recorder))
            }
            for file in manifest.files {
                let bytes: [UInt8]
                do { bytes = try FilePath.readRegularFile(FilePath.join(directory, file)) } catch {
                    throw SafeTensorsError(file: file, "cannot read back what was just written: \(error)")
                }
                manifest.checksums[file] = SHA256.hex(bytes)
            }
            try AtomicDirectory.writeFile(Array((manifest.json.serialized(pretty: true) + "\n").utf8),
                                          to: FilePath.join(directory, "manifest.json"))
        }
    }

    /// The weights into the set: a synthetic model's as a Hugging Face checkpoint (config.json verbatim, BF16
    /// weights) when its config is a config.json, a checkpoint's own files byte for byte.
    private static func shipWeights(_ source: OpenedSource, options: GoldenOptions, into directory: String,
                                    _ manifest: inout GoldenManifest) throws {
        if let checkpoint = source.checkpoint, case .checkpoint(let origin) = options.source {
            for (name, _) in checkpoint.files {
                let bytes = try FilePath.readRegularFile(FilePath.join(origin, name))
                try AtomicDirectory.writeFile(bytes, to: FilePath.join(directory, name))
            }
            manifest.shipsCheckpoint = true
        } else if source.format == .huggingFace {
            try SyntheticCheckpoint.write(source.config, configBytes: source.configBytes, seed: options.seed,
                                          dtype: .bf16, into: directory)
            manifest.weights = ["config.json", "model.safetensors"]
        }
    }

    /// A case's inputs as stored: I64 ids, positions and mask; F32 pixel values (they are float32 values
    /// already) and I64 image sizes; a layer-range case's F32 hidden state `[B, S, H]` (float32 values too).
    static func inputTensors(_ golden: GoldenCase) throws(SafeTensorsError) -> [StoredTensor] {
        var tensors = [
            try StoredTensor(name: "input_ids", encoding: golden.inputs.inputIds, as: .i64),
            try StoredTensor(name: "position_ids", encoding: golden.inputs.positionIds, as: .i64),
            try StoredTensor(name: "attention_mask", encoding: golden.inputs.attentionMask, as: .i64),
        ]
        if let hidden = golden.hidden {
            let shape = golden.inputs.inputIds.shape + [hidden.shape[1]]
            tensors.append(try StoredTensor(name: "hidden_states", encoding: hidden.reshaped(shape), as: .f32))
        }
        if let images = golden.images {
            tensors.append(try StoredTensor(name: "pixel_values", encoding: images.pixelValues, as: .f32))
            let sizes = images.imageSizes.flatMap { [$0.height, $0.width] }
            tensors.append(try StoredTensor(name: "image_sizes", encoding: Tensor(shape: [images.count, 2], scalars: sizes),
                                            as: .i64))
        }
        return tensors
    }
}
