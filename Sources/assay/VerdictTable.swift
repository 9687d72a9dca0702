// The verdict table `assay conform` and `assay diff` print: one row per tap, a summary, the first failure.

import ArgumentParser
import MistralSmall4
import Tensor
import Validation

/// Prints the table of `verdicts` and a summary line; throws exit code 1 when a tap failed, after naming the
/// first failing tap and its worst element. Names from the golden set are printed escaped (`Escaped.line`), so
/// a tap name cannot fake a row or the summary line.
func printVerdicts(_ verdicts: [TapVerdict], summary: String) throws {
    print([pad("case", 8), pad("tap", 60), pad("shape", 16), pad("NMSE", 10, right: true), pad("max abs", 10, right: true),
           pad("cos", 12, right: true), pad("limit", 9, right: true), "  verdict"].joined(separator: " "))
    for v in verdicts {
        let c = v.comparison
        let nmse = c.map { scientific($0.nmse) } ?? (v.toleranceClass == .routerIndices && v.status != .notCovered ? "sets" : "")
        print([pad(Escaped.line(v.caseName), 8), pad(Escaped.line(v.tap), 60), pad(Shape.describe(v.shape), 16), pad(nmse, 10, right: true),
               pad(c.map { scientific($0.maxAbsoluteError) } ?? "", 10, right: true),
               pad(c.map { String($0.cosine).prefix(12).description } ?? "", 12, right: true),
               pad(v.limit.map(scientific) ?? "", 9, right: true),
               "  " + v.status.rawValue + (v.note.isEmpty ? "" : "  " + Escaped.line(v.note))].joined(separator: " "))
    }
    let failed = verdicts.filter { $0.status == .fail }
    let uncovered = verdicts.filter { $0.status == .notCovered }.count
    print("\(verdicts.count - uncovered) taps compared, \(failed.count) failed"
          + (uncovered > 0 ? ", \(uncovered) not covered" : "") + " (\(summary))")
    guard verdicts.count > uncovered else {
        print("nothing was compared: a run that checks no tap is not a pass")
        throw ExitCode(1)
    }
    if let first = failed.first {
        let worst = first.comparison.map { c in
            "; worst element \(c.worstIndex): \(c.worstCandidate) vs golden \(c.worstReference)"
        } ?? ""
        print("first failure: case \(Escaped.line(first.caseName)), tap \(Escaped.line(first.tap))\(worst)")
        throw ExitCode(1)
    }
}

/// Each op's calls, µs per call, GFLOP/s and GB/s, one row per op (the columns of several runs side by side).
func printTimings(_ runs: [(name: String, timings: [OpTiming])]) {
    print(([pad("op", 18)] + runs.map { pad($0.name + ": µs/call GFLOP/s GB/s", 44, right: true) }).joined(separator: " "))
    for op in SpecOp.allCases {
        let cells = runs.map { run in
            run.timings.first { $0.op == op }.map { t in
                "\(twoDecimals(t.microsecondsPerCall)) µs \(twoDecimals(t.gflops)) \(twoDecimals(t.gigabytesPerSecond))"
            } ?? "—"
        }
        guard cells.contains(where: { $0 != "—" }) else { continue }
        print(([pad(op.rawValue, 18)] + cells.map { pad($0, 44, right: true) }).joined(separator: " "))
    }
}
