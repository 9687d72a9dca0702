// Linear: y = x · Wᵀ (+ b), the PyTorch `nn.Linear` contract, in float64.
//
// Goals, in order: exact agreement with the contract (one `dot` per output, fixed order), then speed: output
// features are split across cores, which changes no bit of the result.

import Dispatch
import Tensor

/// `x [rows, in] · W [out, in]ᵀ (+ bias [out]) -> y [rows, out]`.
public func linear(_ x: Tensor<Double>, _ weight: Tensor<Double>, bias: Tensor<Double>? = nil) -> Tensor<Double> {
    precondition(x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1],
                 "linear: x \(x.shape) · W \(weight.shape)ᵀ")
    let (rows, inner, outs) = (x.shape[0], x.shape[1], weight.shape[0])
    MultiplyAddCounter.record(rows * outs * inner)
    var y = [Double](repeating: 0, count: rows * outs)
    x.scalars.withUnsafeBufferPointer { xs in
        weight.scalars.withUnsafeBufferPointer { ws in
            y.withUnsafeMutableBufferPointer { ys in
                let (xp, wp, yp) = (xs.baseAddress!, ws.baseAddress!, ys.baseAddress!)
                parallelChunks(outs, work: rows * outs * inner) { range in
                    for o in range {
                        for r in 0..<rows { yp[r * outs + o] = dot(xp + r * inner, wp + o * inner, inner) }
                    }
                }
            }
        }
    }
    if let bias {
        precondition(bias.scalars.count == outs, "linear: bias \(bias.shape) for \(outs) outputs")
        for r in 0..<rows { for o in 0..<outs { y[r * outs + o] += bias.scalars[o] } }
    }
    return Tensor(shape: [rows, outs], scalars: y)
}

/// Runs `body` over `0..<count` split into contiguous chunks, on all cores when `work` (a rough count of
/// multiply-adds) is large enough to pay for the threads. Each index is visited exactly once.
func parallelChunks(_ count: Int, work: Int, _ body: (Range<Int>) -> Void) {
    let cores = ComputeThreads.count
    guard cores > 1, work >= 1 << 18, count > 1 else { return body(0..<count) }
    let chunks = min(count, cores * 4)
    // Chunks write disjoint outputs, so sharing `body` across the worker threads is safe.
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let run = body
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            run((chunk * count / chunks)..<((chunk + 1) * count / chunks))
        }
    }
}
