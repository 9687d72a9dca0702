// `assay conform`: a port's (or backend's) tap dump against a golden set — spec/conformance.md.

import ArgumentParser
import MistralSmall4
import Tensor
import Validation

struct ConformCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conform",
        abstract: "Compare a candidate's taps with a golden set and print a per-tap verdict.",
        discussion: """
            CANDIDATE is a directory holding <case>.taps.safetensors for every case of the set, or one safetensors \
            file with --case. It must hold exactly the golden taps (spec/taps.md names, HF shapes; reals in any \
            float dtype, router indices as integers). Limits come from spec/tolerances.json by --precision \
            (what the candidate computed in). Rows of padding tokens are not compared. Prints a table (case, tap, \
            shape, NMSE, max abs, cos, limit, verdict) and exits 1 on any failure, naming the first failing tap \
            and its worst element; a tap that cannot be compared (missing, extra, misshapen) is an error, never a PASS.
            """)

    @Option(help: "The golden set directory.")
    var goldens: String

    @Option(help: "The candidate's taps: a directory of <case>.taps.safetensors, or one file with --case.")
    var candidate: String

    @Option(name: .customLong("case"), help: "Compare this case only.")
    var caseName: String?

    @Option(help: "What the candidate computed in: f64 or f32 (bf16 limits need isolated mode; see tolerances.json).")
    var precision: CandidatePrecision = .f32

    func run() throws {
        let verdicts = try Conformance.check(goldens: goldens, candidate: candidate, only: caseName, precision: precision)
        try printVerdicts(verdicts, summary: "precision \(precision.rawValue)")
    }
}

extension CandidatePrecision: ExpressibleByArgument {}
