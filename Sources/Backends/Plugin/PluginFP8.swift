// FP8 E4M3 linears through a plugin — spec/quant.md eq. 2–6: when the store holds an op's linears in FP8, an f32
// run passes them as the checkpoint stores them (E4M3 codes, float32 weight scales, the activation scale and
// convention of the set's profile) to the op's f8e4m3 entry point (assay_plugin.h), never dequantized; a plugin
// that lists the op without ASSAY_DTYPE_F8_E4M3 leaves it NOT COVERED.

import CAssayPlugin
import MistralSmall4
import Tensor

extension PluginBackend {
    /// The FP8 scales of `layer`, or an unsupported-op error naming what is not FP8: an f8e4m3 entry point takes every
    /// linear of its op in FP8.
    func fp8(_ op: SpecOp, _ layer: LinearLayer, _ what: String) throws -> FP8Quantization {
        guard let fp8 = layer.fp8 else {
            throw BackendError(backend: name, op: op, "\(what) is not FP8 while the op's other linears are; the f8e4m3 "
                               + "entry point takes them all in FP8", unsupported: true)
        }
        return fp8
    }

    /// The E4M3 codes of `layer` (its weight is w_q · s_w, eq. 6; the division by s_w is exact).
    func codes(_ layer: LinearLayer, _ fp8: FP8Quantization) -> [UInt8] {
        fp8.weightCodes(layer.weight).scalars.map { MiniFloatFormat.e4m3fn.encode($0, saturating: false) }
    }

    /// ASSAY_F8_HUGGING_FACE or ASSAY_F8_VLLM.
    func convention(_ fp8: FP8Quantization) -> Int32 {
        fp8.convention == .huggingFace ? Int32(ASSAY_F8_HUGGING_FACE) : Int32(ASSAY_F8_VLLM)
    }

    /// s_w of the gate rows and of the up rows of a fused gate|up (one scale: twice).
    func gateUpScales(_ fp8: FP8Quantization) -> (Float, Float) {
        (Float(fp8.weightScales[0]), Float(fp8.weightScales[fp8.weightScales.count - 1]))
    }

    func swigluFP8(_ x: Tensor<Double>, gateUp: LinearLayer, down: LinearLayer) throws -> Tensor<Double> {
        let (g, d) = (try fp8(.swiglu, gateUp, "gate_up"), try fp8(.swiglu, down, "down_proj"))
        let (tokens, hidden, width) = (x.shape[0], x.shape[1], down.weight.shape[1])
        let (gate, up) = gateUpScales(g)
        let args = assay_swiglu_f8_args(tokens: Int64(tokens), hidden: Int64(hidden), intermediate: Int64(width),
                                        activation_convention: convention(g), gate_weight_scale: gate,
                                        up_weight_scale: up, gate_up_activation_scale: Float(g.activationScale),
                                        down_weight_scale: Float(d.weightScales[0]),
                                        down_activation_scale: Float(d.activationScale))
        let result = try call(.swiglu, [.args(PluginCall.bytes(of: args)), .input(floats(x)), .input(.u8(codes(gateUp, g))),
                                        .input(.u8(codes(down, d))), .output(.f32, count: tokens * hidden)],
                              dtype: .f8e4m3)
        return tensor(result.f32(0), [tokens, hidden])
    }

