// Golden sets: the committed ones regenerate byte for byte, the thread count changes no byte, the cases hold
// what spec/goldens.md says, and `verify` names the first corrupt tensor or file.

import Foundation
import Testing
import MistralSmall4
import Tensor
@testable import Validation

@Suite(.serialized) struct GoldenSetTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func scratch(_ label: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("assay-golden-\(label)-\(UUID())").path
    }

    func files(_ directory: String) throws -> [String: Data] {
        var out = [String: Data]()
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            out[name] = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent(name))
        }
        return out
    }

    @Test(arguments: [("tiny", Preset.tiny, PrecisionProfile.exact), ("tiny-vision", .tinyVision, .exact),
                      ("tiny-fp8-static", .tiny, .fp8Static), ("tiny-nvfp4", .tiny, .nvfp4)])
    func committedSetRegeneratesByteForByte(set: String, preset: Preset, profile: PrecisionProfile) throws {
        let committed = Self.repository.appendingPathComponent("goldens/\(set)").path
        let fresh = scratch(set)
        defer { try? FileManager.default.removeItem(atPath: fresh) }
        var options = GoldenOptions(preset: preset)
        options.profile = profile
        try GoldenSet.write(options, to: fresh)
        let (a, b) = (try files(committed), try files(fresh))
        #expect(a.keys.sorted() == b.keys.sorted())
        for name in a.keys.sorted() {
            #expect(a[name] == b[name], "goldens/\(set)/\(name) differs from a fresh `assay golden`")
        }
        #expect(try GoldenVerifier.verify(committed).cases == ["start", "step", "long", "far", "images"])
    }

    /// `small` is the smallest preset whose products are large enough to be split across threads.
    @Test func oneAndTwoThreadsWriteTheSameBytes() throws {
        var options = GoldenOptions(preset: .small)
        options.positions = 262_144
        options.images = 0
        var sets = [[String: Data]]()
        for threads in [1, 2] {
            let path = scratch("threads\(threads)")
            defer { try? FileManager.default.removeItem(atPath: path) }
            ComputeThreads.limit(to: threads)
            try GoldenSet.write(options, to: path)
            sets.append(try files(path))
        }
        ComputeThreads.limit(to: ComputeThreads.online)
        #expect(sets[0] == sets[1])
    }

    @Test func defaultCasesCoverLongContextAndImages() throws {
        let config = try Preset.tinyVision.load()
        let cases = try GoldenCase.defaults(config, seed: 0, tokens: 8, batch: 2, positions: nil, images: 2)
        #expect(cases.map(\.name) == ["start", "step", "long", "far", "images"])
        #expect(cases.map { $0.inputs.positionIds.scalars[0] } == [0, 8188, 262_144, 1_000_000, 0])
        #expect(cases[0].inputs.attentionMask.scalars[8...9] == [0, 0])          // row 1 left-padded
        #expect(cases[4].images?.imageSizes.map { [$0.height, $0.width] } == [[56, 84], [28, 56]])
        #expect(cases[0].inputs.inputIds.scalars.allSatisfy { (14..<128).contains($0) })
    }

    @Test(arguments: [
        ("model.language_model.layers.1.mlp.gate#indices", ToleranceClass.routerIndices),
        ("model.language_model.layers.1.input_layernorm", .norm), ("model.multi_modal_projector.norm", .norm),
        ("model.language_model.layers.1", .block), ("model.vision_tower", .block),
        ("model.multi_modal_projector.patch_merger", .matmul), ("lm_head", .logits),
        ("model.language_model.layers.1.mlp.shared_experts", .mlp), ("model.language_model#inputs_embeds", .exact),
        ("model.vision_tower.transformer.layers.0.attention", .attention),
    ])
    func toleranceClasses(tap: String, expected: ToleranceClass) throws {
        let taps = ModelPaths.taps(try Preset.tinyVision.load())
        #expect(try #require(taps[tap], "no tap \(tap)").kind.toleranceClass == expected)
    }

    /// A one-case `tiny` set (positions 0…, no images) in a fresh scratch directory.
    func smallSet(_ label: String) throws -> String {
        let path = scratch(label)
        var options = GoldenOptions(preset: .tiny)
        options.images = 0
        options.positions = 0
        try GoldenSet.write(options, to: path)
        return path
    }

    @Test func verifyNamesTheFirstCorruptTensor() throws {
        let path = try smallSet("corrupt")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let taps = URL(fileURLWithPath: path).appendingPathComponent("positions.taps.safetensors")
        var bytes = try Data(contentsOf: taps)
        let file = try SafeTensorsFile(path: taps.path)
        let victim = file.tensors[3]
        bytes[file.dataStart + victim.dataOffsets.lowerBound] ^= 0x40
        try bytes.write(to: taps)
        let error = #expect(throws: GoldenError.self) { try GoldenVerifier.verify(path) }
        #expect(error?.file == "positions.taps.safetensors")
        #expect(error?.tensor == victim.name)
    }

    /// Issue 22: an extent too large for Int is shown as written, not as -1; a tensor name with a newline prints
    /// on one line; a FIFO as manifest.json is refused, not waited on.
    @Test func verifyMessagesAreTrueAndOneLine() throws {
        let path = try smallSet("hostile")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let manifest = URL(fileURLWithPath: path).appendingPathComponent("manifest.json")
        let original = try String(contentsOf: manifest, encoding: .utf8)
        let range = try #require(original.range(of: #""shape": \[\s*2,"#, options: .regularExpression))
        try original.replacingCharacters(in: range, with: "\"shape\": [99999999999999999999,")
            .write(to: manifest, atomically: true, encoding: .utf8)
        let error = #expect(throws: GoldenError.self) { try GoldenVerifier.verify(path) }
        #expect(error?.message == "shape [99999999999999999999, 8]: each extent must be an integer ≥ 0", "\(error!)")
        #expect(GoldenError(file: "m.json", tensor: "x\n136 taps compared, 0 failed", "y").description
                == #"m.json: tensor 'x\n136 taps compared, 0 failed': y"#)
        try FileManager.default.removeItem(at: manifest)
        #expect(mkfifo(manifest.path, 0o644) == 0)
        #expect(throws: GoldenError(file: "manifest.json", "not a regular file (a FIFO)")) {
            try GoldenVerifier.verify(path)
        }
    }

    @Test func verifyRefusesAnotherFormatVersion() throws {
        let path = try smallSet("version")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let manifest = URL(fileURLWithPath: path).appendingPathComponent("manifest.json")
        let text = try String(contentsOf: manifest, encoding: .utf8)
            .replacingOccurrences(of: "\"format_version\": 1", with: "\"format_version\": 2")
        try text.write(to: manifest, atomically: true, encoding: .utf8)
        let error = #expect(throws: GoldenError.self) { try GoldenVerifier.verify(path) }
        #expect(error?.message.contains("format_version 2") == true)
    }
}
