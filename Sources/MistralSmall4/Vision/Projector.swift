// The multimodal projector (transformers' `Mistral3MultiModalProjector`) — spec/projector.md eq. (1)–(5):
//
//   n = RMSNorm(x)                  ε = text rms_norm_eps                                  (1)
//   m = PatchMerger(n)              eq. (2)–(3)                        [P/s², Hv]
//   u = W_1 · m (+ b_1)             linear_1 [H, Hv]                                       (4)
//   y = W_2 · GELU(u) (+ b_2)       linear_2 [H, H]; GELU(u) = u/2 · (1 + erf(u/√2)), exact (5)
// Biases exist when `multimodal_projector_bias` is true.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensor

/// Vision features to text-width image tokens.
public struct Projector: Sendable {
    public let config: MultimodalConfig
    public let textNormEpsilon: Double
    public let profile: PrecisionProfile
    public static let prefix = "model.multi_modal_projector"

    public init(config: ModelConfig, profile: PrecisionProfile = .exact) {
        precondition(config.multimodal != nil, "Projector of a config with no vision tower")
        self.config = config.multimodal!
        textNormEpsilon = config.text.rmsNormEps
        self.profile = profile
    }

    /// `features [P, Hv]` (images' patches consecutive, row-major over `grids`) `-> [P/s², H]`.
    public func callAsFunction(_ features: Tensor<Double>, grids: [(rows: Int, cols: Int)], store: some WeightStore,
                               taps: TapRecorder) throws(WeightError) -> Tensor<Double> {
        let prefix = Self.prefix
        let norm = RMSNorm(weight: try store.tensor(prefix + ".norm.weight"), epsilon: textNormEpsilon)
        let normed = norm(features, profile)                                                           // (1)
        taps.record(prefix + ".norm", normed)
        let merger = PatchMerger(weight: try store.tensor(prefix + ".patch_merger.merging_layer.weight"),
                                 mergeSize: config.spatialMergeSize)
        let merged = merger(normed, grids: grids, profile)                                             // (2)–(3)
        taps.record(prefix + ".patch_merger", merged)
        let bias = config.multimodalProjectorBias
        let out = Self.mlp(merged, linear1: try store.tensor(prefix + ".linear_1.weight"),
                           bias1: bias ? try store.tensor(prefix + ".linear_1.bias") : nil,
                           linear2: try store.tensor(prefix + ".linear_2.weight"),
                           bias2: bias ? try store.tensor(prefix + ".linear_2.bias") : nil, profile: profile)
        taps.record(prefix, out)
        return out
    }

    /// Eq. (4)–(5): `x [M, Hv] -> [M, H]`. `activation` is the exact GELU; only `assay selftest` passes another.
    public static func mlp(_ x: Tensor<Double>, linear1: Tensor<Double>, bias1: Tensor<Double>?,
                           linear2: Tensor<Double>, bias2: Tensor<Double>?, profile: PrecisionProfile = .exact,
                           activation: (Double) -> Double = gelu) -> Tensor<Double> {
        let up = profile.activations(linear(x, linear1, bias: bias1))                                   // (4)
        let activated = up.map { profile.activation(activation($0)) }
        return profile.activations(linear(activated, linear2, bias: bias2))                            // (5)
    }
}

/// The exact (erf) GELU of eq. (5), in torch's operation order: (u · ½) · (1 + erf(u · 1/√2)).
public func gelu(_ u: Double) -> Double {
    (u * 0.5) * (1 + erf(u * 0.70710678118654752440))
}
