// Golden sets from any model (issue 25): a checkpoint in either layout and a config that is no preset write sets
// that verify, that the float64 reference passes, and that come out byte-identical at any thread count; a set
// without a checkpoint's weights is diffed against the checkpoint named by its sha256s; progress is reported per
// layer.

import Foundation
import Testing
import MistralSmall4
import Tensor
@testable import Validation

@Suite(.serialized) struct GoldenSourceTests {
    static let checkpoints = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MistralSmall4Tests/Fixtures/checkpoints").path

    func scratch(_ label: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("assay-source-\(label)-\(UUID())").path
    }

    /// `source` as a one-case set (positions 0…, no images) in a fresh directory.
    func write(_ source: GoldenSource, _ label: String, ships: Bool = true, layers: ClosedRange<Int>? = nil,
               progress: RunProgress? = nil) throws -> String {
        var options = GoldenOptions(source: source)
        (options.positions, options.images, options.shipsSmallWeights, options.layers) = (0, 0, ships, layers)
        let path = scratch(label)
        try GoldenSet.write(options, to: path, progress: progress)
        return path
    }

    func referenceDiff(_ path: String, checkpoint: String? = nil) throws -> DiffResult {
        try DiffEngine.run(ReferenceBackend(), on: try GoldenData.load(path, checkpoint: checkpoint), mode: .isolated,
                           tolerances: try Tolerances(.f64))
    }

