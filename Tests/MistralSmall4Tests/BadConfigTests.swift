// The bad-config corpus: every file in Fixtures/bad-configs fails with exactly the line expected.json gives it.

import Foundation
import Testing
import Tensor
@testable import MistralSmall4

@Suite struct BadConfigTests {
    static let directory = "bad-configs"

    /// expected.json: file name → the exact error line.
    static func expectations() throws -> [String: String] {
        let document = try JSONValue.parse(try Fixtures.bytes("\(directory)/expected.json"))
        var out: [String: String] = [:]
        for member in document.objectValue ?? [] { out[member.key] = member.value.stringValue }
        return out
    }

    @Test func everyFileIsListedAndEveryListedFileExists() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path(Self.directory))
            .filter { $0 != "expected.json" }
        let expected = try Self.expectations()
        #expect(Set(files) == Set(expected.keys))
        #expect(files.count >= 10)
        #expect(files.contains { $0.hasSuffix(".params.json") } && files.contains { $0.hasSuffix(".config.json") })
    }

    @Test func everyFileFailsWithItsLine() throws {
        for (file, line) in try Self.expectations().sorted(by: { $0.key < $1.key }) {
            do {
                _ = try ModelConfig.load(path: Fixtures.path("\(Self.directory)/\(file)"))
                Issue.record("\(file) loaded, expected: \(line)")
            } catch {
                #expect(error.description == line, "\(file)")
            }
        }
    }
}

/// Every number of a config replaced by extreme values: decoding must throw a ConfigError or succeed, never trap.
@Suite struct ExtremeValueTests {
    static let extremes = ["0", "-1", "9223372036854775807", "-9223372036854775808", "1e308", "0.5", "1048577"]

    /// Paths to every number in `value`.
    static func numberPaths(_ value: JSONValue, _ path: [String] = []) -> [[String]] {
        switch value {
        case .number: [path]
        case .object(let members): members.flatMap { numberPaths($0.value, path + [$0.key]) }
        default: []
        }
    }

    static func replacing(_ value: JSONValue, at path: ArraySlice<String>, with leaf: JSONValue) -> JSONValue {
        guard let key = path.first, case .object(let members) = value else { return leaf }
        return .object(members.map { member in
            (member.key, member.key == key ? replacing(member.value, at: path.dropFirst(), with: leaf) : member.value)
        })
    }

    /// `source`: a preset by name, or a fixture by path.
    @Test(arguments: ["tiny", "full", "params/tiny.params.json"])
    func extremeNumbersNeverTrap(source: String) throws {
        let bytes = try Preset(rawValue: source)?.bytes ?? Fixtures.bytes(source)
        let fileName = source.hasSuffix("params.json") ? "params.json" : "config.json"
        let document = try JSONValue.parse(bytes)
        var outcomes = (decoded: 0, refused: 0)
        for path in Self.numberPaths(document) {
            for extreme in Self.extremes {
                let mutated = Self.replacing(document, at: path[...], with: .number(extreme))
                do {
                    _ = try ModelConfig.decode(Array(mutated.serialized().utf8), fileName: fileName)
                    outcomes.decoded += 1
                } catch {
                    #expect(error.description.hasPrefix(fileName + ": ") && !error.message.contains("\n"))
                    outcomes.refused += 1
                }
            }
        }
        #expect(outcomes.refused > 0 && outcomes.decoded > 0)
    }
}
