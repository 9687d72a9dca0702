// Llama-4 query temperature — spec/rope.md eq. (11).
//
//   τ(p) = 1 + β · ln(1 + ⌊p / L⌋)        L = original_max_position_embeddings, p = the position id (no +1)   (11)
//
// It multiplies the whole query (nope and rope parts) after RoPE; keys are not scaled. τ = 1 below L, and it
// grows by steps: 1.06931 at 8192, 1.34965 at 262,144, 1.48122 at 1,000,000 (β = 0.1).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// τ(p) of eq. (11). Under `hf-bf16` it is computed in float32 and rounded to bf16 (transformers casts it to the
/// query's dtype before multiplying).
public func queryTemperature(position: Int, _ config: TextConfig, _ profile: PrecisionProfile = .exact) -> Double {
    let beta = config.rope.llama4ScalingBeta
    let period = config.rope.originalMaxPositionEmbeddings
    if !profile.bf16Roundings { return 1 + beta * log(1 + Double(position / period)) }
    let steps = (Float(position) / Float(period)).rounded(.down)
    return profile.roundedAsActivation(Double(1 + Float(beta) * logf(1 + steps)))
}
