// Conformance verdicts: the reference's own taps pass; a perturbed tap, a NaN, a changed expert set fail at
// that tap; a near-tie swap and an exact tie's other choice are accepted; missing and extra taps are errors.

import Foundation
import Testing
import MistralSmall4
import Tensor
@testable import Validation

@Suite struct ConformanceTests {
    static let goldens = GoldenSetTests.repository.appendingPathComponent("goldens/tiny").path

    /// A candidate directory holding the golden taps of case `start`, with `edit` applied to them.
    func candidate(_ label: String, _ edit: (inout [StoredTensor]) throws -> Void) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("assay-conform-\(label)-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let golden = try SafeTensorsFile(path: Self.goldens + "/start.taps.safetensors")
        var taps = try golden.tensorNames.map { try golden.stored($0) }
        try edit(&taps)
        try SafeTensorsWriter.write(taps, to: directory.appendingPathComponent("start.taps.safetensors").path)
        return directory.path
    }

    func replace(_ taps: inout [StoredTensor], _ name: String, _ change: (inout [Double]) -> Void) throws {
        let index = try #require(taps.firstIndex { $0.name == name })
        let file = try SafeTensorsFile(path: Self.goldens + "/start.taps.safetensors")
        var values = try file.doubles(name)
        change(&values.scalars)
        taps[index] = try StoredTensor(name: name, encoding: values, as: taps[index].dtype)
    }

    func check(_ path: String, _ precision: CandidatePrecision = .f64, limits: Tolerances? = nil) throws -> [TapVerdict] {
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try Conformance.check(goldens: Self.goldens, candidate: path + "/start.taps.safetensors", only: "start",
                                     precision: precision, limits: limits)
    }

