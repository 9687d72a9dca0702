// Mistral params.json: it decodes to the same ModelConfig as the equivalent config.json, and its errors use its names.

import Foundation
import Testing
@testable import MistralSmall4

@Suite struct MistralParamsTests {
    @Test func fullParamsMatchTheFullPreset() throws {
        var fromParams = try ModelConfig.load(path: Fixtures.path("params/full.params.json"))
        #expect(fromParams.source == .mistralParams(file: "full.params.json"))
        let quantization = try #require(fromParams.quantization)
        #expect(quantization.quantMethod == "fp8" && quantization.activationScheme == "static")
        #expect(quantization.weightBlockSize == nil)
        #expect(quantization.modulesToNotConvert == ["model.vision_tower", "model.multi_modal_projector", "lm_head"])
        fromParams.quantization = nil
        fromParams.source = .preset(.full)
        #expect(fromParams == Preset.full.config)
    }

    @Test func tinyParamsMatchTheTinyPreset() throws {
        var fromParams = try ModelConfig.load(path: Fixtures.path("params/tiny.params.json"))
        fromParams.source = .preset(.tiny)
        #expect(fromParams == Preset.tiny.config)
    }

    @Test func paramsWithoutVisionEncoderAreATextModel() throws {
        let params = try JSONSerialization.jsonObject(with: Data(try Fixtures.bytes("params/tiny.params.json")))
        var object = try #require(params as? [String: Any])
        object["vision_encoder"] = nil
        let bytes = Array(try JSONSerialization.data(withJSONObject: object))
        let config = try ModelConfig.decode(bytes, fileName: "params.json")
        #expect(config.multimodal == nil)
        #expect(config.text == Preset.tiny.config.text)
        #expect(TensorInventory(config)["model.layers.1.mlp.gate.weight"]?.shape == [8, 64])
    }

    @Test func validationNamesParamsFields() throws {
        var config = try ModelConfig.load(path: Fixtures.path("params/tiny.params.json"))
        config.text.firstKDenseReplace = 9
        #expect(throws: ConfigError(file: "tiny.params.json", message:
            "moe.first_k_dense_replace (9) must not exceed n_layers (3)")) { try config.validate() }
        config = try ModelConfig.load(path: Fixtures.path("params/tiny.params.json"))
        config.multimodal?.spatialMergeSize = 3
        #expect(throws: ConfigError(file: "tiny.params.json", message:
            "vision_encoder.image_size / vision_encoder.patch_size (4 patches) must be divisible by "
                + "vision_encoder.spatial_merge_size (3)")) { try config.validate() }
    }

    @Test func everyParamsFieldHasOneCanonicalPlace() {
        let canonical = MistralParams.fields.map(\.canonical)
        #expect(Set(canonical).count == canonical.count)
        let spellings = MistralParams.fields.flatMap(\.params)
        #expect(Set(spellings).count == spellings.count)
        #expect(MistralParams.paramsName(forCanonical: "text_config.n_routed_experts") == "moe.num_experts")
        #expect(MistralParams.paramsName(forDocumentPath: "hidden_size", isBare: true) == "dim")
        #expect(MistralParams.paramsName(forDocumentPath: "tie_word_embeddings", isBare: true) == "tied_embeddings")
    }
}
