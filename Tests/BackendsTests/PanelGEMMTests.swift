// The panel GEMM (Sources/CPanelGEMM) against float64 products and against cblas_sgemm, on shapes that take every
// edge: a row block or a column panel cut short, one row, one input, one output, k past one chunk (256) with one
// row block (k taken whole) and with several; its AVX2 and AVX-512 tiles against each other, and its bf16 panels
// against its float32 ones, bit for bit.

import CPanelGEMM
import Testing
@testable import Backends

@Suite struct PanelGEMMTests {
    /// A deterministic matrix with entries in [-1, 1).
    func matrix(_ rows: Int, _ cols: Int, seed: Int) -> Matrix {
        Matrix(rows: rows, cols: cols, values: (0..<(rows * cols)).map { Float(($0 * 7919 + seed * 104_729) % 2001 - 1000) / 1000 })
    }

    /// `m` with every entry cut to a bfloat16 value (the upper half of its bits).
    func bf16Values(_ m: Matrix) -> Matrix {
        Matrix(rows: m.rows, cols: m.cols, values: m.values.map { Float(bitPattern: $0.bitPattern & 0xFFFF_0000) })
    }

    @Test func runsOnThisMachine() {
        // Tools/test runs on x86-64 machines with AVX2 and FMA; a fallback-only run would leave the kernel untested.
        #expect(LinearWeight.panelsAvailable)
    }

    static let shapes = [(1, 1, 1), (1, 5, 3), (5, 17, 3), (6, 16, 64), (7, 33, 100), (13, 48, 64), (16, 100, 257),
                         (3, 20, 700), (25, 40, 600)]

    @Test(arguments: shapes)
    func matchesTheFloat64Product(shape: (m: Int, n: Int, k: Int)) {
        let a = matrix(shape.m, shape.k, seed: 1), w = matrix(shape.n, shape.k, seed: 2)
        let bias = (0..<shape.n).map { Float($0) / 8 }
        let panel = Kernels.linear(a, LinearWeight(w), bias: bias)
        let sgemm = Kernels.linear(a, w, bias: bias)
        #expect(panel.rows == shape.m && panel.cols == shape.n)
        for r in 0..<shape.m {
            for c in 0..<shape.n {
                var exact = Double(bias[c]), magnitude = abs(Double(bias[c]))
                for i in 0..<shape.k {
                    exact += Double(a.values[r * shape.k + i]) * Double(w.values[c * shape.k + i])
                    magnitude += abs(Double(a.values[r * shape.k + i]) * Double(w.values[c * shape.k + i]))
                }
                // float32 summation of k + 1 terms: |error| ≤ (k + 1)·2⁻²⁴·Σ|terms|
                let bound = Double(shape.k + 1) * 0x1p-24 * magnitude
                #expect(abs(Double(panel.values[r * shape.n + c]) - exact) <= bound, "panel [\(r), \(c)] of \(shape)")
                #expect(abs(Double(panel.values[r * shape.n + c] - sgemm.values[r * shape.n + c])) <= 2 * bound)
            }
        }
    }

    /// Every output is one FMA chain in k order, so the instruction sets agree exactly (the AVX-512 half is skipped,
    /// with a note, on a CPU without it).
    @Test(arguments: shapes)
    func instructionSetsGiveTheSameBits(shape: (m: Int, n: Int, k: Int)) throws {
        try #require(assay_panel_gemm_supports(ASSAY_ISA_AVX2) != 0)
        guard assay_panel_gemm_supports(ASSAY_ISA_AVX512) != 0 else {
            print("PanelGEMMTests: no AVX-512F on this CPU; only the AVX2 tiles ran")
            return
        }
        let a = matrix(shape.m, shape.k, seed: 3)
        for w in [LinearWeight(matrix(shape.n, shape.k, seed: 4)), LinearWeight(bf16Values(matrix(shape.n, shape.k, seed: 4)))] {
            let avx2 = Kernels.linear(a, w, isa: ASSAY_ISA_AVX2), avx512 = Kernels.linear(a, w, isa: ASSAY_ISA_AVX512)
            let differing = zip(avx2.values, avx512.values).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "\(differing) of \(avx2.values.count) outputs differ for \(shape)")
        }
    }

    /// Weights that are all bfloat16 values are packed as bf16 and widened in registers: the products, and so the
    /// bits, are the float32 panels'. A weight with one value that is not bf16 keeps float32 panels.
    @Test(arguments: shapes)
    func bf16PanelsGiveTheSameBitsAsFloat32Panels(shape: (m: Int, n: Int, k: Int)) throws {
        let a = matrix(shape.m, shape.k, seed: 5), w = bf16Values(matrix(shape.n, shape.k, seed: 6))
        let (halves, floats) = (LinearWeight(w), LinearWeight(w, bf16: false))
        guard case .packed(.bf16, _, _) = halves, case .packed(.f32, _, _) = floats else {
            Issue.record("bf16-valued weights were not packed as bf16 (or float32 on request)")
            return
        }
        let (x, y) = (Kernels.linear(a, halves), Kernels.linear(a, floats))
        #expect(zip(x.values, y.values).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(shape)")
        var mixed = w
        mixed.values[mixed.values.count - 1] = 0x1p-20 + 1                    // 1 + 2⁻²⁰: not a bfloat16 value
        guard case .packed(.f32, _, _) = LinearWeight(mixed) else {
            Issue.record("a weight that is not all bf16 values was packed as bf16")
            return
        }
    }

    /// A chunk of a panel fills L1 (the machine's own size): bf16 chunks are twice as long as float32 ones.
    @Test func chunksFillTheL1DataCache() {
        let (f32, bf16) = (assay_panel_chunk(ASSAY_STORAGE_F32), assay_panel_chunk(ASSAY_STORAGE_BF16))
        #expect(f32 % 16 == 0 && (64...4096).contains(f32) && (bf16 == 2 * f32 || bf16 == 4096))
    }

    @Test func blocksAreEvenAndFitTheTile() {
        #expect(assay_block_rows(ASSAY_ISA_AVX512, 16) == 8)
        #expect(assay_block_rows(ASSAY_ISA_AVX512, 12) == 12)
        #expect(assay_block_rows(ASSAY_ISA_AVX512, 13) == 7)
        #expect(assay_block_rows(ASSAY_ISA_AVX2, 16) == 6)
        #expect(assay_block_rows(ASSAY_ISA_AVX2, 1) == 1)
    }
}