    func files(_ directory: String) throws -> [String: Data] {
        var out = [String: Data]()
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            out[name] = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(name))
        }
        return out
    }

    @Test(arguments: [("hf-fp8", "checkpoint (hugging-face layout, 4 files, shipped)"),
                      ("mistral-fp8", "checkpoint (mistral layout, 2 files, shipped)")])
    func checkpointSetVerifiesAndPasses(fixture: String, summary: String) throws {
        let directory = Self.checkpoints + "/" + fixture
        var sets = [[String: Data]]()
        for threads in [1, 2] {
            ComputeThreads.limit(to: threads)
            let path = try write(.checkpoint(directory: directory), fixture)
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect(try GoldenVerifier.verify(path).source == summary)
            let result = try referenceDiff(path)
            #expect(result.verdicts.count == 31 && result.failures.isEmpty && result.notCovered.isEmpty)
            sets.append(try files(path))
        }
        ComputeThreads.limit(to: ComputeThreads.online)
        #expect(sets[0] == sets[1], "a checkpoint set differs between 1 and 2 threads")
        // The checkpoint's own files ship byte for byte.
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            #expect(sets[0][name] == (try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))), "\(name)")
        }
    }

    @Test func bothLayoutsOfOneCheckpointGiveTheSameTaps() throws {
        let hf = try write(.checkpoint(directory: Self.checkpoints + "/hf-fp8"), "hf")
        let mistral = try write(.checkpoint(directory: Self.checkpoints + "/mistral-fp8"), "mistral")
        defer { for path in [hf, mistral] { try? FileManager.default.removeItem(atPath: path) } }
        let (a, b) = (try files(hf), try files(mistral))
        #expect(a["positions.taps.safetensors"] == b["positions.taps.safetensors"])
    }

    @Test func unshippedCheckpointIsDiffedAgainstItsRecordedSha256s() throws {
        let directory = Self.checkpoints + "/mistral-fp8"
        let path = try write(.checkpoint(directory: directory), "unshipped", ships: false)
        let copy = scratch("copy")
        defer { for p in [path, copy] { try? FileManager.default.removeItem(atPath: p) } }
        #expect(try files(path).keys.sorted() == ["manifest.json", "positions.inputs.safetensors",
                                                  "positions.taps.safetensors"])
        #expect(try GoldenVerifier.verify(path).source == "checkpoint (mistral layout, 2 files, recorded by sha256)")
        #expect(throws: GoldenError(file: "manifest.json", "the set ships no weights: give --checkpoint DIR, the mistral "
                                    + "checkpoint it was made from (its sha256s are recorded)")) { try GoldenData.load(path) }
        #expect(try referenceDiff(path, checkpoint: directory).failures.isEmpty)
        try FileManager.default.copyItem(atPath: directory, toPath: copy)
        let params = URL(fileURLWithPath: copy + "/params.json")
        try (try Data(contentsOf: params) + Data(" ".utf8)).write(to: params)
        let error = #expect(throws: GoldenError.self) { try GoldenData.load(path, checkpoint: copy) }
        #expect(error?.file == "params.json")
        #expect(error?.message.hasSuffix("not the checkpoint the set was made from") == true, "\(error!)")
    }

    /// tiny with other dimensions: 2 layers, hidden 48, a 20-wide latent — no preset has them.
    static let narrowConfig: String = {
        let tiny = String(decoding: Preset.tiny.bytes, as: UTF8.self)
        return tiny.replacingOccurrences(of: "\"hidden_size\": 64", with: "\"hidden_size\": 48")
            .replacingOccurrences(of: "\"intermediate_size\": 112", with: "\"intermediate_size\": 96")
            .replacingOccurrences(of: "\"num_hidden_layers\": 3", with: "\"num_hidden_layers\": 2")
            .replacingOccurrences(of: "\"kv_lora_rank\": 28", with: "\"kv_lora_rank\": 20")
    }()

    @Test func configSetVerifiesPassesAndShipsTheConfigVerbatim() throws {
        let file = scratch("narrow") + ".json"
        try Self.narrowConfig.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let path = try write(.config(path: file), "config")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let set = try GoldenVerifier.checked(path)
        #expect(set.summary.source == "config (config.json)")
        #expect(set.config.text.hiddenSize == 48 && set.config.text.numHiddenLayers == 2)
        #expect(try files(path)["config.json"] == Data(Self.narrowConfig.utf8))
        let result = try referenceDiff(path)
        #expect(!result.verdicts.isEmpty && result.failures.isEmpty && result.notCovered.isEmpty)
    }

    @Test func shippedConfigMustBeTheManifestsConfig() throws {
        let path = try write(.preset(.tiny), "swapped")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = URL(fileURLWithPath: path + "/config.json")
        try Data(Self.narrowConfig.utf8).write(to: config)
        // Re-list its sha256 so only the meaning is wrong.
        let manifest = URL(fileURLWithPath: path + "/manifest.json")
        let text = try String(contentsOf: manifest, encoding: .utf8)
            .replacingOccurrences(of: SHA256.hex(Preset.tiny.bytes), with: SHA256.hex(Array(Self.narrowConfig.utf8)))
        try text.write(to: manifest, atomically: true, encoding: .utf8)
        #expect(throws: GoldenError(file: "config.json", "differs from the manifest's 'config': the shipped weights are "
                                    + "another model's")) { try GoldenVerifier.verify(path) }
    }

    /// A layer-range set (spec/goldens.md §3.2): the layers' taps alone, from a stored hidden state; the reference
    /// reproduces them isolated and chained, and `forward --layers` on the same hidden state gives the same values.
    @Test func layerRangeSet() throws {
        let directory = Self.checkpoints + "/hf-fp8"
        let path = try write(.checkpoint(directory: directory), "layers", layers: 1...2)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let set = try GoldenVerifier.checked(path)
        #expect(set.fields.layers == 1...2)
        let names = set.cases[0].taps.map(\.name)
        #expect(names.first == "model.language_model.layers.1.input_layernorm" && names.last == "model.language_model.layers.2")
        let data = try GoldenData.load(path)
        for mode in [DiffMode.isolated, .chained] {
            let result = try DiffEngine.run(ReferenceBackend(), on: data, mode: mode, tolerances: try Tolerances(.f64))
            // Every tap but the router margins (informational: they judge a swap, spec/goldens.md §4) has a verdict.
            #expect(result.verdicts.count == names.filter { !$0.hasSuffix("#margin") }.count)
            #expect(result.failures.isEmpty && result.notCovered.isEmpty, "\(mode): \(result.failures.map(\.tap))")
        }
        let store = try CheckpointWeightStore(config: data.config, directory: directory, profile: .exact)
        let recorder = TapRecorder()
        let hidden = try #require(data.cases[0].hidden)
        try TextDecoder(store: store).forward(layers: 1...2, hidden: hidden, inputs: data.cases[0].inputs, taps: recorder)
        #expect(recorder.taps.map(\.name) == names)
        let block = try #require(recorder["model.language_model.layers.2"])
        guard case .real(let computed) = block, case .real(let stored)? = data.cases[0].golden["model.language_model.layers.2"]
        else { Issue.record("the block output is not real-valued"); return }
        #expect(computed.scalars.map { Float($0) } == stored.scalars.map { Float($0) })
        var options = GoldenOptions(source: .checkpoint(directory: directory))
        options.layers = 2...3
        #expect(throws: InputError.self) { try GoldenSet.write(options, to: scratch("past")) }
    }

    @Test func progressIsOneLinePerLayer() throws {
        var lines = [String](), now = 0.0
        let progress = RunProgress("golden tiny", style: .lines, clock: { now += 0.5; return now }) { lines.append($0) }
        let path = try write(.preset(.tiny), "progress", progress: progress)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(lines == [
            "golden tiny: case positions (1/1), layer 1 of 3, 0.5 s elapsed, ~1.0 s left\n",
            "golden tiny: case positions (1/1), layer 2 of 3, 1.0 s elapsed, ~0.5 s left\n",
            "golden tiny: case positions (1/1), layer 3 of 3, 1.5 s elapsed, ~0.0 s left\n",
        ])
    }

    @Test func progressStyles() {
        var text = ""
        let updating = RunProgress("diff blas", style: .updating, clock: { 0 }) { text += $0 }
        updating.plan(cases: 2, steps: 4)
        updating.begin(case: "start", index: 0)
        updating.finish()
        #expect(text == "\r\u{1B}[Kdiff blas: case start (1/2), layer 0 of 4, 0.0 s elapsed, estimating\r\u{1B}[K")
        let quiet = RunProgress("x", style: .quiet, clock: { 0 }) { text += $0 }
        quiet.begin(case: "start", index: 0)
        quiet.done(step: 0)
        quiet.finish()
        #expect(!text.contains("x:"))
        #expect(RunProgress.duration(125.2) == "2 min 05 s" && RunProgress.duration(3.04) == "3.0 s")
    }
}
