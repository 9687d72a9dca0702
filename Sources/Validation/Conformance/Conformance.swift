// Conformance: a candidate's taps (a port's dump, or a backend's) against a golden set — spec/conformance.md.
//
// Goals, in order: never a PASS for a tap that was not compared (a missing, extra or misshapen tap is an error
// naming it); a NaN never passes; router index sets compared as sets, a changed set accepted only where the
// golden margin says the choice was free (an exact tie) or a near-tie; then the numbers a kernel author needs.

#if canImport(Glibc)
import Glibc
#endif
import MistralSmall4
import Tensor

/// The verdict on one tap of one case.
public struct TapVerdict: Sendable {
    public enum Status: String, Sendable {
        case pass = "PASS"
        case fail = "FAIL"
        /// The backend lacks the op that produces the tap (`assay diff`): nothing was compared.
        case notCovered = "NOT COVERED"
    }

    public let caseName: String
    public let tap: String
    public let shape: [Int]
    public let toleranceClass: ToleranceClass
    /// The numeric comparison (nil for router indices and taps not covered).
    public let comparison: TensorComparison?
    /// The NMSE limit (nil for router indices and taps not covered).
    public let limit: Double?
    public let status: Status
    /// Router swaps, logits agreement, why it failed, or which op is missing.
    public let note: String
    /// NMSE of each token row, for attention taps (the per-position error of a report); padding rows are 0.
    public let rowErrors: [Double]?

    public var passed: Bool { status == .pass }
}

public enum Conformance {
    /// Compares the candidate taps with every case of the golden set (or the case `only`). `candidate` is a
    /// directory holding each case's `<case>.taps.safetensors`, or one safetensors file (then `only` names the
    /// case unless the set has one). Throws, naming the file and tap, for anything that prevents a comparison.
    /// `limits` replaces spec/tolerances.json's row for `precision` (tests).
    /// `skipping` names cases the candidate does not cover (a text-only port has no images case): they are not
    /// compared and the caller reports them as skipped, never as passed.
    public static func check(goldens: String, candidate: String, only: String? = nil, skipping: [String] = [],
                             precision: CandidatePrecision, limits: Tolerances? = nil) throws(GoldenError) -> [TapVerdict] {
        let set = try GoldenVerifier.checked(goldens)
        return try compare(set, candidate: candidate, only: only, skipping: skipping,
                           tolerances: try chainedLimits(precision, limits), keeping: false).verdicts
    }

    /// `check`, then why the candidate's first failing tap of each case fails (spec/conformance.md §8), from one
    /// reading of the set and of the candidate.
    public static func checkAndDiagnose(goldens: String, candidate: String, only: String? = nil, skipping: [String] = [],
                                        precision: CandidatePrecision) throws
        -> (verdicts: [TapVerdict], diagnoses: [Diagnosis])
    {
        let set = try GoldenVerifier.checked(goldens)
        let tolerances = try chainedLimits(precision, nil)
        let (verdicts, tables) = try compare(set, candidate: candidate, only: only, skipping: skipping,
                                             tolerances: tolerances, keeping: true)
        let diagnoses = try Diagnose.run(try GoldenData.load(set, from: goldens), candidates: tables, verdicts: verdicts,
                                         mode: .chained, tolerances: tolerances)
        return (verdicts, diagnoses)
    }

    /// The verdicts of each chosen case (`pairs`), its candidate taps read when it is compared; with `keeping`, the
    /// candidate tables by case name too.
    private static func compare(_ set: VerifiedSet, candidate: String, only: String?, skipping: [String],
                                tolerances: Tolerances, keeping: Bool) throws(GoldenError)
        -> (verdicts: [TapVerdict], tables: [String: TapTable])
    {
        var verdicts = [TapVerdict](), tables = [String: TapTable]()
        for (stored, path) in try pairs(set, candidate: candidate, only: only, skipping: skipping) {
            let table = try TapTable(file: path)
            verdicts += try CaseComparison(name: stored.name, taps: stored.taps, golden: stored.golden, candidate: table,
                                           valid: stored.valid, tolerances: tolerances,
                                           router: Router(selecting: set.config.text, profile: set.fields.profile),
                                           goldenInF64: set.fields.tapDType == .f64).verdicts()
            if keeping { tables[stored.name] = table }
        }
        return (verdicts, tables)
    }

