// Loading from paths: directories, file names, format detection, and errors for what is not there.

import Foundation
import Testing
@testable import MistralSmall4

@Suite struct ConfigLoadingTests {
    /// A fresh scratch directory holding `files` (name → contents).
    func scratch(_ files: [String: [UInt8]]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("assay-config-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, bytes) in files { try Data(bytes).write(to: directory.appendingPathComponent(name)) }
        return directory
    }

    @Test func directoryPrefersConfigJSON() throws {
        let params = try Fixtures.bytes("params/tiny.params.json")
        let both = try scratch(["config.json": Preset.small.bytes, "params.json": params])
        defer { try? FileManager.default.removeItem(at: both) }
        let config = try ModelConfig.load(path: both.path)
        #expect(config.source == .huggingFace(file: "config.json"))
        #expect(config.text.hiddenSize == 256)

        let onlyParams = try scratch(["params.json": params])
        defer { try? FileManager.default.removeItem(at: onlyParams) }
        #expect(try ModelConfig.load(path: onlyParams.path + "/").source == .mistralParams(file: "params.json"))
    }

    @Test func missingThingsAreNamed() throws {
        let empty = try scratch([:])
        defer { try? FileManager.default.removeItem(at: empty) }
        let neither = ConfigError(file: empty.lastPathComponent, message: "holds neither config.json nor params.json")
        #expect(throws: neither) {
            try ModelConfig.load(path: empty.path)
        }
        #expect(throws: ConfigError(file: "absent.json", message: "cannot open: No such file or directory")) {
            try ModelConfig.load(path: empty.appendingPathComponent("absent.json").path)
        }
        // A FIFO with no writer is refused, not waited on (issue 22).
        let fifo = empty.appendingPathComponent("config.fifo").path
        #expect(mkfifo(fifo, 0o644) == 0)
        #expect(throws: ConfigError(file: "config.fifo", message: "not a regular file (a FIFO)")) {
            try ModelConfig.load(path: fifo)
        }
    }

    @Test func formatFollowsTheNameThenTheContent() throws {
        let params = try Fixtures.bytes("params/tiny.params.json")
        let fromParams = try ModelConfig.decode(params, fileName: "anything.json")
        #expect(fromParams.source == .mistralParams(file: "anything.json"))
        let fromPreset = try ModelConfig.decode(Preset.tiny.bytes, fileName: "tiny.json")
        #expect(fromPreset.source == .huggingFace(file: "tiny.json"))
        #expect(throws: ConfigError(file: "config.json", message: "model_type is missing")) {
            try ModelConfig.decode(params, fileName: "config.json")
        }
    }

    @Test func programmaticChangesAreValidatedWithTheFilesNames() {
        var config = Preset.tiny.config
        config.text.numExpertsPerTok = 9
        #expect(throws: ConfigError(file: "tiny.json", message:
            "text_config.num_experts_per_tok (9) must not exceed text_config.n_routed_experts (8)")) {
            try config.validate()
        }
        config = Preset.tiny.config
        config.text.rope.yarn?.betaFast = 0.5
        #expect(throws: ConfigError(file: "tiny.json", message:
            "text_config.rope_parameters.beta_fast (0.5) must exceed text_config.rope_parameters.beta_slow (1.0)")) {
            try config.validate()
        }
    }
}
