// The tensor inventory: names, shapes, components and order, for the presets and the branches they do not take.

import Testing
@testable import MistralSmall4

@Suite struct TensorInventoryTests {
    @Test(arguments: [
        ("model.language_model.embed_tokens.weight", [131_072, 4096], Component.embedding),
        ("model.language_model.layers.0.self_attn.q_a_proj.weight", [1024, 4096], .attention),
        ("model.language_model.layers.0.self_attn.q_a_layernorm.weight", [1024], .attention),
        ("model.language_model.layers.0.self_attn.q_b_proj.weight", [4096, 1024], .attention),
        ("model.language_model.layers.0.self_attn.kv_a_proj_with_mqa.weight", [320, 4096], .attention),
        ("model.language_model.layers.0.self_attn.kv_a_layernorm.weight", [256], .attention),
        ("model.language_model.layers.0.self_attn.kv_b_proj.weight", [6144, 256], .attention),
        ("model.language_model.layers.35.self_attn.o_proj.weight", [4096, 4096], .attention),
        ("model.language_model.layers.35.mlp.experts.gate_up_proj", [128, 4096, 4096], .routedExperts),
        ("model.language_model.layers.35.mlp.experts.down_proj", [128, 4096, 2048], .routedExperts),
        ("model.language_model.layers.35.mlp.gate.weight", [128, 4096], .router),
        ("model.language_model.layers.35.mlp.shared_experts.up_proj.weight", [2048, 4096], .sharedExperts),
        ("model.language_model.layers.35.mlp.shared_experts.down_proj.weight", [4096, 2048], .sharedExperts),
        ("model.language_model.layers.35.input_layernorm.weight", [4096], .norms),
        ("model.language_model.norm.weight", [4096], .norms),
        ("lm_head.weight", [131_072, 4096], .lmHead),
        ("model.vision_tower.patch_conv.weight", [1024, 3, 14, 14], .vision),
        ("model.vision_tower.ln_pre.weight", [1024], .vision),
        ("model.vision_tower.transformer.layers.23.attention.q_proj.weight", [1024, 1024], .vision),
        ("model.vision_tower.transformer.layers.23.feed_forward.down_proj.weight", [1024, 4096], .vision),
        ("model.vision_tower.transformer.layers.23.ffn_norm.weight", [1024], .vision),
        ("model.multi_modal_projector.norm.weight", [1024], .projector),
        ("model.multi_modal_projector.patch_merger.merging_layer.weight", [1024, 4096], .projector),
        ("model.multi_modal_projector.linear_1.weight", [4096, 1024], .projector),
        ("model.multi_modal_projector.linear_2.weight", [4096, 4096], .projector),
    ])
    func fullModelShapes(name: String, shape: [Int], component: Component) throws {
        let entry = try #require(TensorInventory(Preset.full.config)[name])
        #expect(entry.shape == shape)
        #expect(entry.component == component)
    }

    @Test func fullModelOrderFollowsTransformers() {
        let names = TensorInventory(Preset.full.config).entries.map(\.name)
        #expect(names.count == 765 && Set(names).count == 765)
        #expect(names.first == "model.vision_tower.patch_conv.weight")
        #expect(names.last == "lm_head.weight")
        let layer0 = names.filter { $0.hasPrefix("model.language_model.layers.0.") }
            .map { $0.replacingOccurrences(of: "model.language_model.layers.0.", with: "") }
        #expect(layer0 == [
            "self_attn.q_a_proj.weight", "self_attn.q_a_layernorm.weight", "self_attn.q_b_proj.weight",
            "self_attn.kv_a_proj_with_mqa.weight", "self_attn.kv_a_layernorm.weight", "self_attn.kv_b_proj.weight",
            "self_attn.o_proj.weight", "mlp.experts.gate_up_proj", "mlp.experts.down_proj", "mlp.gate.weight",
            "mlp.shared_experts.gate_proj.weight", "mlp.shared_experts.up_proj.weight",
            "mlp.shared_experts.down_proj.weight", "input_layernorm.weight", "post_attention_layernorm.weight",
        ])
        #expect(!names.contains { $0.contains("q_proj") && $0.contains("language_model") })
    }

    @Test func tinyHasADenseLayerThenMoELayers() {
        let inventory = TensorInventory(Preset.tiny.config)
        #expect(inventory["model.language_model.layers.0.mlp.gate_proj.weight"]?.shape == [112, 64])
        #expect(inventory["model.language_model.layers.0.mlp.down_proj.weight"]?.component == .denseMLP)
        #expect(inventory["model.language_model.layers.0.mlp.experts.gate_up_proj"] == nil)
        #expect(inventory["model.language_model.layers.1.mlp.experts.gate_up_proj"]?.shape == [8, 48, 64])
        #expect(inventory["model.language_model.layers.2.mlp.experts.down_proj"]?.shape == [8, 64, 24])
        #expect(inventory["model.language_model.layers.1.mlp.gate_proj.weight"] == nil)
    }

    @Test func inventoryBranchesFollowTheConfig() throws {
        var config = Preset.tiny.config
        config.tieWordEmbeddings = true
        config.text.attentionBias = true
        config.text.qLoraRank = nil
        config.multimodal?.multimodalProjectorBias = true
        let inventory = TensorInventory(config)
        let attention = "model.language_model.layers.0.self_attn."
        #expect(inventory["lm_head.weight"] == nil)
        #expect(inventory[attention + "q_proj.weight"]?.shape == [96, 64])
        #expect(inventory[attention + "q_a_proj.weight"] == nil && inventory[attention + "q_b_proj.weight"] == nil)
        #expect(inventory[attention + "kv_a_proj_with_mqa.bias"]?.shape == [44])
        #expect(inventory[attention + "o_proj.bias"]?.shape == [64])
        #expect(inventory[attention + "kv_b_proj.bias"] == nil)
        #expect(inventory["model.multi_modal_projector.linear_1.bias"]?.shape == [64])
        #expect(inventory["model.multi_modal_projector.linear_2.bias"]?.component == .projector)
        let names = inventory.entries.map(\.name)
        #expect(names.firstIndex(of: attention + "kv_a_proj_with_mqa.bias")
            == names.firstIndex(of: attention + "kv_a_proj_with_mqa.weight").map { $0 + 1 })
    }

    @Test func bareConfigUsesTheModelPrefix() throws {
        let config = try decodeConfig(minimalMistral4())
        let names = TensorInventory(config).entries.map(\.name)
        #expect(ModelPaths(config).text == "model")
        #expect(names.first == "model.embed_tokens.weight")
        #expect(names.contains("model.layers.1.mlp.experts.gate_up_proj"))
        #expect(names.last == "lm_head.weight")
        #expect(!names.contains { $0.contains("vision") || $0.contains("language_model") })
    }
}
