// `assay diff`: a backend run op by op against a golden set — spec/conformance.md §5.

import ArgumentParser
import MistralSmall4
import Tensor
import Validation

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Run a backend layer by layer against a golden set and print a per-tap verdict.",
        discussion: """
            isolated (default): every op gets the golden taps as its inputs, so each tap shows that op's own error. \
            chained: every op gets what the backend produced before it, so the growth of error shows. decode: \
            isolated, with attention run one position at a time through the backend's mla_decode op over its latent \
            cache. Ops the backend lacks are reported NOT COVERED (and, chained, everything that depends on them); \
            they never run on the reference instead. A plugin's kernels run in a worker process: a crash, exit() \
            or a call past --op-timeout fails that op's taps, named, and the diff goes on. Limits: spec/tolerances.json by tolerance class, the backend's \
            precision and the backend's own row. Exit 1 when a compared tap fails.
            """)

    @Option(help: "The backend: \(BackendRegistry.names), or reference+BUG (a planted bug of `assay selftest`).")
    var backend: String

    @Option(help: "The golden set directory.")
    var goldens: String

    @Option(help: ArgumentHelp("The checkpoint a set made by `golden --checkpoint` was made from, when the set ships "
                               + "no weights; its files are checked against the sha256s the set records."))
    var checkpoint: String?

    @Option(help: "isolated, chained or decode.")
    var mode: DiffMode = .isolated

    @Option(help: "Compare only the taps whose name matches this regular expression (anywhere in the name).")
    var taps: TapFilter?

    @Option(help: "Also write the report: FILE.json, FILE.html (self-contained) or FILE.csv (per-op timing).")
    var report: String?

    @Option(help: ArgumentHelp("The reference backend's precision profile (default: the golden set's). hf-bf16 "
                               + "against an exact set measures bf16 error, judged by the bf16 limits; so does "
                               + "hf-fp8-static against an fp8-static set. A profile that quantizes differently from "
                               + "the set is refused."))
    var profile: PrecisionProfile?

    @Option(help: "Patch embedding: the backend's own (direct) or the FFT convolution (fft: float64, an independent oracle).")
    var conv: Convolution = .direct

    @OptionGroup var plugins: PluginOptions

    @Flag(help: "Print each op's µs per call, GFLOP/s and GB/s before the verdicts (also in --report).")
    var timings = false

    @OptionGroup var progress: ProgressOptions

    @Flag(help: ArgumentHelp("At each case's first failing tap, name the catalogued porting mistake that reproduces "
                             + "the backend (spec/conformance.md §8)."))
    var diagnose = false

    enum Convolution: String, ExpressibleByArgument { case direct, fft }

    func validate() throws {
        try plugins.checkUsed(by: [backend])
        if profile != nil, !(backend == "reference" || backend.hasPrefix("reference+")) {
            throw ValidationError("--profile sets the reference backend's precision profile; backend '\(backend)' has "
                                  + "none (it computes as it computes: compare with --backend reference --profile …)")
        }
        if let report, ![".json", ".html", ".csv"].contains(where: report.hasSuffix) {
            throw ValidationError("--report must end in .json, .html or .csv: '\(report)'")
        }
    }

    func run() throws {
        let data = try GoldenData.load(goldens, checkpoint: checkpoint)
        // The weights and their FP8 scales come from the set, so a profile may change roundings, not quantization.
        if let profile, !profile.quantizesLike(data.profile) {
            throw ValidationError("--profile \(profile.rawValue) quantizes differently from the set's profile "
                                  + "\(data.profile.rawValue) (spec/quant.md §6); diff a set made in it: assay golden "
                                  + "--profile \(profile.rawValue)")
        }
        let own = try BackendRegistry.backend(backend, profile: profile ?? data.profile, plugins: plugins.isolation,
                                              pluginDType: plugins.dtype)
        let chosen: any Backend = conv == .fft ? FFTConvolutionBackend(own) : own
        let tolerances = try Tolerances(chosen.precision, backend: chosen.name)
        let result = try DiffEngine.run(chosen, on: data, mode: mode, tolerances: tolerances, filter: taps?.regex,
                                        progress: progress.reporter("diff \(chosen.name) \(mode.rawValue)"))
        if result.verdicts.isEmpty { throw ValidationError("--taps '\(taps?.text ?? "")' matches no tap of \(goldens)") }
        if let report {
            let text = report.hasSuffix(".html") ? result.html
                : report.hasSuffix(".csv") ? result.timingCSV : result.json.serialized(pretty: true) + "\n"
            try AtomicDirectory.writeFile(Array(text.utf8), to: report)
        }
        defer { if let report { print("report: \(report)") } }
        if timings { printTimings([(chosen.name, result.timings)]) }
        let diagnoses = diagnose ? try Diagnose.run(data, candidates: result.candidates, verdicts: result.verdicts,
                                                    mode: mode, tolerances: tolerances) : []
        defer { printDiagnoses(diagnoses) }
        try printVerdicts(result.verdicts, summary: "backend \(chosen.name), \(mode.rawValue), precision "
                          + chosen.precision.rawValue)
    }
}

extension DiffMode: ExpressibleByArgument {}
