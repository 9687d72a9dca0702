// The synthetic model's tied experts (spec/rng.md §4.3): which experts are copies, as Tools/rng_reference.py
// says too, and that a copy is its source's router row, gate_up and down slabs and FP8 scales, so the router
// meets exact ties and any choice among tied experts computes the same output.

import Foundation
import Testing
import Tensor
@testable import MistralSmall4

@Suite struct SyntheticTiesTests {
    /// The rule against the Python port's answers (Tests/TensorTests/Fixtures/rng_reference.json).
    @Test func sourcesMatchThePythonPort() throws {
        let file = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TensorTests/Fixtures/rng_reference.json")
        let document = try JSONValue.parse(Array(try Data(contentsOf: file)))
        let rows = try #require(document["expert_sources"]?.arrayValue)
        #expect(rows.count == 4)
        for row in rows {
            var config = Preset.tiny.config.text
            config.nRoutedExperts = try #require(row["experts"]?.intValue)
            config.nGroup = try #require(row["n_group"]?.intValue)
            let sources = try #require(row["sources"]?.arrayValue).compactMap(\.intValue)
            #expect((0..<config.nRoutedExperts).map(config.syntheticSource(ofExpert:)) == sources, "\(row)")
        }
        #expect((0..<8).map(Preset.tiny.config.text.syntheticSource(ofExpert:)) == [0, 1, 2, 2, 0, 1, 6, 7])
    }

    /// tiny's experts 3, 4, 5 are 2, 0, 1 in every per-expert tensor of every MoE layer, read whole or row by row;
    /// two experts' slabs are equal exactly when they have one source.
    @Test func copiesAreTheirSourcesInEveryTensor() throws {
        let config = try Preset.tiny.load()
        let store = SyntheticWeightStore(config: config, seed: 0)
        let paths = ModelPaths(config)
        for layer in config.text.firstKDenseReplace..<config.text.numHiddenLayers {
            let gate = paths.tap(.routerLogits, layer: layer).weight
            let experts = paths.tap(.routedExperts, layer: layer).module
            for name in [gate, experts + ".gate_up_proj", experts + ".down_proj"] {
                let whole = try store.tensor(name)
                let width = whole.count / whole.shape[0]
                let row = { (e: Int) in Array(whole.scalars[(e * width)..<((e + 1) * width)]) }
                let source = config.text.syntheticSource(ofExpert:)
                for a in 0..<8 {
                    #expect(try store.rows(name, a..<(a + 1)).scalars == row(a), "\(name) row \(a) alone")
                    for b in 0..<8 { #expect((row(a) == row(b)) == (source(a) == source(b)), "\(name) \(a), \(b)") }
                }
            }
        }
    }

    /// Under the FP8 profiles a copy keeps its source's weight and activation scales.
    @Test func copiesKeepTheirSourcesFP8Scales() throws {
        let config = try Preset.tiny.load()
        let store = PrecisionProfile.fp8Static.weights(SyntheticWeightStore(config: config, seed: 0))
        let name = ModelPaths(config).tap(.routedExperts, layer: 1).module + ".gate_up_proj"
        for e in 0..<8 {
            let copy = try #require(try store.fp8Quantization(of: name, row: e))
            let source = try #require(try store.fp8Quantization(of: name, row: config.text.syntheticSource(ofExpert: e)))
            #expect(copy == source, "expert \(e)")
        }
    }
}
