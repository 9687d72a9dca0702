// The layouts of a Hugging Face checkpoint's FP8 expert weight scales (spec/checkpoints.md §3): [E], [E, 1, 1], and
// transformers' FP8Experts' [E, 2, 1], where the fused gate_up_proj's gate and up halves each keep their own scale.
// The fixture checkpoints/hf-fp8-halves (Tools/make_checkpoint.py) stores Mistral's w1 and w3 codes unchanged under
// their two different scales; Python emulated its experts in float64 (expert-halves-cases.safetensors), and this file
// checks the model's expert taps against a loop over the stored codes that shares no code with the loader or layers.

import Foundation
import Testing
import Tensor
@testable import MistralSmall4

/// Routed experts of a checkpoint with [E, 2, 1] gate|up scales, written out from spec/quant.md eq. (2), (4) and
/// spec/experts.md eq. (1)–(2) over the stored tensors: no store, no LinearLayer, no FP8StaticLinear.
private struct StoredExpertLoop {
    let gateUp: Tensor<Double>, halfScales: [Double], gateUpInput: [Double]    // [E, 2I, H] codes, [E, 2, 1], [E]
    let down: Tensor<Double>, downScales: [Double], downInput: [Double]        // [E, H, I] codes, [E, 1, 1], [E]

    /// The routed experts `prefix` (`…layers.N.mlp.experts`) as `file` stores them.
    init(_ file: SafeTensorsFile, prefix: String) throws {
        (gateUp, down) = (try file.doubles(prefix + ".gate_up_proj"), try file.doubles(prefix + ".down_proj"))
        halfScales = try file.doubles(prefix + ".gate_up_proj_scale_inv").scalars
        gateUpInput = try file.doubles(prefix + ".gate_up_proj_activation_scale").scalars
        downScales = try file.doubles(prefix + ".down_proj_scale_inv").scalars
        downInput = try file.doubles(prefix + ".down_proj_activation_scale").scalars
    }

    /// Rows `rows` of expert `e` of `codes` [E, out, in] on `x` [in]: x_q = E4M3(bf16(x / s_a)), Σ x_q · w_q · s_a · s_w.
    func product(_ x: [Double], _ codes: Tensor<Double>, expert e: Int, rows: Range<Int>, sW: Double, sA: Double)
        -> [Double]
    {
        let xq = x.map { MiniFloatFormat.e4m3fn.rounded(BFloat16.rounded($0 / sA), saturating: true) }      // (2)
        let (inputs, base) = (codes.shape[2], e * codes.shape[1] * codes.shape[2])
        return rows.map { r in
            (0..<inputs).reduce(0.0) { $0 + xq[$1] * codes.scalars[base + r * inputs + $1] } * sA * sW          // (4)
        }
    }

    /// Expert `e` on one token `x` [H]: gate and up each under its own weight scale and the shared s_a, then down.
    func expert(_ e: Int, _ x: [Double]) -> [Double] {
        let (width, hidden) = (gateUp.shape[1] / 2, gateUp.shape[2])
        let gate = product(x, gateUp, expert: e, rows: 0..<width, sW: halfScales[2 * e], sA: gateUpInput[e])
        let up = product(x, gateUp, expert: e, rows: width..<(2 * width), sW: halfScales[2 * e + 1], sA: gateUpInput[e])
        let h = zip(gate, up).map { a, u in a / (1 + exp(-a)) * u }
        return product(h, down, expert: e, rows: 0..<hidden, sW: downScales[e], sA: downInput[e])
    }

    /// Tokens `x` [T, H] routed by `indices`, `weights` [T, k]: the weighted sum, in ascending expert id.
    func routed(_ x: Tensor<Double>, indices: Tensor<Int>, weights: Tensor<Double>) -> [Double] {
        let (hidden, k) = (x.shape[1], indices.shape[1])
        var out = [Double](repeating: 0, count: x.count)
        for e in 0..<gateUp.shape[0] {
            for slot in indices.scalars.indices where indices.scalars[slot] == e {
                let token = slot / k
                let y = expert(e, Array(x.scalars[(token * hidden)..<((token + 1) * hidden)]))
                for d in 0..<hidden { out[token * hidden + d] += weights.scalars[slot] * y[d] }
            }
        }
        return out
    }
}

@Suite struct CheckpointExpertScaleTests {
    static let halves = Fixtures.path("checkpoints/hf-fp8-halves")
    static let cases = Result { try SafeTensorsFile(path: Fixtures.path("checkpoints/expert-halves-cases.safetensors")) }
    static let moeLayers = [1, 2]

    static func nmse(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / b.map { $0 * $0 }.reduce(0, +)
    }