    /// The limits of `precision` (or `limits`), which must hold for chained runs: a port's dump is chained.
    private static func chainedLimits(_ precision: CandidatePrecision, _ limits: Tolerances?) throws(GoldenError)
        -> Tolerances
    {
        let tolerances = if let limits { limits } else { try Tolerances(precision) }
        guard !tolerances.isolatedOnly else {
            throw GoldenError(file: "tolerances.json", "precision \(precision.rawValue)'s limits are for isolated runs "
                              + "(assay diff --mode isolated); a port's dump is chained, where one bf16 routing swap "
                              + "moves every later tap")
        }
        return tolerances
    }

    /// The cases to compare (all but `skipping`, or `only`), each with the path of the candidate's taps: `candidate`
    /// is a directory of the set's tap file names, or one file (for one case).
    private static func pairs(_ set: VerifiedSet, candidate: String, only: String?, skipping: [String])
        throws(GoldenError) -> [(StoredCase, String)]
    {
        let names = set.summary.cases
        for name in skipping + (only.map { [$0] } ?? []) where !names.contains(name) {
            throw GoldenError(file: "manifest.json", "no case '\(name)'; cases: \(names.joined(separator: ", "))")
        }
        let kept = set.cases.filter { !skipping.contains($0.name) }
        guard !kept.isEmpty else {
            throw GoldenError(file: "manifest.json", "every case skipped: nothing would be compared")
        }
        let chosen: [StoredCase]
        if let only {
            chosen = kept.filter { $0.name == only }
            guard !chosen.isEmpty else { throw GoldenError(file: "manifest.json", "case '\(only)' is both chosen and skipped") }
        } else if FilePath.isDirectory(candidate) || kept.count == 1 {
            chosen = kept
        } else {
            throw GoldenError(file: FilePath.lastComponent(candidate), "one file for a set of \(kept.count) cases: "
                              + "name its case (\(kept.map(\.name).joined(separator: ", "))) or give a directory")
        }
        return chosen.map { ($0, FilePath.isDirectory(candidate) ? FilePath.join(candidate, $0.tapFile) : candidate) }
    }
}

/// One case of a golden set on disk: its taps (names and classes in manifest order), values and padding mask.
struct StoredCase {
    let name: String
    let taps: [Tap]
    let golden: TapTable
    let inputs: TapTable
    /// The file of its golden taps (a candidate directory holds one of the same name).
    let tapFile: String
    /// The case's inputs, checked against the config.
    let forward: ForwardInputs
    let images: VisionInputs?
    /// A layer-range set's case: the hidden state `[B·S, H]` its first layer takes.
    let hidden: Tensor<Double>?
    /// Per token row (batch-major): true where attention_mask is 1.
    let valid: [Bool]

    /// The case `entry` of a set's manifest, its `golden` taps and `inputs` read from its files, a set of
    /// `config`'s model (of its decoder layers `layers` alone, spec/goldens.md §3.2). Each tap must be one of the
    /// model's (spec/taps.md), and its tolerance class the tap table's: the spec decides a tap's limits, never a file.
    init(entry: ManifestFields.CaseEntry, golden: TapTable, inputs: TapTable, config: ModelConfig,
         layers: ClosedRange<Int>? = nil) throws(GoldenError) {
        name = entry.name
        tapFile = entry.taps.file
        (self.golden, self.inputs) = (golden, inputs)
        try Self.checkInputs(entry.inputs, layers: layers != nil)
        (forward, images) = try Self.read(inputs, config)
        hidden = layers == nil ? nil : try Self.hiddenState(inputs, forward, config.text)
        valid = forward.attentionMask.scalars.map { $0 == 1 }
        let model = ModelPaths.taps(config)
        var taps = [Tap]()
        for described in entry.taps.tensors {
            guard let tap = model[described.name] else {
                throw GoldenError(file: "manifest.json", tensor: described.name, "not a tap of this model (spec/taps.md)")
            }
            let stated = described.toleranceClass ?? ""
            guard stated == tap.kind.toleranceClass.rawValue else {
                throw GoldenError(file: "manifest.json", tensor: described.name, "tolerance_class '\(stated)'; the spec "
                                  + "gives this tap '\(tap.kind.toleranceClass.rawValue)' (spec/taps.md)")
            }
            taps.append(tap)
        }
        self.taps = taps
        try checkShapes(config, layers: layers)
    }

