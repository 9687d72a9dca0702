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

extension GraphRun {
    /// `features [P, Hv]` (images' patches consecutive, row-major over `grids`, in patches) `-> [P/s², H]`.
    func projector(_ features: Flow, grids: PatchGrids) throws -> Flow {
        let multimodal = config.multimodal!
        let normed = try rmsNorm(features, paths.tap(.projectorNorm), epsilon: config.text.rmsNormEps)      // (1)
        let merger = paths.tap(.patchMerger)
        let merged = try op(.patchMerger, merger, normed) {                                                 // (2)–(3)
            try backend.patchMerger($0, weight: try store.tensor(merger.module + ".merging_layer.weight"),
                                    mergeSize: multimodal.spatialMergeSize, grids: grids)
        }
        let projector = paths.tap(.projector)
        let bias = multimodal.multimodalProjectorBias
        return try op(.projectorMLP, projector, merged) {                                                   // (4)–(5)
            try backend.projectorMLP($0, linear1: try store.tensor(projector.module + ".linear_1.weight"),
                                     bias1: bias ? try store.tensor(projector.module + ".linear_1.bias") : nil,
                                     linear2: try store.tensor(projector.module + ".linear_2.weight"),
                                     bias2: bias ? try store.tensor(projector.module + ".linear_2.bias") : nil)
        }
    }
}

/// The projector's MLP, eq. (4)–(5).
public enum Projector {
    /// Eq. (4)–(5): `x [M, Hv] -> [M, H]`. `activation` is the exact GELU; only `assay selftest` passes another.
    public static func mlp(_ x: Tensor<Double>, linear1: Tensor<Double>, bias1: Tensor<Double>?,
                           linear2: Tensor<Double>, bias2: Tensor<Double>?, profile: PrecisionProfile = .exact,
                           activation: (Double) -> Double = gelu) -> Tensor<Double> {
        let up = profile.roundedAsActivations(linear(x, linear1, bias: bias1))                                   // (4)
        let activated = up.map { profile.roundedAsActivation(activation($0)) }
        return profile.roundedAsActivations(linear(activated, linear2, bias: bias2))                            // (5)
    }
}

/// The exact (erf) GELU of eq. (5), in torch's operation order: (u · ½) · (1 + erf(u · 1/√2)).
public func gelu(_ u: Double) -> Double {
    (u * 0.5) * (1 + erf(u * 0.70710678118654752440))
}
