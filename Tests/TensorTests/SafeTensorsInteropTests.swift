import Foundation
import Testing
@testable import Tensor

/// Python → Assay without Python: a file written by Python `safetensors` (Tools/make_interop_fixture.py)
/// with every dtype, and the values Python decoded from it.
@Suite struct SafeTensorsInteropTests {
    let path = Fixtures.url("interop/python-written.safetensors").path

    /// A value from python-written.json: a number, or "nan" / "inf" / "-inf".
    func double(_ value: JSONValue) -> Double? {
        switch value.stringValue {
        case "nan": .nan
        case "inf": .infinity
        case "-inf": -.infinity
        default: value.doubleValue
        }
    }

    @Test func everyTensorDecodesToThePythonValues() throws {
        let expected = try Fixtures.json("interop/python-written.json")
        let file = try SafeTensorsFile(path: path)
        #expect(file.metadata == ["format": "pt"])
        let tensors = try #require(expected["tensors"]?.objectValue)
        #expect(Set(file.tensorNames) == Set(tensors.map(\.key)))
        #expect(Set(file.tensors.map(\.dtype)) == Set(DType.allCases))
        for (name, entry) in tensors {
            let info = try file.info(name)
            #expect(info.dtype.rawValue == entry["dtype"]?.stringValue, "\(name)")
            #expect(info.shape == entry["shape"]?.arrayValue?.compactMap(\.intValue), "\(name)")
            let values = entry["values"]?.arrayValue ?? []
            if info.dtype.isFloatingPoint {
                let got = try file.doubles(name).scalars
                let want = values.map { double($0) ?? 0 }
                #expect(got.count == want.count, "\(name)")
                for (g, w) in zip(got, want) {
                    #expect(g.bitPattern == w.bitPattern || g.isNaN && w.isNaN, "\(name): \(g) != \(w)")
                }
            } else {
                #expect(try file.integers(name).scalars == values.compactMap(\.intValue), "\(name)")
            }
        }
    }

    @Test func rewritingThePythonFileGivesTheSameBytes() throws {
        let file = try SafeTensorsFile(path: path)
        let tensors = try file.tensorNames.map { try file.stored($0) }
        let rewritten = try SafeTensorsWriter.serialize(tensors, metadata: file.metadata)
        #expect(Data(rewritten) == FileManager.default.contents(atPath: path))
    }
}