    /// Every tap the case's inputs make is in the set, with the shape the model gives it on those inputs; so every
    /// later comparison indexes what it expects (a router tap of the wrong width, a zero-sized or 0-d tap, a tap
    /// the case cannot have are errors naming it).
    private func checkShapes(_ config: ModelConfig, layers: ClosedRange<Int>?) throws(GoldenError) {
        var expected: [String: [Int]]
        do { expected = try ModelPaths.tapShapes(config, inputs: forward, images: images) } catch {
            throw GoldenError(file: inputs.source, "the case's inputs do not run through the model: \(error)")
        }
        if let layers {   // a layer-range set: the taps of those decoder layers, no other
            let paths = ModelPaths(config)
            let kept = Set(layers.flatMap { layer in
                TapKind.allCases.filter { $0.row.scope == .textLayer && $0.occurs(inLayer: layer, config.text) }
                    .map { paths.tap($0, layer: layer).name }
            })
            expected = expected.filter { kept.contains($0.key) }
        }
        for tap in taps {
            guard let shape = expected[tap.name] else {
                throw GoldenError(file: "manifest.json", tensor: tap.name, "case '\(name)' makes no such tap")
            }
            guard let stored = golden[tap.name]?.shape else {
                throw GoldenError(file: golden.source, tensor: tap.name, "missing from the golden taps")
            }
            guard stored == shape else {
                throw GoldenError(file: golden.source, tensor: tap.name, "shape \(Shape.describe(stored)); case "
                                  + "'\(name)' makes it \(Shape.describe(shape))")
            }
            if case .real(let values)? = golden[tap.name], let bad = values.scalars.firstIndex(where: { !$0.isFinite }) {
                throw GoldenError(file: golden.source, tensor: tap.name, "element \(bad) is \(values.scalars[bad]); "
                                  + "golden values are finite")
            }
            if tap.kind == .routerIndices {
                let experts = config.text.nRoutedExperts
                guard case .integer(let ids)? = golden[tap.name] else {
                    throw GoldenError(file: golden.source, tensor: tap.name, "router indices must be integers")
                }
                if let bad = ids.scalars.first(where: { !(0..<experts).contains($0) }) {
                    throw GoldenError(file: golden.source, tensor: tap.name, "expert id \(bad) outside 0..<\(experts)")
                }
            }
        }
        let listed = Set(taps.map(\.name))
        if let absent = expected.keys.sorted().first(where: { !listed.contains($0) }) {
            throw GoldenError(file: "manifest.json", tensor: absent, "case '\(name)' makes this tap; the manifest lists none")
        }
    }

