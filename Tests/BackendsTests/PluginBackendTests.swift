// The C plugin ABI: the example plugin passes its ops and leaves the rest NOT COVERED; a plugin that writes past
// its output, leaves an output unwritten, speaks another ABI version or lists an op it does not export is caught.

import Foundation
import Testing
import Backends
import MistralSmall4
import Tensor
import Validation

@Suite(.serialized) struct PluginBackendTests {
    static let repository = BLASBackendTests.repository
    static let directory = FileManager.default.temporaryDirectory.appendingPathComponent("assay-plugins-\(UUID())").path

    /// Compiles C `source` (with assay_plugin.h and the example plugin's folder, whose files example_plugin.c
    /// #includes, on the include path) into a shared library; returns its path.
    func library(_ name: String, source: String) throws -> String {
        try FileManager.default.createDirectory(atPath: Self.directory, withIntermediateDirectories: true)
        let (c, so) = ("\(Self.directory)/\(name).c", "\(Self.directory)/lib\(name).so")
        try source.write(toFile: c, atomically: true, encoding: .utf8)
        let compile = Process()
        compile.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        compile.arguments = ["cc", "-shared", "-fPIC", "-O1", "-I", Self.repository.path + "/Sources/CAssayPlugin/include",
                             "-I", Self.repository.path + "/Examples/example-plugin", "-o", so, c, "-lm"]
        try compile.run()
        compile.waitUntilExit()
        #expect(compile.terminationStatus == 0, "cc failed on \(name).c")
        return so
    }

    func plugin(_ name: String, abi: String = "ASSAY_PLUGIN_ABI_VERSION", ops: String, body: String) throws -> String {
        try library(name, source: """
            #include "assay_plugin.h"
            static const assay_op_info ops[] = { \(ops) };
            static const assay_plugin_info info = { \(abi), "\(name)", sizeof ops / sizeof ops[0], ops };
            const assay_plugin_info *assay_plugin_get_info(void) { return &info; }
            const char *assay_plugin_last_error(void) { return "test"; }
            \(body)
            """)
    }

    @Test func theExamplePluginImplementsEveryOpAndPassesEveryTap() throws {
        let example = try library("example", source: try String(contentsOfFile: Self.repository.path
                                                                + "/Examples/example-plugin/example_plugin.c", encoding: .utf8))
        let backend = try PluginBackend(path: example)
        #expect(backend.name == "plugin:example" && backend.operations == Set(SpecOp.allCases))
        let data = try GoldenData.load(Self.repository.path + "/goldens/tiny")
        for mode in [DiffMode.isolated, .decode] {   // decode: mla_decode over the NaN-poisoned cache
            let result = try DiffEngine.run(backend, on: data, mode: mode, tolerances: try Tolerances(.f32))
            #expect(result.failures.isEmpty && result.notCovered.isEmpty, "\(mode)")
            #expect(result.verdicts.filter { $0.passed }.count == 136, "\(mode)")
        }
    }

