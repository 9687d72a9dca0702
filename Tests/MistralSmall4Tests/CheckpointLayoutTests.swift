// FP8 checkpoints in both layouts (spec/checkpoints.md), from the fixtures Tools/make_checkpoint.py writes out of
// goldens/tiny-vision: the Hugging Face layout (fused experts, converter-requantized gate|up) and Mistral's
// (one tensor per expert and projection, native vision q/k rows) must give the same taps, byte for byte, through
// the whole multimodal forward; and every bad checkpoint is an error naming the file and the tensor.

import Foundation
import Testing
import Tensor
@testable import MistralSmall4

enum CheckpointFixtures {
    static let huggingFace = Fixtures.path("checkpoints/hf-fp8")
    static let mistral = Fixtures.path("checkpoints/mistral-fp8")
    static let bf16Source = Fixtures.path("../../../goldens/tiny-vision")

    static func store(_ directory: String, expertScale: FP8ExpertActivationScale = .perExpert) throws
        -> CheckpointWeightStore
    {
        try CheckpointWeightStore(config: try ModelConfig.load(path: directory), directory: directory,
                                  expertActivationScale: expertScale)
    }

    /// The taps of a two-image multimodal forward over `store`.
    static func taps(_ store: any WeightStore, profile: PrecisionProfile = .exact) throws -> TapRecorder {
        let multimodal = store.config.multimodal!
        let images = try VisionFixtures.images([(56, 84), (28, 56)])
        let ids = try ImageTokenLayout(multimodal).expand(prompt: [1, 10, 40, 10, 41, 7, 99],
                                                          grids: images.grids(cellSide: 28))
        let inputs = try ForwardInputs(inputIds: Tensor(shape: [1, ids.count], scalars: ids), config: store.config.text)
        let taps = TapRecorder()
        try MultimodalModel(store: store, profile: profile).forward(inputs, images: images, taps: taps)
        return taps
    }
}

@Suite struct CheckpointLayoutTests {
    @Test func eachLayoutIsRecognizedAndHoldsFP8() throws {
        let (hf, mistral) = (try CheckpointFixtures.store(CheckpointFixtures.huggingFace),
                             try CheckpointFixtures.store(CheckpointFixtures.mistral))
        #expect(hf.layout == .huggingFace && hf.checkpoint.shards.count == 2 && hf.checkpoint.indexFile != nil)
        #expect(mistral.layout == .mistral && mistral.checkpoint.indexFile == nil)
        #expect(hf.holdsQuantized && mistral.holdsQuantized)
        #expect(try !CheckpointFixtures.store(CheckpointFixtures.bf16Source).holdsQuantized)
        // params.json and config.json describe the same model.
        #expect(mistral.config.text == hf.config.text && mistral.config.multimodal == hf.config.multimodal)
    }

    @Test func bothLayoutsGiveTheSameTaps() throws {
        let hf = try CheckpointFixtures.taps(try CheckpointFixtures.store(CheckpointFixtures.huggingFace))
        let mistral = try CheckpointFixtures.taps(try CheckpointFixtures.store(CheckpointFixtures.mistral))
        #expect(hf.taps.map(\.name) == mistral.taps.map(\.name))
        for name in ["model.vision_tower.transformer.layers.0.attention", "model.multi_modal_projector",
                     "model.language_model.layers.1.mlp.experts", "lm_head"] {
            #expect(hf[name] != nil, "\(name)")
        }
        for (a, b) in zip(hf.taps, mistral.taps) { #expect(a.value == b.value, "\(a.name)") }
    }

    /// The loader returns w_q · s_w and the stored scales; the per-layer (vLLM) expert scale is the maximum.
    @Test func weightsAreCodesTimesTheirScale() throws {
        let store = try CheckpointFixtures.store(CheckpointFixtures.huggingFace)
        let shard = { (name: String) in try store.checkpoint.shard(containing: name) }
        let module = "model.language_model.layers.1.self_attn.q_a_proj"
        let codes = try shard(module + ".weight").doubles(module + ".weight").scalars
        let scale = try shard(module + ".weight_scale_inv").doubles(module + ".weight_scale_inv").scalars[0]
        let activation = try shard(module + ".activation_scale").doubles(module + ".activation_scale").scalars[0]
        #expect(try store.tensor(module + ".weight").scalars == codes.map { $0 * scale })
        let q = try #require(try store.fp8Quantization(of: module + ".weight", row: nil))
        #expect(q.weightScales == [scale] && q.activationScale == activation && q.convention == .huggingFace)

        let experts = "model.language_model.layers.1.mlp.experts.gate_up_proj"
        let perExpert = try shard(experts + "_activation_scale").doubles(experts + "_activation_scale").scalars
        let perLayer = try CheckpointFixtures.store(CheckpointFixtures.huggingFace, expertScale: .perLayer)
        for expert in perExpert.indices {
            #expect(try store.fp8Quantization(of: experts, row: expert)?.activationScale == perExpert[expert])
            #expect(try perLayer.fp8Quantization(of: experts, row: expert)?.activationScale == perExpert.max())
        }
        #expect(try store.fp8Quantization(of: "model.language_model.layers.1.mlp.gate.weight", row: nil) == nil)
    }

    /// An FP8 checkpoint keeps its own weights and scales under every profile: the FP8 profiles derive nothing, and
    /// hf-fp8-static's bf16 rounding leaves the E4M3 weights alone (their values w_q · s_w need more than bf16's 8
    /// bits) while it still applies to the full-precision ones.
    @Test func profilesRunTheCheckpointsOwnFP8Weights() throws {
        let store = try CheckpointFixtures.store(CheckpointFixtures.huggingFace)
        let (linear, router) = ("model.language_model.layers.1.self_attn.o_proj.weight",
                                "model.language_model.layers.1.mlp.gate.weight")
        let own = try store.fp8Quantization(of: linear, row: nil)
        for profile in PrecisionProfile.allCases {
            let held = profile.weights(store)
            #expect(try held.fp8Quantization(of: linear, row: nil) == own, "\(profile)")
            #expect(try held.tensor(linear) == store.tensor(linear), "\(profile)")
            #expect(try held.tensor(router) == store.tensor(router).map(BFloat16.rounded), "\(profile)")
        }
        #expect(try store.tensor(linear).scalars.contains { BFloat16.rounded($0) != $0 })
    }

    /// Quantization moves the logits off the BF16 source's, but not far: measured NMSE 6.3e-2, like the derived FP8
    /// profiles' 2.1e-2 to 3.5e-2 against exact (spec/quant.md §5; clipping bounds of 4 to 16 saturate some of this
    /// tiny model's activations).
    @Test func theFP8CheckpointStaysNearItsBF16Source() throws {
        let fp8 = try CheckpointFixtures.taps(try CheckpointFixtures.store(CheckpointFixtures.huggingFace))
        let bf16 = try CheckpointFixtures.taps(try CheckpointFixtures.store(CheckpointFixtures.bf16Source))
        guard case .real(let a)? = fp8["lm_head"], case .real(let b)? = bf16["lm_head"] else {
            Issue.record("no lm_head tap")
            return
        }
        let error = zip(a.scalars, b.scalars).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
        let nmse = error / b.scalars.map { $0 * $0 }.reduce(0, +)
        #expect(nmse > 1e-3 && nmse < 1e-1, "NMSE \(nmse)")
    }
}
