// Linear weights as the BLAS backend holds them: packed once into 32-column panels for the panel GEMM
// (Sources/CPanelGEMM) where the CPU runs it, or kept row-major for cblas_sgemm where it does not.
//
// Why a second GEMM: a MoE layer's experts see few rows each (16 at 512 tokens, 1 or 2 at 32), and a decode step one
// row per sequence. OpenBLAS's sgemm repacks the whole weight on every such call and reached 40–58 GFLOP/s on 16 rows
// here against 98 for the first (AVX2) panel kernel (2 threads, 4096 × 4096 weights; spec/conformance.md §5,
// "Performance" in README). Both sum in float32; the diff holds either to the same limits. The kernel's AVX2 and
// AVX-512 tiles give the same bits (one FMA chain per output in k order).

import CPanelGEMM
import Dispatch
import MistralSmall4
import Tensor

/// A linear layer's weight `W [out, in]`, ready for `Kernels.linear`.
enum LinearWeight {
    /// Row-major, for cblas_sgemm.
    case dense(Matrix)
    /// Panels `[ceil(out/32)][in][32]` for the panel GEMM: float32 values, or the bfloat16 bits of weights that are
    /// all bfloat16 values (half the bytes, the same products).
    case packed(panels: Panels, outputs: Int, inputs: Int)

    /// Panel storage.
    enum Panels {
        case f32([Float])
        case bf16([UInt16])
    }

    /// The panel kernel's best instruction set on this CPU (`ASSAY_ISA_NONE`: none, sgemm instead).
    static let isa = assay_panel_gemm_isa()

    /// The panel kernel runs on this CPU (AVX2 and FMA, or AVX-512F).
    static var panelsAvailable: Bool { isa != ASSAY_ISA_NONE }

    /// `w` packed when the panel kernel runs here (in bf16 when every weight is a bf16 value and `bf16` allows it),
    /// as it is otherwise.
    init(_ w: Matrix, bf16: Bool = true) {
        guard Self.panelsAvailable else { self = .dense(w); return }
        let count = (w.rows + Int(ASSAY_PANEL_COLUMNS) - 1) / Int(ASSAY_PANEL_COLUMNS) * w.cols * Int(ASSAY_PANEL_COLUMNS)
        if bf16 {
            var halves = [UInt16](repeating: 0, count: count)
            let status = w.values.withUnsafeBufferPointer { source in
                halves.withUnsafeMutableBufferPointer {
                    assay_pack_bf16(source.baseAddress!, Int64(w.rows), Int64(w.cols), $0.baseAddress!)
                }
            }
            if status == 0 { self = .packed(panels: .bf16(halves), outputs: w.rows, inputs: w.cols); return }
        }
        var panels = [Float](repeating: 0, count: count)
        w.values.withUnsafeBufferPointer { source in
            panels.withUnsafeMutableBufferPointer {
                assay_pack(source.baseAddress!, Int64(w.rows), Int64(w.cols), Int64(ASSAY_PANEL_COLUMNS), $0.baseAddress!)
            }
        }
        self = .packed(panels: .f32(panels), outputs: w.rows, inputs: w.cols)
    }

    /// `W`'s shape [out, in].
    var shape: (outputs: Int, inputs: Int) {
        switch self {
        case .dense(let w): (w.rows, w.cols)
        case .packed(_, let outputs, let inputs): (outputs, inputs)
        }
    }
}

extension Kernels {
    /// `a [m, k] · Wᵀ -> [m, out]` (+ bias [out]).
    /// The packed case runs the kernel of `isa` (tests pick one; it must run on this CPU).
    static func linear(_ a: Matrix, _ weight: LinearWeight, bias: [Float]? = nil,
                       isa: assay_isa = LinearWeight.isa) -> Matrix {
        switch weight {
        case .dense(let w):
            return linear(a, w, bias: bias)
        case .packed(let panels, let outputs, let inputs):
            precondition(a.cols == inputs, "linear: [\(a.rows), \(a.cols)] by weight [\(outputs), \(inputs)]")
            var c = panelProduct(a, panels: panels, outputs: outputs, isa: isa)
            addBias(bias, to: &c)
            return c
        }
    }

    /// The panel GEMM, its panels split across `ComputeThreads` (counted in `GEMMMeter`).
    private static func panelProduct(_ a: Matrix, panels: LinearWeight.Panels, outputs: Int, isa: assay_isa) -> Matrix {
        var c = Matrix(rows: a.rows, cols: outputs)
        guard a.rows > 0, outputs > 0, a.cols > 0 else { return c }
        let start = monotonicSeconds()
        defer { GEMMMeter.add(flops: 2 * Double(a.rows * outputs * a.cols), seconds: monotonicSeconds() - start) }
        let group = Int(assay_block_rows(isa, Int64(a.rows)))
        let panelCount = (outputs + Int(ASSAY_PANEL_COLUMNS) - 1) / Int(ASSAY_PANEL_COLUMNS)
        var blocks = [Float](repeating: 0, count: (a.rows + group - 1) / group * group * a.cols)
        a.values.withUnsafeBufferPointer { x in
            blocks.withUnsafeMutableBufferPointer {
                assay_pack(x.baseAddress!, Int64(a.rows), Int64(a.cols), Int64(group), $0.baseAddress!)
            }
        }
        let chunks = min(panelCount, ComputeThreads.count)
        func run(_ w: UnsafeRawPointer, _ storage: assay_storage) {
            blocks.withUnsafeBufferPointer { b in
                c.values.withUnsafeMutableBufferPointer { y in
                    // Chunks write disjoint column ranges of y.
                    nonisolated(unsafe) let (bp, wp, yp) = (b.baseAddress!, w, y.baseAddress!)
                    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                        let first = chunk * panelCount / chunks, end = (chunk + 1) * panelCount / chunks
                        let status = assay_panel_gemm(isa, Int64(a.rows), Int64(outputs), Int64(a.cols), bp, Int64(group),
                                                      wp, storage, Int64(first), Int64(end), yp)
                        precondition(status == 0, "panel GEMM: this CPU does not run the \(isa) kernel")
                    }
                }
            }
        }
        switch panels {
        case .f32(let values): values.withUnsafeBytes { run($0.baseAddress!, ASSAY_STORAGE_F32) }
        case .bf16(let halves): halves.withUnsafeBytes { run($0.baseAddress!, ASSAY_STORAGE_BF16) }
        }
        return c
    }
}
