// The CUDA plugin's kernels, executed: the same Sources/CUDA files compiled by the host compiler against the
// emulation of Sources/CUDA/host (spec/plugin-abi.md §5) and diffed against the goldens; and the emulation has
// teeth: a kernel with a barrier removed, an index shifted or a poisoned cache row read fails.

import Foundation
import Testing
import Backends
import MistralSmall4
import Validation

@Suite(.serialized) struct CUDAEmulationTests {
    static let repository = BLASBackendTests.repository
    static let sources = repository.appendingPathComponent("Sources/CUDA").path

    /// The host library built from a copy of Sources/CUDA with `edit` applied to file `file`; its path.
    func hostLibrary(_ label: String, file: String? = nil, edit: (String) -> String = { $0 }) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("assay-cuda-\(label)-\(UUID())").path
        try FileManager.default.copyItem(atPath: Self.sources, toPath: directory)
        if let file {
            let path = directory + "/" + file
            let original = try String(contentsOfFile: path, encoding: .utf8)
            let edited = edit(original)
            #expect(edited != original, "the planted change did not apply to \(file)")
            try edited.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let units = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".cu") }.sorted()
        let compile = Process()
        compile.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        compile.arguments = ["c++", "-O1", "-std=c++17", "-fPIC", "-shared", "-I", Self.repository.path
                             + "/Sources/CAssayPlugin/include", "-I", directory, "-x", "c++"]
            + units.map { directory + "/" + $0 } + ["-x", "none", directory + "/host/cuda_host.cpp", "-o",
                                                    directory + "/libassay_cuda_host.so"]
        try compile.run()
        compile.waitUntilExit()
        #expect(compile.terminationStatus == 0, "c++ failed on the CUDA sources")
        return directory + "/libassay_cuda_host.so"
    }

    func diff(_ library: String, _ set: String, _ mode: DiffMode) throws -> DiffResult {
        let data = try GoldenData.load(Self.repository.path + "/goldens/" + set)
        return try DiffEngine.run(try PluginBackend(path: library), on: data, mode: mode, tolerances: try Tolerances(.f32))
    }

    @Test func theKernelsPassTheGoldensUnderEmulation() throws {
        let library = try hostLibrary("as-is")
        for set in ["tiny", "tiny-vision"] {
            for mode in DiffMode.allCases {
                let result = try diff(library, set, mode)
                #expect(result.failures.isEmpty, "\(set) \(mode): \(result.failures.first?.tap ?? "")")
                #expect(result.notCovered.isEmpty && result.verdicts.count > 130, "\(set) \(mode)")
            }
        }
    }

    /// The tile GEMM without the barrier after its loads: threads read tiles the others have not loaded yet.
    @Test func aMissingBarrierFails() throws {
        let library = try hostLibrary("no-barrier", file: "gemm.cu") {
            $0.replacing("        __syncthreads();\n        for (int i = 0; i < tile; i++)",
                         with: "        for (int i = 0; i < tile; i++)", maxReplacements: 1)
        }
        #expect(try diff(library, "tiny", .isolated).failures.contains { $0.tap.hasSuffix(".mlp") })
    }

    /// The attention helper without the barrier between writing a chunk of scores and reading it.
    @Test func aMissingBarrierInAttentionFails() throws {
        let library = try hostLibrary("attend", file: "block.cuh") {
            $0.replacing("        }\n        __syncthreads();\n        for (int64_t i = threadIdx.x; i < width; i += blockDim.x) {",
                         with: "        }\n        for (int64_t i = threadIdx.x; i < width; i += blockDim.x) {", maxReplacements: 1)
        }
        #expect(try diff(library, "tiny", .isolated).failures.contains { $0.tap.hasSuffix(".self_attn") })
    }

    /// A decode kernel that takes the new token's key from the cache, one row past the valid length, reads the
    /// NaN poison and fails.
    @Test func readingAPoisonedCacheRowFails() throws {
        let library = try hostLibrary("poison", file: "attention.cu") {
            $0.replacing("auto key = [&](int64_t j) { return j < valid ?", with: "auto key = [&](int64_t j) { return j <= valid ?")
        }
        #expect(try diff(library, "tiny", .decode).failures.contains { $0.tap.hasSuffix(".self_attn") })
    }

    /// The embedding gather one column off.
    @Test func aShiftedIndexFails() throws {
        let library = try hostLibrary("shifted", file: "norms.cu") {
            $0.replacing("table[ids[i / hidden] * hidden + i % hidden]", with: "table[ids[i / hidden] * hidden + (i + 1) % hidden]")
        }
        #expect(try diff(library, "tiny", .isolated).failures.contains { $0.tap.hasSuffix("embed_tokens") })
    }
}
