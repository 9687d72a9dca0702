// MLA through a plugin — spec/attention.md eq. 1–10: the layer's shapes and constants (`assay_mla_args`) and its
// weights as the checkpoint stores them (`assay_mla_weights`), for a prefill and for a decode step over a latent
// cache whose unused rows are NaN, as FlashMLA's tests poison theirs: a kernel that reads past the valid length fails.

import CAssayPlugin
import MistralSmall4
import Tensor

extension PluginBackend {
    public func mlaAttention(_ x: Tensor<Double>, inputs: ForwardInputs, store: any WeightStore, prefix: String)
        throws -> (output: Tensor<Double>, latents: Tensor<Double>)
    {
        let config = store.config.text
        let rows = inputs.batch * inputs.length
        let args = mlaArguments(config, batch: inputs.batch, length: inputs.length, capacity: 0)
        let (dtype, weights) = try mlaWeightsAsStored(.mlaAttention, store, prefix: prefix)
        let result = try call(.mlaAttention, [
            .args(PluginCall.bytes(of: args)), weights, .input(floats(x)),
            .input(.i64(inputs.positionIds.scalars.map(Int64.init))), .input(.i64(inputs.attentionMask.scalars.map(Int64.init))),
            .output(.f32, count: rows * config.hiddenSize), .output(.f32, count: rows * config.latentCacheWidth),
        ], dtype: dtype)
        return (tensor(result.f32(0), [rows, config.hiddenSize]), tensor(result.f32(1), [rows, config.latentCacheWidth]))
    }

    /// The caches go to the plugin as `[B, capacity, r_kv + d_r]` with NaN past each sequence's rows; the new rows
    /// the plugin returns are appended here.
    public func mlaDecode(_ x: Tensor<Double>, positions: [Int], visible: [Bool], caches: inout [LatentCache],
                          store: any WeightStore, prefix: String) throws
        -> (output: Tensor<Double>, latents: Tensor<Double>)
    {
        let config = store.config.text
        let (batch, width) = (positions.count, config.latentCacheWidth)
        let capacity = (caches.map(\.count).max() ?? 0) + 1   // at least one poisoned row after the longest cache
        var cache = [Float](repeating: .nan, count: batch * capacity * width)
        var cacheMask = [Int64](repeating: 0, count: batch * capacity)
        for (b, sequence) in caches.enumerated() {
            for row in 0..<sequence.count {
                for i in 0..<width { cache[(b * capacity + row) * width + i] = Float(sequence.rows[row * width + i]) }
                cacheMask[b * capacity + row] = sequence.visible[row] ? 1 : 0
            }
        }
        let args = mlaArguments(config, batch: batch, length: 1, capacity: capacity)
        let (dtype, weights) = try mlaWeightsAsStored(.mlaDecode, store, prefix: prefix)
        let result = try call(.mlaDecode, [
            .args(PluginCall.bytes(of: args)), weights, .input(floats(x)),
            .input(.i64(positions.map(Int64.init))), .input(.i64(visible.map { $0 ? 1 : 0 })), .input(.f32(cache)),
            .input(.i64(cacheMask)), .input(.i64(caches.map { Int64($0.count) })),
            .output(.f32, count: batch * config.hiddenSize), .output(.f32, count: batch * width),
        ], dtype: dtype)
        let latents = tensor(result.f32(1), [batch, width])
        for b in 0..<batch { caches[b].append(latents.scalars[(b * width)..<((b + 1) * width)], visible: visible[b]) }
        return (tensor(result.f32(0), [batch, config.hiddenSize]), latents)
    }

    /// The MLA layer at `prefix` as the store holds it, and the entry point's dtype: FP8 or NVFP4 when its kv_a is
    /// (then every projection must be), else float.
    func mlaWeightsAsStored(_ op: SpecOp, _ store: any WeightStore, prefix: String)
        throws -> (PluginDType, PluginArgument)
    {
        switch try store.quantization(of: prefix + ".kv_a_proj_with_mqa.weight", row: nil) {
        case .fp8: (.f8e4m3, try mlaF8Weights(op, store, prefix: prefix))
        case .nvfp4: (.nvfp4, try mlaNVFP4Weights(op, store, prefix: prefix))
        case nil: (.f32, try mlaWeights(op, store, prefix: prefix))
        }
    }

    /// `assay_mla_args` of `config`.
    func mlaArguments(_ config: TextConfig, batch: Int, length: Int, capacity: Int) -> assay_mla_args {
        let rope = YarnRoPE(config)
        return assay_mla_args(
            batch: Int64(batch), length: Int64(length), hidden: Int64(config.hiddenSize),
            heads: Int64(config.numAttentionHeads), q_lora_rank: Int64(config.qLoraRank ?? 0),
            kv_lora_rank: Int64(config.kvLoraRank), qk_nope_dim: Int64(config.qkNopeHeadDim),
            qk_rope_dim: Int64(config.qkRopeHeadDim), v_dim: Int64(config.vHeadDim),
            rope_interleaved: config.ropeInterleave ? 1 : 0, latent_norm_epsilon: Float(MLAWeights.latentNormEpsilon),
            softmax_scale: MLAAttention.softmaxScale(config), rope_attention_factor: rope.attentionFactor,
            temperature_beta: config.rope.llama4ScalingBeta,
            temperature_period: Int64(config.rope.originalMaxPositionEmbeddings), cache_capacity: Int64(capacity))
    }

    /// `assay_mla_weights` of the layer at `prefix`, in field order.
    func mlaWeights(_ op: SpecOp, _ store: any WeightStore, prefix: String) throws -> PluginArgument {
        let config = store.config.text
        func weight(_ module: String) throws -> PluginBuffer { .f32(try f32Weight(op, store, prefix + module + ".weight")) }
        func bias(_ module: String) throws -> PluginBuffer? {
            config.attentionBias ? .f32(try f32Weight(op, store, prefix + module + ".bias")) : nil
        }
        let lowRank = config.qLoraRank != nil
        return .table([
            lowRank ? try weight(".q_a_proj") : nil, lowRank ? try bias(".q_a_proj") : nil,
            lowRank ? try weight(".q_a_layernorm") : nil, try weight(lowRank ? ".q_b_proj" : ".q_proj"),
            try weight(".kv_a_proj_with_mqa"), try bias(".kv_a_proj_with_mqa"), try weight(".kv_a_layernorm"),
            try weight(".kv_b_proj"), try weight(".o_proj"), try bias(".o_proj"),
            .f64(YarnRoPE(config).inverseFrequencies),
        ])
    }
}