    /// The inputs a golden set stores (spec/goldens.md §3): ids, positions and mask I64; pixel values F32 and image
    /// sizes I64, both or neither; a layer-range set's F32 hidden_states, in its cases alone; nothing else.
    static func checkInputs(_ listed: ManifestFields.FileEntry, layers: Bool) throws(GoldenError) {
        var dtypes: [String: DType] = ["input_ids": .i64, "position_ids": .i64, "attention_mask": .i64,
                                       "pixel_values": .f32, "image_sizes": .i64]
        if layers { dtypes["hidden_states"] = .f32 }
        let known = "input_ids, position_ids, attention_mask, " + (layers ? "hidden_states" : "pixel_values, image_sizes")
        for entry in listed.tensors {
            guard let wanted = dtypes[entry.name], !(layers && ["pixel_values", "image_sizes"].contains(entry.name)) else {
                throw GoldenError(file: listed.file, tensor: entry.name, "not an input of a case (\(known))")
            }
            guard entry.dtype == wanted else {
                throw GoldenError(file: listed.file, tensor: entry.name, "dtype \(entry.dtype.rawValue); a golden set "
                                  + "stores it as \(wanted.rawValue)")
            }
        }
        let names = Set(listed.tensors.map(\.name))
        if layers, !names.contains("hidden_states") {
            throw GoldenError(file: listed.file, tensor: "hidden_states", "missing: a layer-range set's case starts from it")
        }
        if names.contains("pixel_values") != names.contains("image_sizes") {
            throw GoldenError(file: listed.file, tensor: names.contains("pixel_values") ? "image_sizes" : "pixel_values",
                              "missing: pixel_values and image_sizes come together")
        }
    }

    /// A layer-range case's hidden_states `[B, S, H]` (B, S of its ids), as `[B·S, H]`.
    static func hiddenState(_ inputs: TapTable, _ forward: ForwardInputs, _ config: TextConfig) throws(GoldenError)
        -> Tensor<Double>
    {
        let shape = [forward.batch, forward.length, config.hiddenSize]
        do {
            let hidden = try inputs.real("hidden_states")
            guard hidden.shape == shape else {
                throw GoldenError(file: inputs.source, tensor: "hidden_states", "shape \(Shape.describe(hidden.shape)); "
                                  + "the case's ids and the config make it \(Shape.describe(shape))")
            }
            if let bad = hidden.scalars.firstIndex(where: { !$0.isFinite }) {
                throw GoldenError(file: inputs.source, tensor: "hidden_states", "element \(bad) is \(hidden.scalars[bad])")
            }
            return hidden.reshaped([shape[0] * shape[1], shape[2]])
        } catch let error as GoldenError {
            throw error
        } catch {
            throw GoldenError(file: inputs.source, tensor: "hidden_states", "\(error)")
        }
    }

    /// The case's input_ids, position_ids and attention_mask (and pixels and image sizes, when it has images),
    /// checked against `config`.
    static func read(_ inputs: TapTable, _ config: ModelConfig) throws(GoldenError) -> (ForwardInputs, VisionInputs?) {
        let file = inputs.source
        do {
            let forward = try ForwardInputs(inputIds: try inputs.integers("input_ids"),
                                            positionIds: try inputs.integers("position_ids"),
                                            attentionMask: try inputs.integers("attention_mask"), config: config.text)
            guard inputs["pixel_values"] != nil else { return (forward, nil) }
            guard let multimodal = config.multimodal else {
                throw GoldenError(file: file, tensor: "pixel_values", "the preset has no vision tower")
            }
            return (forward, try VisionInputs(pixelValues: try inputs.real("pixel_values"),
                                              imageSizes: try inputs.integers("image_sizes"), config: multimodal))
        } catch let error as GoldenError {
            throw error
        } catch let error as InputError {
            throw GoldenError(file: file, tensor: error.field, error.message)
        } catch {
            throw GoldenError(file: file, "\(error)")
        }
    }
}

/// One case: golden and candidate taps, the rows that count, the limits.
struct CaseComparison {
    let name: String
    let taps: [Tap]
    let golden: TapTable
    let candidate: TapTable
    /// Per token row (batch-major) of the text taps: true where attention_mask is 1.
    let valid: [Bool]
    let tolerances: Tolerances
    /// The set's router (config and profile): which expert choices an exact tie leaves free.
    let router: Router
    /// Taps the candidate could not produce, with why (a backend's missing op).
    let uncovered: [String: String]
    /// Taps whose op failed (a kernel's error, crash or timeout), with the message: each fails.
    let failed: [String: String]
    /// The golden taps were stored in float64: the precision's `nmseAgainstF64Taps` applies where it has one.
    var goldenInF64 = false

