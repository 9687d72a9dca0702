// The CUDA plugin's kernels, executed: the same Sources/CUDA files compiled by the host compiler against the
// emulation of Sources/CUDA/host (spec/plugin-abi.md §5) and diffed against the goldens in f32, FP8 E4M3 and bf16;
// the emulation has teeth: a kernel with a barrier removed, an index or a shuffle offset shifted, a lane gone before
// a shuffle, or a poisoned cache row read fails; and the device weight cache never serves a changed buffer stale.

import Foundation
import Testing
import Backends
import MistralSmall4
import Validation

@Suite(.serialized) struct CUDAEmulationTests {
    static let repository = BLASBackendTests.repository
    static let sources = repository.appendingPathComponent("Sources/CUDA").path

    /// The CUDA include folder the host build compiles against (cuda_runtime.h, cuda_bf16.h, cuda_fp8.h):
    /// `Tools/build-cuda --print-include`, which installs the PyPI wheels into .build-cuda/venv on first use, as
    /// `Tools/build-cuda --host` does. nil when it found none.
    static let cudaInclude: String? = {
        let script = Process(), output = Pipe()
        script.executableURL = repository.appendingPathComponent("Tools/build-cuda")
        script.arguments = ["--print-include"]
        script.standardOutput = output
        guard (try? script.run()) != nil else { return nil }
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        script.waitUntilExit()
        let folder = String(decoding: printed, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let complete = ["cuda_runtime.h", "cuda_bf16.h", "cuda_fp8.h"].allSatisfy {
            FileManager.default.fileExists(atPath: folder + "/" + $0)
        }
        return script.terminationStatus == 0 && complete ? folder : nil
    }()

    /// Why a host library could not be built.
    struct BuildFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `arguments[0]` with the rest; true when it exits 0.
    static func run(_ arguments: [String]) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    /// The host library built from a copy of Sources/CUDA with `edit` applied to file `file`; its path.
    static func hostLibrary(_ label: String, file: String? = nil, edit: (String) -> String = { $0 }) throws -> String {
        guard let include = cudaInclude else {
            throw BuildFailure(description: """
                no CUDA headers for the host emulation: `Tools/build-cuda --print-include` printed no folder holding \
                cuda_runtime.h, cuda_bf16.h and cuda_fp8.h (it installs nvidia-cuda-runtime and the other PyPI \
                wheels into .build-cuda/venv; its messages are above)
                """)
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("assay-cuda-\(label)-\(UUID())").path
        try FileManager.default.copyItem(atPath: sources, toPath: directory)
        if let file {
            let path = directory + "/" + file
            let original = try String(contentsOfFile: path, encoding: .utf8)
            let edited = edit(original)
            guard edited != original else { throw BuildFailure(description: "the planted change did not apply to \(file)") }
            try edited.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let units = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".cu") }.sorted()
        let compiled = try run(["c++", "-O1", "-std=c++20", "-fPIC", "-shared", "-isystem", include, "-I",
                                repository.path + "/Sources/CAssayPlugin/include", "-I", directory, "-x", "c++"]
                               + units.map { directory + "/" + $0 }
                               + ["-x", "none", directory + "/host/cuda_host.cpp", "-o", directory + "/libassay_cuda_host.so"])
        guard compiled else { throw BuildFailure(description: "c++ failed on the CUDA sources (\(label))") }
        return directory + "/libassay_cuda_host.so"
    }

    /// The unmodified host library, built once for every test that runs it as it is.
    static let unmodified = Result { try hostLibrary("as-is") }

    func diff(_ library: String, _ set: String, _ mode: DiffMode) throws -> DiffResult {
        let data = try GoldenData.load(Self.repository.path + "/goldens/" + set)
        return try DiffEngine.run(try PluginBackend(path: library), on: data, mode: mode, tolerances: try Tolerances(.f32))
    }

    /// Every op in f32, and the FP8 E4M3 entry points on tiny-fp8-static (Hugging Face's convention, per-expert
    /// scales): every tap compared, none failed, in the three modes.
    @Test func theKernelsPassTheGoldensUnderEmulation() throws {
        let library = try Self.unmodified.get()
        for set in ["tiny", "tiny-vision", "tiny-fp8-static"] {
            for mode in DiffMode.allCases {
                let result = try diff(library, set, mode)
                #expect(result.failures.isEmpty, "\(set) \(mode): \(result.failures.first?.tap ?? "")")
                #expect(result.notCovered.isEmpty && result.verdicts.count > 130, "\(set) \(mode)")
            }
        }
    }

    /// vLLM's activation convention (spec/quant.md eq. 3) and per-layer expert scales, on a set made here.
    @Test func theFP8KernelsPassASetInVLLMsConvention() throws {
        let library = try Self.unmodified.get()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("assay-cuda-vllm-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = GoldenOptions(preset: .tiny)
        options.profile = .fp8StaticVLLM
        options.images = 0
        try GoldenSet.write(options, to: directory)
        let result = try DiffEngine.run(try PluginBackend(path: library), on: try GoldenData.load(directory),
                                        mode: .isolated, tolerances: try Tolerances(.f32))
        #expect(result.failures.isEmpty && result.notCovered.isEmpty, "\(result.failures.first?.tap ?? "")")
    }

    /// The bf16 entry points (embedding, rms_norm, add, swiglu, lm_head) against an hf-bf16 set, isolated.
    @Test func theBF16KernelsPassAnHFBF16SetIsolated() throws {
        let backend = try PluginBackend(path: try Self.unmodified.get(), isolation: .inProcess, dtype: .bf16)
        #expect(backend.operations == [.embedding, .rmsNorm, .add, .swiglu, .lmHead])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("assay-cuda-bf16-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try PluginBackendTests.expectBF16OpsPass(backend, setAt: path)
    }

    /// A kernel bug planted in a copy of the sources: `original` becomes `planted` in `file`; the diff of goldens/tiny
    /// in `mode` must fail a tap ending in `tap`, with `note` (when not empty) in its verdict's note.
    struct PlantedBug: Sendable, CustomTestStringConvertible {
        let testDescription, file, original, planted: String
        let mode: DiffMode
        let tap: String
        var note = ""
    }

    static let plantedBugs = [
        PlantedBug(testDescription: "the tile GEMM without the barrier after its loads: threads read tiles the others "
                   + "have not loaded yet", file: "gemm.cu",
                   original: "        __syncthreads();\n        for (int i = 0; i < tile; i++)",
                   planted: "        for (int i = 0; i < tile; i++)", mode: .isolated, tap: ".mlp"),
        PlantedBug(testDescription: "attend without the barrier between writing a chunk of scores and reading it",
                   file: "block.cuh",
                   original: "        }\n        __syncthreads();\n        for (int64_t i = threadIdx.x; i < width; i += blockDim.x) {",
                   planted: "        }\n        for (int64_t i = threadIdx.x; i < width; i += blockDim.x) {",
                   mode: .isolated, tap: ".self_attn"),
        PlantedBug(testDescription: "the decode kernel taking the new token's key from the cache, one row past the "
                   + "valid length: it reads the NaN poison", file: "attention.cu",
                   original: "auto key = [&](int64_t j) { return j < valid ?",
                   planted: "auto key = [&](int64_t j) { return j <= valid ?", mode: .decode, tap: ".self_attn"),
        PlantedBug(testDescription: "the embedding gather one column off", file: "norms.cu",
                   original: "table[ids[i / hidden] * hidden + i % hidden]",
                   planted: "table[ids[i / hidden] * hidden + (i + 1) % hidden]", mode: .isolated, tap: "embed_tokens"),
        PlantedBug(testDescription: "the router's arg-max butterfly shuffling the index from the wrong lane (offset / 2 "
                   + "where the value comes from offset): probabilities paired with other lanes' experts",
                   file: "router.cu", original: "__shfl_xor_sync(full_warp, best.index, offset)",
                   planted: "__shfl_xor_sync(full_warp, best.index, offset / 2)", mode: .isolated,
                   tap: ".mlp.gate#indices"),
        PlantedBug(testDescription: "a router lane leaving before the first shuffle: a warp barrier that can never "
                   + "complete (a hang or undefined on a GPU) fails the launch", file: "router.cu",
                   original: "    float top = -INFINITY, total = 0.0f;\n",
                   planted: "    if (lane == 31) return;\n    float top = -INFINITY, total = 0.0f;\n", mode: .isolated,
                   tap: ".mlp.gate#indices", note: "cudaErrorLaunchFailure"),
    ]

    @Test(arguments: plantedBugs)
    func aPlantedBugFails(_ bug: PlantedBug) throws {
        let library = try Self.hostLibrary("planted", file: bug.file) {
            $0.replacing(bug.original, with: bug.planted, maxReplacements: 1)
        }
        let failures = try diff(library, "tiny", bug.mode).failures
        #expect(failures.contains { $0.tap.hasSuffix(bug.tap) && (bug.note.isEmpty || $0.note.contains(bug.note)) })
    }

    /// The emulation's warp and atomic primitives on two blocks of two warps, against CUDA's rules: shuffles (a
    /// source lane, down with the lane's own value past the end, xor, within segments of 8), votes, a barrier of half
    /// a warp while the other half runs on and exits, and atomics from every thread.
    @Test func theWarpPrimitivesAndAtomicsFollowCUDAsRules() throws {
        let include = try #require(Self.cudaInclude)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("assay-cuda-probe-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
            #include <cstdio>
            #include "cuda_compat.cuh"
            __global__ void probe(int *shuffled, unsigned *votes, float *total, int *largest) {
                const int t = threadIdx.x, lane = t % 32, value = 100 * blockIdx.x + t, at = blockIdx.x * 64 + t;
                shuffled[at * 4] = __shfl_sync(0xffffffffu, value, 3);
                shuffled[at * 4 + 1] = __shfl_down_sync(0xffffffffu, value, 5);
                shuffled[at * 4 + 2] = __shfl_xor_sync(0xffffffffu, value, 9);
                shuffled[at * 4 + 3] = __shfl_sync(0xffffffffu, value, lane + 1, 8);
                votes[at * 3] = __ballot_sync(0xffffffffu, value % 3 == 0);
                votes[at * 3 + 1] = __any_sync(0xffffffffu, lane == 7 && blockIdx.x == 1);
                votes[at * 3 + 2] = __all_sync(0xffffffffu, value % 2 == 0);
                if (lane < 16) __syncwarp(0x0000ffffu);
                atomicAdd(total, 0.5f);
                atomicMax(largest, value);
            }
            int main() {
                int *shuffled = new int[128 * 4], *largest = new int(-1), bad = 0;   // the emulation's device
                unsigned *votes = new unsigned[128 * 3];                             // memory is host memory
                float *total = new float(0);
                ASSAY_LAUNCH(probe, 2, 64, shuffled, votes, total, largest);
                if (cudaGetLastError() != cudaSuccess) return 3;
                for (int b = 0; b < 2; b++)
                    for (int t = 0; t < 64; t++) {
                        const int lane = t % 32, first = 100 * b + t - lane, at = b * 64 + t;
                        unsigned ballot = 0;
                        for (int l = 0; l < 32; l++) ballot |= (first + l) % 3 == 0 ? 1u << l : 0;
                        const int expected[4] = {first + 3, lane + 5 < 32 ? first + lane + 5 : first + lane,
                                                 first + (lane ^ 9), first + lane / 8 * 8 + (lane + 1) % 8};
                        for (int i = 0; i < 4; i++) bad += shuffled[at * 4 + i] != expected[i];
                        bad += votes[at * 3] != ballot || votes[at * 3 + 1] != unsigned(b == 1) || votes[at * 3 + 2] != 0;
                    }
                std::printf("%d wrong, total %g, largest %d\\n", bad, *total, *largest);
                return bad == 0 && *total == 64.0f && *largest == 163 ? 0 : 1;
            }
            """.write(toFile: directory + "/probe.cpp", atomically: true, encoding: .utf8)
        #expect(try Self.run(["c++", "-std=c++20", "-isystem", include, "-I", Self.sources, directory + "/probe.cpp",
                              Self.sources + "/host/cuda_host.cpp", "-o", directory + "/probe"]))
        #expect(try Self.run([directory + "/probe"]))
    }

    /// The weight cache: a weight buffer changed in place between two calls, at the same address and size, gives the
    /// new result (its hash no longer matches, so it is uploaded again); unchanged, it gives the same result.
    @Test func aChangedWeightAtTheSameAddressIsNotServedStale() throws {
        let library = try Self.unmodified.get()
        let directory = (library as NSString).deletingLastPathComponent
        try """
            #include <stdio.h>
            #include "assay_plugin.h"
            int main(void) {
                const assay_rms_norm_args args = {1, 4, 1e-6f};
                float x[4] = {1, 2, 3, 4}, weight[4] = {1, 1, 1, 1}, first[4], again[4], changed[4];
                if (assay_rms_norm_f32(&args, x, weight, first) || assay_rms_norm_f32(&args, x, weight, again)) return 2;
                weight[2] = 3;   /* same address, same size, new bytes */
                if (assay_rms_norm_f32(&args, x, weight, changed)) return 2;
                for (int i = 0; i < 4; i++) {
                    float expected = weight[i] * first[i];
                    if (again[i] != first[i] || changed[i] != expected) {
                        printf("element %d: %g %g %g (expected %g)\\n", i, first[i], again[i], changed[i], expected);
                        return 1;
                    }
                }
                return 0;
            }
            """.write(toFile: directory + "/cache.c", atomically: true, encoding: .utf8)
        #expect(try Self.run(["cc", "-I", Self.repository.path + "/Sources/CAssayPlugin/include", directory + "/cache.c",
                         library, "-Wl,-rpath," + directory, "-o", directory + "/cache"]))
        #expect(try Self.run([directory + "/cache"]), "the second weight was served from the cache stale")
    }
}
