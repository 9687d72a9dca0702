// Decoding configs from inline JSON: defaults, legacy spellings, strict types, and the Codable round trip.

import Foundation
import Testing
@testable import MistralSmall4

/// A bare mistral4 config with only the fields Assay requires; `extra` members are spliced in at the top. The last
/// member of each object is one no test removes, so `removing` never leaves a trailing comma.
func minimalMistral4(_ extra: String = "") -> String {
    """
    {\(extra)
      "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "moe_intermediate_size": 16,
      "num_hidden_layers": 2, "num_attention_heads": 2, "n_routed_experts": 4, "n_shared_experts": 1,
      "num_experts_per_tok": 2, "kv_lora_rank": 8, "q_lora_rank": null, "qk_nope_head_dim": 8,
      "qk_rope_head_dim": 4, "v_head_dim": 6, "rms_norm_eps": 1e-5,
      "rope_parameters": {
        "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 256, "beta_fast": 32,
        "beta_slow": 1, "mscale": 1, "mscale_all_dim": 1, "llama_4_scaling_beta": 0.1, "rope_type": "yarn"
      },
      "model_type": "mistral4"
    }
    """
}

/// `json` with the first member named `key` given the literal `value` (a scalar member, not an object).
func replacing(_ key: String, with value: String, in json: String) -> String {
    let range = json.range(of: "\"\(key)\": [^,\n}]*", options: .regularExpression)!
    return json.replacingCharacters(in: range, with: "\"\(key)\": \(value)")
}

/// `json` without the first member named `key` (a scalar member that is not last in its object).
func removing(_ key: String, from json: String) -> String {
    let range = json.range(of: "\"\(key)\": [^,\n}]*,\\s*", options: .regularExpression)!
    return json.replacingCharacters(in: range, with: "")
}

@Suite struct ConfigDecodingTests {
    @Test func bareMistral4TakesTransformersDefaults() throws {
        let config = try decodeConfig(minimalMistral4())
        let t = config.text
        #expect(config.multimodal == nil)
        #expect(config.tieWordEmbeddings == false)
        #expect(config.quantization == nil)
        #expect(config.source == .huggingFace(file: "config.json"))
        #expect(t.numKeyValueHeads == 2)
        #expect(t.qLoraRank == nil)
        #expect((t.nGroup, t.topkGroup, t.firstKDenseReplace) == (1, 1, 0))
        #expect(t.routedScalingFactor == 1.0 && t.normTopkProb && t.ropeInterleave && !t.attentionBias)
        #expect(t.hiddenAct == "silu")
        #expect(t.maxPositionEmbeddings == 1_048_576)
        #expect((t.padTokenId, t.bosTokenId, t.eosTokenIds) == (11, 1, [2]))
        #expect(t.qkHeadDim == 12)
        #expect(t.rope.ropeType == "yarn")
        #expect(t.rope.yarn?.truncate == true && t.rope.yarn?.attentionFactor == nil)
        #expect(t.rope.yarn?.betaFast == 32 && t.rope.originalMaxPositionEmbeddings == 256)
    }

    @Test func legacyRopeSpellingsDecodeToTheSameParameters() throws {
        // rope_scaling for rope_parameters, type for rope_type, and rope_theta at the top level.
        let modern = try decodeConfig(minimalMistral4())
        let inner = removing("rope_theta", from: minimalMistral4())
            .replacingOccurrences(of: "rope_parameters", with: "rope_scaling")
            .replacingOccurrences(of: #""rope_type""#, with: #""type""#)
        let legacy = #"{"rope_theta": 1e4,"# + inner.dropFirst()
        #expect(!legacy.contains("rope_parameters") && !legacy.contains("rope_type"))
        #expect(try decodeConfig(legacy) == modern)
    }

    @Test func plainRopeNeedsNoYarnFields() throws {
        var json = replacing("rope_type", with: #""default""#, in: minimalMistral4())
        for key in ["factor", "beta_fast", "beta_slow", "mscale", "mscale_all_dim"] { json = removing(key, from: json) }
        let rope = try decodeConfig(json).text.rope
        #expect(rope.yarn == nil && rope.ropeType == "default" && rope.llama4ScalingBeta == 0.1)
        #expect(configError(json.replacingOccurrences(of: #""default""#, with: #""yarn""#))
            == "config.json: rope_parameters.factor is missing")
    }

    @Test func eosAcceptsAListAndNull() throws {
        #expect(try decodeConfig(minimalMistral4(#""eos_token_id": [2, 5],"#)).text.eosTokenIds == [2, 5])
        #expect(try decodeConfig(minimalMistral4(#""eos_token_id": null,"#)).text.eosTokenIds == [])
        #expect(configError(minimalMistral4(#""eos_token_id": [2, 64],"#))
            == "config.json: eos_token_id (64) must lie in 0..<vocab_size (64)")
    }