    /// Checks that the candidate has exactly the golden taps (or says why one is absent).
    init(name: String, taps: [Tap], golden: TapTable, candidate: TapTable,
         valid: [Bool], tolerances: Tolerances, router: Router, uncovered: [String: String] = [:],
         failed: [String: String] = [:], goldenInF64: Bool = false) throws(GoldenError)
    {
        (self.name, self.taps, self.golden, self.candidate, self.router) = (name, taps, golden, candidate, router)
        (self.valid, self.tolerances, self.uncovered, self.failed) = (valid, tolerances, uncovered, failed)
        self.goldenInF64 = goldenInF64
        let expected = Set(taps.map(\.name))
        if let extra = candidate.names.first(where: { !expected.contains($0) }) {
            throw GoldenError(file: candidate.source, tensor: extra, "not a tap of case '\(name)' (spec/taps.md names)")
        }
        if let missing = taps.first(where: { candidate[$0.name] == nil && uncovered[$0.name] == nil && failed[$0.name] == nil }) {
            throw GoldenError(file: candidate.source, tensor: missing.name, "missing: case '\(name)' has this tap")
        }
        // Every shape before any comparison: a tap's verdict may read a sibling's values (routing weights are
        // paired with their indices), so a misshapen sibling must stop the run before it is indexed.
        for tap in taps {
            guard let shape = golden[tap.name]?.shape else {
                throw GoldenError(file: golden.source, tensor: tap.name, "missing from the golden taps")
            }
            if let candidateShape = candidate[tap.name]?.shape, candidateShape != shape {
                throw GoldenError(file: candidate.source, tensor: tap.name, "shape \(Shape.describe(candidateShape)), "
                                  + "the golden's is \(Shape.describe(shape))")
            }
        }
    }

    func verdicts() throws(GoldenError) -> [TapVerdict] {
        var out = [TapVerdict]()
        for typed in taps where typed.kind != .routerMargin {
            let (tap, kind) = (typed.name, typed.kind.toleranceClass)
            guard let shape = golden[tap]?.shape else {
                throw GoldenError(file: golden.source, tensor: tap, "missing from the golden taps")
            }
            if let why = failed[tap] {
                out.append(TapVerdict(caseName: name, tap: tap, shape: shape, toleranceClass: kind, comparison: nil,
                                      limit: nil, status: .fail, note: why, rowErrors: nil))
                continue
            }
            if let why = uncovered[tap] {
                out.append(TapVerdict(caseName: name, tap: tap, shape: shape, toleranceClass: kind, comparison: nil,
                                      limit: nil, status: .notCovered, note: why, rowErrors: nil))
                continue
            }
            // init checked that the candidate holds the tap in the golden's shape
            out.append(kind == .routerIndices ? try routerVerdict(typed, shape: shape)
                       : try realVerdict(typed, shape: shape))
        }
        return out
    }

    /// Row r of a tap of `rows` token rows counts when its token is not padding; vision and projector taps and
    /// taps whose rows are not tokens always count.
    private func counts(_ tap: Tap, rows: Int, row: Int) -> Bool {
        guard [.text, .textLayer, .root].contains(tap.kind.row.scope), rows == valid.count else { return true }
        return valid[row]
    }

