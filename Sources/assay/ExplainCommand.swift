// `assay explain`: the model as a learner or a kernel author reads it — the shape trace through one decoder layer and
// the vision path, parameters per component, FLOPs and bytes per token for a prefill and a decode step, the latent
// cache against full multi-head K/V, and where both sit on this machine's and an H100's roofline (spec/explain.md).
//
// Goals, in order: every figure comes from the library's cost model (ShapeTrace, CostModel, ParameterCounts), which
// CostModelTests hold equal to the running reference's own count; then a table a person can scan, or --json.

import ArgumentParser
import Backends
import MistralSmall4
import Tensor

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Shapes, parameters, FLOPs and bytes of one decoder layer and the vision path; cache and rooflines.",
        discussion: """
            FLOPs count the matrix products (2 per multiply-add): every linear and the attention products. A prefill \
            runs attention expanded, a decode step absorbed over the latent cache. Bytes: weights read once per \
            forward (routed experts: the expected distinct experts under uniform routing), the latent cache read \
            once per layer and the new rows written; activations are not counted. This machine's roofline is \
            measured in the run (a 2048³ sgemm and a 256 MiB copy); the H100's is its datasheet. --run also runs the \
            reference on the weights (the preset's synthetic ones or the checkpoint's) and prints each tap's \
            statistics. spec/explain.md.
            """)

    @OptionGroup var source: ModelSourceOptions

    @OptionGroup var costs: CostOptions

    @Option(help: "The decoder layer to trace (default: the first MoE layer).")
    var layer: Int?

    @Option(help: "The image of the vision trace, HEIGHTxWIDTH pixels (default: the tower's largest, square).")
    var image: String?

    @Flag(name: .customLong("run"),
          help: "Also run the reference (--tokens tokens, batch 1) and print every tap's mean, rms and max |x|.")
    var runReference = false

    @Flag(help: "Print one JSON object instead of tables.")
    var json = false

    func validate() throws {
        if runReference, source.preset == Preset.full.rawValue {
            throw ValidationError("--run on preset full would run the float64 reference through 36 layers of 119B "
                                  + "synthetic weights; use tiny, tiny-vision, small or full-shape-L1")
        }
    }

    func run() throws {
        let config = try source.config()
        let explanation = try Explanation(config: config, costs: costs, layer: try chosenLayer(config.text),
                                          image: try imageSize(config), machine: Roofline.measuredHere())
        let statistics = runReference ? try TapStatistics.forward(store: try source.store(), tokens: costs.tokens) : nil
        print(json ? explanation.json(statistics: statistics).serialized(pretty: true)
                   : explanation.tables(statistics: statistics))
    }

    func chosenLayer(_ text: TextConfig) throws -> Int {
        let layers = text.numHiddenLayers
        let chosen = layer ?? (0..<layers).first(where: text.isMoELayer) ?? 0
        guard (0..<layers).contains(chosen) else {
            throw ValidationError("--layer \(chosen): the config has layers 0…\(layers - 1)")
        }
        return chosen
    }

    /// `--image HxW`, checked against the patch grid, or the tower's largest square image.
    func imageSize(_ config: ModelConfig) throws -> (height: Int, width: Int)? {
        guard let m = config.multimodal else { return nil }
        let side = m.vision.patchSize * m.spatialMergeSize
        guard let image else {
            let largest = m.vision.imageSize / side * side
            return (largest, largest)
        }
        let parts = image.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2, parts.allSatisfy({ $0 > 0 && $0 % side == 0 && $0 <= m.vision.imageSize }) else {
            throw ValidationError("--image \(image): give HEIGHTxWIDTH, each a multiple of \(side) (patch × merge) "
                                  + "up to \(m.vision.imageSize)")
        }
        return (parts[0], parts[1])
    }
}

extension WeightFormat: ExpressibleByArgument {}

/// The workload `explain` and `explore` cost: a prefill, a decode step, and how weights are stored.
struct CostOptions: ParsableArguments {
    @Option(help: "Tokens of the prefill (and of the --run forward of explain).")
    var tokens = 512

    @Option(help: "Keys each decode token sees, itself included (the latent cache length).")
    var context = 4096

    @Option(help: "Sequences decoded together in one step.")
    var batch = 1

    @Option(help: "Weight storage for bytes moved: bf16, or fp8 (the released checkpoint's FP8 linears).")
    var weights: WeightFormat = .bf16

    func validate() throws {
        guard tokens >= 1, context >= 1, batch >= 1 else {
            throw ValidationError("--tokens, --context and --batch must be at least 1")
        }
    }
}

extension Roofline {
    /// This machine: OpenBLAS's float32 sgemm rate and one large copy's bandwidth, measured now.
    static func measuredHere() -> Roofline {
        Roofline(name: "this machine (measured: sgemm f32, memcpy)", flopsPerSecond: OpenBLAS.sgemmGFLOPs() * 1e9,
                 bytesPerSecond: MemoryBandwidth.copyBytesPerSecond())
    }
}
