// Per-op timing of a diff — spec/conformance.md §5: how long each spec op took per call as the runner saw it (the
// backend's op and the weights it reads; for a plugin also the marshalling and, isolated, the trip to its worker),
// with its rates from the shape trace's cost: GFLOP/s from the multiply-adds, GB/s from the float32 activations in
// and out plus the weights it reads at most. What test-backend-ops' perf mode reports, per op of the model.

import MistralSmall4
import Tensor

/// One op's calls in a diff, summed over cases.
public struct OpTiming: Sendable {
    public let op: SpecOp
    public internal(set) var calls = 0
    public internal(set) var seconds = 0.0
    public internal(set) var multiplyAdds = 0
    public internal(set) var bytes = 0

    public var microsecondsPerCall: Double { calls == 0 ? 0 : seconds / Double(calls) * 1e6 }
    public var gflops: Double { seconds > 0 ? 2 * Double(multiplyAdds) / seconds / 1e9 : 0 }
    public var gigabytesPerSecond: Double { seconds > 0 ? Double(bytes) / seconds / 1e9 : 0 }

    /// Several runs' timings summed per op, in op table order.
    public static func merged(_ runs: [[OpTiming]]) -> [OpTiming] {
        var sums = [SpecOp: OpTiming]()
        for timing in runs.joined() {
            sums[timing.op, default: OpTiming(op: timing.op)].calls += timing.calls
            sums[timing.op]!.seconds += timing.seconds
            sums[timing.op]!.multiplyAdds += timing.multiplyAdds
            sums[timing.op]!.bytes += timing.bytes
        }
        return sums.values.sorted { $0.op < $1.op }
    }

    /// The timings of `run`'s calls (a case on `inputs` and `images`), added to `timings`.
    static func add(_ run: GraphRun, trace: ShapeTrace, images: VisionInputs?, to timings: inout [SpecOp: OpTiming]) {
        for timed in run.timed {
            guard let op = timed.call.op else { continue }
            let cost = trace.cost(of: timed.call, inputs: run.inputs, images: images, stepwise: run.stepwise)
            timings[op, default: OpTiming(op: op)].calls += 1
            timings[op]!.seconds += timed.seconds
            timings[op]!.multiplyAdds += cost.multiplyAdds
            timings[op]!.bytes += 4 * (timed.activationElements + cost.weights)
        }
    }
}

extension DiffResult {
    /// The per-op timings as CSV: `op,calls,us_per_call,gflops,gb_per_s`, ops in table order.
    public var timingCSV: String {
        (["op,calls,us_per_call,gflops,gb_per_s"] + timings.map {
            "\($0.op.rawValue),\($0.calls),\($0.microsecondsPerCall),\($0.gflops),\($0.gigabytesPerSecond)"
        }).joined(separator: "\n") + "\n"
    }
}
