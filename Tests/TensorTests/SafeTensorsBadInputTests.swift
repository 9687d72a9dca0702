import Foundation
import Testing
@testable import Tensor

/// The bad-input corpus made by Tools/make_bad_safetensors.py: every file or checkpoint directory breaks one
/// rule, and expected.json holds the exact error each must give.
@Suite struct SafeTensorsBadInputTests {
    static let folder = "bad-safetensors"

    func expectedErrors() throws -> [(name: String, message: String)] {
        let members = try #require(try Fixtures.json(Self.folder + "/expected.json").objectValue)
        return members.map { ($0.key, $0.value.stringValue ?? "<not a string>") }
    }

    @Test func everyCaseFailsWithItsExactMessage() throws {
        for (name, message) in try expectedErrors() {
            let path = Fixtures.url(Self.folder + "/" + name).path
            let got = errorText {
                FilePath.isDirectory(path) ? try Checkpoint(directory: path) as Any : try SafeTensorsFile(path: path)
            }
            #expect(got == message, "\(name)")
        }
    }

    @Test func everyFileInTheFolderIsListedAndTheCorpusIsLargeEnough() throws {
        let listed = Set(try expectedErrors().map(\.name))
        let present = try FileManager.default.contentsOfDirectory(atPath: Fixtures.url(Self.folder).path)
        #expect(Set(present) == listed.union(["expected.json"]))
        #expect(listed.filter { $0.hasSuffix(".safetensors") }.count >= 24)
        #expect(listed.filter { FilePath.isDirectory(Fixtures.url(Self.folder + "/" + $0).path) }.count >= 3)
    }
}
