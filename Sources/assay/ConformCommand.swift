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
            CANDIDATE is a directory holding <case>.taps.safetensors for every case of the set (but the cases named \
            by --skip-case, which the summary line reports as skipped), or one safetensors file with --case. It must hold exactly the golden taps (spec/taps.md names, HF shapes; reals in any \
            float dtype, router indices as integers). Limits come from spec/tolerances.json by --precision \
            (what the candidate computed in). Rows of padding tokens are not compared. Prints a table (case, tap, \
            shape, NMSE, max abs, cos, limit, verdict) and exits 1 on any failure, naming the first failing tap \
            and its worst element; a tap that cannot be compared (missing, extra, misshapen) is an error, never a PASS. \
            --diagnose then re-runs the reference on each failing case's inputs with each catalogued porting mistake \
            planted and names the one that reproduces the candidate, with its spec equation and public report.
            """)

    @Option(help: "The golden set directory.")
    var goldens: String

    @Option(help: "The candidate's taps: a directory of <case>.taps.safetensors, or one file with --case.")
    var candidate: String

    @Option(name: .customLong("case"), help: "Compare this case only.")
    var caseName: String?

    @Option(help: "What the candidate computed in: f64 or f32 (bf16 limits need isolated mode; see tolerances.json).")
    var precision: CandidatePrecision = .f32

    @Option(name: .customLong("skip-case"), help: ArgumentHelp("A case the candidate does not cover (e.g. images, for a "
                                                                + "text-only port); repeatable. Reported as skipped, "
                                                                + "never as passed."))
    var skipCases: [String] = []

    @Flag(help: ArgumentHelp("At each case's first failing tap, name the catalogued porting mistake that reproduces "
                             + "the candidate (the reference re-run with each of assay selftest's planted bugs), or "
                             + "say where the error lies (spec/conformance.md §8)."))
    var diagnose = false

    func run() throws {
        let (verdicts, diagnoses) = diagnose
            ? try Conformance.checkAndDiagnose(goldens: goldens, candidate: candidate, only: caseName,
                                               skipping: skipCases, precision: precision)
            : (try Conformance.check(goldens: goldens, candidate: candidate, only: caseName, skipping: skipCases,
                                     precision: precision), [])
        defer { printDiagnoses(diagnoses) }   // after the table, also when it ends in a failure
        let skipped = skipCases.isEmpty ? "" : "; skipped, not compared: case " + skipCases.map { Escaped.line($0) }
            .joined(separator: ", ")
        try printVerdicts(verdicts, summary: "precision \(precision.rawValue)" + skipped)
    }
}

extension CandidatePrecision: ExpressibleByArgument {}

/// Each diagnosis, after the verdicts.
func printDiagnoses(_ diagnoses: [Diagnosis]) {
    for diagnosis in diagnoses { diagnosis.lines.forEach { print($0) } }
}
