// `conform --diagnose` / `diff --diagnose`: why a candidate's first failing tap fails — spec/conformance.md §8.
// The reference is re-run on the case's inputs with each catalogued porting mistake planted (PlantedBug, the bugs
// `assay selftest` plants), fed as the candidate was fed (a port's dump is chained; a backend's isolated diff feeds
// each op the golden taps), and each variant is compared with the candidate at the first failing tap and the taps
// after it. A variant that reproduces the candidate within the precision's limit where the reference does not names
// the mistake; when none does, the error's pattern (rows, growth with position, columns) says where to look.

#if canImport(Glibc)
import Glibc
#endif
import MistralSmall4
import Tensor

/// The diagnosis of one case's first failing tap.
public struct Diagnosis: Sendable {
    /// How well one variant (the reference when `bug` is nil) reproduces the candidate.
    public struct Score: Sendable {
        public let bug: PlantedBug?
        /// NMSE between the variant and the candidate at the first failing tap.
        public let atTap: Double
        /// Geometric mean of that NMSE over the tap and the taps after it (`Diagnose.window` of them).
        public let overWindow: Double
        /// Every tap of the window within its class's limit (router indices: no row routed elsewhere).
        public let withinLimits: Bool
    }

    public let caseName: String
    public let tap: String
    /// Every variant, best first; the reference among them.
    public let scores: [Score]
    /// Where the error is, for when nothing matches.
    public let pattern: String

    /// The catalogued mistake the candidate made: the best variant, when it is a bug that reproduces the candidate
    /// within the limits at the tap and at every tap of the window (the reference does not: the tap failed).
    public var match: PlantedBug? {
        guard let best = scores.first, best.withinLimits else { return nil }
        return best.bug
    }

    /// An NMSE as printed: below the 1e-30 floor of the window's mean, 0.
    static func shown(_ nmse: Double) -> String { nmse <= 1e-30 ? "0" : scientific(nmse) }

    /// The lines `--diagnose` prints.
    public var lines: [String] {
        let reference = scores.first { $0.bug == nil }
        let head = "diagnosis, case \(caseName), first failing tap \(tap):"
        guard let bug = match, let best = scores.first else {
            return [head, "  no catalogued mistake reproduces it (best: \(scores.first?.bug?.rawValue ?? "the reference"), "
                    + "NMSE \(scientific(scores.first?.atTap ?? .nan))); \(pattern)"]
        }
        let runnersUp = scores.dropFirst().prefix(2).map { "\($0.bug?.rawValue ?? "the reference") \(Self.shown($0.atTap))" }
        return [head,
                "  matches \(bug.rawValue) (NMSE \(Self.shown(best.atTap)) at the tap, \(Self.shown(best.overWindow)) over "
                + "the taps after it; the reference: \(scientific(reference?.atTap ?? .nan))): \(bug.summary)",
                "  \(bug.evidence.spec); assay selftest plants it as reference+\(bug.rawValue); "
                + (bug.evidence.reports.isEmpty ? "no public report" : "reported: " + bug.evidence.reports.joined(separator: ", ")),
                "  next: " + runnersUp.joined(separator: ", ")]
    }
}

public enum Diagnose {
    /// Taps compared from the first failing one on (router indices count by the fraction of rows routed elsewhere).
    public static let window = 8

