// One layer at a time (spec/checkpoints.md §5): decoder layer 2 and vision layer 1 of the FP8 Mistral-layout
// fixture, run alone from the hidden state a full forward captured, give that forward's taps exactly, and read
// only their own layer's weights — of the routed experts, only the ones the tokens route to.

import Testing
import Tensor
@testable import MistralSmall4

/// A store that records every read.
private final class ReadLog: WeightStore, @unchecked Sendable {
    let base: any WeightStore
    private(set) var reads: [(name: String, rows: Range<Int>)] = []
    var config: ModelConfig { base.config }
    var inventory: TensorInventory { base.inventory }
    var holdsQuantized: Bool { base.holdsQuantized }

    init(_ base: any WeightStore) { self.base = base }

    func rows(_ name: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> {
        reads.append((name, rows))
        return try base.rows(name, rows)
    }

    func quantization(of name: String, row: Int?) throws(WeightError) -> LinearQuantization? {
        try base.quantization(of: name, row: row)
    }
}

@Suite struct LayerRunTests {
    static let store = try! CheckpointFixtures.store(CheckpointFixtures.mistral)
    static let full = try! CheckpointFixtures.taps(store)

    static func real(_ name: String) throws -> Tensor<Double> {
        guard case .real(let t)? = full[name] else { throw WeightError(source: "taps", tensor: name, "missing") }
        return t
    }

    /// Two tokens route to at most four of the eight experts, so reading all of them would show.
    @Test func oneDecoderLayerFromItsInputGivesTheFullRunsTaps() throws {
        let layer = "model.language_model.layers.2"
        let inputs = try ForwardInputs(inputIds: Tensor(shape: [1, 2], scalars: [1, 77]), config: Self.store.config.text)
        let full = TapRecorder()
        try TextDecoder(store: Self.store).forward(inputs, taps: full)
        guard case .real(let input)? = full["model.language_model.layers.1"] else {                // [1, 2, H]
            Issue.record("no layer 1 tap")
            return
        }
        let log = ReadLog(Self.store)
        let taps = TapRecorder()
        try TextDecoder(store: log).forward(layers: 2...2, hidden: input.reshaped([2, input.shape[2]]), inputs: inputs,
                                            taps: taps)
        #expect(taps.taps.count == 12)
        for tap in taps.taps { #expect(tap.value == full[tap.name], "\(tap.name)") }

        #expect(log.reads.allSatisfy { $0.name.hasPrefix(layer + ".") }, "\(log.reads.map(\.name))")
        guard case .integer(let indices)? = full[layer + ".mlp.gate#indices"] else {
            Issue.record("no routing tap")
            return
        }
        let routed = Set(indices.scalars)
        let expertRows = log.reads.filter { $0.name.contains(".experts.") }.flatMap { Array($0.rows) }
        #expect(Set(expertRows) == routed && routed.count < log.config.text.nRoutedExperts, "\(expertRows) \(routed)")
    }

    @Test func oneVisionLayerFromItsInputGivesTheFullRunsTaps() throws {
        let layer = "model.vision_tower.transformer.layers.1"
        let input = try Self.real("model.vision_tower.transformer.layers.0")                     // [1, P, Hv]
        let log = ReadLog(Self.store)
        let images = try VisionFixtures.images([(56, 84), (28, 56)])
        let taps = TapRecorder()
        let out = try MultimodalModel(store: log)
            .visionLayers(1...1, hidden: input.reshaped(Array(input.shape.dropFirst())),
                          grids: images.grids(cellSide: 14), taps: taps)
        #expect(out.reshaped([1] + out.shape) == (try Self.real(layer)))
        #expect(!taps.taps.isEmpty)
        for tap in taps.taps { #expect(tap.value == Self.full[tap.name], "\(tap.name)") }
        #expect(log.reads.allSatisfy { $0.name.hasPrefix(layer + ".") }, "\(log.reads.map(\.name))")
    }
}
