// The fp8-static profiles (spec/quant.md §6): which modules the derived store quantizes and with which scales
// (against values computed outside Swift), the FP8 linear against the fake-quantization form of the same product,
// absorbed MLA equal to expanded under FP8, and the profiles' distance from exact and from each other.

#if canImport(Glibc)
import Glibc
#endif
import Testing
import Tensor
@testable import MistralSmall4

/// A store whose tensor `poisoned` has a NaN in its first element.
private struct NaNStore: WeightStore {
    let base: any WeightStore
    let poisoned: String
    var config: ModelConfig { base.config }
    var inventory: TensorInventory { base.inventory }
    func rows(_ name: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> {
        var slab = try base.rows(name, rows)
        if name == poisoned { slab.scalars[0] = .nan }
        return slab
    }
}

/// A store whose `up_proj` weights carry scales of their own (twice gate_proj's weight scale, `activationFactor`
/// times its activation scale).
private struct SplitScaleStore: WeightStore {
    let base: any WeightStore
    var activationFactor = 1.5
    var config: ModelConfig { base.config }
    var inventory: TensorInventory { base.inventory }
    func rows(_ name: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> { try base.rows(name, rows) }
    func quantization(of name: String, row: Int?) throws(WeightError) -> LinearQuantization? {
        guard let q = try base.fp8Quantization(of: name, row: row), name.hasSuffix(".up_proj.weight") else {
            return try base.quantization(of: name, row: row)
        }
        return .fp8(try FP8Quantization(weightScale: 2 * q.weightScales[0],
                                        activationScale: activationFactor * q.activationScale,
                                        convention: q.convention, tensor: name))
    }
}

@Suite struct FP8ProfileTests {
    static let config = Preset.tiny.config
    static let base = SyntheticWeightStore(config: config, seed: 0)
    static let hf = FP8DerivedWeightStore(base, convention: .huggingFace, expertActivationScale: .perExpert)
    static let vllm = FP8DerivedWeightStore(base, convention: .vllm, expertActivationScale: .perLayer)
    static let layer0 = "model.language_model.layers.0", layer1 = "model.language_model.layers.1"

    @Test func quantizesTheReleasedModulesOnly() {
        for name in [".self_attn.q_a_proj.weight", ".self_attn.q_b_proj.weight", ".self_attn.kv_a_proj_with_mqa.weight",
                     ".self_attn.kv_b_proj.weight", ".self_attn.o_proj.weight", ".mlp.gate_proj.weight",
                     ".mlp.down_proj.weight"] {
            #expect(Self.hf.isQuantized(Self.layer0 + name), "\(name)")
        }
        for name in [".mlp.experts.gate_up_proj", ".mlp.experts.down_proj", ".mlp.shared_experts.up_proj.weight"] {
            #expect(Self.hf.isQuantized(Self.layer1 + name), "\(name)")
        }
        for name in [Self.layer1 + ".mlp.gate.weight", "lm_head.weight", "model.language_model.embed_tokens.weight",
                     Self.layer0 + ".input_layernorm.weight", Self.layer0 + ".self_attn.kv_a_layernorm.weight",
                     "model.vision_tower.transformer.layers.0.attention.q_proj.weight",
                     "model.vision_tower.transformer.layers.0.feed_forward.gate_proj.weight",
                     "model.multi_modal_projector.linear_1.weight"] {
            #expect(!Self.hf.isQuantized(name), "\(name)")
        }
    }

    @Test func weightsAreE4M3ValuesTimesTheAmaxScale() throws {
        let name = Self.layer0 + ".self_attn.q_a_proj.weight"
        let (original, derived) = (try Self.base.tensor(name), try Self.hf.tensor(name))
        let scale = try #require(try Self.hf.fp8Quantization(of: name, row: nil)).weightScales[0]
        let amax = original.scalars.map(abs).max()!
        #expect(scale == Double(Float(amax) / 448))
        let codes = derived.scalars.map { $0 / scale }
        #expect(codes.allSatisfy { MiniFloatFormat.e4m3fn.rounded($0, saturating: true) == $0 })
        #expect(codes.map(abs).max() == 448)
        // E4M3 keeps 3 fraction bits: a normal value moves by at most 2^-4 of itself, a subnormal by 2^-10 · s_w
        for (w, q) in zip(original.scalars, derived.scalars) {
            #expect(abs(w - q) <= max(abs(w) / 16, scale / 1024), "\(w) quantized to \(q)")
        }
    }

