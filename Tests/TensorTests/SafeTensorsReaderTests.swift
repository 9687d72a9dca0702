import Foundation
import Testing
@testable import Tensor

@Suite struct SafeTensorsReaderTests {
    @Test func opensHeaderWithMetadataShapesAndOffsets() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("weights.safetensors")
        try SafeTensorsWriter.write(
            [try stored("norm", .f32, [3], [1, 2, 3]), try stored("ids", .i64, [2, 1], [4, 5])],
            metadata: ["format": "pt"], to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(file.name == "weights.safetensors")
        #expect(file.metadata == ["format": "pt"])
        #expect(file.tensors == [
            TensorInfo(name: "ids", dtype: .i64, shape: [2, 1], dataOffsets: 0..<16),
            TensorInfo(name: "norm", dtype: .f32, shape: [3], dataOffsets: 16..<28),
        ])
        #expect(file.dataStart % 8 == 0)
        #expect(try file.bytes("norm") == [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40])
    }

    @Test func floatDtypesWidenExactlyToDouble() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("floats.safetensors")
        // Bit patterns: F16 0x3555 ≈ 1/3, BF16 0x3EAB ≈ 1/3, E4M3 0x01 = 2^-9, E5M2 0x7B = 57344.
        try SafeTensorsWriter.write([
            try StoredTensor(name: "f16", dtype: .f16, shape: [2], bytes: [0x55, 0x35, 0x00, 0xFC]),
            try StoredTensor(name: "bf16", dtype: .bf16, shape: [1], bytes: [0xAB, 0x3E]),
            try StoredTensor(name: "e4m3", dtype: .f8e4m3, shape: [2], bytes: [0x01, 0x7F]),
            try StoredTensor(name: "e5m2", dtype: .f8e5m2, shape: [1], bytes: [0x7B]),
            try stored("f32", .f32, [1], [0.1]),
        ], to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(try file.doubles("f16").scalars == [0.333251953125, -.infinity])
        #expect(try file.doubles("bf16").scalars == [0.333984375])
        let e4m3 = try file.doubles("e4m3").scalars
        #expect(e4m3[0] == 0x1p-9 && e4m3[1].isNaN)
        #expect(try file.doubles("e5m2").scalars == [57344])
        #expect(try file.doubles("f32").scalars == [Double(Float(0.1))])
        #expect(try file.floats("f16").scalars == [0.333251953125, -.infinity])
    }

    @Test func f64ReadAsFloatRoundsToNearestEven() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("f64.safetensors")
        // 1 + 2^-24 lies halfway between Float neighbours 1 and 1 + 2^-23: ties go to the even one, 1.
        try SafeTensorsWriter.write([try stored("x", .f64, [3], [0.1, 1 + 0x1p-24, 1 + 0x1.8p-23])], to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(try file.floats("x").scalars == [Float(0.1), 1, 1 + 0x1p-22])
        #expect(try file.doubles("x").scalars == [0.1, 1 + 0x1p-24, 1 + 0x1.8p-23])
    }

    @Test func integersReadExactlyAsIntDoubleAndFloat() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("ints.safetensors")
        try SafeTensorsWriter.write([
            try StoredTensor(name: "i64", encoding: Tensor(shape: [3], scalars: [Int.min, 1 << 53, -5]), as: .i64),
            try stored("i32", .i32, [2], [-2_147_483_648, 16_777_216]),
            try stored("u8", .u8, [2], [0, 255]),
            try stored("i8", .i8, [2], [-128, 127]),
            try stored("bool", .bool, [2], [1, 0]),
        ], to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(try file.integers("i64").scalars == [Int.min, 1 << 53, -5])
        #expect(try file.integers("i32").scalars == [-2_147_483_648, 16_777_216])
        #expect(try file.integers("u8").scalars == [0, 255])
        #expect(try file.integers("i8").scalars == [-128, 127])
        #expect(try file.integers("bool").scalars == [1, 0])
        #expect(try file.doubles("i32").scalars == [-2_147_483_648, 16_777_216])
        #expect(try file.floats("i8").scalars == [-128, 127])
        #expect(try file.floats("u8").shape == [2])
    }

    @Test func integersThatDoubleOrFloatCannotHoldAreErrors() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("big.safetensors")
        let values = [1 << 53, -(1 << 53), (1 << 53) + 1]
        try SafeTensorsWriter.write([
            try StoredTensor(name: "i64", encoding: Tensor(shape: [3], scalars: values), as: .i64),
            try stored("i32", .i32, [2], [16_777_216, -16_777_217]),
        ], to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(errorText { try file.doubles("i64") } == "big.safetensors: tensor 'i64': element 2 of I64 is "
            + "9007199254740993, which Double cannot hold exactly (|v| > 2^53)")
        #expect(errorText { try file.floats("i32") } == "big.safetensors: tensor 'i32': element 1 of I32 is "
            + "-16777217, which Float cannot hold exactly (|v| > 2^24)")
        #expect(try file.doubles("i32").scalars == [16_777_216, -16_777_217])
    }

    @Test func kindMismatchesAndBadBoolBytesAreErrors() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("kinds.safetensors")
        try SafeTensorsWriter.write([
            try stored("w", .bf16, [1], [1]),
            try StoredTensor(name: "mask", dtype: .bool, shape: [3], bytes: [1, 0, 2]),
        ], to: path)
        let file = try SafeTensorsFile(path: path)
        #expect(errorText { try file.integers("w") }
                == "kinds.safetensors: tensor 'w': BF16 holds floating-point values; read it as Double or Float")
        #expect(errorText { try file.doubles("mask") }
                == "kinds.safetensors: tensor 'mask': BOOL holds truth values; read it as Int")
        #expect(errorText { try file.integers("mask") }
                == "kinds.safetensors: tensor 'mask': element 2 of BOOL is 2, not 0 or 1")
    }

    @Test func askingForAMissingTensorNamesTensorAndFile() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("one.safetensors")
        try SafeTensorsWriter.write([try stored("present", .f32, [1], [1])], to: path)
        let file = try SafeTensorsFile(path: path)
        let expected = "one.safetensors: tensor 'absent': no such tensor in this file"
        #expect(errorText { try file.info("absent") } == expected)
        #expect(errorText { try file.doubles("absent") } == expected)
        #expect(errorText { try file.bytes("absent") } == expected)
        #expect(file.contains("present") && !file.contains("absent"))
    }

    @Test func unopenablePathsAreClearErrors() throws {
        let directory = try TemporaryDirectory()
        #expect(errorText { try SafeTensorsFile(path: directory.file("missing.safetensors")) }
                == "missing.safetensors: cannot open: No such file or directory")
        try FileManager.default.createDirectory(
            atPath: directory.file("dir.safetensors"), withIntermediateDirectories: false)
        #expect(errorText { try SafeTensorsFile(path: directory.file("dir.safetensors")) }
                == "dir.safetensors: not a regular file (a directory)")
    }

    /// A 2 GiB sparse tensor beside a small one: opening and reading the small one must not read the big one
    /// (reading it would allocate 2 GiB and take seconds; the file occupies almost no disk).
    @Test func readingOneTensorLeavesTheOthersUntouched() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("sparse.safetensors")
        let big = 1 << 31
        var header = Array(#"{"small":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#.utf8)
        header += Array(#""big":{"dtype":"U8","shape":[\#(big)],"data_offsets":[8,\#(8 + big)]}}"#.utf8)
        var prefix: [UInt8] = []
        appendLittleEndian(UInt64(header.count), to: &prefix)
        prefix += header + [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40]
        try Data(prefix).write(to: URL(fileURLWithPath: path))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(prefix.count + big))
        try handle.close()

        let file = try SafeTensorsFile(path: path)
        #expect(try file.doubles("small").scalars == [1, 2])
        #expect(try file.info("big").dataOffsets == 8..<(8 + big))
    }
}
