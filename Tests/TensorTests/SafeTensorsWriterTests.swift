import Foundation
import Testing
@testable import Tensor

@Suite struct SafeTensorsWriterTests {
    /// The header text of a serialized file (without the length prefix and padding).
    func headerText(_ bytes: [UInt8]) -> String {
        let length = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        return String(decoding: bytes[8..<(8 + length)], as: UTF8.self)
    }

    @Test func layoutIsExactBytes() throws {
        let bytes = try SafeTensorsWriter.serialize([try stored("attn0", .f32, [1, 2, 3], [0, 1, 2, 3, 4, 5])])
        let header = #"{"attn0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}"#  // 63 bytes
        let data: [UInt8] = [0, 0, 0, 0, 0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40,
                             0, 0, 0x80, 0x40, 0, 0, 0xA0, 0x40]
        #expect(bytes == [64, 0, 0, 0, 0, 0, 0, 0] + Array((header + " ").utf8) + data)
    }

    @Test func dataIsOrderedByDtypeRankThenNameAndHeaderFollowsIt() throws {
        let tensors = [
            try stored("b", .f64, [1], [1]), try stored("a", .f64, [1], [1]), try stored("z", .i64, [1], [1]),
            try stored("m", .bool, [1], [1]), try stored("m2", .u8, [1], [1]), try stored("e5", .f8e5m2, [1], [1]),
            try stored("e4", .f8e4m3, [1], [1]), try stored("h", .f16, [1], [1]), try stored("bf", .bf16, [1], [1]),
            try stored("i", .i32, [1], [1]), try stored("f", .f32, [1], [1]), try stored("s", .i8, [1], [1]),
            try stored("\u{e9}a", .f64, [1], [1]), try stored("e\u{301}x", .f64, [1], [1]),
        ]
        let file = try SafeTensorsFile.inMemory(SafeTensorsWriter.serialize(tensors))
        // Names compare by UTF-8 bytes, as in Rust: "e\u{301}x" (65 CC 81 78) < "\u{e9}a" (C3 A9 61),
        // although Swift's `<` (which compares canonical forms: "\u{e9}x" vs "\u{e9}a") orders them the other way.
        let expected = ["z", "a", "b", "e\u{301}x", "\u{e9}a", "f", "i", "bf", "h", "e4", "e5", "s", "m2", "m"]
        #expect(file.tensorNames == expected)
    }

    @Test func everyTensorIsAlignedToItsElementSizeAndTheHeaderTo8() throws {
        for nameLength in 1...9 {
            let name = String(repeating: "n", count: nameLength)
            let tensors = [
                try stored(name + ".u8", .u8, [3], [1, 2, 3]), try stored(name + ".f64", .f64, [2], [1, 2]),
                try stored(name + ".f16", .f16, [5], [1, 2, 3, 4, 5]), try stored(name + ".i32", .i32, [1], [7]),
            ]
            let metadata = ["k": String(repeating: "v", count: nameLength)]
            let bytes = try SafeTensorsWriter.serialize(tensors, metadata: metadata)
            let file = try SafeTensorsFile.inMemory(bytes)
            #expect(file.dataStart % 8 == 0)
            for info in file.tensors {
                #expect((file.dataStart + info.dataOffsets.lowerBound) % info.dtype.byteSize == 0)
            }
        }
    }

