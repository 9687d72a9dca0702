// SafeTensorsFileWriter: runs written in any order give the bytes SafeTensorsWriter serializes for the same tensors,
// and a file with a tensor short of its bytes, or a run outside its tensor, is refused naming the tensor.

import Foundation
import Testing
@testable import Tensor

@Suite struct SafeTensorsFileWriterTests {
    static let tensors = [
        try! stored("w", .f8e4m3, [2, 3], [1, -2, 0.5, 448, 0, -0.25]), try! stored("s", .f32, [], [0.125]),
        try! stored("b", .bf16, [4], [1, 2, 3, 4]),
    ]

    static func slots() throws -> [TensorSlot] {
        try tensors.map { try TensorSlot(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
    }

    @Test func runsInAnyOrderGiveTheSerializedBytes() throws {
        let directory = try TemporaryDirectory()
        let writer = try SafeTensorsFileWriter(path: directory.file("a.safetensors"), tensors: Self.slots(),
                                               metadata: ["format": "pt"])
        let (w, s, b) = (Self.tensors[0].bytes, Self.tensors[1].bytes, Self.tensors[2].bytes)
        try writer.write(Array(b[4...]), tensor: "b", at: 4)                 // the second half of b first
        try writer.write(Array(w[3...]), tensor: "w", at: 3)
        try writer.write(s, tensor: "s")
        try writer.write(Array(w[..<3]), tensor: "w")
        try writer.write(Array(b[..<4]), tensor: "b")
        try writer.finish()
        let written = Array(try Data(contentsOf: URL(fileURLWithPath: directory.file("a.safetensors"))))
        #expect(written == (try SafeTensorsWriter.serialize(Self.tensors, metadata: ["format": "pt"])))
    }

    @Test func aShortTensorOrARunOutsideItIsRefused() throws {
        let directory = try TemporaryDirectory()
        let writer = try SafeTensorsFileWriter(path: directory.file("a.safetensors"), tensors: Self.slots())
        #expect(errorText { try writer.write([1, 2], tensor: "s", at: 3) }
                == "a.safetensors: tensor 's': bytes 3..<5 outside its 4")
        #expect(errorText { try writer.write([1], tensor: "x") } == "a.safetensors: tensor 'x': not in this file")
        try writer.write(Self.tensors[0].bytes, tensor: "w")
        try writer.write(Self.tensors[1].bytes, tensor: "s")
        #expect(errorText { try writer.finish() } == "a.safetensors: tensor 'b': 0 bytes written of its 8")
    }

    @Test func slotsAreCheckedAsStoredTensorsAre() {
        #expect(errorText { try TensorSlot(name: "", dtype: .f32, shape: [1]) } != nil)
        #expect(errorText { try TensorSlot(name: "__metadata__", dtype: .f32, shape: [1]) } != nil)
        #expect(errorText { try TensorSlot(name: "n", dtype: .f32, shape: [-1]) } != nil)
        #expect(errorText { try TensorSlot(name: "n", dtype: .f64, shape: [1 << 62, 4]) } != nil)
    }
}