    /// A manifest that calls lm_head a `margin` tap (which is never compared) once made an all-NaN lm_head pass:
    /// the tolerance class is the tap table's, and a manifest that says otherwise is refused, naming the tap.
    @Test func aManifestCannotChooseATapsToleranceClass() throws {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("assay-relabelled-\(UUID())").path
        try FileManager.default.copyItem(atPath: Self.goldens, toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let manifest = copy + "/manifest.json"
        let text = try String(contentsOfFile: manifest, encoding: .utf8)
        let relabelled = text.replacing(#""tolerance_class": "logits""#, with: #""tolerance_class": "margin""#)
        #expect(relabelled != text)
        try relabelled.write(toFile: manifest, atomically: true, encoding: .utf8)
        let nan = try candidate("nan-head") { taps in try replace(&taps, "lm_head") { $0 = $0.map { _ in .nan } } }
        defer { try? FileManager.default.removeItem(atPath: nan) }
        let error = #expect(throws: GoldenError.self) {
            try Conformance.check(goldens: copy, candidate: nan + "/start.taps.safetensors", only: "start", precision: .f32)
        }
        #expect(error?.tensor == "lm_head")
        #expect(error?.message == "tolerance_class 'margin'; the spec gives this tap 'logits' (spec/taps.md)")
    }

    @Test func theGoldenTapsThemselvesPass() throws {
        let verdicts = try check(try candidate("same") { _ in })
        #expect(verdicts.count > 20 && verdicts.allSatisfy { $0.passed })
    }

    @Test func aPerturbedTapFailsThereAndNamesItsWorstElement() throws {
        let tap = "model.language_model.layers.1.self_attn"
        let verdicts = try check(try candidate("perturbed") { try replace(&$0, tap) { $0[70] += 0.5 } })
        let first = try #require(verdicts.first { !$0.passed })
        #expect(first.tap == tap)
        #expect(first.comparison?.worstIndex == [0, 1, 6])     // element 70 of [2, 8, 64]
    }

    @Test func aNaNNeverPasses() throws {
        let verdicts = try check(try candidate("nan") { try replace(&$0, "lm_head") { $0[3] = .nan } }, .f32)
        #expect(verdicts.first { $0.tap == "lm_head" }?.passed == false)
    }

    @Test func paddingRowsAreNotCompared() throws {
        // Row 1 of `start` is left-padded: tokens (1, 0) and (1, 1) have attention_mask 0.
        let verdicts = try check(try candidate("padding") {
            try replace(&$0, "model.language_model.layers.2") { $0[8 * 64 + 3] = 1e6 }
        })
        #expect(verdicts.allSatisfy { $0.passed })
    }

    /// Limits with a router margin of 0.01: the closest token of layer 1 that is no exact tie may swap, the widest
    /// may not.
    static let swapLimits = try! Tolerances(.f32, json: try! JSONValue.parse("""
        {"relative_floor": 0.001, "precisions": {"f32": {"nmse": 5e-4, "router_margin": 0.01}}}
        """))

    @Test func expertSetsAreJudgedByTheGoldenMargin() throws {
        let file = try SafeTensorsFile(path: Self.goldens + "/start.taps.safetensors")
        let tap = "model.language_model.layers.1.mlp.gate#indices"
        let margins = try file.doubles("model.language_model.layers.1.mlp.gate#margin").scalars
        let tokens = (0..<16).filter { !(8..<10).contains($0) }            // skip the padding rows
        let untied = tokens.filter { margins[$0] > 0 }
        let closest = untied.min { margins[$0] < margins[$1] }!, widest = untied.max { margins[$0] < margins[$1] }!
        #expect(margins[closest] < 0.01 && margins[widest] > 0.01)
        for (row, accepted) in [(closest, true), (widest, false)] {
            let verdicts = try check(try candidate("swap\(row)") { taps in
                let index = taps.firstIndex { $0.name == tap }!
                var indices = try file.integers(tap)
                let k = indices.shape[1]
                let unused = (0..<8).first { !indices.scalars[(row * k)..<((row + 1) * k)].contains($0) }!
                indices.scalars[row * k + k - 1] = unused
                taps[index] = try StoredTensor(name: tap, encoding: indices, as: .i64)
            }, .f32, limits: Self.swapLimits)
            let verdict = try #require(verdicts.first { $0.tap == tap })
            #expect(verdict.passed == accepted, "row \(row), margin \(margins[row]): \(verdict.note)")
            #expect(verdict.note.contains(accepted ? "swap(s) accepted" : "routed elsewhere"))
        }
    }

    /// goldens/tiny's experts 3, 4, 5 are copies of 2, 0, 1 (spec/rng.md §4.3). At an exact tie at the k-th place
    /// (margin 0) the twin may replace the reference's choice; another expert, or the same expert twice, may not.
    /// Where experts 0 and 1 lead, groups 0 and 1 tie, and the lower group's choice is the only valid one.
    @Test func exactTiesLeaveTheChoiceButNotTheCountNorTheGroup() throws {
        let file = try SafeTensorsFile(path: Self.goldens + "/start.taps.safetensors")
        let tap = "model.language_model.layers.1.mlp.gate#indices"
        let margins = try file.doubles("model.language_model.layers.1.mlp.gate#margin").scalars
        let golden = try file.integers(tap)
        let k = golden.shape[1]
        let tokens = (0..<16).filter { !(8..<10).contains($0) }            // skip the padding rows
        let set = { (row: Int) in Array(golden.scalars[(row * k)..<((row + 1) * k)]) }
        let tie = try #require(tokens.first { margins[$0] == 0 }), groupTie = try #require(tokens.first { set($0) == [0, 1] })
        #expect(set(tie).contains(2) && !set(tie).contains(3), "the reference takes the lower of the twins 2 and 3")
        let other = try #require((0..<8).first { ![2, 3].contains($0) && !set(tie).contains($0) })
        let kept = set(tie).first { $0 != 2 }!
        for (row, from, to, accepted) in [(tie, 2, 3, true), (tie, 2, other, false), (tie, 2, kept, false),
                                          (groupTie, 0, 4, false)] {                 // group tie: {0, 1} → {4, 5}
            let verdicts = try check(try candidate("tie\(row)-\(to)") { taps in
                let index = taps.firstIndex { $0.name == tap }!
                var indices = golden
                for slot in (row * k)..<((row + 1) * k) where indices.scalars[slot] == from { indices.scalars[slot] = to }
                if row == groupTie { indices.scalars.replaceSubrange((row * k)..<((row + 1) * k), with: [4, 5]) }
                taps[index] = try StoredTensor(name: tap, encoding: indices, as: .i64)
            }, .f32)
            let verdict = try #require(verdicts.first { $0.tap == tap })
            #expect(verdict.passed == accepted, "row \(row), \(from) → \(to): \(verdict.note)")
            #expect(verdict.note.contains(accepted ? "1 exact-tie choice(s) accepted" : "routed elsewhere"))
        }
    }

    @Test func missingAndExtraTapsAreErrors() throws {
        let missing = #expect(throws: GoldenError.self) {
            try check(try candidate("missing") { $0.removeAll { $0.name == "lm_head" } })
        }
        #expect(missing?.tensor == "lm_head")
        let extra = #expect(throws: GoldenError.self) {
            try check(try candidate("extra") { $0.append(try StoredTensor(name: "lm_head#probabilities",
                                                                         encoding: Tensor<Double>(shape: [1], repeating: 0), as: .f32)) })
        }
        #expect(extra?.tensor == "lm_head#probabilities")
    }

    @Test func bf16LimitsAreForIsolatedRunsOnly() throws {
        #expect(try Tolerances(.bf16).isolatedOnly)
        let error = #expect(throws: GoldenError.self) {
            try Conformance.check(goldens: Self.goldens, candidate: Self.goldens, precision: .bf16)
        }
        #expect(error?.message.contains("isolated runs") == true)
    }
}
