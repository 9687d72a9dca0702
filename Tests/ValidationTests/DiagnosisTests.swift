// `--diagnose` names the mistake (spec/conformance.md §9): a candidate made with each catalogued bug planted is
// diagnosed as that bug, through the in-memory selftest set (every bug is visible there) and through real dump files
// in float32 against the committed goldens/tiny.

import Foundation
import Testing
import MistralSmall4
import Tensor
@testable import Validation

@Suite(.serialized) struct DiagnosisTests {
    /// The whole catalogue: the chained taps of the reference with each bug, diagnosed at their first failing case
    /// (the variants' runs, which do not depend on the candidate, shared by every diagnosis).
    @Test func everyPlantedBugIsNamedAsTheBestMatch() throws {
        let data = try SelfTest.goldens()
        let limits = try Tolerances(.f64)
        let variants = DiagnosisVariants(data, mode: .chained)
        for bug in PlantedBug.allCases {
            let result = try DiffEngine.run(BuggyBackend(bug), on: data, mode: .chained, tolerances: limits)
            let first = try #require(result.failures.first, "\(bug): no failure to diagnose")
            let diagnoses = try Diagnose.run(data, candidates: result.candidates,
                                             verdicts: result.verdicts.filter { $0.caseName == first.caseName },
                                             mode: .chained, tolerances: limits, variants: variants)
            #expect(diagnoses.count == 1 && diagnoses[0].match == bug,
                    "\(bug): \(diagnoses.first?.lines.joined(separator: " / ") ?? "no diagnosis")")
        }
    }

    /// A port's dump written as float32 safetensors: conform's verdict fails, and --diagnose names the bug, with the
    /// spec equation and the public report in its lines; the reference's own taps get no diagnosis.
    @Test func dumpsInFloat32AreDiagnosedThroughConform() throws {
        let goldens = GoldenSetTests.repository.appendingPathComponent("goldens/tiny").path
        let data = try GoldenData.load(goldens)
        // One case each (a dump directory with every case, conformed on the case named), to keep the test short.
        for (bug, only) in [(PlantedBug.ropeHalfSplit, "step"), (.expertWeightsTransposed, "start"),
                            (.projectorGELUTanh, "images")] {
            let dump = FileManager.default.temporaryDirectory.appendingPathComponent("assay-diagnose-\(UUID())").path
            try FileManager.default.createDirectory(atPath: dump, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dump) }
            let result = try DiffEngine.run(BuggyBackend(bug), on: data, mode: .chained, tolerances: try Tolerances(.f32))
            for (name, table) in result.candidates {
                let tensors = try table.names.map { tap throws in
                    switch table[tap]! {
                    case .real(let t): try StoredTensor(name: tap, encoding: t, as: .f32)
                    case .integer(let t): try StoredTensor(name: tap, encoding: t, as: .i64)
                    }
                }
                try SafeTensorsWriter.write(tensors, metadata: [:], to: dump + "/\(name).taps.safetensors")
            }
            let (verdicts, diagnoses) = try Conformance.checkAndDiagnose(goldens: goldens, candidate: dump, only: only,
                                                                         precision: .f32)
            #expect(verdicts.contains { $0.status == .fail }, "\(bug)")
            #expect(diagnoses.count == 1 && diagnoses.allSatisfy { $0.match == bug },
                    "\(bug): \(diagnoses.map { $0.lines.joined(separator: " / ") })")
            #expect(diagnoses.first?.lines.contains { $0.contains(bug.evidence.spec) } == true)
        }
        let passing = try Conformance.checkAndDiagnose(goldens: goldens, candidate: goldens, precision: .f32)
        #expect(passing.verdicts.allSatisfy(\.passed) && passing.diagnoses.isEmpty)
    }

    /// A mistake outside the catalogue (the latent's rotary half negated) matches nothing, and the pattern points at
    /// the columns that carry it.
    @Test func anUncataloguedMistakeGetsItsPattern() throws {
        let data = try SelfTest.goldens()
        let limits = try Tolerances(.f64)
        let golden = data.cases[0]
        var candidate = golden.golden
        let tap = ModelPaths(data.config).tap(.kvLatent, layer: 0).name
        guard case .real(var latent)? = candidate[tap] else { Issue.record("no latent tap"); return }
        let width = latent.shape.last!, rank = data.config.text.kvLoraRank
        for i in latent.scalars.indices where i % width >= rank { latent.scalars[i] = -latent.scalars[i] }
        candidate[tap] = .real(latent)
        let verdicts = try CaseComparison(name: golden.name, taps: golden.taps, golden: golden.golden,
                                          candidate: candidate, valid: golden.valid, tolerances: limits,
                                          router: data.router).verdicts()
        let diagnoses = try Diagnose.run(data, candidates: [golden.name: candidate], verdicts: verdicts, mode: .isolated,
                                         tolerances: limits)
        let diagnosis = try #require(diagnoses.first)
        #expect(diagnosis.match == nil && diagnosis.tap == tap)
        let columns = try #require(diagnosis.pattern.firstMatch(of: /90% of the error in columns (\d+)–(\d+) of (\d+)/))
        #expect(Int(columns.1)! >= rank && Int(columns.2)! == width - 1 && Int(columns.3)! == width, "\(diagnosis.pattern)")
        #expect(diagnosis.pattern.contains("only the rotary key k_r (columns ≥ \(rank)) differs"), "\(diagnosis.pattern)")
    }
}