    /// Each expert's gate|up carries its two stored scales, and its weights are each half's codes times its own.
    @Test func eachHalfKeepsItsStoredScale() throws {
        let store = try CheckpointFixtures.store(Self.halves)
        let name = "model.language_model.layers.1.mlp.experts.gate_up_proj"
        let file = try store.checkpoint.shard(containing: name)
        let (codes, scales) = (try file.doubles(name), try file.doubles(name + "_scale_inv").scalars)   // [E, 2, 1]
        let half = codes.count / codes.shape[0] / 2
        var differ = 0
        for e in 0..<codes.shape[0] {
            let q = try #require(try store.fp8Quantization(of: name, row: e))
            #expect(q.weightScales == [scales[2 * e], scales[2 * e + 1]])
            differ += scales[2 * e] != scales[2 * e + 1] ? 1 : 0
            let stored = codes.scalars[(e * 2 * half)..<((e + 1) * 2 * half)]
            let expected = stored.enumerated().map { i, code in code * scales[2 * e + i / half] }
            #expect(try store.row(name, e).scalars == expected)
        }
        #expect(differ == codes.shape[0])          // the fixture's gate and up scales differ in every expert
    }

    /// Every expert against Python's float64 emulation (Tools/make_checkpoint.py): measured NMSE 0 for all 16 (the
    /// bound leaves room for numpy's exp against glibc's). In numpy, the two halves' scales swapped miss by NMSE
    /// 3.0e-6 to 1.3e-2, one scale max(s_gate, s_up) for both halves (no requantization) by 5.9e-5 to 0.22.
    @Test func expertsMatchPythonsFloat64Emulation() throws {
        let (store, cases) = (try CheckpointFixtures.store(Self.halves), try Self.cases.get())
        let x = try cases.doubles("input")
        for layer in Self.moeLayers {
            for e in 0..<store.config.text.nRoutedExperts {
                let mlp = try SwiGLU(store, experts: "model.language_model.layers.\(layer).mlp.experts", expert: e)
                let expected = try cases.doubles("layers.\(layer).experts.\(e).output")
                let nmse = Self.nmse(mlp(x).scalars, expected.scalars)
                #expect(nmse <= 1e-20, "layer \(layer) expert \(e): NMSE \(nmse)")
            }
        }
    }

    /// The routed-experts taps of a whole multimodal forward against the loop over the stored codes, fed the forward's
    /// own expert inputs and routing taps: measured NMSE 0 in both MoE layers.
    @Test func expertTapsMatchALoopOverTheStoredCodes() throws {
        let store = try CheckpointFixtures.store(Self.halves)
        let taps = try CheckpointFixtures.taps(store)
        let file = try SafeTensorsFile(path: Self.halves + "/model.safetensors")
        for layer in Self.moeLayers {
            let prefix = "model.language_model.layers.\(layer)"
            guard case .real(let input)? = taps[prefix + ".post_attention_layernorm"],
                  case .integer(let indices)? = taps[prefix + ".mlp.gate#indices"],
                  case .real(let weights)? = taps[prefix + ".mlp.gate#weights"],
                  case .real(let experts)? = taps[prefix + ".mlp.experts"] else {
                Issue.record("layer \(layer): taps missing")
                continue
            }
            let x = input.reshaped([input.count / input.shape.last!, input.shape.last!])             // [T, H]
            let loop = try StoredExpertLoop(file, prefix: prefix + ".mlp.experts")
            let nmse = Self.nmse(experts.scalars, loop.routed(x, indices: indices, weights: weights))
            #expect(nmse <= 1e-20, "layer \(layer): NMSE \(nmse)")
        }
    }

    /// One scale per expert stored as [E], [E, 1, 1] or [E, 2, 1] with equal halves: the same model, byte for byte.
    @Test func everyLayoutOfOneScaleGivesTheSameTaps() throws {
        let store = try CheckpointFixtures.store(CheckpointFixtures.huggingFace)
        let original = try CheckpointFixtures.taps(store)
        for layout in ["[E]", "[E, 2, 1]"] {
            let copy = try CheckpointCopy(CheckpointFixtures.huggingFace)
            for layer in Self.moeLayers {
                let scale = "model.language_model.layers.\(layer).mlp.experts.gate_up_proj_scale_inv"
                let scales = try store.checkpoint.shard(containing: scale).doubles(scale).scalars        // [E, 1, 1]
                let stored = layout == "[E]" ? Tensor(shape: [scales.count], scalars: scales)
                    : Tensor(shape: [scales.count, 2, 1], scalars: scales.flatMap { [$0, $0] })
                try copy.replace(scale, with: try StoredTensor(name: scale, encoding: stored, as: .f32))
            }
            let taps = try CheckpointFixtures.taps(try CheckpointFixtures.store(copy.path))
            #expect(taps.taps.map(\.name) == original.taps.map(\.name))
            for (a, b) in zip(taps.taps, original.taps) { #expect(a.value == b.value, "\(layout): \(a.name)") }
        }
    }
}
