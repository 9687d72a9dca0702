// The report of a diff as JSON — spec/conformance.md §5: everything the table shows and the per-position errors
// of the attention taps, for tools and for the HTML report.

import MistralSmall4
import Tensor

extension DiffResult {
    /// The whole result as JSON. Non-finite numbers are written as strings ("nan", "inf"), as JSON has none.
    public var json: JSONValue {
        let failures = self.failures
        return .object([
            ("format", .string("assay-diff")),
            ("backend", .string(backend)),
            ("precision", .string(precision.rawValue)),
            ("mode", .string(mode.rawValue)),
            ("goldens", .string(goldens)),
            ("compared", .int(verdicts.count - notCovered.count)),
            ("failed", .int(failures.count)),
            ("not_covered", .int(notCovered.count)),
            ("first_failure", failures.first.map { .object([("case", .string($0.caseName)), ("tap", .string($0.tap))]) }
                ?? .null),
            ("taps", .array(verdicts.map(describe))),
            ("timings", .array(timings.map { t in
                .object([("op", .string(t.op.rawValue)), ("calls", .int(t.calls)),
                         ("us_per_call", Self.number(t.microsecondsPerCall)), ("gflops", Self.number(t.gflops)),
                         ("gb_per_s", Self.number(t.gigabytesPerSecond))])
            })),
        ])
    }

    /// The spec op behind `tap` (`engine` when the engine assembles it from the backend's taps).
    public func opName(_ tap: String) -> String {
        guard let op = ops[tap] else { return "?" }
        return op?.rawValue ?? "engine"
    }

    private func describe(_ v: TapVerdict) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("case", .string(v.caseName)), ("tap", .string(v.tap)), ("op", .string(opName(v.tap))),
            ("shape", .array(v.shape.map(JSONValue.int))), ("tolerance_class", .string(v.toleranceClass.rawValue)),
            ("status", .string(v.status.rawValue)), ("limit", v.limit.map(Self.number) ?? .null),
        ]
        if let c = v.comparison {
            members += [
                ("nmse", Self.number(c.nmse)), ("max_abs", Self.number(c.maxAbsoluteError)),
                ("max_rel", Self.number(c.maxRelativeError)), ("cosine", Self.number(c.cosine)),
                ("worst_index", .array(c.worstIndex.map(JSONValue.int))),
                ("worst_candidate", Self.number(c.worstCandidate)), ("worst_golden", Self.number(c.worstReference)),
                ("nan", .int(c.candidateNaNs)), ("inf", .int(c.candidateInfinities)),
            ]
        }
        if let rows = v.rowErrors { members.append(("row_nmse", .array(rows.map(Self.number)))) }
        members.append(("note", .string(v.note)))
        return .object(members)
    }

    static func number(_ x: Double) -> JSONValue {
        x.isFinite ? .number("\(x)") : .string(x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf"))
    }
}
