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
}
