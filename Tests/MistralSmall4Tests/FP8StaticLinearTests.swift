// The FP8 static linear (spec/quant.md) on cases small enough to check by hand: the E4M3 grid and its saturation,
// the one input where transformers' double rounding and vLLM's float32 reciprocal part ways, and a layer whose
// inputs are exact E4M3 multiples of the scale, where the quantized product must equal the dequantized one.

import Testing
import Tensor
@testable import MistralSmall4

@Suite struct FP8StaticLinearTests {
    typealias Q = FP8StaticLinear

    @Test(arguments: FP8ActivationConvention.allCases)
    func gridValuesAndSaturation(convention: FP8ActivationConvention) {
        #expect(Q.quantizeActivation(1.0, scale: 1, convention) == 1.0)
        #expect(Q.quantizeActivation(2.25, scale: 1, convention) == 2.25)            // on the grid near 2: step 0.25
        #expect(Q.quantizeActivation(3.0, scale: 2, convention) == 1.5)
        #expect(Q.quantizeActivation(1000, scale: 1, convention) == 448)              // saturates, never NaN
        #expect(Q.quantizeActivation(-1000, scale: 1, convention) == -448)
        #expect(Q.quantizeActivation(1.0625, scale: 1, convention) == 1.0)           // a tie: to the even code 1.0
    }

    @Test func theTwoConventionsPartWhereBF16RoundsOntoATie() {
        // 1.0625 is halfway between the E4M3 values 1.0 and 1.125. Just above it, float32 keeps the excess and
        // vLLM rounds up; bf16 (8 significant bits) rounds it onto the tie first, and the tie goes to 1.0.
        let x = 1.0625 + 0x1p-12
        #expect(Q.quantizeActivation(x, scale: 1, .vllm) == 1.125)
        #expect(Q.quantizeActivation(x, scale: 1, .huggingFace) == 1.0)
    }

    @Test func quantizingMapsTheLargestWeightTo448() {
        let w = Tensor(shape: [2, 3], scalars: [0.5, -2.0, 0.1, 1.0, 0.25, -0.75])
        let layer = Q.quantizing(w, activationScale: 0.5)
        #expect(layer.weightScale == Double(Float(2.0) / 448))
        #expect(layer.weight.scalars.map(abs).max() == 448)
        #expect(layer.weight.scalars[1] == -448)
    }

    @Test(arguments: FP8ActivationConvention.allCases, FP8Accumulation.allCases)
    func exactInputsGiveTheDequantizedProduct(convention: FP8ActivationConvention, accumulation: FP8Accumulation) {
        // Weights are E4M3 values, inputs are E4M3 values times s_a = 0.25, so quantization loses nothing and
        // y = (x_q · w_qᵀ) · s_a · s_w is the plain product of the dequantized tensors: 0.25·(1·2 + 1.5·(−3) +
        // (−0.5)·4) = −1.125 then × s_w = 0.5, −0.5625 + bias 1.
        let layer = Q(weight: Tensor(shape: [1, 3], scalars: [2, -3, 4]), weightScale: 0.5, activationScale: 0.25,
                      bias: Tensor(shape: [1], scalars: [1]))
        let x = Tensor(shape: [1, 3], scalars: [0.25, 0.375, -0.125])
        let y = layer(x, convention: convention, accumulation: accumulation)
        let expected: Double = 1 + 0.5 * 0.25 * (2.0 - 4.5 - 2.0)   // 0.4375
        #expect(y.scalars == [expected])
    }

    @Test func float32AccumulationIsCloseToExact() {
        let w = Tensor(shape: [4, 64], scalars: (0..<256).map { Double(($0 * 37) % 29 - 14) / 7 })
        let layer = Q.quantizing(w, activationScale: 0.02)
        let x = Tensor(shape: [3, 64], scalars: (0..<192).map { Double(($0 * 11) % 17 - 8) / 3 })
        let exact = layer(x, convention: .vllm, accumulation: .exact)
        let single = layer(x, convention: .vllm, accumulation: .float32)
        for (a, b) in zip(exact.scalars, single.scalars) {
            #expect(abs(a - b) <= 1e-5 * max(1, abs(a)))
            #expect(Double(Float(b)) == b)   // the float32 path returns float32 values
        }
    }
}

@Suite struct FP8ExpertScaleTests {
    @Test func perExpertOrPerLayer() {
        let scales = [0.03125, 0.078125, 0.0625]
        #expect(FP8ExpertActivationScale.perExpert.scale(of: 0, among: scales) == 0.03125)
        #expect(FP8ExpertActivationScale.perLayer.scale(of: 0, among: scales) == 0.078125)
        // The choice changes x_q: 1.5625 / 0.03125 = 50 lies halfway between the E4M3 values 48 and 52 (step 4 in
        // [32, 64)) and rounds to the even 48; 1.5625 / 0.078125 = 20 is on the grid.
        #expect(FP8StaticLinear.quantizeActivation(1.5625, scale: 0.03125, .vllm) == 48)
        #expect(FP8StaticLinear.quantizeActivation(1.5625, scale: 0.078125, .vllm) == 20)
    }

    @Test func fusingKeepsTheLargerScaleAndRequantizesTheOtherHalf() {
        let gate = FP8StaticLinear(weight: Tensor(shape: [1, 2], scalars: [448.0, -3]), weightScale: 0.5, activationScale: 1)
        let up = FP8StaticLinear(weight: Tensor(shape: [1, 2], scalars: [448.0, 7]), weightScale: 0.25, activationScale: 1)
        let fused = FP8StaticLinear.fusingGateUp(gate: gate, up: up)
        #expect(fused.weightScale == 0.5)
        // gate is kept; up's codes are halved (448 → 224, 7 → 3.5), both E4M3 values, so nothing is lost here.
        #expect(fused.weight.scalars == [448, -3, 224, 3.5])
        // Dequantized, every row is what it was.
        let x = Tensor(shape: [1, 2], scalars: [1.0, 1.0])
        let separate = gate(x, convention: .vllm, accumulation: .exact).scalars + up(x, convention: .vllm, accumulation: .exact).scalars
        #expect(fused(x, convention: .vllm, accumulation: .exact).scalars == separate)
    }

    @Test func requantizingCanRound() {
        // s_gate = 0.75, s_up = 0.25: up's codes scale by 1/3. 3 → 1 exactly; 7 → 2.333…, between the E4M3 values
        // 2.25 and 2.5 (step 0.25 in [2, 4)), nearer 2.25.
        let gate = FP8StaticLinear(weight: Tensor(shape: [1, 2], scalars: [1.0, 2]), weightScale: 0.75, activationScale: 1)
        let up = FP8StaticLinear(weight: Tensor(shape: [1, 2], scalars: [3.0, 7]), weightScale: 0.25, activationScale: 1)
        #expect(FP8StaticLinear.fusingGateUp(gate: gate, up: up).weight.scalars == [1, 2, 1, 2.25])
    }
}
