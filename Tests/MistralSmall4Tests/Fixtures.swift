// Test support: locating Tests/MistralSmall4Tests/Fixtures (excluded from the build) and decoding inline configs.

import Foundation
@testable import MistralSmall4

enum Fixtures {
    /// Tests/MistralSmall4Tests/Fixtures, found from this file's path.
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// spec/presets, found from this file's path.
    static let presets = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("spec/presets")

    static func path(_ relativePath: String) -> String { directory.appendingPathComponent(relativePath).path }

    static func bytes(_ relativePath: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(relativePath)))
    }
}

/// Decodes and validates inline JSON as a file named `fileName`.
func decodeConfig(_ json: String, fileName: String = "config.json") throws(ConfigError) -> ModelConfig {
    try ModelConfig.decode(Array(json.utf8), fileName: fileName)
}

/// The one-line error decoding `json` throws, or nil when it decodes.
func configError(_ json: String, fileName: String = "config.json") -> String? {
    do {
        _ = try decodeConfig(json, fileName: fileName)
        return nil
    } catch {
        return error.description
    }
}
