// `assay forward --layers` / `--vision-layers`: some decoder (or vision) layers alone, from a captured hidden state,
// over a lazily read checkpoint — spec/checkpoints.md §5.

import ArgumentParser
import MistralSmall4
import Tensor

/// A run of consecutive layers: `N` or `A-B` on the command line.
struct LayerRange: ExpressibleByArgument {
    let layers: ClosedRange<Int>

    init?(argument: String) {
        let ends = argument.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard (1...2).contains(ends.count), let first = ends.first ?? nil, let last = ends.last ?? nil,
              first >= 0, first <= last else { return nil }
        layers = first...last
    }
}

/// Reads the hidden state and replays the layers from it.
struct LayerReplay {
    let store: any WeightStore
    let profile: PrecisionProfile
    let algorithm: AttentionAlgorithm
    let hiddenName: String

    /// `input` holds the hidden state; the positions and mask (text) or image sizes (vision) of the run it was
    /// captured from come from `input` (as tensors, or as the metadata `forward` writes into its taps), else from
    /// `replayInputs` (that run's inputs file). A replay at other positions than the run's silently differs from
    /// it, so with neither the replay is refused, naming what it needs. Returns the context it ran in, for the
    /// output's metadata.
    func run(_ range: LayerRange, vision: Bool, input path: String, replayInputs: String?, taps: TapRecorder) throws
        -> [String: String]
    {
        let file = try SafeTensorsFile(path: path)
        guard file.contains(hiddenName) else {
            throw SafeTensorsError(file: file.name, tensor: hiddenName, "missing (the hidden state to start from; "
                                   + "--hidden names another tensor)")
        }
        let hidden = try file.doubles(hiddenName)
        let needed = RunContext.needed(vision: vision)
        var context = RunContext(file: file)
        if let missing = needed.first(where: { !context.has($0) }) {
            guard let replayInputs else {
                throw SafeTensorsError(file: file.name, tensor: missing, "missing: the replay must run with the "
                                       + "\(needed.joined(separator: " and ")) of the run it continues; give that run's "
                                       + "inputs file with --replay-inputs, or add \(needed.joined(separator: " and ")) here")
            }
            context = RunContext(file: try SafeTensorsFile(path: replayInputs))
        }
        do {
            if vision {
                try runVision(range.layers, hidden: hidden, context: context, taps: taps)
            } else {
                try runText(range.layers, hidden: hidden, context: context, taps: taps)
            }
        } catch let error as InputError {
            let source = error.field == hiddenName ? file : context.file
            throw SafeTensorsError(file: source.name, tensor: error.field, error.message)
        }
        return RunContext.metadata(try needed.compactMap { name in try context.integers(name).map { (name, $0) } })
    }

    /// `hidden` [batch, seq, H] through decoder layers `layers`, at the positions and mask `context` holds (either
    /// may be absent there: the run it continues defaulted it as ForwardInputs does).
    private func runText(_ layers: ClosedRange<Int>, hidden: Tensor<Double>, context: RunContext,
                         taps: TapRecorder) throws {
        let text = store.config.text
        try check(layers, count: text.numHiddenLayers, option: "--layers")
        guard hidden.rank == 3, hidden.shape[2] == text.hiddenSize else {
            throw InputError(field: hiddenName, "shape \(Shape.describe(hidden.shape)), expected [batch, seq, "
                             + "\(text.hiddenSize)]")
        }
        let inputs = try ForwardInputs(inputIds: Tensor(shape: Array(hidden.shape.prefix(2)), repeating: 0),
                                       positionIds: try context.integers("position_ids"),
                                       attentionMask: try context.integers("attention_mask"), config: text)
        _ = try TextDecoder(store: store, profile: profile, algorithm: algorithm)
            .forward(layers: layers, hidden: hidden.reshaped([hidden.shape[0] * hidden.shape[1], text.hiddenSize]),
                     inputs: inputs, taps: taps)
    }

    /// `hidden` [1, patches, Hv] of the images of `image_sizes` through vision layers `layers`.
    private func runVision(_ layers: ClosedRange<Int>, hidden: Tensor<Double>, context: RunContext,
                           taps: TapRecorder) throws {
        guard let multimodal = store.config.multimodal else {
            throw InputError(field: hiddenName, "the model is text-only (its config has no vision tower)")
        }
        let vision = multimodal.vision
        try check(layers, count: vision.numHiddenLayers, option: "--vision-layers")
        guard let sizes = try context.integers("image_sizes") else {
            throw InputError(field: "image_sizes", "missing: the images' sizes [images, 2] in pixels give the patch grids")
        }
        let grids = VisionInputs.grids(try VisionInputs.checkedSizes(sizes, images: sizes.shape.first ?? 0, canvas: nil,
                                                                     config: multimodal),
                                       cellSide: vision.patchSize)
        let patches = grids.map { $0.rows * $0.cols }.reduce(0, +)
        guard hidden.shape == [1, patches, vision.hiddenSize] else {
            throw InputError(field: hiddenName, "shape \(Shape.describe(hidden.shape)), expected [1, \(patches), "
                             + "\(vision.hiddenSize)] for image_sizes \(sizes.scalars)")
        }
        _ = try MultimodalModel(store: store, profile: profile, algorithm: algorithm)
            .visionLayers(layers, hidden: hidden.reshaped([patches, vision.hiddenSize]), grids: grids, taps: taps)
    }

    private func check(_ layers: ClosedRange<Int>, count: Int, option: String) throws {
        guard layers.upperBound < count else {
            throw ValidationError("\(option) \(layers.lowerBound)-\(layers.upperBound): the model has layers 0-\(count - 1)")
        }
    }
}
