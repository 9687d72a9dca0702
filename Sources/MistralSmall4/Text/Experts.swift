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
    /// [I, H] each. Routed experts' come from one fused `gate_up_proj` row and share its activation scale (and its
    /// weight scale, unless the checkpoint stores one per half); a named MLP's are two modules, which in an FP8
    /// checkpoint carry scales of their own.
    public let gate: LinearLayer
    public let up: LinearLayer
    /// [H, I]
    public let down: LinearLayer

    /// `gate`, `up` [I, H], `down` [H, I].
    public init(gate: LinearLayer, up: LinearLayer, down: LinearLayer) {
        let (g, u, d) = (gate.weight, up.weight, down.weight)
        precondition(g.rank == 2 && g.shape == u.shape && d.rank == 2 && g.shape[0] == d.shape[1],
                     "SwiGLU: gate \(g.shape), up \(u.shape), down \(d.shape)")
        self.gate = gate
        self.up = up
        self.down = down
    }

    /// `gateUp` [2I, H] as transformers fuses it (gate rows first, eq. 4), `down` [H, I]. Each half keeps its
    /// own FP8 weight scale when the fused weight has one per half ([E, 2, 1] scales, spec/quant.md §4).
    public init(gateUp: LinearLayer, down: LinearLayer) {
        let halves = gateUp.rowBlocks(2)                                                      // [I, H] each
        self.init(gate: halves[0], up: halves[1], down: down)
    }

    /// A named MLP (`gate_proj`, `up_proj` [I, H], `down_proj` [H, I] under `prefix`).
    public init(_ store: some WeightStore, prefix: String) throws(WeightError) {
        self.init(gate: try store.linearLayer(prefix + ".gate_proj"), up: try store.linearLayer(prefix + ".up_proj"),
                  down: try store.linearLayer(prefix + ".down_proj"))
    }

    /// Routed expert `expert`: its slices of the fused `gate_up_proj` [E, 2I, H] and `down_proj` [E, H, I] (eq. 4).
    public init(_ store: some WeightStore, experts prefix: String, expert: Int) throws(WeightError) {
        self.init(gateUp: try store.linearLayer(stacked: prefix + ".gate_up_proj", row: expert),
                  down: try store.linearLayer(stacked: prefix + ".down_proj", row: expert))
    }

    /// Gate and up as one fused [2I, H] layer (gate rows first) when they quantize their input alike, as every
    /// routed expert's do: one activation quantization, and a weight scale per half when theirs differ. Nil when
    /// one is quantized and the other not, or they quantize their input differently.
    public var gateUp: LinearLayer? {
        let quantization: LinearQuantization?
        switch (gate.quantization, up.quantization) {
        case (nil, nil): quantization = nil
        case let (g?, u?):
            guard let stacked = g.stacked(on: u) else { return nil }
            quantization = stacked
        default: return nil
        }
        return LinearLayer(weight: Tensor(shape: [2 * gate.weight.shape[0], gate.weight.shape[1]],
                                          scalars: gate.weight.scalars + up.weight.scalars), quantization: quantization)
    }

    /// `x [T, H] -> [T, H]` (eq. 1), each product rounded as a bf16 module output under `hf-bf16`.
    public func callAsFunction(_ x: Tensor<Double>, _ profile: PrecisionProfile = .exact) -> Tensor<Double> {
        let (g, u) = (profile.roundedAsActivations(gate(x)), profile.roundedAsActivations(up(x)))        // [T, I] each
        let h = zip(g.scalars, u.scalars).map { a, u in profile.roundedAsActivation(profile.roundedAsActivation(a / (1 + exp(-a))) * u) }
        return profile.roundedAsActivations(down(Tensor(shape: g.shape, scalars: h)))
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
                    let term = profile.roundedAsActivation(y.scalars[row * hidden + d] * weight)
                    out.scalars[token * hidden + d] = profile.roundedAsActivation(out.scalars[token * hidden + d] + term)
                }
            }
        }
        return out
    }
}
