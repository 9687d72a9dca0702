import Foundation
import Testing
@testable import Tensor

/// Deterministic mutation fuzzing of the header parser: thousands of corrupted variants of a valid
/// Python-written file must each either open, with every tensor inside the file, or fail with one
/// SafeTensorsError line naming the file. A trap would kill the test process.
@Suite struct SafeTensorsFuzzTests {
    static let mutations = 4000

    /// Mutation `i` of `original`, drawn from the Philox stream "fuzz" so every run tests the same files.
    static func mutate(_ original: [UInt8], _ i: Int) -> [UInt8] {
        let draw = TensorStream(seed: 2026, name: "safetensors-fuzz").block(UInt64(i))
        let headerEnd = 8 + Int(original.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian })
        var bytes = original
        let position = Int(draw[1]) % headerEnd
        let structural = Array("{}[]\":,-0123456789eE.".utf8)
        switch draw[0] % 6 {
        case 0: bytes[position] = UInt8(truncatingIfNeeded: draw[2])                 // any byte
        case 1: bytes[position] = structural[Int(draw[2]) % structural.count]       // a JSON character
        case 2: bytes.removeSubrange(min(Int(draw[1]) % bytes.count, bytes.count)...)  // truncation
        case 3:                                                                      // header length field
            let length = UInt64(headerEnd - 8) &+ UInt64(bitPattern: Int64(Int32(bitPattern: draw[2])) % 64)
            withUnsafeBytes(of: length.littleEndian) { bytes.replaceSubrange(0..<8, with: $0) }
        case 4:                                                                      // a digit becomes huge
            bytes.replaceSubrange(position..<(position + 1), with: Array(String(UInt64(draw[2]) << 32 | UInt64(draw[3])).utf8))
        default: bytes.insert(structural[Int(draw[2]) % structural.count], at: max(8, position))  // an insertion
        }
        return bytes
    }

    @Test func corruptedHeadersOpenOrFailCleanly() throws {
        let original = Array(try Data(contentsOf: Fixtures.url("interop/python-written.safetensors")))
        var accepted = 0, rejected = 0
        for i in 0..<Self.mutations {
            let bytes = Self.mutate(original, i)
            do {
                let header = try bytes.withUnsafeBytes { try SafeTensorsHeader(file: $0, name: "fuzz.safetensors") }
                accepted += 1
                for tensor in header.tensors {
                    #expect(header.dataStart + tensor.dataOffsets.upperBound <= bytes.count, "mutation \(i)")
                }
            } catch let error as SafeTensorsError {
                rejected += 1
                let line = error.description
                #expect(line.hasPrefix("fuzz.safetensors: ") && !line.contains("\n"), "mutation \(i): \(line)")
            } catch {
                Issue.record("mutation \(i) threw \(type(of: error)), not SafeTensorsError: \(error)")
            }
        }
        // Both outcomes occur, so both code paths were exercised.
        #expect(accepted > 50 && rejected > 2000, "accepted \(accepted), rejected \(rejected)")
    }
}