    private func realVerdict(_ typed: Tap, shape: [Int]) throws(GoldenError) -> TapVerdict {
        let (tap, kind) = (typed.name, typed.kind.toleranceClass)
        var (a, b) = (try candidate.real(tap), try golden.real(tap))
        if typed.kind == .routerWeights {   // routing weights pair with their indices: compare them in expert-id order
            let indices = typed.sibling(.routerIndices).name
            a = Self.sortedByExpert(a, indices: try candidate.integers(indices))
            b = Self.sortedByExpert(b, indices: try golden.integers(indices))
        }
        let rows = shape.count > 2 ? shape[0] * shape[1] : shape[0]
        let width = b.count / max(rows, 1)
        var paddingNonFinite = 0   // padding rows are not compared, but a NaN or Inf never passes, even there
        for row in 0..<rows where !counts(typed, rows: rows, row: row) {   // padding: zero on both sides
            for i in (row * width)..<((row + 1) * width) {
                paddingNonFinite += a.scalars[i].isFinite ? 0 : 1
                (a.scalars[i], b.scalars[i]) = (0, 0)
            }
        }
        let comparison: TensorComparison
        do { comparison = try TensorComparison(candidate: a, reference: b, relativeFloor: tolerances.relativeFloor) } catch {
            throw GoldenError(file: candidate.source, tensor: tap, error.description)
        }
        let classLimit = tolerances.nmse[kind] ?? 0
        let limit = goldenInF64 ? min(classLimit, tolerances.nmseAgainstF64Taps ?? classLimit) : classLimit
        let finite = comparison.candidateNaNs == 0 && comparison.candidateInfinities == comparison.referenceInfinities
            && paddingNonFinite == 0
        let passed = finite && comparison.nmse <= limit
        var note = finite ? "" : "\(comparison.candidateNaNs) NaN, \(comparison.candidateInfinities) Inf"
            + (paddingNonFinite > 0 ? ", \(paddingNonFinite) NaN or Inf in padding rows" : "")
        if kind == .logits { note = logitsNote(a, b, rows: rows, width: width, tap: typed) }
        return TapVerdict(caseName: name, tap: tap, shape: shape, toleranceClass: kind, comparison: comparison,
                          limit: limit, status: passed ? .pass : .fail, note: note,
                          rowErrors: kind == .attention ? Self.rowErrors(a, b, rows: rows, width: width) : nil)
    }

    /// Σ (a − b)² / Σ b² of each row (0 for an all-zero golden row that the candidate matches).
    static func rowErrors(_ a: Tensor<Double>, _ b: Tensor<Double>, rows: Int, width: Int) -> [Double] {
        (0..<rows).map { row in
            var (error, norm) = (0.0, 0.0)
            for i in (row * width)..<((row + 1) * width) {
                error += (a.scalars[i] - b.scalars[i]) * (a.scalars[i] - b.scalars[i])
                norm += b.scalars[i] * b.scalars[i]
            }
            return norm > 0 ? error / norm : (error == 0 ? 0 : .infinity)
        }
    }

    /// Each row of `weights [T, k]` reordered by its expert ids ascending (selection order is unspecified:
    /// transformers' top-k is unsorted, Assay's is by probability).
    static func sortedByExpert(_ weights: Tensor<Double>, indices: Tensor<Int>) -> Tensor<Double> {
        let k = weights.shape.last ?? 1
        var out = weights
        for row in 0..<(weights.count / k) {
            let order = (0..<k).sorted { indices.scalars[row * k + $0] < indices.scalars[row * k + $1] }
            for (slot, source) in order.enumerated() { out.scalars[row * k + slot] = weights.scalars[row * k + source] }
        }
        return out
    }

    /// Top-1 agreement, top-5 overlap and the mean KL(golden ‖ candidate) of the softmaxed rows that count.
    private func logitsNote(_ a: Tensor<Double>, _ b: Tensor<Double>, rows: Int, width: Int, tap typed: Tap) -> String {
        var (top1, top5, kl, counted) = (0, 0.0, 0.0, 0)
        for row in 0..<rows where counts(typed, rows: rows, row: row) {
            let x = Array(a.scalars[(row * width)..<((row + 1) * width)])
            let y = Array(b.scalars[(row * width)..<((row + 1) * width)])
            let rankX = x.indices.sorted { x[$0] > x[$1] }, rankY = y.indices.sorted { y[$0] > y[$1] }
            top1 += rankX[0] == rankY[0] ? 1 : 0
            top5 += Double(Set(rankX.prefix(5)).intersection(rankY.prefix(5)).count) / Double(min(5, width))
            let (p, q) = (logSoftmax(y), logSoftmax(x))
            kl += zip(p, q).reduce(0) { $0 + exp($1.0) * ($1.0 - $1.1) }
            counted += 1
        }
        let n = Double(max(counted, 1))
        return "top-1 \(top1)/\(counted), top-5 overlap \(String(top5 / n * 100).prefix(5))%, KL "
            + scientific(kl / n)
    }

