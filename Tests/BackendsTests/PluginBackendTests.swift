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
    /// Compiles `source` into lib`name`.so. `commonHeader` replaces the example plugin's common.h (written beside
    /// the source, which the example includes before the files that include it again).
    func library(_ name: String, source: String, commonHeader: String? = nil) throws -> String {
        let directory = commonHeader == nil ? Self.directory : "\(Self.directory)/\(name)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (c, so) = ("\(directory)/\(name).c", "\(Self.directory)/lib\(name).so")
        try source.write(toFile: c, atomically: true, encoding: .utf8)
        try commonHeader?.write(toFile: "\(directory)/common.h", atomically: true, encoding: .utf8)
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
            #expect(result.verdicts.filter { $0.passed }.count == 167, "\(mode)")
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
        // Each dtype bit an op sets needs its entry point: once skipped in silence (the op then looked
        // unimplemented), now named.
        let bf16Only = try plugin("bf16only", ops: #"{"add", ASSAY_DTYPE_BF16}"#, body: "")
        let noBF16 = #expect(throws: PluginError.self) { try PluginBackend(path: bf16Only) }
        #expect(noBF16?.message == "lists op 'add' for bf16 but exports no assay_add_bf16")
        let unknownBit = try plugin("bit16", ops: #"{"add", ASSAY_DTYPE_F32 | 16}"#, body: "")
        let bit = #expect(throws: PluginError.self) { try PluginBackend(path: unknownBit) }
        #expect(bit?.message.hasPrefix("lists op 'add' with dtypes 17: bits 16 are no ASSAY_DTYPE_*") == true)
        let noBits = try plugin("nobits", ops: #"{"add", 0}"#, body: "")
        let none = #expect(throws: PluginError.self) { try PluginBackend(path: noBits) }
        #expect(none?.message == "lists op 'add' with dtypes 0: no ASSAY_DTYPE_* bit")
        let f8Add = try plugin("f8add", ops: #"{"add", ASSAY_DTYPE_F8_E4M3}"#, body: "")
        let noF8Entry = #expect(throws: PluginError.self) { try PluginBackend(path: f8Add) }
        #expect(noF8Entry?.message.hasPrefix("lists op 'add' with ASSAY_DTYPE_F8_E4M3, which it has no entry point") == true)
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

    /// Malformed info is an error naming the field, never a crash: an op_count past the ops there are, a NULL
    /// ops array, a NULL op name, an op listed twice.
    @Test func malformedInfoIsNamed() throws {
        func info(_ label: String, _ table: String, count: String, ops: String) throws -> PluginError? {
            let path = try library(label, source: """
                #include "assay_plugin.h"
                \(table)
                static const assay_plugin_info info = { ASSAY_PLUGIN_ABI_VERSION, "\(label)", \(count), \(ops) };
                const assay_plugin_info *assay_plugin_get_info(void) { return &info; }
                const char *assay_plugin_last_error(void) { return ""; }
                int assay_add_f32(const assay_add_args *a, const float *x, const float *y, float *o) { return 0; }
                """)
            return #expect(throws: PluginError.self) { try PluginBackend(path: path) }
        }
        let one = #"static const assay_op_info ops[] = {{"add", ASSAY_DTYPE_F32}};"#
        #expect(try info("huge", one, count: "100000", ops: "ops")?.message
                == "op_count 100000: ABI version 2 has 13 ops, each listed once")
        #expect(try info("nullops", "", count: "1", ops: "0")?.message == "op_count 1 with ops NULL")
        #expect(try info("nullname", "static const assay_op_info ops[] = {{0, ASSAY_DTYPE_F32}};", count: "1",
                         ops: "ops")?.message == "ops[0].op is NULL")
        let twice = #"static const assay_op_info ops[] = {{"add", ASSAY_DTYPE_F32}, {"add", ASSAY_DTYPE_F32}};"#
        #expect(try info("twice", twice, count: "2", ops: "ops")?.message == "lists op 'add' twice (ops[1])")
    }

    /// The example plugin as it was under ABI version 1 (rms_norm, add, swiglu; its code as of d6afd47, built with
    /// abi_version 1) still loads and passes its ops; a version-1 plugin cannot list an op version 2 added.
    @Test func aVersionOnePluginStillLoads() throws {
        let ops = #"{"rms_norm", ASSAY_DTYPE_F32}, {"add", ASSAY_DTYPE_F32}, {"swiglu", ASSAY_DTYPE_F32}"#
        let v1 = try plugin("v1", abi: "1u", ops: ops, body: """
            #include <math.h>
            int assay_rms_norm_f32(const assay_rms_norm_args *args, const float *x, const float *weight, float *y) {
                if (args->rows < 0 || args->width <= 0) {
                    return 1;
                }
                for (int64_t r = 0; r < args->rows; r++) {
                    const float *row = x + r * args->width;
                    float sum = 0;
                    for (int64_t i = 0; i < args->width; i++) sum += row[i] * row[i];
                    float inverse = 1.0f / sqrtf(sum / (float)args->width + args->epsilon);
                    for (int64_t i = 0; i < args->width; i++) y[r * args->width + i] = weight[i] * (row[i] * inverse);
                }
                return 0;
            }

            int assay_add_f32(const assay_add_args *args, const float *a, const float *b, float *y) {
                for (int64_t i = 0; i < args->count; i++) y[i] = a[i] + b[i];
                return 0;
            }

            int assay_swiglu_f32(const assay_swiglu_args *args, const float *x, const float *gate_up, const float *down, float *y) {
                const int64_t width = args->intermediate, hidden = args->hidden;
                for (int64_t t = 0; t < args->tokens; t++) {
                    const float *row = x + t * hidden;
                    float h[width];   /* silu(gate · x) * (up · x) */
                    for (int64_t i = 0; i < width; i++) {
                        float gate = 0, up = 0;
                        for (int64_t j = 0; j < hidden; j++) {
                            gate += gate_up[i * hidden + j] * row[j];
                            up += gate_up[(width + i) * hidden + j] * row[j];
                        }
                        h[i] = gate / (1.0f + expf(-gate)) * up;
                    }
                    for (int64_t o = 0; o < hidden; o++) {
                        float sum = 0;
                        for (int64_t i = 0; i < width; i++) sum += down[o * width + i] * h[i];
                        y[t * hidden + o] = sum;
                    }
                }
                return 0;
            }
            """)
        let backend = try PluginBackend(path: v1)
        #expect(backend.abiVersion == 1 && backend.operations == [.rmsNorm, .add, .swiglu])
        let data = try GoldenData.load(Self.repository.path + "/goldens/tiny")
        let result = try DiffEngine.run(backend, on: data, mode: .isolated, tolerances: try Tolerances(.f32))
        let passed = result.verdicts.filter(\.passed).count
        #expect(result.failures.isEmpty && passed == 82, "\(passed) passed")
        let router = try plugin("v1router", abi: "1", ops: #"{"router", ASSAY_DTYPE_F32}"#, body: "")
        let error = #expect(throws: PluginError.self) { try PluginBackend(path: router) }
        #expect(error?.message.hasPrefix("lists op 'router', which ABI version 1 has no entry point for") == true)
    }

    /// A plugin listing an op with the FP8 bit must export its f8e4m3 entry point: the error names the symbol.
    @Test func anFP8BitWithoutItsEntryPointIsAnError() throws {
        let path = try plugin("f8liar", ops: #"{"swiglu", ASSAY_DTYPE_F32 | ASSAY_DTYPE_F8_E4M3}"#, body: """
            int assay_swiglu_f32(const assay_swiglu_args *a, const float *x, const float *gu, const float *d, float *y) {
                return 1;
            }
            """)
        let error = #expect(throws: PluginError.self) { try PluginBackend(path: path) }
        #expect(error?.message == "lists op 'swiglu' for f8e4m3 but exports no assay_swiglu_f8e4m3")
    }

    /// goldens/tiny-fp8-static: the example plugin's FP8 entry points take the quantized linears (codes and scales
    /// as stored), so every tap is compared and passes the f32 limits in the three modes; a plugin whose swiglu is
    /// f32 only leaves the FP8 MLPs NOT COVERED.
    @Test func theExamplePluginPassesTheFP8GoldensThroughItsFP8EntryPoints() throws {
        let example = try library("example-fp8", source: try String(contentsOfFile: Self.repository.path
                                                                    + "/Examples/example-plugin/example_plugin.c", encoding: .utf8))
        let backend = try PluginBackend(path: example)
        #expect(backend.dtypes[.swiglu] == [.f32, .bf16, .f8e4m3, .nvfp4] && backend.dtypes[.router] == [.f32])
        let data = try GoldenData.load(Self.repository.path + "/goldens/tiny-fp8-static")
        for mode in [DiffMode.isolated, .chained, .decode] {
            let result = try DiffEngine.run(backend, on: data, mode: mode, tolerances: try Tolerances(.f32))
            #expect(result.failures.isEmpty && result.notCovered.isEmpty, "\(mode): \(result.failures.first?.note ?? "")")
            #expect(result.verdicts.filter { $0.passed }.count == 167, "\(mode)")
            let attention: SpecOp = mode == .decode ? .mlaDecode : .mlaAttention
            for op in [attention, .routedExperts, .swiglu] {
                #expect(result.verdicts.contains { result.ops[$0.tap] == op && $0.passed }, "\(mode) \(op)")
            }
        }
        let f32Only = try plugin("f32swiglu", ops: #"{"swiglu", ASSAY_DTYPE_F32}"#, body: """
            int assay_swiglu_f32(const assay_swiglu_args *a, const float *x, const float *gu, const float *d, float *y) {
                return 1;
            }
            """)
        let result = try DiffEngine.run(try PluginBackend(path: f32Only), on: data, mode: .isolated,
                                        tolerances: try Tolerances(.f32), filter: try Regex(#"shared_experts$"#))
        #expect(!result.verdicts.isEmpty && result.verdicts.allSatisfy { $0.status == .notCovered })
    }

    /// NVFP4: the example's nvfp4 entry points pass goldens/tiny-nvfp4 in every mode, every quantized op through them;
    /// the same plugin with its activations left unquantized (the E2M1 rounding of eq. 13 skipped) fails.
    @Test func theExamplePluginPassesTheNVFP4GoldensThroughItsNVFP4EntryPoints() throws {
        let source = try String(contentsOfFile: Self.repository.path + "/Examples/example-plugin/example_plugin.c",
                                encoding: .utf8)
        let backend = try PluginBackend(path: try library("example-nvfp4", source: source))
        #expect(backend.dtypes[.mlaAttention] == [.f32, .f8e4m3, .nvfp4] && backend.dtypes[.routedExperts]?.contains(.nvfp4) == true)
        let data = try GoldenData.load(Self.repository.path + "/goldens/tiny-nvfp4")
        for mode in [DiffMode.isolated, .chained, .decode] {
            let result = try DiffEngine.run(backend, on: data, mode: mode, tolerances: try Tolerances(.f32))
            #expect(result.failures.isEmpty && result.notCovered.isEmpty, "\(mode): \(result.failures.first?.note ?? "")")
            let attention: SpecOp = mode == .decode ? .mlaDecode : .mlaAttention
            for op in [attention, .routedExperts, .swiglu] {
                #expect(result.verdicts.contains { result.ops[$0.tap] == op && $0.passed }, "\(mode) \(op)")
            }
        }
        let rounding = "xq[j] = s == 0.0 ? 0.0f : (float)e2m1_round(fmin(fmax((double)x[j] * g / s, -6.0), 6.0));"
        let common = try String(contentsOfFile: Self.repository.path + "/Examples/example-plugin/common.h", encoding: .utf8)
        #expect(common.contains(rounding))
        let unrounded = try library("example-nvfp4-unrounded", source: source, commonHeader: common.replacingOccurrences(
            of: rounding, with: "xq[j] = s == 0.0 ? 0.0f : (float)fmin(fmax((double)x[j] * g / s, -6.0), 6.0);"))
        let result = try DiffEngine.run(try PluginBackend(path: unrounded), on: data, mode: .isolated,
                                        tolerances: try Tolerances(.f32))
        #expect(result.failures.contains { result.ops[$0.tap] == .mlaAttention })
    }

    /// bf16: an hf-bf16 set made here; the example's bf16 entry points pass it isolated by the bf16 limits, and the
    /// ops without bf16 entry points are NOT COVERED.
    @Test func theExamplePluginsBF16OpsPassAnHFBF16SetIsolated() throws {
        let example = try library("example-bf16", source: try String(contentsOfFile: Self.repository.path
                                                                     + "/Examples/example-plugin/example_plugin.c", encoding: .utf8))
        let backend = try PluginBackend(path: example, isolation: .inProcess, dtype: .bf16)
        #expect(backend.precision == .bf16)
        #expect(backend.operations == [.embedding, .rmsNorm, .add, .swiglu, .lmHead])
        try Self.expectBF16OpsPass(backend, setAt: Self.directory + "/hf-bf16-set")
    }

    /// Writes an hf-bf16 set of tiny (one case, no images) at `path` and diffs `backend` (bf16) against it, isolated:
    /// no tap fails, each of its bf16 ops passes, and the taps of every other op are NOT COVERED.
    static func expectBF16OpsPass(_ backend: PluginBackend, setAt path: String) throws {
        try? FileManager.default.removeItem(atPath: path)
        var options = GoldenOptions(preset: .tiny)
        options.profile = .hfBF16
        options.images = 0
        options.positions = 0
        try GoldenSet.write(options, to: path)
        let result = try DiffEngine.run(backend, on: try GoldenData.load(path), mode: .isolated,
                                        tolerances: try Tolerances(.bf16))
        #expect(result.failures.isEmpty, "\(result.failures.first?.note ?? "")")
        let passed = Set(result.verdicts.filter(\.passed).compactMap { result.ops[$0.tap] ?? nil })
        #expect(passed == backend.operations)
        #expect(result.notCovered.allSatisfy { !backend.operations.contains(result.ops[$0.tap]!!) })
    }
}
