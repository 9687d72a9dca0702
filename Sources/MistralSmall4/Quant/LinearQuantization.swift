// How one linear layer is quantized, as a weight store hands it to the layers: FP8 static (spec/quant.md §1–6) or
// NVFP4 (§10–11). The two share the shape of the question a layer asks — which block of rows, stacked on what,
// which input the product sees — so the layers and backends ask it once.

import Tensor

/// The quantization of one linear (or of one expert's projection).
public enum LinearQuantization: Sendable, Equatable {
    case fp8(FP8Quantization)
    case nvfp4(NVFP4Quantization)

    /// "FP8" or "NVFP4", for messages.
    public var scheme: String { fp8 == nil ? "NVFP4" : "FP8" }

    /// The FP8 scales, or nil under NVFP4.
    public var fp8: FP8Quantization? { if case .fp8(let q) = self { q } else { nil } }
    /// The NVFP4 scales, or nil under FP8.
    public var nvfp4: NVFP4Quantization? { if case .nvfp4(let q) = self { q } else { nil } }

    /// The quantization of block `index` of `count` equal blocks of output rows.
    public func block(_ index: Int, of count: Int) -> LinearQuantization {
        switch self {
        case .fp8(let q): .fp8(q.block(index, of: count))
        case .nvfp4(let q): .nvfp4(q.block(index, of: count))
        }
    }

    /// `self`'s rows stacked on `other`'s (gate on up) as one weight, or nil when they quantize their input
    /// differently (another scheme, scale or convention).
    public func stacked(on other: LinearQuantization) -> LinearQuantization? {
        switch (self, other) {
        case let (.fp8(a), .fp8(b)): a.stacked(on: b).map(LinearQuantization.fp8)
        case let (.nvfp4(a), .nvfp4(b)): a.stacked(on: b).map(LinearQuantization.nvfp4)
        default: nil
        }
    }

    /// The input as the quantized product sees it, `[rows, in] -> [rows, in]`: FP8's x_q · s_a, NVFP4's
    /// x_q · s_x / g_x (exact in float64).
    public func effectiveInput(_ x: Tensor<Double>) -> Tensor<Double> {
        switch self {
        case .fp8(let q): q.quantizedActivations(x).map { $0 * q.activationScale }
        case .nvfp4(let q): q.dequantizedActivations(x)
        }
    }
}
