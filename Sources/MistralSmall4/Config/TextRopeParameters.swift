// TextRopeParameters, YarnParameters: the rotary-embedding settings of the text decoder, as transformers'
// `rope_parameters` holds them (decoded in TextConfig+Codable.swift).

/// Text RoPE: YaRN (or plain RoPE) over the `qkRopeHeadDim` rotary part, plus Llama-4 query temperature.
public struct TextRopeParameters: Sendable, Equatable {
    /// The frequency base θ.
    public var ropeTheta: Double
    /// β of the query temperature τ(p) = 1 + β·ln(1 + floor(p / originalMaxPositionEmbeddings)).
    public var llama4ScalingBeta: Double
    /// The pre-extension context: YaRN's correction range and τ's period both use it.
    public var originalMaxPositionEmbeddings: Int
    /// The YaRN extension; nil for `rope_type` `default` (plain RoPE).
    public var yarn: YarnParameters?

    /// `rope_type` as transformers spells it.
    public var ropeType: String { yarn == nil ? "default" : "yarn" }
}

/// The YaRN fields of `rope_parameters` (transformers' `_compute_yarn_parameters`).
public struct YarnParameters: Sendable, Equatable {
    /// Context extension factor s (`max_position_embeddings / original_max_position_embeddings` for this model).
    public var factor: Double
    /// Rotations at which the ramp starts (high-frequency end, extrapolated).
    public var betaFast: Double
    /// Rotations at which the ramp ends (low-frequency end, interpolated).
    public var betaSlow: Double
    /// With `mscaleAllDim`, sets the cos/sin factor mscale(s, mscale) / mscale(s, mscaleAllDim).
    public var mscale: Double
    /// The softmax scale is multiplied by mscale(s, mscaleAllDim)².
    public var mscaleAllDim: Double
    /// An explicit cos/sin factor, overriding the mscale ratio; nil when absent.
    public var attentionFactor: Double?
    /// Round the correction range outward to whole dimensions (transformers' default true).
    public var truncate: Bool
}
