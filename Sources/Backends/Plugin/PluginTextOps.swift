// The text decoder's ops through a plugin, except attention (PluginAttention.swift): each builds its entry point's
// arguments exactly as assay_plugin.h states them.

import CAssayPlugin
import MistralSmall4
import Tensor

extension PluginBackend {
    /// An input in the run's dtype: float32, or bf16 rounded to nearest even.
    func input(_ t: Tensor<Double>) -> PluginArgument { .input(dtype == .bf16 ? bf16(t) : floats(t)) }

    /// An output of `count` elements in the run's dtype.
    func output(_ count: Int) -> PluginArgument { .output(dtype == .bf16 ? .u16 : .f32, count: count) }

    /// Output `index` of `result` (the run's dtype) widened to float64.
    func result(_ result: PluginResult, _ index: Int, _ shape: [Int]) -> Tensor<Double> {
        dtype == .bf16 ? tensor(bf16: result.u16(index), shape) : tensor(result.f32(index), shape)
    }

    /// The rows the ids use (ascending id) and the ids re-indexed into them: the gather is the plugin's.
    public func embedding(_ ids: [Int], table: String, store: any WeightStore) throws -> Tensor<Double> {
        let used = Array(Set(ids)).sorted()
        let slot = Dictionary(uniqueKeysWithValues: used.enumerated().map { ($1, $0) })
        var rows = [Double]()
        for id in used { rows += try store.rows(table, id..<(id + 1)).scalars }
        let hidden = store.config.text.hiddenSize
        let args = assay_embedding_args(tokens: Int64(ids.count), rows: Int64(used.count), hidden: Int64(hidden))
        let table = Tensor(shape: [used.count, hidden], scalars: rows)
        let result = try call(.embedding, [.args(PluginCall.bytes(of: args)), .input(.i64(ids.map { Int64(slot[$0]!) })),
                                           input(table), output(ids.count * hidden)])
        return self.result(result, 0, [ids.count, hidden])
    }

    public func rmsNorm(_ x: Tensor<Double>, weight: Tensor<Double>, epsilon: Double) throws -> Tensor<Double> {
        let args = assay_rms_norm_args(rows: Int64(x.count / max(weight.count, 1)), width: Int64(weight.count),
                                       epsilon: Float(epsilon))
        let result = try call(.rmsNorm, [.args(PluginCall.bytes(of: args)), input(x), input(weight), output(x.count)])
        return self.result(result, 0, x.shape)
    }

    public func add(_ a: Tensor<Double>, _ b: Tensor<Double>) throws -> Tensor<Double> {
        let args = assay_add_args(count: Int64(a.count))
        let result = try call(.add, [.args(PluginCall.bytes(of: args)), input(a), input(b), output(a.count)])
        return self.result(result, 0, a.shape)
    }

    public func swiglu(_ x: Tensor<Double>, store: any WeightStore, prefix: String) throws -> Tensor<Double> {
        let mlp = try SwiGLU(store, prefix: prefix)
        let fused = try mlp.fusedGateUp(backend: name, op: .swiglu)
        if dtype == .f32, fused.fp8 != nil || mlp.down.fp8 != nil {
            return try swigluFP8(x, gateUp: fused, down: mlp.down)
        }
        if dtype == .f32, fused.quantization?.nvfp4 != nil || mlp.down.quantization?.nvfp4 != nil {
            return try swigluNVFP4(x, gateUp: fused, down: mlp.down)
        }
        try requireFloat(.swiglu, fused, mlp.down)
        let (tokens, hidden, width) = (x.shape[0], x.shape[1], mlp.down.weight.shape[1])
        let args = assay_swiglu_args(tokens: Int64(tokens), hidden: Int64(hidden), intermediate: Int64(width))
        let result = try call(.swiglu, [.args(PluginCall.bytes(of: args)), input(x), input(fused.weight),
                                        input(mlp.down.weight), output(tokens * hidden)])
        return self.result(result, 0, [tokens, hidden])
    }

