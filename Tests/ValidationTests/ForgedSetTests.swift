// Golden sets forged to mislead (issue 22): a tap replaced by one of another shape, dtype or values, with the
// manifest's shape, dtype, sha256 and file checksum rewritten so that `verify` accepts the files. Whatever the
// forgery, `conform` and `diff` end in an error naming the tap or in a true verdict — never a crash, never a pass
// of what was not compared. Each case below once crashed or could; the seeded shape forgeries cover the rest.

import Foundation
import Testing
import MistralSmall4
import Tensor
@testable import Validation

@Suite(.serialized) struct ForgedSetTests {
    static let goldens = GoldenSetTests.repository.appendingPathComponent("goldens/tiny").path
    static let start = goldens + "/start.taps.safetensors"

    /// A copy of goldens/tiny whose case `start` holds `forged` in place of its tap of that name, the manifest
    /// rewritten to match it.
    func forge(_ forged: StoredTensor) throws -> String {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("assay-forged-\(UUID())").path
        try FileManager.default.copyItem(atPath: Self.goldens, toPath: copy)
        let file = try SafeTensorsFile(path: Self.start)
        let taps = try file.tensorNames.map { $0 == forged.name ? forged : try file.stored($0) }
        try SafeTensorsWriter.write(taps, metadata: file.metadata, to: copy + "/start.taps.safetensors")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: copy + "/start.taps.safetensors"))
        let manifest = try JSONValue.parse(try String(contentsOfFile: copy + "/manifest.json", encoding: .utf8))
        let rewritten = Self.rewrite(manifest, case: "start", tensor: forged, file: "start.taps.safetensors",
                                     sha256: SHA256.hex(Array(bytes)))
        try rewritten.serialized(pretty: true).write(toFile: copy + "/manifest.json", atomically: true, encoding: .utf8)
        return copy
    }

    /// `manifest` with case `name`'s entry for `tensor` describing it, and `file`'s checksum `sha256`.
    static func rewrite(_ json: JSONValue, case name: String, tensor: StoredTensor, file: String, sha256: String,
                        inCase: Bool = false) -> JSONValue {
        switch json {
        case .object(let members):
            let entersCase = members.contains { $0.key == "name" && $0.value == .string(name) }
                && members.contains { $0.key == "taps" }
            if inCase, members.contains(where: { $0.key == "name" && $0.value == .string(tensor.name) }) {
                return .object(members.map { member in
                    switch member.key {
                    case "dtype": (member.key, .string(tensor.dtype.rawValue))
                    case "shape": (member.key, .array(tensor.shape.map(JSONValue.int)))
                    case "sha256": (member.key, .string(SHA256.hex(tensor.bytes)))
                    default: member
                    }
                })
            }
            return .object(members.map { member in
                if member.key == file, case .string = member.value { return (member.key, .string(sha256)) }
                return (member.key, rewrite(member.value, case: name, tensor: tensor, file: file, sha256: sha256,
                                            inCase: inCase || entersCase))
            })
        case .array(let items):
            return .array(items.map { rewrite($0, case: name, tensor: tensor, file: file, sha256: sha256, inCase: inCase) })
        default:
            return json
        }
    }

    /// `conform` of the original taps against the forged set, and a reference `diff` of it: each an error naming
    /// `tap`, or verdicts. Returns the conform verdicts when there were some.
    @discardableResult
    func judge(_ forged: StoredTensor, expectError: Bool) throws -> [TapVerdict]? {
        let set = try forge(forged)
        defer { try? FileManager.default.removeItem(atPath: set) }
        var verdicts: [TapVerdict]?
        do {
            verdicts = try Conformance.check(goldens: set, candidate: Self.start, only: "start", precision: .f32)
            #expect(!expectError, "\(forged.name) \(forged.shape): conform accepted the forgery")
        } catch {
            #expect(expectError && error.tensor == forged.name, "\(forged.name) \(forged.shape): \(error)")
        }
        do {
            _ = try DiffEngine.run(ReferenceBackend(), on: try GoldenData.load(set), mode: .isolated,
                                   tolerances: try Tolerances(.f32))
            #expect(!expectError, "\(forged.name) \(forged.shape): diff accepted the forgery")
        } catch let error as GoldenError {
            #expect(expectError && error.tensor == forged.name, "\(forged.name): \(error)")
        }
        return verdicts
    }

    static let gate = "model.language_model.layers.1.mlp.gate"

    @Test(arguments: [[16, 1], [8, 2], [16, 0], [32], []])
    func routerIndicesOfAnotherShapeAreNamed(shape: [Int]) throws {
        let forged = try StoredTensor(name: Self.gate + "#indices", encoding: Tensor(shape: shape, repeating: 1), as: .i64)
        try judge(forged, expectError: true)
    }

    @Test(arguments: [("lm_head", [2, 8, 0]), (gate + "#margin", [15]), (gate + "#weights", [16, 3]),
                      ("model.language_model.norm", []), ("model.language_model.layers.0", [2, 8, 64, 1])])
    func realTapsOfAnotherShapeAreNamed(name: String, shape: [Int]) throws {
        let forged = try StoredTensor(name: name, encoding: Tensor(shape: shape, repeating: 0.5), as: .f32)
        try judge(forged, expectError: true)
    }

    @Test func anIntegerTapWhereARealBelongsIsNamed() throws {
        let forged = try StoredTensor(name: "lm_head", encoding: Tensor<Int>(shape: [2, 8, 128], repeating: 0), as: .i64)
        try judge(forged, expectError: true)
    }

    /// Values forged, shape kept: a NaN golden is an error naming the tap (golden values are finite); so are expert
    /// ids outside the model (an isolated diff would otherwise run experts the model does not have).
    @Test func forgedValuesGetErrors() throws {
        let nan = try StoredTensor(name: "lm_head", encoding: Tensor(shape: [2, 8, 128], repeating: .nan), as: .f32)
        try judge(nan, expectError: true)
        let ids = try StoredTensor(name: Self.gate + "#indices", encoding: Tensor(shape: [16, 2], repeating: 999), as: .i64)
        try judge(ids, expectError: true)
    }

    /// Seeded shape forgeries of random taps: each a dimension dropped, added, grown, shrunk or zeroed.
    @Test func seededShapeForgeriesAreNamed() throws {
        let file = try SafeTensorsFile(path: Self.start)
        let names = file.tensorNames
        var state: UInt64 = 0x5EED
        func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        for _ in 0..<12 {
            let name = names[next(names.count)]
            var shape = try file.info(name).shape
            switch next(5) {
            case 0: if !shape.isEmpty { shape.removeLast() }
            case 1: shape.append(2)
            case 2: if !shape.isEmpty { shape[next(shape.count)] += 1 }
            case 3: if !shape.isEmpty { shape[next(shape.count)] = max(0, shape[next(shape.count)] - 1) }
            default: if !shape.isEmpty { shape[next(shape.count)] = 0 }
            }
            guard shape != (try file.info(name).shape) else { continue }
            let forged = try file.info(name).dtype.isFloatingPoint
                ? try StoredTensor(name: name, encoding: Tensor(shape: shape, repeating: 0.25), as: .f32)
                : try StoredTensor(name: name, encoding: Tensor<Int>(shape: shape, repeating: 0), as: .i64)
            try judge(forged, expectError: true)
        }
    }

    /// A copy of goldens/tiny with `edit` applied to its manifest's text; `verify`'s error.
    func verifyEdited(_ edit: (String) -> String) throws -> GoldenError? {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("assay-edited-\(UUID())").path
        try FileManager.default.copyItem(atPath: Self.goldens, toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let text = try String(contentsOfFile: copy + "/manifest.json", encoding: .utf8)
        #expect(edit(text) != text, "the edit did not apply")
        try edit(text).write(toFile: copy + "/manifest.json", atomically: true, encoding: .utf8)
        return #expect(throws: GoldenError.self) { try GoldenVerifier.verify(copy) }
    }

    /// A case file outside the set (once read from there, and `verify` said OK after the in-set copy was deleted) and
    /// a case listed twice are refused.
    @Test func manifestPathsStayInsideTheSetAndCasesAreUnique() throws {
        let outside = try verifyEdited {
            $0.replacing(#""file": "start.taps.safetensors""#, with: #""file": "../tiny/start.taps.safetensors""#)
        }
        #expect(outside?.message == "'cases[0].taps.file': '../tiny/start.taps.safetensors' is not a plain file "
                + "name in the set (no directory, no '..')")
        let twice = try verifyEdited { $0.replacing(#""name": "long""#, with: #""name": "start""#) }
        #expect(twice?.message == "case 'start' is listed twice")
    }
}
