// SHA-256 against FIPS 180-4's examples and hashlib (digests printed by Python's hashlib.sha256).

import Foundation
import Testing
import Tensor

@Suite struct SHA256Tests {
    @Test(arguments: [
        ([UInt8](), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownDigests(message: [UInt8], hex: String) {
        #expect(SHA256.hex(message) == hex)
    }

    /// 1280 bytes: several blocks, and a length whose padding needs a block of its own.
    @Test func multiBlockMessage() {
        let message = (0..<5).flatMap { _ in (0..<256).map(UInt8.init) }
        #expect(SHA256.hex(message) == "d414b085826eb06778483ba35564dc849e643359f69ed9747878ba6e54985bed")
    }

    /// Pieces of any size give the digest of the whole; a file is hashed in 1 MiB reads (1 MiB + 77 bytes here,
    /// digest from hashlib).
    @Test func streamAndFile() throws {
        let message = (0..<(1 << 20 + 77)).map { UInt8($0 % 251) }
        let expected = "d465cc37a2b7b1dad366d994d009cdea91d84319ff534c2760eebd49cc663faf"
        var stream = SHA256.Stream()
        for piece in [0..<1, 1..<64, 64..<1000, 1000..<message.count] { stream.update(message[piece]) }
        #expect(SHA256.hex(digest: stream.finish()) == expected)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("assay-sha-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(message).write(to: URL(fileURLWithPath: path))
        #expect(try FilePath.sha256(path) == expected)
    }
}
