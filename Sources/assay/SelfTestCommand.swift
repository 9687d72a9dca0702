// `assay selftest`: plant known bugs in a copy of the reference backend and check the diff catches each at the
// tap where it lives — spec/conformance.md §7.

import ArgumentParser
import Validation

struct SelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check that the diff engine catches planted bugs, each at the expected first failing tap.",
        discussion: """
            Makes a golden set in memory with the reference (tiny preset, seed 0, float64; a case crossing τ's \
            step at 262,144; one layer's router weights zero so experts tie exactly), diffs the unmodified \
            reference (it must pass), then the reference with each planted bug, isolated, with the float64 limits. \
            Exit 1 unless every bug fails first at its expected tap. The last column names the coarser limits \
            (f32, bf16 of spec/tolerances.json) the same run also exceeds somewhere: a bug below them is visible \
            only to a float64 comparison.
            """)

    func run() throws {
        let outcomes = try SelfTest.run()
        print([pad("planted bug", 32), pad("expected first failure", 58), pad("found", 58), pad("NMSE", 10, right: true),
               "  verdict", " also over"].joined(separator: " "))
        for outcome in outcomes {
            let found = outcome.firstFailure.map { "\($0.caseName): \(short($0.tap))" } ?? "no failure"
            let nmse = outcome.firstFailure?.comparison.map { scientific($0.nmse) } ?? ""
            let expected = outcome.expected.map { "\($0.caseName): \(short($0.tap))" } ?? "no failure (control)"
            print([pad(outcome.bug?.rawValue ?? "none (control)", 32), pad(expected, 58), pad(found, 58),
                   pad(nmse, 10, right: true), "  " + pad(outcome.ok ? (outcome.bug == nil ? "PASS" : "CAUGHT") : "MISSED", 7),
                   outcome.caughtBy.dropFirst().map(\.rawValue).joined(separator: ",")]
                .joined(separator: " "))
        }
        let missed = outcomes.filter { !$0.ok }
        print("\(outcomes.count - 1) planted bugs, \(outcomes.count - 1 - missed.filter { $0.bug != nil }.count) caught "
              + "at the expected tap; control \(outcomes[0].ok ? "passed" : "FAILED")")
        if !missed.isEmpty { throw ExitCode(1) }
    }

    /// A tap name without the text prefix, to keep the table narrow.
    private func short(_ tap: String) -> String {
        tap.hasPrefix("model.language_model.") ? String(tap.dropFirst("model.language_model.".count)) : tap
    }
}
