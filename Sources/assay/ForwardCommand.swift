// `assay forward`: run the float64 reference text decoder on a batch of token ids and write its taps.

import ArgumentParser
import MistralSmall4
import Tensor

struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run the reference text decoder and write its taps (layer-boundary tensors) as safetensors.",
        discussion: """
            IN holds input_ids [batch, seq] (I64 or I32) and optionally position_ids [batch, seq] (default 0…seq−1) \
            and attention_mask [batch, seq] of 0/1 (default all 1). TAPS gets one tensor per tap, named by the \
            transformers module path (spec/taps.md): model.language_model.embed_tokens, …layers.{i}.input_layernorm, \
            .self_attn, .self_attn#kv_latent, .post_attention_layernorm, .mlp.gate#logits/#weights/#indices/#margin, \
            .mlp.experts, .mlp.shared_experts, .mlp, …layers.{i}, …norm, lm_head. Router and .mlp.experts taps are \
            [batch·seq, …] as transformers' modules see them; the others are [batch, seq, …]. Bad input prints one line naming the \
            file, tensor or field, and exits 1.
            """)

    @OptionGroup var source: ModelSourceOptions

    @Option(help: "Safetensors file with input_ids and optionally position_ids, attention_mask.")
    var input: String

    @Option(help: "Where to write the taps (written atomically).")
    var output: String

    @Option(help: "Stored dtype of the real-valued taps: f32 or f64 (router indices are I64).")
    var dtype: TapDType = .f32

    @Option(help: "Precision profile: exact (float64) or hf-bf16 (transformers' casts in bfloat16; spec/precision.md).")
    var profile: PrecisionProfile = .exact

    @Option(help: "MLA algorithm: expanded (decompress K and V, as transformers) or absorbed (attend over the latent).")
    var attention: AttentionAlgorithm = .expanded

    @Option(help: "Keep only taps whose name matches this regular expression (anywhere in the name).")
    var taps: String?

    func run() throws {
        let filter: Regex<AnyRegexOutput>?
        do {
            filter = try taps.map { try Regex($0) }
        } catch {
            throw ValidationError("--taps: not a regular expression: \(taps ?? "")")
        }
        let store = try source.store()
        let inputs = try ForwardInputs.read(path: input, config: store.config.text)
        let recorder = TapRecorder(filter: filter)
        try TextDecoder(store: store, profile: profile, algorithm: attention).forward(inputs, taps: recorder)
        let stored = try recorder.taps.map { tap throws(SafeTensorsError) in try tap.value.stored(name: tap.name, real: dtype.dtype) }
        try SafeTensorsWriter.write(stored, metadata: ["assay.profile": profile.rawValue], to: output)
    }
}

enum TapDType: String, ExpressibleByArgument, CaseIterable {
    case f32, f64

    var dtype: DType { self == .f32 ? .f32 : .f64 }
}

extension PrecisionProfile: ExpressibleByArgument {}
extension AttentionAlgorithm: ExpressibleByArgument {}

extension TapValue {
    /// The tap as a safetensors tensor: reals in `real`, integers as I64.
    func stored(name: String, real: DType) throws(SafeTensorsError) -> StoredTensor {
        switch self {
        case .real(let t): try StoredTensor(name: name, encoding: t, as: real)
        case .integer(let t): try StoredTensor(name: name, encoding: t, as: .i64)
        }
    }
}

extension ForwardInputs {
    /// Reads `input_ids`, `position_ids`, `attention_mask` from a safetensors file and validates them.
    static func read(path: String, config: TextConfig) throws -> ForwardInputs {
        let file = try SafeTensorsFile(path: path)
        func integers(_ name: String) throws -> Tensor<Int>? {
            guard file.contains(name) else { return nil }
            return try file.integers(name)
        }
        guard let ids = try integers("input_ids") else {
            throw SafeTensorsError(file: file.name, tensor: "input_ids", "missing (the token ids [batch, seq])")
        }
        do {
            return try ForwardInputs(inputIds: ids, positionIds: try integers("position_ids"),
                                     attentionMask: try integers("attention_mask"), config: config)
        } catch let error as InputError {
            throw SafeTensorsError(file: file.name, tensor: error.field, error.message)
        }
    }
}
