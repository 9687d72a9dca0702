// PrecisionProfile: which roundings the reference applies on top of float64 arithmetic.
// Spec: spec/precision.md (every rounding point of `hf-bf16`, by layer).
//
// `exact` rounds nowhere: every layer is float64 from the weights to the logits. `hf-bf16` rounds where
// transformers does when the model runs in bfloat16: each module's output is stored in bf16, and the float32
// islands (RMSNorm statistics, RoPE angles, softmax) are rounded to float32. Sums inside one matrix product are
// float64 in every profile (a GPU accumulates them in float32 in an order of its own; the tolerance classes
// absorb that). The FP8 profiles put the text decoder's linears in FP8 E4M3 W8A8 (spec/quant.md) on top of
// `exact` (`fp8-static`: transformers' activation convention and per-expert scales; `fp8-static-vllm`: vLLM's and
// one expert scale per layer) or of `hf-bf16` (`hf-fp8-static`: transformers running the FP8 checkpoint in
// bf16). `nvfp4` puts the same linears in NVFP4 W4A4 (spec/quant.md §10–11) on top of `exact`. FP8 and NVFP4
// products are summed exactly (eq. 4, 15), like every other product of the reference.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensor

/// The rounding regime of a reference run.
public enum PrecisionProfile: String, CaseIterable, Sendable {
    /// float64 everywhere.
    case exact
    /// The casts transformers makes when the model runs in bfloat16.
    case hfBF16 = "hf-bf16"
    /// `exact` with FP8 static linears in transformers' convention (spec/quant.md eq. 2, per-expert scales).
    case fp8Static = "fp8-static"
    /// `exact` with FP8 static linears in vLLM's convention (spec/quant.md eq. 3, one expert scale per layer).
    case fp8StaticVLLM = "fp8-static-vllm"
    /// `hf-bf16` with FP8 static linears in transformers' convention: the FP8 checkpoint as transformers runs it.
    case hfFP8Static = "hf-fp8-static"
    /// `exact` with NVFP4 W4A4 linears (spec/quant.md §10–11).
    case nvfp4

    /// Whether activations are stored in bf16 and the float32 islands rounded (`hf-bf16`, `hf-fp8-static`).
    public var bf16Roundings: Bool { self == .hfBF16 || self == .hfFP8Static }

    /// How the profile quantizes the text decoder's linears (spec/quant.md §6), or nil when it does not.
    public var fp8Scheme: (convention: FP8ActivationConvention, expertScale: FP8ExpertActivationScale)? {
        switch self {
        case .exact, .hfBF16, .nvfp4: nil
        case .fp8Static, .hfFP8Static: (.huggingFace, .perExpert)
        case .fp8StaticVLLM: (.vllm, .perLayer)
        }
    }

    /// Whether runs in the two profiles multiply the same weights with the same activation quantization (they may
    /// still round differently elsewhere).
    public func quantizesLike(_ other: PrecisionProfile) -> Bool {
        fp8Scheme?.convention == other.fp8Scheme?.convention && fp8Scheme?.expertScale == other.fp8Scheme?.expertScale
            && (self == .nvfp4) == (other == .nvfp4)
    }

    /// The weights a run in this profile multiplies: `store` rounded to bf16 as transformers holds it (a no-op for
    /// `exact`), with the quantized modules in FP8 under an FP8 profile (spec/quant.md §6) and in NVFP4 under
    /// `nvfp4` (§11). A store that holds quantized weights of its own (an FP8 or NVFP4 checkpoint) keeps them, and
    /// its scales, under every profile.
    public func weights(_ store: any WeightStore) -> any WeightStore {
        let held = bf16Roundings ? BF16RoundedWeightStore(store) : store
        guard !store.holdsQuantized else { return held }
        if self == .nvfp4 { return NVFP4DerivedWeightStore(held) }
        guard let (convention, expertScale) = fp8Scheme else { return held }
        return FP8DerivedWeightStore(held, convention: convention, expertActivationScale: expertScale)
    }

    /// B(x) of spec/precision.md: `x` as a bf16 activation tensor stores it (identity without `bf16Roundings`).
    @inlinable
    func roundedAsActivation(_ x: Double) -> Double {
        bf16Roundings ? BFloat16.rounded(x) : x
    }

    /// F(x) of spec/precision.md: `x` as a float32 island of a bf16 run holds it (identity without `bf16Roundings`).
    @inlinable
    func roundedToFloat32(_ x: Double) -> Double {
        bf16Roundings ? Double(Float(x)) : x
    }

    /// Every element of `t` rounded as an activation.
    func roundedAsActivations(_ t: Tensor<Double>) -> Tensor<Double> {
        bf16Roundings ? t.map(BFloat16.rounded) : t
    }

    /// The residual sum `a + b` (same shape), stored as the profile stores activations.
    func residual(_ a: Tensor<Double>, _ b: [Double]) -> Tensor<Double> {
        Tensor(shape: a.shape, scalars: zip(a.scalars, b).map { roundedAsActivation($0 + $1) })
    }

    /// Max-subtracted softmax of `scores` (empty in, empty out): float32 inside and bf16 out under `hf-bf16`, as
    /// torch's softmax computes for a bf16 input (or with `dtype=torch.float32` and a cast back).
    func softmax(_ scores: [Double]) -> [Double] {
        guard let top = scores.max() else { return [] }
        let exponentials = scores.map { roundedToFloat32(exp($0 - top)) }
        let total = roundedToFloat32(exponentials.reduce(0, +))
        return exponentials.map { roundedAsActivation(roundedToFloat32($0 / total)) }
    }
}