    /// The diagnosis of each case of `data` that has a failing verdict in `verdicts`: `candidates` holds each case's
    /// candidate taps by case name, `mode` says how the candidate was fed, `tolerances` give the limits. `variants`
    /// keeps the variants' runs, which do not depend on the candidate, for later calls on the same set and mode.
    public static func run(_ data: GoldenData, candidates: [String: TapTable], verdicts: [TapVerdict], mode: DiffMode,
                           tolerances: Tolerances, variants: DiagnosisVariants? = nil) throws -> [Diagnosis] {
        let variants = variants ?? DiagnosisVariants(data, mode: mode)
        var out = [Diagnosis]()
        for golden in data.cases {
            guard let first = verdicts.first(where: { $0.caseName == golden.name && $0.status == .fail }),
                  let candidate = candidates[golden.name] else { continue }
            let window = Self.windowTaps(golden.taps, from: first.tap).filter { candidate[$0.name] != nil }   // --taps
            let reference = candidate.only(window)
            var scores = [Diagnosis.Score]()
            for bug in [nil] + PlantedBug.allCases.map(Optional.some) {
                let variant = try variants.taps(bug, case: golden)
                let errors = try CaseComparison(name: golden.name, taps: window, golden: reference,
                                                candidate: variant.only(window), valid: golden.valid,
                                                tolerances: tolerances, router: data.router).verdicts()
                    .map { verdict in
                        (tap: verdict.tap, kind: verdict.toleranceClass,
                         error: verdict.comparison?.nmse ?? Self.rowsRoutedElsewhere(verdict.tap, variant, candidate,
                                                                                     valid: golden.valid))
                    }
                let atTap = errors.first { $0.tap == first.tap }?.error ?? .infinity
                let logs = errors.map { log10(max($0.error.isNaN ? .infinity : $0.error, 1e-30)) }
                let within = errors.allSatisfy { $0.error <= ($0.kind == .routerIndices ? 0 : tolerances.nmse[$0.kind] ?? 0) }
                scores.append(.init(bug: bug, atTap: atTap, overWindow: pow(10, logs.reduce(0, +) / Double(max(logs.count, 1))),
                                    withinLimits: within))
            }
            scores.sort { ($0.withinLimits ? 0 : 1, $0.atTap, $0.overWindow) < ($1.withinLimits ? 0 : 1, $1.atTap, $1.overWindow) }
            out.append(Diagnosis(caseName: golden.name, tap: first.tap, scores: scores,
                                 pattern: ErrorPattern.describe(first, kind: golden.taps.first { $0.name == first.tap }?.kind,
                                                                candidate: candidate, golden: golden,
                                                                config: data.config.text)))
        }
        return out
    }

    /// `tap` and the taps after it in production order, up to `window` of them (margins not counted), with their
    /// router siblings.
    static func windowTaps(_ taps: [Tap], from tap: String) -> [Tap] {
        guard let start = taps.firstIndex(where: { $0.name == tap }) else { return [] }
        var chosen = [Tap](), counted = 0
        for candidate in taps[start...] where counted < window {
            chosen.append(candidate)
            if candidate.kind != .routerMargin { counted += 1 }
        }
        // Routing weights are compared in expert-id order, so their indices come along, and indices their margins.
        for tap in chosen where [.routerWeights, .routerIndices].contains(tap.kind) {
            for sibling in [tap.sibling(.routerIndices), tap.sibling(.routerMargin)] where !chosen.contains(sibling) {
                chosen.append(sibling)
            }
        }
        return chosen
    }

    /// For router indices, which have no NMSE: the fraction of counted token rows whose expert set differs.
    static func rowsRoutedElsewhere(_ tap: String, _ a: TapTable, _ b: TapTable, valid: [Bool]) -> Double {
        guard case .integer(let x)? = a[tap], case .integer(let y)? = b[tap], x.shape == y.shape, let k = x.shape.last,
              k > 0 else { return .infinity }
        let rows = x.count / k
        let counted = (0..<rows).filter { rows != valid.count || valid[$0] }
        let differing = counted.filter { row in
            Set(x.scalars[(row * k)..<((row + 1) * k)]) != Set(y.scalars[(row * k)..<((row + 1) * k)])
        }
        return Double(differing.count) / Double(max(counted.count, 1))
    }
}

/// The taps of the reference and of each planted bug on a set's cases, run once each and kept (a diagnosis of
/// every catalogued bug in the tests would otherwise run each variant again per candidate).
public final class DiagnosisVariants: @unchecked Sendable {
    let data: GoldenData
    let mode: DiffMode
    private var runs = [String: TapTable]()

    /// Variants fed as `mode` feeds (chained: from the case's inputs; isolated, decode: each op the golden taps).
    public init(_ data: GoldenData, mode: DiffMode) { (self.data, self.mode) = (data, mode) }

    /// The taps the reference with `bug` planted (none: the reference) produces on `golden`'s inputs.
    func taps(_ bug: PlantedBug?, case golden: GoldenCaseData) throws -> TapTable {
        let key = golden.name + "/" + (bug?.rawValue ?? "")
        if let kept = runs[key] { return kept }
        let backend: any Backend = bug.map { BuggyBackend($0, profile: data.profile) } ?? ReferenceBackend(profile: data.profile)
        let recorder = TapRecorder()
        _ = try DiffEngine.graphRun(backend, data: data, case: golden, mode: mode, recorder: recorder)
        runs[key] = TapTable(source: backend.name, recorder: recorder)
        return runs[key]!
    }
}

extension TapTable {
    /// The taps named in `taps` alone.
    func only(_ taps: [Tap]) -> TapTable {
        var out = TapTable(source: source)
        for tap in taps { out[tap.name] = self[tap.name] }
        return out
    }
}