    @Test(arguments: [
        ("hidden_size", "32.0", "config.json: hidden_size: expected an integer, found 32.0"),
        ("hidden_size", "1e3", "config.json: hidden_size: expected an integer, found 1e3"),
        ("hidden_size", "99999999999999999999",
         "config.json: hidden_size: expected an integer in -9223372036854775808...9223372036854775807, "
            + "found 99999999999999999999"),
        ("rms_norm_eps", #""1e-5""#, "config.json: rms_norm_eps: expected a finite number, found a string"),
        ("rms_norm_eps", "1e999", "config.json: rms_norm_eps: expected a finite number, found 1e999"),
        ("q_lora_rank", "true", "config.json: q_lora_rank: expected an integer, found a boolean"),
        ("factor", "null", "config.json: rope_parameters.factor: expected a finite number, found null"),
    ])
    func typesAreStrict(key: String, value: String, expected: String) {
        #expect(configError(replacing(key, with: value, in: minimalMistral4())) == expected)
    }

    @Test(arguments: [
        (#""attention_bias": 0,"#, "config.json: attention_bias: expected a boolean, found 0"),
        (#""n_group": null,"#, "config.json: n_group: expected an integer, found null"),
        (#""quantization_config": [],"#, "config.json: quantization_config: expected an object, found an array"),
        (#""quantization_config": {"quant_method": 8},"#,
         "config.json: quantization_config.quant_method: expected a string, found 8"),
        (#""eos_token_id": [2, "3"],"#, "config.json: eos_token_id[1]: expected an integer, found a string"),
    ])
    func addedMembersAreTypeChecked(member: String, expected: String) {
        #expect(configError(minimalMistral4(member)) == expected)
    }

    @Test(arguments: [
        ("q_lora_rank", "config.json: q_lora_rank is missing"),
        ("rms_norm_eps", "config.json: rms_norm_eps is missing"),
        ("vocab_size", "config.json: vocab_size is missing"),
        ("llama_4_scaling_beta", "config.json: rope_parameters.llama_4_scaling_beta is missing"),
        ("rope_theta", "config.json: rope_parameters.rope_theta is missing"),
    ])
    func requiredFieldsAreNamed(key: String, expected: String) {
        #expect(configError(removing(key, from: minimalMistral4())) == expected)
    }

    @Test func spellingsThatDisagreeAreRefused() {
        #expect(configError(minimalMistral4(#""rope_theta": 500,"#))
            == "config.json: rope_parameters.rope_theta (10000.0) disagrees with rope_theta (500.0)")
        #expect(configError(minimalMistral4(#""rope_scaling": {},"#))
            == "config.json: rope_scaling repeats rope_parameters; keep only rope_parameters")
        #expect(configError(replacing("rope_type", with: #""yarn", "type": "linear""#, in: minimalMistral4()))
            == #"config.json: rope_parameters.rope_type ("yarn") disagrees with rope_parameters.type ("linear")"#)
        #expect(configError(minimalMistral4(#""qk_head_dim": 16,"#))
            == "config.json: qk_head_dim (16) must equal qk_nope_head_dim + qk_rope_head_dim (8 + 4 = 12)")
        #expect(configError(minimalMistral4(#""max_position_embeddings": 4096,"#).replacingOccurrences(
            of: #""factor": 4.0,"#, with: #""factor": 4.0, "max_position_embeddings": 2048,"#))
            == "config.json: rope_parameters.max_position_embeddings (2048) disagrees with "
                + "max_position_embeddings (4096)")
    }

    @Test func codableRoundTripsEveryPresetThroughFoundation() throws {
        let encoder = JSONEncoder()
        for preset in Preset.allCases {
            let config = preset.config
            let data = try encoder.encode(config)
            var decoded = try ModelConfig.decode(Array(data), fileName: "config.json")
            #expect(decoded.source == .huggingFace(file: "config.json"))
            decoded.source = config.source
            #expect(decoded == config, "\(preset)")
        }
    }

    @Test func codableRoundTripsABareConfigWithoutQLoRA() throws {
        let config = try decodeConfig(minimalMistral4(#""eos_token_id": [2, 5], "tie_word_embeddings": true,"#))
        let data = try JSONEncoder().encode(config)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["model_type"] as? String == "mistral4")
        #expect(object["q_lora_rank"] is NSNull)
        #expect(object["text_config"] == nil)
        #expect(try ModelConfig.decode(Array(data), fileName: "config.json") == config)
    }

    @Test func foundationDecoderReadsTheSameConfig() throws {
        let viaFoundation = try JSONDecoder().decode(ModelConfig.self, from: Data(Preset.tiny.bytes))
        var expected = Preset.tiny.config
        expected.source = .huggingFace(file: "config.json")
        #expect(viaFoundation == expected)
    }
}
