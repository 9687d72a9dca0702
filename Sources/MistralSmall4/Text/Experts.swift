// SwiGLU MLPs: the dense MLP, the shared expert(s) and each routed expert — spec/experts.md eq. (1)–(4).
//
//   SwiGLU(x) = W_down · (silu(W_gate · x) ⊙ (W_up · x)),   silu(a) = a / (1 + e^(−a))           (1)
//   routed(x_t) = Σ_{e ∈ S_t} w_{t,e} · SwiGLU_e(x_t)        summed in ascending expert id         (2)
//   moe(x_t)    = routed(x_t) + SwiGLU_shared(x_t)                                                (3)
// transformers fuses each routed expert's gate and up into `experts.gate_up_proj` [E, 2I, H]: gate rows first
// (`.chunk(2)` takes the first half as the gate), then up rows (eq. 4).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensor

/// One SwiGLU MLP H → I → H.
public struct SwiGLU: Sendable {
    /// [I, H]
    public let gate: Tensor<Double>
    /// [I, H]
    public let up: Tensor<Double>
    /// [H, I]
    public let down: Tensor<Double>

    public init(gate: Tensor<Double>, up: Tensor<Double>, down: Tensor<Double>) {
        self.gate = gate
        self.up = up
        self.down = down
    }

    /// A named MLP (`gate_proj`, `up_proj`, `down_proj` under `prefix`).
    public init(_ store: some WeightStore, prefix: String) throws(WeightError) {
        self.init(gate: try store.tensor(prefix + ".gate_proj.weight"), up: try store.tensor(prefix + ".up_proj.weight"),
                  down: try store.tensor(prefix + ".down_proj.weight"))
    }

    /// Routed expert `expert`: its slices of the fused `gate_up_proj` [E, 2I, H] and `down_proj` [E, H, I] (eq. 4).
    public init(_ store: some WeightStore, experts prefix: String, expert: Int) throws(WeightError) {
        let gateUp = try store.row(prefix + ".gate_up_proj", expert)           // [2I, H]
        let width = gateUp.shape[0] / 2
        self.init(gate: gateUp.slice(0..<width), up: gateUp.slice(width..<(2 * width)),
                  down: try store.row(prefix + ".down_proj", expert))
    }

    /// `x [T, H] -> [T, H]` (eq. 1), each product rounded as a bf16 module output under `hf-bf16`.
    public func callAsFunction(_ x: Tensor<Double>, _ profile: PrecisionProfile = .exact) -> Tensor<Double> {
        let g = profile.activations(linear(x, gate))
        let u = profile.activations(linear(x, up))
        var h = g
        for i in h.scalars.indices {
            let a = g.scalars[i]
            h.scalars[i] = profile.activation(profile.activation(a / (1 + exp(-a))) * u.scalars[i])
        }
        return profile.activations(linear(h, down))
    }
}

/// The routed experts of one MoE layer, read from the store one expert at a time (only experts some token uses).
public struct RoutedExperts: Sendable {
    /// `….mlp.experts`
    public let prefix: String
    public let profile: PrecisionProfile

    public init(prefix: String, profile: PrecisionProfile = .exact) {
        self.prefix = prefix
        self.profile = profile
    }

    /// Eq. (2): `x [T, H]`, `routing` for the same T tokens `-> [T, H]`.
    public func callAsFunction(_ x: Tensor<Double>, routing: Routing, store: some WeightStore) throws(WeightError)
        -> Tensor<Double>
    {
        let (tokens, hidden, k) = (x.shape[0], x.shape[1], routing.indices.shape[1])
        var out = Tensor<Double>(shape: [tokens, hidden], repeating: 0)
        for expert in 0..<store.config.text.nRoutedExperts {
            let slots = (0..<(tokens * k)).filter { routing.indices.scalars[$0] == expert }   // token·k + rank
            guard !slots.isEmpty else { continue }
            let mlp = try SwiGLU(store, experts: prefix, expert: expert)
            let rows = slots.flatMap { x.scalars[($0 / k * hidden)..<($0 / k * hidden + hidden)] }
            let y = mlp(Tensor(shape: [slots.count, hidden], scalars: rows), profile)
            for (row, slot) in slots.enumerated() {
                let (token, weight) = (slot / k, routing.weights.scalars[slot])
                for d in 0..<hidden {
                    let term = profile.activation(y.scalars[row * hidden + d] * weight)
                    out.scalars[token * hidden + d] = profile.activation(out.scalars[token * hidden + d] + term)
                }
            }
        }
        return out
    }
}