    @Test func embeddingAndLMHeadThroughThePluginPassTheirTaps() throws {
        let path = try plugin("ends", ops: #"{"embedding", ASSAY_DTYPE_F32}, {"lm_head", ASSAY_DTYPE_F32}"#, body: """
            int assay_embedding_f32(const assay_embedding_args *a, const int64_t *ids, const float *table, float *y) {
                for (int64_t t = 0; t < a->tokens; t++)
                    for (int64_t i = 0; i < a->hidden; i++) y[t * a->hidden + i] = table[ids[t] * a->hidden + i];
                return 0;
            }
            int assay_lm_head_f32(const assay_lm_head_args *a, const float *x, const float *w, float *y) {
                for (int64_t t = 0; t < a->tokens; t++)
                    for (int64_t v = 0; v < a->vocab; v++) {
                        float sum = 0;
                        for (int64_t i = 0; i < a->hidden; i++) sum += x[t * a->hidden + i] * w[v * a->hidden + i];
                        y[t * a->vocab + v] = sum;
                    }
                return 0;
            }
            """)
        let backend = try PluginBackend(path: path)
        #expect(backend.operations == [.embedding, .lmHead])
        let data = try GoldenData.load(Self.repository.path + "/goldens/tiny")
        let result = try DiffEngine.run(backend, on: data, mode: .isolated, tolerances: try Tolerances(.f32))
        let passed = Set(result.verdicts.filter { $0.passed }.map(\.tap))
        #expect(result.failures.isEmpty)
        #expect(passed.contains { $0.hasSuffix("embed_tokens") } && passed.contains { $0.hasSuffix("lm_head") })
        // Every other op's taps are NOT COVERED, never run on the reference.
        #expect(!result.notCovered.isEmpty)
        #expect(result.notCovered.allSatisfy { !["embedding", "lm_head"].contains(result.opName($0.tap)) })
    }

    @Test func anOutOfBoundsWriteIsCaught() throws {
        let path = try plugin("overrun", ops: #"{"add", ASSAY_DTYPE_F32}"#, body: """
            int assay_add_f32(const assay_add_args *a, const float *x, const float *y, float *out) {
                for (long i = 0; i <= a->count; i++) out[i] = 1;   /* one past the end */
                return 0;
            }
            """)
        let error = #expect(throws: BackendError.self) {
            try PluginBackend(path: path).add(Tensor(shape: [4], repeating: 1), Tensor(shape: [4], repeating: 2))
        }
        #expect(error?.message.contains("wrote outside its output buffer (argument 4: 0 value(s) before it, 1 after it") == true)
    }

    @Test func anUnwrittenOutputIsNaNAndNeverPasses() throws {
        let path = try plugin("lazy", ops: #"{"add", ASSAY_DTYPE_F32}"#, body: """
            int assay_add_f32(const assay_add_args *a, const float *x, const float *y, float *out) { return 0; }
            """)
        let sum = try PluginBackend(path: path).add(Tensor(shape: [3], repeating: 1), Tensor(shape: [3], repeating: 2))
        #expect(sum.scalars.allSatisfy { $0.isNaN })
    }

    @Test func badLibrariesAreErrorsNamingWhy() throws {
        let wrongABI = try plugin("future", abi: "3", ops: #"{"add", ASSAY_DTYPE_F32}"#, body: "")
        #expect(throws: PluginError.self) { try PluginBackend(path: wrongABI) }
        let listsMissing = try plugin("liar", ops: #"{"rms_norm", ASSAY_DTYPE_F32}"#, body: "")
        let error = #expect(throws: PluginError.self) { try PluginBackend(path: listsMissing) }
        #expect(error?.message == "lists op 'rms_norm' for f32 but exports no assay_rms_norm_f32")
        let unknown = try plugin("unknown", ops: #"{"flash_attention", ASSAY_DTYPE_F32}"#, body: "")
        #expect(throws: PluginError.self) { try PluginBackend(path: unknown) }
        // Listed without the f32 bit: once skipped in silence (the op then looked unimplemented), now named.
        let bf16Only = try plugin("bf16only", ops: #"{"add", ASSAY_DTYPE_BF16}"#, body: "")
        let noF32 = #expect(throws: PluginError.self) { try PluginBackend(path: bf16Only) }
        #expect(noF32?.message == "lists op 'add' with dtypes 2, without ASSAY_DTYPE_F32: this assay runs plugins in f32")
        let missing = #expect(throws: PluginError.self) { try PluginBackend(path: Self.directory + "/nothing.so") }
        #expect(missing?.message.hasPrefix("cannot load") == true)
        // Issue 22: a path without a slash is a file in the current directory, never searched in the system library path.
        #expect(PluginBackend.resolved("libm.so.6") == "./libm.so.6")
        #expect(PluginBackend.resolved("/a/lib.so") == "/a/lib.so" && PluginBackend.resolved("a/lib.so") == "a/lib.so")
        let bare = #expect(throws: PluginError.self) { try PluginBackend(path: "libm.so.6") }   // in the system path
        #expect(bare?.message.hasPrefix("cannot load ./libm.so.6 (a path without a slash is taken in the current "
                                        + "directory): ./libm.so.6: cannot open shared object file") == true)
    }

    @Test func aFailingOpReportsThePluginsMessage() throws {
        let path = try plugin("refuses", ops: #"{"add", ASSAY_DTYPE_F32}"#, body: """
            int assay_add_f32(const assay_add_args *a, const float *x, const float *y, float *out) { return 7; }
            """)
        let error = #expect(throws: BackendError.self) {
            try PluginBackend(path: path).add(Tensor(shape: [2], repeating: 1), Tensor(shape: [2], repeating: 1))
        }
        #expect(error?.message == "returned 7: test")
    }

    /// A plugin whose `add` kernel does `fault` and whose `rms_norm` is right, diffed in isolated mode against
    /// goldens/tiny with a 2-second op timeout: the verdicts of the norms and of layer 0's output.
    func faultyDiff(_ label: String, fault: String) throws -> DiffResult {
        let path = try plugin(label, ops: #"{"rms_norm", ASSAY_DTYPE_F32}, {"add", ASSAY_DTYPE_F32}"#, body: """
            #include <math.h>
            #include <stdlib.h>
            int assay_rms_norm_f32(const assay_rms_norm_args *a, const float *x, const float *w, float *y) {
                for (int64_t r = 0; r < a->rows; r++) {
                    float sum = 0;
                    for (int64_t i = 0; i < a->width; i++) sum += x[r * a->width + i] * x[r * a->width + i];
                    float scale = 1 / sqrtf(sum / a->width + a->epsilon);
                    for (int64_t i = 0; i < a->width; i++) y[r * a->width + i] = w[i] * (x[r * a->width + i] * scale);
                }
                return 0;
            }
            int assay_add_f32(const assay_add_args *a, const float *x, const float *y, float *out) {
                \(fault)
                return 0;
            }
            """)
        let backend = try PluginBackend(path: path, isolation: .worker(timeout: 2))
        let data = try GoldenData.load(Self.repository.path + "/goldens/tiny")
        // Layer 0's block output (one add per case) and every norm: a hanging add costs 2 s a call.
        return try DiffEngine.run(backend, on: data, mode: .isolated, tolerances: try Tolerances(.f32),
                                  filter: try Regex(#"layers\.0$|layernorm"#))
    }

    /// Each planted fault fails every `add` tap with its own named cause, and the norms still pass.
    @Test(arguments: [
        ("segfault", "*(volatile int *)0 = 1;", "killed by signal 11"),
        ("abort", "abort();", "killed by signal 6"),
        ("exit", "exit(0);", "exited with status 0 inside assay_add_f32"),
        ("hang", "for (volatile int spin = 1; spin;) {}", "did not return within the op timeout of 2 s"),
        ("far-write", "out[a->count + 4096] = 1;", "killed by signal 11"),
    ])
    func aFaultyKernelFailsItsOpAndTheRestGoesOn(label: String, fault: String, cause: String) throws {
        let result = try faultyDiff(label, fault: fault)
        let adds = result.verdicts.filter { result.ops[$0.tap] == .add }
        #expect(!adds.isEmpty && adds.allSatisfy { $0.status == .fail && $0.note.contains(cause) },
                "\(adds.first?.note ?? "no add taps")")
        let norms = result.verdicts.filter { result.ops[$0.tap] == .rmsNorm }
        #expect(norms.count > 10 && norms.allSatisfy(\.passed))
    }

    /// A decode kernel that reads the first row past a sequence's valid length gets NaN and fails.
    @Test func readingPastTheCachesValidLengthFails() throws {
        let path = try plugin("peek", ops: #"{"mla_decode", ASSAY_DTYPE_F32}"#, body: """
            int assay_mla_decode_f32(const assay_mla_args *a, const assay_mla_weights *w, const float *x,
                                     const int64_t *positions, const int64_t *mask, const float *cache,
                                     const int64_t *cache_mask, const int64_t *cached, float *y, float *latents) {
                int64_t width = a->kv_lora_rank + a->qk_rope_dim;
                for (int64_t b = 0; b < a->batch; b++) {
                    float peek = cache[(b * a->cache_capacity + cached[b]) * width];   /* one row too far */
                    for (int64_t i = 0; i < a->hidden; i++) y[b * a->hidden + i] = peek;
                    for (int64_t i = 0; i < width; i++) latents[b * width + i] = 0;
                }
                return 0;
            }
            """)
        let data = try GoldenData.load(Self.repository.path + "/goldens/tiny")
        let result = try DiffEngine.run(try PluginBackend(path: path), on: data, mode: .decode,
                                        tolerances: try Tolerances(.f32))
        let outputs = result.verdicts.filter { result.ops[$0.tap] == .mlaDecode && !$0.tap.hasSuffix("#kv_latent") }
        #expect(!outputs.isEmpty && outputs.allSatisfy { $0.status == .fail })
        #expect(outputs.allSatisfy { ($0.comparison?.candidateNaNs ?? 0) > 0 }, "\(outputs.first?.note ?? "")")
    }

    /// The worker and the in-process executor give the same bits.
    @Test func isolatedAndInProcessRunsAgree() throws {
        let example = try library("example-same", source: try String(contentsOfFile: Self.repository.path
                                                                     + "/Examples/example-plugin/example_plugin.c", encoding: .utf8))
        let data = try GoldenData.load(Self.repository.path + "/goldens/tiny")
        let runs = try [PluginIsolation.inProcess, .standard].map {
            try DiffEngine.run(try PluginBackend(path: example, isolation: $0), on: data, mode: .chained,
                               tolerances: try Tolerances(.f32))
        }
        #expect(runs[0].verdicts.map { $0.comparison?.nmse } == runs[1].verdicts.map { $0.comparison?.nmse })
    }
}
