import Foundation
import Testing
@testable import Tensor

@Suite struct SafeTensorsCheckpointTests {
    static let shard1 = "model-00001-of-00002.safetensors"
    static let shard2 = "model-00002-of-00002.safetensors"

    /// A two-shard checkpoint: `embed` and `norm` in shard 1, `head` in shard 2.
    func shardedCheckpoint() throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory()
        let shard1 = [try stored("embed", .bf16, [2, 2], [1, 2, 3, 4]), try stored("norm", .f32, [2], [1, 1])]
        try SafeTensorsWriter.write(shard1, metadata: ["format": "pt"], to: directory.file(Self.shard1))
        try SafeTensorsWriter.write([try stored("head", .f16, [2], [0.5, -0.5])], to: directory.file(Self.shard2))
        let index = #"{"metadata": {"total_size": 24}, "weight_map": {"embed": "\#(Self.shard1)", "#
            + #""norm": "\#(Self.shard1)", "head": "\#(Self.shard2)"}}"#
        let indexPath = directory.file("model.safetensors.index.json")
        try Data(index.utf8).write(to: URL(fileURLWithPath: indexPath))
        return directory
    }

    @Test func shardedCheckpointLooksUpTensorsAcrossShards() throws {
        let directory = try shardedCheckpoint()
        let checkpoint = try Checkpoint(directory: directory.path)
        #expect(checkpoint.indexFile == "model.safetensors.index.json")
        #expect(checkpoint.indexMetadata == .object([("total_size", .int(24))]))
        #expect(checkpoint.shards.map(\.name) == [Self.shard1, Self.shard2])
        #expect(checkpoint.tensorNames == ["embed", "head", "norm"])
        #expect(try checkpoint.shard(containing: "head").name == Self.shard2)
        #expect(try checkpoint.shard(containing: "head").doubles("head").scalars == [0.5, -0.5])
        #expect(try checkpoint.shard(containing: "embed").metadata == ["format": "pt"])
        #expect(errorText { try checkpoint.shard(containing: "lm_head") }
                == "\(directory.path.split(separator: "/").last!): tensor 'lm_head': no such tensor in this checkpoint")
    }

    @Test func directoryWithoutIndexOpensModelSafetensors() throws {
        let directory = try TemporaryDirectory()
        try SafeTensorsWriter.write([try stored("w", .f32, [1], [3])], to: directory.file("model.safetensors"))
        let checkpoint = try Checkpoint(directory: directory.path)
        #expect(checkpoint.indexFile == nil)
        #expect(checkpoint.shards.map(\.name) == ["model.safetensors"])
        #expect(try checkpoint.shard(containing: "w").doubles("w").scalars == [3])
    }

    @Test func pathsThatAreNotCheckpointDirectoriesAreErrors() throws {
        let directory = try TemporaryDirectory()
        #expect(errorText { try Checkpoint(directory: directory.file("nowhere")) } == "nowhere: does not exist")
        try SafeTensorsWriter.write([], to: directory.file("model.safetensors"))
        #expect(errorText { try Checkpoint(directory: directory.file("model.safetensors")) }
                == "model.safetensors: is not a directory")
        #expect(!FilePath.isDirectory(directory.file("model.safetensors")) && FilePath.isDirectory(directory.path))
    }
}