    @Test func gateAndUpShareAScaleAndExpertsHaveTheirOwn() throws {
        let mlp = Self.layer1 + ".mlp.shared_experts"
        let gate = try Self.hf.fp8Quantization(of: mlp + ".gate_proj.weight", row: nil)
        let up = try Self.hf.fp8Quantization(of: mlp + ".up_proj.weight", row: nil)
        #expect(gate != nil && gate == up)
        let experts = Self.layer1 + ".mlp.experts.gate_up_proj"
        let scales = try (0..<8).map { try #require(try Self.hf.fp8Quantization(of: experts, row: $0)).weightScales[0] }
        #expect(Set(scales).count > 1)   // measured 6 distinct of 8: bf16 weights can share their amax
        let expertZero = try Self.base.row(experts, 0).scalars.map(abs).max()!
        #expect(scales[0] == Double(Float(expertZero) / 448))
    }

    /// s_a = F((8 + (FNV-1a 64 of the key mod 8)) / 448); the expected values come from Python (numpy float32).
    @Test func activationScalesFollowTheStatedRule() throws {
        let qa = try #require(try Self.hf.fp8Quantization(of: Self.layer0 + ".self_attn.q_a_proj.weight", row: nil))
        #expect(qa.activationScale == 0.02678571455180645 && qa.convention == .huggingFace)   // key mod 8 = 4
        let sharedUp = Self.layer1 + ".mlp.shared_experts.up_proj.weight"
        let shared = try #require(try Self.hf.fp8Quantization(of: sharedUp, row: nil))
        #expect(shared.activationScale == 0.0245535708963871)                                  // gate_proj's key: 3
        let experts = Self.layer1 + ".mlp.experts.gate_up_proj"
        // experts 3, 4, 5 are copies of 2, 0, 1 (spec/rng.md §4.3) and take their keys; their own would give
        // 0.03125, 0.0334821417927742, 0.02678571455180645
        let perExpert: [Double] = [0.0245535708963871, 0.01785714365541935, 0.02008928544819355, 0.02008928544819355,
                                   0.0245535708963871, 0.01785714365541935, 0.02901785634458065, 0.0223214291036129]
        for expert in 0..<8 {
            #expect(try Self.hf.fp8Quantization(of: experts, row: expert)?.activationScale == perExpert[expert])
            let perLayer = try #require(try Self.vllm.fp8Quantization(of: experts, row: expert))
            #expect(perLayer.activationScale == 0.02901785634458065 && perLayer.convention == .vllm)  // the maximum
        }
    }

    @Test func badRequestsAndNaNWeightsAreErrorsNamingTheTensor() throws {
        let experts = Self.layer1 + ".mlp.experts.down_proj"
        #expect(throws: WeightError.self) { try Self.hf.fp8Quantization(of: experts, row: nil) }
        let poisoned = Self.layer0 + ".self_attn.o_proj.weight"
        let store = FP8DerivedWeightStore(NaNStore(base: Self.base, poisoned: poisoned), convention: .vllm,
                                          expertActivationScale: .perLayer)
        do {
            _ = try store.tensor(poisoned)
            Issue.record("a NaN weight was quantized")
        } catch {
            #expect(error.tensor == poisoned && error.message.contains("NaN"), "\(error)")
        }
    }

    /// An FP8 checkpoint's MLP keeps gate_proj and up_proj apart, each with its own scales (spec/quant.md §4):
    /// the reference runs them as two FP8 linears, and a backend that fuses them says it cannot.
    @Test func gateAndUpUnderDifferentScalesRunAsTwoLinears() throws {
        let (store, mlp) = (SplitScaleStore(base: Self.hf), Self.layer0 + ".mlp")
        let swiglu = try SwiGLU(store, prefix: mlp)
        let x = Tensor(shape: [3, Self.config.text.hiddenSize],
                       scalars: (0..<(3 * Self.config.text.hiddenSize)).map { sin(Double($0)) })
        func fp8(_ module: String) throws -> Tensor<Double> {
            let q = try #require(try store.fp8Quantization(of: module + ".weight", row: nil))
            let w = try store.tensor(module + ".weight").map { $0 / q.weightScales[0] }
            return FP8StaticLinear(weight: w, weightScale: q.weightScales[0], activationScale: q.activationScale)(
                x, convention: q.convention, accumulation: .exact)
        }
        let (g, u) = (try fp8(mlp + ".gate_proj"), try fp8(mlp + ".up_proj"))
        let h = Tensor(shape: g.shape, scalars: zip(g.scalars, u.scalars).map { a, u in a / (1 + exp(-a)) * u })
        #expect(swiglu(x).scalars == swiglu.down(h).scalars)
        #expect(swiglu(x).scalars != (try SwiGLU(Self.hf, prefix: mlp))(x).scalars)
        #expect(swiglu.gateUp == nil)
        do {
            _ = try swiglu.fusedGateUp(backend: "blas", op: .swiglu)
            Issue.record("gate_proj and up_proj fused under two scales")
        } catch {
            #expect(error.unsupported && error.message.contains("quantize their input differently"), "\(error)")
        }
    }

    /// Gate and up with one activation scale but weight scales of their own fuse into one layer with a weight scale
    /// per half (as a fused expert stored with [E, 2, 1] scales), and that layer computes both linears exactly.
    @Test func gateAndUpUnderOneActivationScaleFuseWithAWeightScalePerHalf() throws {
        let (store, mlp) = (SplitScaleStore(base: Self.hf, activationFactor: 1), Self.layer0 + ".mlp")
        let swiglu = try SwiGLU(store, prefix: mlp)
        let fused = try #require(swiglu.gateUp)
        let scales = try #require(swiglu.gate.fp8).weightScales + (try #require(swiglu.up.fp8)).weightScales
        #expect(fused.fp8?.weightScales == scales && scales[1] == 2 * scales[0])
        #expect(fused.rowBlocks(2).map(\.fp8) == [swiglu.gate.fp8, swiglu.up.fp8])
        let x = Tensor(shape: [3, Self.config.text.hiddenSize],
                       scalars: (0..<(3 * Self.config.text.hiddenSize)).map { cos(Double($0)) })
        let (g, u, both) = (swiglu.gate(x), swiglu.up(x), fused(x))                     // [3, I], [3, I], [3, 2I]
        let width = g.shape[1]
        for t in 0..<3 {
            #expect(Array(both.scalars[(t * 2 * width)..<((t * 2 + 1) * width)]) == Array(g.scalars[(t * width)..<((t + 1) * width)]))
            #expect(Array(both.scalars[((t * 2 + 1) * width)..<((t + 1) * 2 * width)]) == Array(u.scalars[(t * width)..<((t + 1) * width)]))
        }
        // equal weight scales collapse into one: the fused layer of an unsplit MLP has a single scale
        #expect(try SwiGLU(Self.hf, prefix: mlp).gateUp?.fp8?.weightScales.count == 1)
    }

    @Test func scalesThatAreNotFiniteAndPositiveAreErrors() {
        for (weight, activation, field) in [(Double.nan, 1.0, "weight_scale_inv"), (0, 1, "weight_scale_inv"),
                                            (1, -0.5, "activation_scale"), (1, .infinity, "activation_scale")] {
            do {
                _ = try FP8Quantization(weightScale: weight, activationScale: activation, convention: .vllm, tensor: "w")
                Issue.record("scales \(weight), \(activation) accepted")
            } catch {
                #expect(error.tensor == "w" && error.message.hasPrefix(field), "\(error)")
            }
        }
    }

    /// The FP8 linear (integer-valued sums of E4M3 products, scaled once) against the fake-quantization form:
    /// dequantized activations times dequantized weights, summed in float64.
    @Test(arguments: FP8ActivationConvention.allCases)
    func fp8LinearEqualsItsFakeQuantizedForm(convention: FP8ActivationConvention) throws {
        let store = FP8DerivedWeightStore(Self.base, convention: convention, expertActivationScale: .perExpert)
        let layer = try store.linearLayer(Self.layer0 + ".self_attn.kv_b_proj")
        let fp8 = try #require(layer.fp8)
        let x = SyntheticWeights(seed: 5).normal("x", shape: [3, layer.weight.shape[1]], std: 1)
        let fake = linear(fp8.quantizedActivations(x).map { $0 * fp8.activationScale }, layer.weight)
        let y = layer(x)
        for (a, b) in zip(y.scalars, fake.scalars) { #expect(abs(a - b) <= 1e-13 * max(abs(b), 1)) }
        #expect(nmse(y.scalars, linear(x, layer.weight).scalars) > 1e-6, "the activations were not quantized")
    }

    @Test func absorbedAttentionEqualsExpandedUnderFP8() throws {
        #expect(try MLAWeights(Self.hf, prefix: Self.layer0 + ".self_attn").kvUp.quantization?.fp8 != nil)
        let (expanded, absorbed) = try TextFixtures.expandedAndAbsorbed(Self.hf, profile: .fp8Static)
        for (a, b) in zip(absorbed.scalars, expanded.scalars) { #expect(abs(a - b) <= 1e-12 * max(abs(b), 1)) }
    }

    @Test func profilesDifferFromExactAndFromEachOther() throws {
        let inputs = try TextFixtures.inputs(Self.config.text, length: 4)
        var logits = [PrecisionProfile: [Double]]()
        for profile in [PrecisionProfile.exact, .fp8Static, .fp8StaticVLLM, .hfFP8Static] {
            let taps = try TextFixtures.taps(TextDecoder(store: Self.base, profile: profile), inputs)
            logits[profile] = try #require(taps["lm_head"]).reals
        }
        let exact = logits[.exact]!
        // measured NMSE against exact: fp8-static 1.7e-2, fp8-static-vllm 2.4e-2, hf-fp8-static 2.2e-2 (E4M3 keeps 3
        // fraction bits on both operands of every quantized linear, in series through three random layers); the two
        // conventions are 1.6e-2 apart (per-layer expert scales coarsen the routed experts' inputs)
        for profile in [PrecisionProfile.fp8Static, .fp8StaticVLLM, .hfFP8Static] {
            let distance = nmse(logits[profile]!, exact)
            #expect(distance > 1e-3 && distance < 1e-1, "\(profile.rawValue): \(distance)")
        }
        #expect(nmse(logits[.fp8StaticVLLM]!, logits[.fp8Static]!) > 1e-3)
        #expect(logits[.hfFP8Static]!.allSatisfy { BFloat16.rounded($0) == $0 })
    }
}
