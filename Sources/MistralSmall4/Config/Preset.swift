// Preset: the named configs in spec/presets, compiled into the binary (SwiftPM `embedInCode` of the `Presets`
// symlink), decoded and validated like any config.json.
//
// All presets are mistral3 config.json files that transformers loads as they are, so weight and tap names are the
// same for every preset and cross-check scripts can read them. What each one exercises: spec/config.md.

import Tensor

/// A config shipped in spec/presets. The raw value is the file name without `.json`.
public enum Preset: String, CaseIterable, Sendable {
    /// CI-sized with every feature on: q LoRA, one dense layer before the MoE layers, group-limited routing
    /// (2 groups, 1 picked), routed_scaling_factor 2.5, the real YaRN and Llama-4 τ, rms_norm_eps 1e-3, a 1-layer
    /// vision tower.
    case tiny
    /// The tiny text decoder with a small real vision tower (2 layers, 2 heads of 16, 8 × 8 patches).
    case tinyVision = "tiny-vision"
    /// A few layers a few hundred wide, with the full model's settings (all MoE, no groups, scale 1, ε 1e-6).
    case small
    /// The full model's dimensions with 1 text layer and 1 vision layer (synthetic weights).
    case fullShapeL1 = "full-shape-L1"
    /// Mistral Small 4 119B as released (parameter counting, real checkpoints).
    case full

    /// `tiny.json`, as the file is named in spec/presets and in error messages.
    public var fileName: String { rawValue + ".json" }

    /// The preset's JSON text as compiled in.
    public var bytes: [UInt8] {
        switch self {
        case .tiny: PackageResources.tiny_json
        case .tinyVision: PackageResources.tiny_vision_json
        case .small: PackageResources.small_json
        case .fullShapeL1: PackageResources.full_shape_L1_json
        case .full: PackageResources.full_json
        }
    }

    /// Decodes and validates the preset.
    public func load() throws(ConfigError) -> ModelConfig {
        try ModelConfig.decodeHuggingFace(try document(), source: .preset(self))
    }

    /// The preset's JSON, parsed.
    func document() throws(ConfigError) -> JSONValue {
        do {
            return try JSONValue.parse(bytes)
        } catch {
            throw ConfigError(file: fileName, message: error.description)
        }
    }

    /// The decoded preset. Every preset decodes and validates (PresetTests), so this does not fail.
    public var config: ModelConfig {
        do {
            return try load()
        } catch {
            preconditionFailure("preset \(fileName) is invalid: \(error)")
        }
    }
}