    private func logSoftmax(_ z: [Double]) -> [Double] {
        let top = z.max() ?? 0
        let total = log(z.reduce(0) { $0 + exp($1 - top) })
        return z.map { $0 - top - total }
    }

    /// Expert sets per token row (spec/conformance.md §2, spec/router.md "Ties"). A changed set passes where the
    /// golden `#margin` of the row is 0 (an exact tie at the k-th place) when it is k distinct experts, holds every
    /// expert above the tie and takes the rest from the tied ones (`Router.choices` on the golden logits; the golden
    /// row must be such a choice too), reported as a tie choice; and where the margin is below the precision's router
    /// margin (a near-tie) when it swaps one expert, reported as a swap. Anything else fails: another group at a
    /// group tie, k + 1 experts kept, duplicates.
    private func routerVerdict(_ typed: Tap, shape: [Int]) throws(GoldenError) -> TapVerdict {
        let (tap, marginTap) = (typed.name, typed.sibling(.routerMargin).name)
        let (a, b, margins) = (try candidate.integers(tap), try golden.integers(tap), try golden.real(marginTap))
        let (rows, k) = (shape[0], shape.count > 1 ? shape[1] : 1)
        // [rows, E]; a diagnosis window may leave the logits out, and then no tie choice is accepted
        let logits: Tensor<Double>? = if case .real(let z)? = golden[typed.sibling(.routerLogits).name] { z } else { nil }
        let experts = router.config.nRoutedExperts
        var (swaps, ties, failures) = ([String](), 0, [String]())
        for row in 0..<rows where counts(typed, rows: rows, row: row) {
            let x = Set(a.scalars[(row * k)..<((row + 1) * k)]), y = Set(b.scalars[(row * k)..<((row + 1) * k)])
            guard x != y else { continue }
            let margin = margins.scalars[row]
            if margin == 0, x.count == k, y.count == k, let logits {
                let (above, tied) = router.choices(Array(logits.scalars[(row * experts)..<((row + 1) * experts)]))
                let valid = { (s: Set<Int>) in above.isSubset(of: s) && s.isSubset(of: above.union(tied)) }
                if valid(x), valid(y) { ties += 1; continue }   // the golden's own choice must be one too
            } else if margin > 0, margin < tolerances.routerMargin, x.count == k, x.intersection(y).count == k - 1 {
                swaps.append("row \(row) (margin \(scientific(margin)))")
                continue
            }
            failures.append("row \(row): \(x.sorted()) vs golden \(y.sorted()), margin \(scientific(margin))")
        }
        let accepted = [ties > 0 ? "\(ties) exact-tie choice(s) accepted" : nil,
                        swaps.isEmpty ? nil : "\(swaps.count) near-tie swap(s) accepted: \(swaps.joined(separator: ", "))"]
        let note = failures.first.map { "\(failures.count) token(s) routed elsewhere; first \($0)" }
            ?? accepted.compactMap { $0 }.joined(separator: "; ")
        return TapVerdict(caseName: name, tap: tap, shape: shape, toleranceClass: .routerIndices, comparison: nil,
                          limit: nil, status: failures.isEmpty ? .pass : .fail, note: note, rowErrors: nil)
    }
}

/// A short scientific rendering: 3 significant digits.
public func scientific(_ x: Double) -> String {
    guard x.isFinite, x != 0 else { return x == 0 ? "0" : "\(x)" }
    var exponent = Int(floor(log10(abs(x))))
    var mantissa = (x / pow(10, Double(exponent)) * 100).rounded() / 100
    if abs(mantissa) >= 10 { (mantissa, exponent) = (mantissa / 10, exponent + 1) }   // 9.996 rounds to 10.0
    return "\(mantissa)e\(exponent)"
}
