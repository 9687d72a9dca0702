// Routed experts in float32, grouped by expert — spec/experts.md eq. (1)–(2): each expert some token chose runs
// once, as two GEMMs over all of its tokens (the panel GEMM where the CPU runs it), and its weighted rows are added to their tokens in ascending
// expert id.

import MistralSmall4
import Tensor

extension BLASBackend {
    /// `x [T, H]` with `routing` -> `[T, H]`.
    public func routedExperts(_ x: Tensor<Double>, routing: Routing, store: any WeightStore, prefix: String)
        throws -> Tensor<Double>
    {
        let input = Matrix(x)
        let k = routing.indices.shape[1]
        var out = Matrix(rows: input.rows, cols: input.cols)
        var slotsByExpert = [Int: [Int]]()                                    // expert -> token·k + rank
        for (slot, expert) in routing.indices.scalars.enumerated() { slotsByExpert[expert, default: []].append(slot) }
        for expert in slotsByExpert.keys.sorted() {
            let slots = slotsByExpert[expert]!
            var gathered = Matrix(rows: slots.count, cols: input.cols)        // [tokens of e, H]
            for (row, slot) in slots.enumerated() {
                let token = slot / k
                gathered.values.replaceSubrange((row * input.cols)..<((row + 1) * input.cols),
                                                with: input.values[(token * input.cols)..<((token + 1) * input.cols)])
            }
            let w = try weights("\(prefix)#\(expert)") {
                let mlp = try SwiGLU(store, experts: prefix, expert: expert)
                return [ProjectionWeight(try mlp.fusedGateUp(backend: name, op: .routedExperts)), ProjectionWeight(mlp.down)]
            }
            let y = Self.swiglu(gathered, gateUp: w[0], down: w[1])
            for (row, slot) in slots.enumerated() {
                let (token, weight) = (slot / k, Float(routing.weights.scalars[slot]))
                for d in 0..<input.cols { out.values[token * input.cols + d] += weight * y.values[row * input.cols + d] }
            }
        }
        return out.tensor()
    }
}
