// `assay coverage`: which spec ops each backend implements, and whether their taps pass an isolated diff —
// spec/conformance.md §6.

import ArgumentParser
import MistralSmall4
import Tensor
import Validation

struct CoverageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coverage",
        abstract: "List the spec ops each backend implements and whether they pass an isolated diff.",
        discussion: """
            Runs every backend of this build (or --backend) over the golden sets in isolated mode and groups the \
            verdicts by the spec op that produced each tap. A cell reads `pass (N taps)`, `FAIL (k of N)`, or \
            `not implemented`. Exit 1 when an implemented op fails.
            """)

    @Option(parsing: .upToNextOption, help: "Golden set directories.")
    var goldens = ["goldens/tiny", "goldens/tiny-vision"]

    @Option(parsing: .upToNextOption, help: ArgumentHelp(
        "Only these backends, side by side, e.g. plugin:PATH.so blas reference (default: every backend built in: "
        + "\(BackendRegistry.names))."))
    var backend: [String] = []

    @Flag(help: "Print JSON instead of the table.")
    var json = false

    @OptionGroup var plugins: PluginOptions

    func run() throws {
        let names = !backend.isEmpty ? backend : BackendRegistry.names.split(separator: ",").map {
            $0.trimmingPrefix(" ").description
        }.filter { !$0.hasPrefix("plugin:") }
        try plugins.checkUsed(by: names)
        let sets = try goldens.map { try GoldenData.load($0) }
        var columns = [(name: String, cells: [SpecOp: Cell])]()
        var timings = [(name: String, timings: [OpTiming])]()
        for name in names {
            var cells = [SpecOp: Cell]()
            var runs = [[OpTiming]]()
            for data in sets {
                let chosen = try BackendRegistry.backend(name, profile: data.profile, plugins: plugins.isolation,
                                                 pluginDType: plugins.dtype)
                let tolerances = try Tolerances(chosen.precision, backend: chosen.name)
                let isolated = try DiffEngine.run(chosen, on: data, mode: .isolated, tolerances: tolerances)
                let decode = try DiffEngine.run(chosen, on: data, mode: .decode, tolerances: tolerances,
                                                kinds: Set(SpecOp.mlaDecode.entry.taps))
                runs += [isolated.timings, decode.timings]
                for result in [isolated, decode] {
                    for verdict in result.verdicts {
                        guard case .some(.some(let op)) = result.ops[verdict.tap] else { continue }
                        cells[op, default: Cell()].add(verdict)
                    }
                }
                for op in SpecOp.allCases where !chosen.operations.contains(op) { cells[op] = Cell(implemented: false) }
            }
            columns.append((name, cells))
            timings.append((name, OpTiming.merged(runs)))
        }
        if json {
            print(JSONValue.object(SpecOp.allCases.map { op in
                (op.rawValue, .object([("page", .string(op.page))] + zip(columns, timings).map { column, timing in
                    (column.name, column.cells[op, default: Cell()].json(timing.timings.first { $0.op == op }))
                }))
            }).serialized(pretty: true))
        } else {
            print(([pad("spec op", 18), pad("spec page", 20)] + columns.map { pad($0.name, 22) }).joined(separator: " "))
            for op in SpecOp.allCases {
                print(([pad(op.rawValue, 18), pad(op.page, 20)]
                       + columns.map { pad($0.cells[op, default: Cell()].text, 22) }).joined(separator: " "))
            }
            print("")
            printTimings(timings)
        }
        if columns.contains(where: { $0.cells.values.contains { $0.failed > 0 } }) { throw ExitCode(1) }
    }

    /// One op on one backend: implemented or not, and how its compared taps fared.
    struct Cell {
        var implemented = true
        var compared = 0
        var failed = 0
        var notCovered = 0

        mutating func add(_ verdict: TapVerdict) {
            switch verdict.status {
            case .pass: compared += 1
            case .fail: (compared, failed) = (compared + 1, failed + 1)
            case .notCovered: notCovered += 1
            }
        }

        /// "not implemented" (the backend lacks the op), "not covered (N taps)" (it has the op but not for these
        /// weights, e.g. no entry point for their dtype), else the verdict, with the taps left uncovered beside it.
        var text: String {
            if !implemented { return "not implemented" }
            if compared == 0 { return notCovered > 0 ? "not covered (\(notCovered) taps)" : "no taps" }
            let uncovered = notCovered > 0 ? ", \(notCovered) not covered" : ""
            return failed == 0 ? "pass (\(compared) taps\(uncovered))" : "FAIL (\(failed) of \(compared)\(uncovered))"
        }

        /// The cell, with the op's timing when it ran.
        func json(_ timing: OpTiming?) -> JSONValue {
            .object([("implemented", .bool(implemented)), ("compared", .int(compared)), ("failed", .int(failed)),
                     ("not_covered", .int(notCovered))]
                    + (timing.map { t in
                        [("us_per_call", .number("\(t.microsecondsPerCall)")), ("gflops", .number("\(t.gflops)")),
                         ("gb_per_s", .number("\(t.gigabytesPerSecond)"))]
                    } ?? []))
        }
    }
}
