// Mistral's native checkpoint names (`params.json` + `consolidated*.safetensors`) for the inventory's Hugging Face
// names — the inverse of transformers' convert_mistral4_weight_to_hf.py renamings, spec/checkpoints.md §2:
//
//   text   <P>.embed_tokens → tok_embeddings         <P>.norm → norm            lm_head → output
//          <P>.layers.N.input_layernorm → layers.N.attention_norm     post_attention_layernorm → ffn_norm
//          self_attn.{q_a_proj, q_b_proj, q_proj, kv_a_proj_with_mqa, kv_b_proj, o_proj}
//                   → attention.{wq_a, wq_b, wq, wkv_a_with_mqa, wkv_b, wo}
//          self_attn.{q_a_layernorm, kv_a_layernorm} → attention.{q_a_norm, kv_a_norm}
//          mlp.gate → gate       mlp.shared_experts.{gate,up,down}_proj → shared_experts.{w1,w3,w2}
//          mlp.{gate,up,down}_proj (dense layers) → feed_forward.{w1,w3,w2}
//          mlp.experts.gate_up_proj [E, 2I, H] → experts.e.w1 [I, H] then experts.e.w3, for each e
//          mlp.experts.down_proj [E, H, I] → experts.e.w2
//   vision model.vision_tower.… → vision_encoder.…, attention.{q,k,v,o}_proj → attention.{wq,wk,wv,wo},
//          feed_forward.{gate,up,down}_proj → feed_forward.{w1,w3,w2}; q and k rows in native order (vision.md eq. 14)
//   projector  model.multi_modal_projector.{linear_1, linear_2, norm, patch_merger}
//          → vision_language_adapter.{w_in, w_out}, pre_mm_projector_norm, patch_merger
//   scales <module>.weight_scale_inv → <module>.qscale_weight,  <module>.activation_scale → <module>.qscale_act
//
// <P> is `model.language_model` (mistral3) or `model` (a text-only mistral4 config).

/// Where Mistral's layout keeps one inventory tensor.
enum MistralStoredWeight: Equatable {
    /// The same values under another name.
    case tensor(String)
    /// A vision q_proj / k_proj weight stored with native (interleaved-pair) rows; the Hugging Face rows are
    /// eq. (14) of spec/vision.md applied to it.
    case nativeRotaryRows(String)
    /// A fused expert tensor: row e is the concatenation of `layers.N.experts.e.<part>.weight` over `parts`
    /// (`w1`, `w3` for gate_up_proj; `w2` for down_proj).
    case perExpert(layer: Int, parts: [String])

    /// The tensor names of expert `expert` (for `.perExpert`), without `.weight`.
    static func expertModule(layer: Int, expert: Int, part: String) -> String { "layers.\(layer).experts.\(expert).\(part)" }
}

enum MistralCheckpointNames {
    /// The module path of `kind` inside a decoder layer (`input_layernorm`, `mlp.gate`), as the tap table has it.
    private static func inLayer(_ kind: TapKind) -> String { String(kind.row.module.dropFirst()) }

    /// Renamings of the module path inside a text layer, Hugging Face → Mistral.
    static let layerModules: [(String, String)] = {
        let (attention, shared, dense) = (inLayer(.selfAttention), inLayer(.sharedExperts), inLayer(.denseMLP))
        return [
            (inLayer(.inputNorm), "attention_norm"), (inLayer(.postAttentionNorm), "ffn_norm"),
            (attention + ".q_a_proj", "attention.wq_a"), (attention + ".q_b_proj", "attention.wq_b"),
            (attention + ".q_proj", "attention.wq"), (attention + ".kv_a_proj_with_mqa", "attention.wkv_a_with_mqa"),
            (attention + ".kv_b_proj", "attention.wkv_b"), (attention + ".o_proj", "attention.wo"),
            (attention + ".q_a_layernorm", "attention.q_a_norm"), (attention + ".kv_a_layernorm", "attention.kv_a_norm"),
            (inLayer(.routerLogits), "gate"),
            (shared + ".gate_proj", "shared_experts.w1"), (shared + ".up_proj", "shared_experts.w3"),
            (shared + ".down_proj", "shared_experts.w2"),
            (dense + ".gate_proj", "feed_forward.w1"), (dense + ".up_proj", "feed_forward.w3"),
            (dense + ".down_proj", "feed_forward.w2"),
        ]
    }()

    /// Renamings inside the vision tower and the projector (prefix first, then module names).
    static let visionPrefixes: [(String, String)] = [
        (ModelPaths.visionTower + ".", "vision_encoder."),
        (ModelPaths.projector + ".linear_1.", "vision_language_adapter.w_in."),
        (ModelPaths.projector + ".linear_2.", "vision_language_adapter.w_out."),
        (ModelPaths.projector + TapKind.projectorNorm.row.module + ".", "pre_mm_projector_norm."),
        (ModelPaths.projector + TapKind.patchMerger.row.module + ".", "patch_merger."),
    ]
    static let visionModules: [(String, String)] = [
        ("attention.q_proj.", "attention.wq."), ("attention.k_proj.", "attention.wk."),
        ("attention.v_proj.", "attention.wv."), ("attention.o_proj.", "attention.wo."),
        ("feed_forward.gate_proj.", "feed_forward.w1."), ("feed_forward.up_proj.", "feed_forward.w3."),
        ("feed_forward.down_proj.", "feed_forward.w2."),
    ]

    /// Where `name` (an inventory name of the model of `paths`) lives; nil when the layout has no rule for it.
    static func stored(_ name: String, paths: ModelPaths) -> MistralStoredWeight? {
        if name == paths.tap(.lmHead).weight { return .tensor("output.weight") }
        if name == paths.tap(.embedTokens).weight { return .tensor("tok_embeddings.weight") }
        if name == paths.tap(.finalNorm).weight { return .tensor("norm.weight") }
        if name.hasPrefix(paths.text + ".layers.") { return layerTensor(String(name.dropFirst(paths.text.count + 1))) }
        for (hf, mistral) in visionPrefixes where name.hasPrefix(hf) {
            var renamed = mistral + name.dropFirst(hf.count)
            for (module, native) in visionModules { renamed = renamed.replacing(module, with: native, maxReplacements: 1) }
            let rotary = name.hasSuffix(".attention.q_proj.weight") || name.hasSuffix(".attention.k_proj.weight")
            return rotary ? .nativeRotaryRows(renamed) : .tensor(renamed)
        }
        return nil
    }

    /// `layers.N.<module>.<leaf>` in Hugging Face terms → Mistral's.
    private static func layerTensor(_ path: String) -> MistralStoredWeight? {
        let parts = path.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, let layer = Int(parts[1]) else { return nil }
        switch parts[2] {
        case inLayer(.routedExperts) + ".gate_up_proj": return .perExpert(layer: layer, parts: ["w1", "w3"])
        case inLayer(.routedExperts) + ".down_proj": return .perExpert(layer: layer, parts: ["w2"])
        default: break
        }
        for (hf, mistral) in layerModules where parts[2].hasPrefix(hf + ".") {
            return .tensor("layers.\(layer).\(mistral)\(parts[2].dropFirst(hf.count))")
        }
        return nil
    }

    /// The scale tensors of the FP8 weight stored as `weight` (`….weight`): (weight scale, activation scale).
    static func scaleNames(ofStored weight: String) -> (weight: String, activation: String) {
        let module = weight.hasSuffix(".weight") ? String(weight.dropLast(".weight".count)) : weight
        return (module + ".qscale_weight", module + ".qscale_act")
    }
}
