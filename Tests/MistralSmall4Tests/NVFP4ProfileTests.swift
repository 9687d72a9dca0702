// The `nvfp4` profile — spec/quant.md §11: the synthetic NVFP4 checkpoint's rule (power-of-two global scales, E4M3
// block scales per 16 inputs, E2M1 codes), the quantized linears computing eq. (15), fusing and the absorbed MLA
// unchanged by it, and the whole model moved by it as 4-bit weights and activations should.

import Foundation
import Testing
import Tensor
@testable import MistralSmall4

@Suite struct NVFP4ProfileTests {
    static let config = Preset.tiny.config
    static let base = SyntheticWeightStore(config: config, seed: 0)
    static let store = NVFP4DerivedWeightStore(base)
    static let layer0 = "model.language_model.layers.0", layer1 = "model.language_model.layers.1"

    /// The NVFP4 scales of `name` (of expert `row`).
    func scales(_ name: String, row: Int? = nil) throws -> NVFP4Quantization {
        try #require(try Self.store.quantization(of: name, row: row)?.nvfp4, "\(name) is not NVFP4")
    }

    @Test func quantizesTheFP8CheckpointsModulesAndNothingElse() throws {
        for name in [Self.layer0 + ".self_attn.q_b_proj.weight", Self.layer0 + ".mlp.down_proj.weight"] {
            #expect(try Self.store.quantization(of: name, row: nil)?.nvfp4 != nil, "\(name)")
        }
        #expect(try Self.store.quantization(of: Self.layer1 + ".mlp.experts.down_proj", row: 3)?.nvfp4 != nil)
        for name in [Self.layer1 + ".mlp.gate.weight", "lm_head.weight", "model.language_model.embed_tokens.weight"] {
            #expect(try Self.store.quantization(of: name, row: nil) == nil, "\(name)")
            #expect(try Self.store.tensor(name) == Self.base.tensor(name), "\(name)")
        }
    }

    /// Eq. (16)–(18): g_w the power of two at or above amax / 2688, block scales E4M3 values at most 448, every
    /// weight an E2M1 value times its block's s_w · g_w; (19): g_x the reciprocal of a power of two.
    @Test func weightsAreE2M1ValuesUnderBlockAndPowerOfTwoScales() throws {
        let name = Self.layer0 + ".self_attn.q_a_proj.weight"
        let (original, derived, q) = (try Self.base.tensor(name), try Self.store.tensor(name), try scales(name))
        let global = q.weightGlobals[0], bound = original.scalars.map(abs).max()! / 2688
        #expect(global >= bound && global < 2 * bound && log2(global) == log2(global).rounded())
        #expect(q.blockScales.scalars.allSatisfy { $0 <= 448 && MiniFloatFormat.e4m3fn.rounded($0, saturating: true) == $0 })
        let (inputs, blocks) = (derived.shape[1], q.blockScales.shape[1])
        for (index, w) in derived.scalars.enumerated() {
            let scale = q.blockScales.scalars[(index / inputs) * blocks + (index % inputs) / 16] * global
            #expect(scale == 0 ? w == 0 : MiniFloatFormat.e2m1.rounded(w / scale, saturating: true) == w / scale)
        }
        #expect(nmse(derived.scalars, original.scalars) > 1e-4, "the weight was not quantized")
        #expect(log2(q.inputGlobal) == log2(q.inputGlobal).rounded())
    }

    /// A width that is not a multiple of 16 (tiny's q_lora_rank 40) ends in a short block: 3 scales a row.
    @Test func aRowNotWholeBlocksEndsInAShortBlock() throws {
        let name = Self.layer0 + ".self_attn.q_b_proj.weight"
        #expect(try scales(name).blockScales.shape == [try Self.base.tensor(name).shape[0], 3])
    }

    /// Eq. (15) is the product of the dequantized activations x_q · s_x / g_x and the dequantized weight.
    @Test func aLinearIsTheProductOfDequantizedActivationsAndWeights() throws {
        for module in [Self.layer0 + ".self_attn.kv_b_proj", Self.layer0 + ".mlp.down_proj"] {
            let layer = try Self.store.linearLayer(module)
            let q = try #require(layer.quantization?.nvfp4)
            let x = SyntheticWeights(seed: 5).normal("x", shape: [3, layer.weight.shape[1]], std: 1)
            let (y, fake) = (layer(x), linear(q.dequantizedActivations(x), layer.weight))
            for (a, b) in zip(y.scalars, fake.scalars) { #expect(abs(a - b) <= 1e-13 * max(abs(b), 1)) }
            #expect(nmse(y.scalars, linear(x, layer.weight).scalars) > 1e-4, "the activations were not quantized")
        }
    }

    /// gate and up share g_w and g_x (one scale group), so they fuse into one NVFP4 layer computing both exactly.
    @Test func gateAndUpFuseIntoOneLayer() throws {
        let swiglu = try SwiGLU(Self.store, prefix: Self.layer0 + ".mlp")
        let fused = try #require(swiglu.gateUp)
        #expect(fused.quantization?.nvfp4?.weightGlobals.count == 1)
        let x = SyntheticWeights(seed: 7).normal("x", shape: [3, Self.config.text.hiddenSize], std: 1)
        let (both, gate, up) = (fused(x).scalars, swiglu.gate(x).scalars, swiglu.up(x).scalars)
        let width = swiglu.gate.weight.shape[0]
        for t in 0..<3 {
            #expect(Array(both[(t * 2 * width)..<(t * 2 * width + width)]) == Array(gate[(t * width)..<((t + 1) * width)]))
            #expect(Array(both[(t * 2 * width + width)..<((t + 1) * 2 * width)]) == Array(up[(t * width)..<((t + 1) * width)]))
        }
    }

    /// The stored conventions hold the derived globals exactly: ModelOpt's multipliers and compressed-tensors'
    /// divisors are float32 powers of two whose reciprocals are float32 too.
    @Test func bothStorageConventionsHoldTheGlobalsExactly() throws {
        let q = try scales(Self.layer1 + ".mlp.experts.gate_up_proj", row: 5)
        for g in [q.weightGlobals[0], 1 / q.inputGlobal] {
            for storage in NVFP4Storage.allCases {
                let stored = Double(Float(storage == .modelOpt ? g : 1 / g))
                #expect(storage.multiplier(stored) == g)
            }
        }
    }

    @Test func absorbedAttentionEqualsExpandedUnderNVFP4() throws {
        #expect(try MLAWeights(Self.store, prefix: Self.layer0 + ".self_attn").kvUp.quantization?.nvfp4 != nil)
        let (expanded, absorbed) = try TextFixtures.expandedAndAbsorbed(Self.store, profile: .nvfp4)
        for (a, b) in zip(absorbed.scalars, expanded.scalars) { #expect(abs(a - b) <= 1e-12 * max(abs(b), 1)) }
    }

    @Test func theProfileMovesTheLogitsAsFourBitsShould() throws {
        let inputs = try TextFixtures.inputs(Self.config.text, length: 4)
        let exact = try #require(try TextFixtures.taps(TextDecoder(store: Self.base, profile: .exact), inputs)["lm_head"]).reals
        let fp4 = try #require(try TextFixtures.taps(TextDecoder(store: Self.base, profile: .nvfp4), inputs)["lm_head"]).reals
        // measured NMSE against exact: 0.33 (E2M1 keeps one fraction bit on both operands of every quantized linear,
        // through three random layers; FP8's 3 bits give 2.1e-2)
        let distance = nmse(fp4, exact)
        #expect(distance > 2e-2 && distance < 1, "\(distance)")
    }
}