    @Test func sameTensorsGiveSameBytesInAnyInputOrder() throws {
        let tensors = [
            try stored("w", .bf16, [2, 2], [1, 2, 3, 4]), try stored("b", .f32, [2], [0.5, -0.5]),
            try stored("ids", .i64, [3], [1, 2, 3]), try stored("mask", .bool, [2], [1, 0]),
        ]
        let metadata = ["format": "pt", "a": "1", "z": "2"]
        let reference = try SafeTensorsWriter.serialize(tensors, metadata: metadata)
        #expect(try SafeTensorsWriter.serialize(tensors.reversed(), metadata: metadata) == reference)
        #expect(try SafeTensorsWriter.serialize([tensors[2], tensors[0], tensors[3], tensors[1]], metadata: metadata)
                == reference)
    }

    @Test func metadataComesFirstWithSortedKeysAndIsOmittedWhenEmpty() throws {
        let tensor = try stored("x", .u8, [1], [1])
        let withMetadata = try SafeTensorsWriter.serialize([tensor], metadata: ["z": "1", "a": "\"q\"\n"])
        #expect(headerText(withMetadata).hasPrefix(#"{"__metadata__":{"a":"\"q\"\n","z":"1"},"x":{"#))
        let without = try SafeTensorsWriter.serialize([tensor])
        #expect(headerText(without).hasPrefix(#"{"x":{"#))
        #expect(try SafeTensorsFile.inMemory(withMetadata).metadata == ["z": "1", "a": "\"q\"\n"])
        #expect(try SafeTensorsWriter.serialize([]) == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
    }

    @Test func doublesEncodeWithRoundToNearestEven() throws {
        // Each pair: a value exactly halfway between two neighbours (ties to even), and one just above a tie.
        let cases: [(DType, [Double], [Double])] = [
            (.f32, [1 + 0x1p-24, 1 + 0x1.8p-23], [1, 1 + 0x1p-22]),
            (.f16, [2049, 2051, 1e6], [2048, 2052, .infinity]),
            (.bf16, [1 + 0x1p-8, 1 + 0x1.8p-7, 0x1p-130, 0x1p-134], [1, 1 + 0x1p-6, 0x1p-130, 0]),
            (.f8e4m3, [1.0625, 1.1875, 0x1p-10, 464, 1000], [1, 1.25, 0, 448, .nan]),
            (.f8e5m2, [1.125, 1.375, 61440, -1e6], [1, 1.5, .infinity, -.infinity]),
            (.f64, [0.1, -0.0], [0.1, -0.0]),
        ]
        for (dtype, input, expected) in cases {
            let bytes = try SafeTensorsWriter.serialize([try stored("x", dtype, [input.count], input)])
            let file = try SafeTensorsFile.inMemory(bytes)
            let decoded = try file.doubles("x").scalars
            #expect(decoded.count == expected.count)
            for (got, want) in zip(decoded, expected) {
                #expect(got.bitPattern == want.bitPattern || got.isNaN && want.isNaN, "\(dtype): \(got) != \(want)")
            }
        }
    }

    @Test func integersOutsideTheDtypeRangeAreErrors() {
        func encode(_ values: [Int], _ dtype: DType) -> String? {
            errorText {
                try StoredTensor(name: "t", encoding: Tensor(shape: [values.count], scalars: values), as: dtype)
            }
        }
        #expect(encode([1, 300], .u8) == "tensor 't': element 1 is 300, outside U8's range 0...255")
        #expect(encode([-1], .u8) == "tensor 't': element 0 is -1, outside U8's range 0...255")
        #expect(encode([-129], .i8) == "tensor 't': element 0 is -129, outside I8's range -128...127")
        #expect(encode([0, 1, 2], .bool) == "tensor 't': element 2 is 2, outside BOOL's range 0...1")
        #expect(encode([1 << 31], .i32)
                == "tensor 't': element 0 is 2147483648, outside I32's range -2147483648...2147483647")
        #expect(encode([Int.min, Int.max], .i64) == nil)
        #expect(encode([1], .f32) == "tensor 't': cannot encode Ints as F32; encode a Tensor<Double> instead")
        #expect(errorText { try StoredTensor(name: "t", encoding: Tensor(shape: [1], scalars: [1.0]), as: .i32) }
                == "tensor 't': cannot encode Doubles as I32; encode a Tensor<Int> instead")
    }

    @Test func inconsistentTensorsAreRejectedBeforeWriting() {
        #expect(errorText { try StoredTensor(name: "t", dtype: .f64, shape: [4], bytes: [0, 0]) }
                == "tensor 't': given 2 bytes, but shape [4] of F64 needs 32")
        #expect(errorText { try StoredTensor(name: "t", dtype: .u8, shape: [1 << 62, 4], bytes: []) }
                == "tensor 't': shape [4611686018427387904, 4] has a negative extent or more elements than Int "
                    + "can count")
        #expect(errorText { try StoredTensor(name: "", dtype: .u8, shape: [0], bytes: []) }
                == "a tensor has an empty name")
        #expect(errorText { try StoredTensor(name: "__metadata__", dtype: .u8, shape: [0], bytes: []) }
                == "tensor '__metadata__': the name is reserved for metadata")
        #expect(errorText {
            try SafeTensorsWriter.serialize([try stored("t", .u8, [1], [1]), try stored("t", .f32, [1], [1])])
        } == "tensor 't': given twice")
    }

    @Test func writeReplacesTheTargetAndLeavesNoTempFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("out.safetensors")
        try SafeTensorsWriter.write([try stored("old", .u8, [1], [1])], to: path)
        try SafeTensorsWriter.write([try stored("new", .u8, [1], [2])], metadata: ["v": "2"], to: path)
        #expect(try directory.names() == ["out.safetensors"])
        let expected = try SafeTensorsWriter.serialize([try stored("new", .u8, [1], [2])], metadata: ["v": "2"])
        #expect(FileManager.default.contents(atPath: path) == Data(expected))
    }

    @Test func failedWriteRemovesItsTempFileAndKeepsTheTarget() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("out.safetensors")
        try AtomicDirectory.writeFile([7], to: path)
        // The body fails after some bytes reached the temp file.
        let failure = errorText {
            try AtomicFile.write(to: path) { sink throws(SafeTensorsError) in
                try sink.write([1, 2, 3])
                throw SafeTensorsError(file: "out.safetensors", "stopped mid-write")
            }
        }
        #expect(failure == "out.safetensors: stopped mid-write")
        #expect(try directory.names() == ["out.safetensors"])
        #expect(FileManager.default.contents(atPath: path) == Data([7]))
        #expect(errorText { try SafeTensorsWriter.write([], to: directory.file("missing/out.safetensors")) }?
            .hasPrefix("out.safetensors: cannot create temp file out.safetensors.tmp-") == true)
    }
}

extension SafeTensorsFile {
    /// Opens serialized bytes by writing them to a temp file (kept alive by the returned mapping).
    static func inMemory(_ bytes: [UInt8]) throws -> SafeTensorsFile {
        let directory = try TemporaryDirectory()
        let path = directory.file("memory.safetensors")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return try SafeTensorsFile(path: path)  // the mapping outlives the file's removal
    }
}
