// The op table and the tap table describe the graph that runs: every tap a forward pass records is the table's
// (name, kind, order), and is produced by an op whose table entry lists its kind.

import Testing
import Tensor
@testable import MistralSmall4

@Suite struct OpTableTests {
    /// A forward pass of tiny-vision with two images: its run and what it recorded.
    func recordedRun() throws -> (run: GraphRun, taps: TapRecorder) {
        let images = try VisionFixtures.images([(56, 84), (28, 56)])
        let config = VisionFixtures.store.config
        let ids = try ImageTokenLayout(config.multimodal!).expand(prompt: [1, 10, 40, 10, 41],
                                                                  grids: images.grids(cellSide: 28))
        let inputs = try ForwardInputs(inputIds: Tensor(shape: [1, ids.count], scalars: ids), config: config.text)
        let taps = TapRecorder()
        let run = MultimodalModel(store: VisionFixtures.store).text.run(inputs, taps: taps)
        try run.model(images: images)
        return (run, taps)
    }

    @Test func theTapTableListsExactlyTheRecordedTaps() throws {
        let (_, taps) = try recordedRun()
        let table = ModelPaths.taps(VisionFixtures.store.config)
        #expect(Set(taps.recorded.map(\.tap.name)) == Set(table.keys))
        for (tap, _) in taps.recorded { #expect(table[tap.name] == tap, "\(tap.name)") }
    }

    /// Within each layer, and outside the layers, taps are recorded in the order `TapKind` declares them.
    @Test func kindsAreDeclaredInRecordingOrder() throws {
        let (run, taps) = try recordedRun()
        func layer(of tap: Tap) -> Int? {
            (0..<64).first { [.textLayer, .visionLayer].contains(tap.kind.row.scope) && run.paths.tap(tap.kind, layer: $0) == tap }
        }
        let order = Dictionary(uniqueKeysWithValues: TapKind.allCases.enumerated().map { ($1, $0) })
        for (a, b) in zip(taps.recorded.dropLast(), taps.recorded.dropFirst())
        where a.tap.kind.row.scope == b.tap.kind.row.scope && layer(of: a.tap) == layer(of: b.tap) {
            #expect(order[a.tap.kind]! < order[b.tap.kind]!, "\(a.tap.name) before \(b.tap.name)")
        }
    }

    @Test func eachTapComesFromAnOpWhoseEntryListsIt() throws {
        let (run, taps) = try recordedRun()
        for (tap, _) in taps.recorded {
            guard let op = try #require(run.ops[tap.name], "\(tap.name) has no op") else { continue }   // assembled
            #expect(op.entry.taps.contains(tap.kind), "\(op.rawValue) does not list \(tap.kind)")
        }
    }

    @Test func everyOpHasAPageWithItsEquations() {
        for op in SpecOp.allCases {
            #expect(op.entry.page.hasPrefix("spec/") && op.entry.equations.hasPrefix("eq. "), "\(op.rawValue)")
            #expect(!op.entry.taps.isEmpty, "\(op.rawValue) produces no tap")
        }
    }
}