    /// The experts some token uses (`used`, ascending), each with its own scales, as BLAS fuses them.
    func routedExpertsFP8(_ x: Tensor<Double>, routing: Routing, used: [Int], store: any WeightStore, prefix: String)
        throws -> Tensor<Double>
    {
        let (tokens, hidden) = (x.shape[0], x.shape[1])
        let slot = Dictionary(uniqueKeysWithValues: used.enumerated().map { ($1, $0) })
        var gateUp = [UInt8](), down = [UInt8]()
        var gateUpScales = [Float](), gateUpActivation = [Float](), downScales = [Float](), downActivation = [Float]()
        var conventions = Set<Int32>()
        for expert in used {
            let mlp = try SwiGLU(store, experts: prefix, expert: expert)
            let fused = try mlp.fusedGateUp(backend: name, op: .routedExperts)
            let (g, d) = (try fp8(.routedExperts, fused, "expert \(expert)'s gate_up"),
                          try fp8(.routedExperts, mlp.down, "expert \(expert)'s down_proj"))
            gateUp += codes(fused, g)
            down += codes(mlp.down, d)
            let (gate, up) = self.gateUpScales(g)
            gateUpScales += [gate, up]
            gateUpActivation.append(Float(g.activationScale))
            downScales.append(Float(d.weightScales[0]))
            downActivation.append(Float(d.activationScale))
            conventions.formUnion([convention(g), convention(d)])
        }
        guard conventions.count <= 1 else {
            throw BackendError(backend: name, op: .routedExperts, "experts quantize activations by both conventions",
                               unsupported: true)
        }
        let width = store.config.text.moeIntermediateSize
        let args = assay_routed_experts_f8_args(tokens: Int64(tokens), hidden: Int64(hidden), intermediate: Int64(width),
                                                experts: Int64(used.count), top_k: Int64(routing.indices.shape[1]),
                                                activation_convention: conventions.first ?? 0)
        let result = try call(.routedExperts, [
            .args(PluginCall.bytes(of: args)), .input(floats(x)),
            .input(.i64(routing.indices.scalars.map { Int64(slot[$0]!) })), .input(floats(routing.weights)),
            .input(.u8(gateUp)), .input(.u8(down)),
            .table([.f32(gateUpScales), .f32(gateUpActivation), .f32(downScales), .f32(downActivation)]),
            .output(.f32, count: tokens * hidden),
        ], dtype: .f8e4m3)
        return tensor(result.f32(0), [tokens, hidden])
    }


    /// `assay_mla_f8_weights` of the layer at `prefix`: the pointers in field order, then `assay_mla_f8_scales`.
    func mlaF8Weights(_ op: SpecOp, _ store: any WeightStore, prefix: String) throws -> PluginArgument {
        let config = store.config.text
        let lowRank = config.qLoraRank != nil
        func linear(_ module: String) throws -> (codes: PluginBuffer, bias: PluginBuffer?, scale: assay_f8_scale, fp8: FP8Quantization) {
            let layer = try store.linearLayer(prefix + module, bias: config.attentionBias && module != ".kv_b_proj"
                                                  && module != (lowRank ? ".q_b_proj" : ".q_proj"))
            let q = try fp8(op, layer, String(module.dropFirst()))
            guard q.weightScales.count == 1 else {
                throw BackendError(backend: name, op: op, "\(module.dropFirst()) has \(q.weightScales.count) weight scales",
                                   unsupported: true)
            }
            return (.u8(codes(layer, q)), layer.bias.map(floats),
                    assay_f8_scale(weight: Float(q.weightScales[0]), activation: Float(q.activationScale)), q)
        }
        func vector(_ name: String) throws -> PluginBuffer { .f32(try f32Weight(op, store, prefix + name + ".weight")) }
        let qA = lowRank ? try linear(".q_a_proj") : nil
        let qB = try linear(lowRank ? ".q_b_proj" : ".q_proj")
        let (kvA, kvB, o) = (try linear(".kv_a_proj_with_mqa"), try linear(".kv_b_proj"), try linear(".o_proj"))
        let all = [qA?.fp8, qB.fp8, kvA.fp8, kvB.fp8, o.fp8].compactMap { $0 }
        guard Set(all.map(\.convention)).count == 1 else {
            throw BackendError(backend: name, op: op, "projections quantize activations by both conventions",
                               unsupported: true)
        }
        let unused = assay_f8_scale(weight: 0, activation: 0)
        let scales = assay_mla_f8_scales(q_a: qA?.scale ?? unused, q_b: qB.scale, kv_a: kvA.scale, kv_b: kvB.scale,
                                         o: o.scale, activation_convention: convention(kvA.fp8))
        precondition(MemoryLayout<assay_mla_f8_weights>.offset(of: \.scales) == 11 * MemoryLayout<UnsafeRawPointer>.stride,
                     "assay_mla_f8_weights: the scales follow the 11 pointers")
        return .table([
            qA?.codes, qA?.bias, lowRank ? try vector(".q_a_layernorm") : nil, qB.codes,
            kvA.codes, kvA.bias, try vector(".kv_a_layernorm"), kvB.codes, o.codes, o.bias,
            .f64(YarnRoPE(config).inverseFrequencies),
        ], trailer: PluginCall.bytes(of: scales))
    }
}
