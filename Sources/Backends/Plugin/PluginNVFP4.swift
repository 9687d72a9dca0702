// NVFP4 linears through a plugin — spec/quant.md eq. 11–15: when the store holds a SwiGLU op's linears in NVFP4, an
// f32 run passes them as an NVFP4 checkpoint stores them (packed E2M1 codes, E4M3 block scales, float32 global
// scales; assay_nvfp4_weights) to the op's nvfp4 entry point (assay_plugin.h), never dequantized; a plugin that
// lists the op without ASSAY_DTYPE_NVFP4 leaves it NOT COVERED.

import CAssayPlugin
import MistralSmall4
import Tensor

extension PluginBackend {
    /// The NVFP4 scales of `layer`, or an unsupported-op error naming what is not NVFP4.
    func nvfp4(_ op: SpecOp, _ layer: LinearLayer, _ what: String) throws -> NVFP4Quantization {
        guard let nvfp4 = layer.quantization?.nvfp4 else {
            throw BackendError(backend: name, op: op, "\(what) is not NVFP4 while the op's other linears are; the nvfp4 "
                               + "entry point takes them all in NVFP4", unsupported: true)
        }
        return nvfp4
    }

    /// `layer` as an NVFP4 checkpoint stores it: packed E2M1 codes [out, in/2] and E4M3 block scale codes.
    func nvfp4Stored(_ layer: LinearLayer, _ q: NVFP4Quantization) -> (codes: [UInt8], blockScales: [UInt8]) {
        let e2m1 = q.e2m1Values(layer.weight).scalars.map { MiniFloatFormat.e2m1.encode($0, saturating: false) }
        return (FP4Packing.pack(e2m1), q.blockScales.scalars.map { MiniFloatFormat.e4m3fn.encode($0, saturating: false) })
    }

    /// `layers` (one per expert, or one) as an assay_nvfp4_weights table: packed codes, block scale codes, g_w of
    /// each half of the rows, g_x.
    func nvfp4Weights(_ op: SpecOp, _ layers: [(layer: LinearLayer, what: String)]) throws -> PluginArgument {
        var codes = [UInt8](), blockScales = [UInt8](), weightGlobals = [Float](), inputGlobals = [Float]()
        for (layer, what) in layers {
            let q = try nvfp4(op, layer, what)
            let rows = layer.weight.shape[0]
            let stored = nvfp4Stored(layer, q)
            codes += stored.codes
            blockScales += stored.blockScales
            weightGlobals += [0, rows / 2].map { Float(q.weightGlobal(ofRow: $0, rows: rows)) }
            inputGlobals.append(Float(q.inputGlobal))
        }
        return .table([.u8(codes), .u8(blockScales), .f32(weightGlobals), .f32(inputGlobals)])
    }

    /// `assay_mla_nvfp4_weights` of the layer at `prefix`: the pointers in field order, then the five projections'
    /// `assay_nvfp4_globals`.
    func mlaNVFP4Weights(_ op: SpecOp, _ store: any WeightStore, prefix: String) throws -> PluginArgument {
        let config = store.config.text
        let lowRank = config.qLoraRank != nil
        func linear(_ module: String) throws -> (codes: PluginBuffer, scales: PluginBuffer, bias: PluginBuffer?,
                                                 globals: assay_nvfp4_globals) {
            let layer = try store.linearLayer(prefix + module, bias: config.attentionBias && module != ".kv_b_proj"
                                                  && module != (lowRank ? ".q_b_proj" : ".q_proj"))
            let q = try nvfp4(op, layer, String(module.dropFirst()))
            let stored = nvfp4Stored(layer, q)
            return (.u8(stored.codes), .u8(stored.blockScales), layer.bias.map(floats),
                    assay_nvfp4_globals(weight: Float(q.weightGlobals[0]), input: Float(q.inputGlobal)))
        }
        func vector(_ name: String) throws -> PluginBuffer { .f32(try f32Weight(op, store, prefix + name + ".weight")) }
        let qA = lowRank ? try linear(".q_a_proj") : nil
        let qB = try linear(lowRank ? ".q_b_proj" : ".q_proj")
        let (kvA, kvB, o) = (try linear(".kv_a_proj_with_mqa"), try linear(".kv_b_proj"), try linear(".o_proj"))
        precondition(MemoryLayout<assay_mla_nvfp4_weights>.offset(of: \.q_a) == 16 * MemoryLayout<UnsafeRawPointer>.stride,
                     "assay_mla_nvfp4_weights: the globals follow the 16 pointers")
        let unused = assay_nvfp4_globals(weight: 0, input: 0)
        let globals = [qA?.globals ?? unused, qB.globals, kvA.globals, kvB.globals, o.globals]
        return .table([
            qA?.codes, qA?.scales, qA?.bias, lowRank ? try vector(".q_a_layernorm") : nil, qB.codes, qB.scales,
            kvA.codes, kvA.scales, kvA.bias, try vector(".kv_a_layernorm"), kvB.codes, kvB.scales, o.codes, o.scales,
            o.bias, .f64(YarnRoPE(config).inverseFrequencies),
        ], trailer: globals.withUnsafeBytes { Array($0) })
    }

    func swigluNVFP4(_ x: Tensor<Double>, gateUp: LinearLayer, down: LinearLayer) throws -> Tensor<Double> {
        let (tokens, hidden, width) = (x.shape[0], x.shape[1], down.weight.shape[1])
        let args = assay_swiglu_args(tokens: Int64(tokens), hidden: Int64(hidden), intermediate: Int64(width))
        let result = try call(.swiglu, [.args(PluginCall.bytes(of: args)), .input(floats(x)),
                                        try nvfp4Weights(.swiglu, [(gateUp, "gate_up")]),
                                        try nvfp4Weights(.swiglu, [(down, "down_proj")]),
                                        .output(.f32, count: tokens * hidden)], dtype: .nvfp4)
        return tensor(result.f32(0), [tokens, hidden])
    }

    /// The experts some token uses (`used`, ascending), each with its own scales.
    func routedExpertsNVFP4(_ x: Tensor<Double>, routing: Routing, used: [Int], store: any WeightStore, prefix: String)
        throws -> Tensor<Double>
    {
        let (tokens, hidden) = (x.shape[0], x.shape[1])
        let slot = Dictionary(uniqueKeysWithValues: used.enumerated().map { ($1, $0) })
        var gateUps = [(layer: LinearLayer, what: String)](), downs = [(layer: LinearLayer, what: String)]()
        for expert in used {
            let mlp = try SwiGLU(store, experts: prefix, expert: expert)
            gateUps.append((try mlp.fusedGateUp(backend: name, op: .routedExperts), "expert \(expert)'s gate_up"))
            downs.append((mlp.down, "expert \(expert)'s down_proj"))
        }
        let args = assay_routed_experts_args(tokens: Int64(tokens), hidden: Int64(hidden),
                                             intermediate: Int64(store.config.text.moeIntermediateSize),
                                             experts: Int64(used.count), top_k: Int64(routing.indices.shape[1]))
        let result = try call(.routedExperts, [
            .args(PluginCall.bytes(of: args)), .input(floats(x)),
            .input(.i64(routing.indices.scalars.map { Int64(slot[$0]!) })), .input(floats(routing.weights)),
            try nvfp4Weights(.routedExperts, gateUps), try nvfp4Weights(.routedExperts, downs),
            .output(.f32, count: tokens * hidden),
        ], dtype: .nvfp4)
        return tensor(result.f32(0), [tokens, hidden])
    }
}
