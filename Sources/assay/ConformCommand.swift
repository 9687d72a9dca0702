// `assay conform`: a port's (or backend's) tap dump against a golden set — spec/conformance.md.

import ArgumentParser
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
        print([pad("case", 8), pad("tap", 60), pad("shape", 16), pad("NMSE", 10, right: true), pad("max abs", 10, right: true),
               pad("cos", 12, right: true), pad("limit", 9, right: true), "  verdict"].joined(separator: " "))
        for v in verdicts {
            let c = v.comparison
            print([pad(v.caseName, 8), pad(v.tap, 60), pad(Shape.describe(v.shape), 16),
                   pad(c.map { scientific($0.nmse) } ?? "sets", 10, right: true),
                   pad(c.map { scientific($0.maxAbsoluteError) } ?? "", 10, right: true),
                   pad(c.map { String($0.cosine).prefix(12).description } ?? "", 12, right: true),
                   pad(v.limit.map(scientific) ?? "", 9, right: true),
                   "  " + (v.passed ? "PASS" : "FAIL") + (v.note.isEmpty ? "" : "  " + v.note)].joined(separator: " "))
        }
        let failed = verdicts.filter { !$0.passed }
        print("\(verdicts.count) taps compared, \(failed.count) failed (precision \(precision.rawValue))")
        if let first = failed.first {
            let worst = first.comparison.map { c in
                "; worst element \(c.worstIndex): \(c.worstCandidate) vs golden \(c.worstReference)"
            } ?? ""
            print("first failure: case \(first.caseName), tap \(first.tap)\(worst)")
            throw ExitCode(1)
        }
    }
}

extension CandidatePrecision: ExpressibleByArgument {}