    /// One call per block of `vocabularyBlocks`, as the reference streams the head.
    public func lmHead(_ x: Tensor<Double>, name: String, store: any WeightStore) throws -> Tensor<Double> {
        let (tokens, hidden, vocab) = (x.shape[0], x.shape[1], store.config.text.vocabSize)
        let x = input(x)
        var logits = [Double](repeating: 0, count: tokens * vocab)
        for block in vocabularyBlocks(vocab) {
            let weight = try store.rows(name, block)
            let args = assay_lm_head_args(tokens: Int64(tokens), hidden: Int64(hidden), vocab: Int64(block.count))
            let part = result(try call(.lmHead, [.args(PluginCall.bytes(of: args)), x, input(weight),
                                                 output(tokens * block.count)]), 0, [tokens, block.count]).scalars
            for t in 0..<tokens {
                for (column, v) in block.enumerated() { logits[t * vocab + v] = part[t * block.count + column] }
            }
        }
        return Tensor(shape: [tokens, vocab], scalars: logits)
    }

    /// The plugin's logits, weights and indices; the margin (informational, spec/router.md eq. 7) from its logits.
    public func router(_ x: Tensor<Double>, weight: Tensor<Double>, config: TextConfig) throws -> Routing {
        let (tokens, experts, k) = (x.shape[0], weight.shape[0], config.numExpertsPerTok)
        let args = assay_router_args(tokens: Int64(tokens), hidden: Int64(x.shape[1]), experts: Int64(experts),
                                     top_k: Int64(k), groups: Int64(config.nGroup), top_groups: Int64(config.topkGroup),
                                     norm_topk_prob: config.normTopkProb ? 1 : 0,
                                     routed_scaling_factor: config.routedScalingFactor)
        let result = try call(.router, [.args(PluginCall.bytes(of: args)), .input(floats(x)), .input(floats(weight)),
                                        .output(.f32, count: tokens * experts), .output(.f32, count: tokens * k),
                                        .output(.i64, count: tokens * k)])
        let logits = tensor(result.f32(0), [tokens, experts])
        return Routing(logits: logits, weights: tensor(result.f32(1), [tokens, k]),
                       indices: Tensor(shape: [tokens, k], scalars: result.i64(2).map { Int($0) }),
                       margin: Router(weight: weight, config: config).select(logits).margin)
    }

    /// Only the experts some token uses, in ascending id, with the indices re-indexed into them.
    public func routedExperts(_ x: Tensor<Double>, routing: Routing, store: any WeightStore, prefix: String)
        throws -> Tensor<Double>
    {
        let (tokens, hidden) = (x.shape[0], x.shape[1])
        let used = Array(Set(routing.indices.scalars)).sorted()
        switch try used.first.flatMap({ try store.quantization(of: prefix + ".gate_up_proj", row: $0) }) {
        case .fp8: return try routedExpertsFP8(x, routing: routing, used: used, store: store, prefix: prefix)
        case .nvfp4: return try routedExpertsNVFP4(x, routing: routing, used: used, store: store, prefix: prefix)
        case nil: break
        }
        let slot = Dictionary(uniqueKeysWithValues: used.enumerated().map { ($1, $0) })
        var gateUp = [Float](), down = [Float]()
        for expert in used {
            gateUp += try f32Weight(.routedExperts, store, prefix + ".gate_up_proj", row: expert)
            down += try f32Weight(.routedExperts, store, prefix + ".down_proj", row: expert)
        }
        let width = store.config.text.moeIntermediateSize
        let args = assay_routed_experts_args(tokens: Int64(tokens), hidden: Int64(hidden), intermediate: Int64(width),
                                             experts: Int64(used.count), top_k: Int64(routing.indices.shape[1]))
        let result = try call(.routedExperts, [
            .args(PluginCall.bytes(of: args)), .input(floats(x)), .input(.i64(routing.indices.scalars.map { Int64(slot[$0]!) })),
            .input(floats(routing.weights)), .input(.f32(gateUp)), .input(.f32(down)), .output(.f32, count: tokens * hidden),
        ])
        return tensor(result.f32(0), [tokens, hidden])
    }
}
