// LinearLayer: one linear layer as the model runs it — plain `y = x · Wᵀ + b` (Math/Linear.swift), or FP8 static
// W8A8 when the store quantizes the module (spec/quant.md eq. 2–4 through `FP8StaticLinear`, float64 sums).
// The layers call this and never branch on quantization themselves.

import Tensor

/// A weight `[out, in]`, its bias `[out]` and, for an FP8 module, its static scales.
public struct LinearLayer: Sendable {
    /// `[out, in]`: the values the model multiplies (an FP8 module's dequantized w_q · s_w).
    public var weight: Tensor<Double>
    /// `[out]`, or nil.
    public var bias: Tensor<Double>?
    /// The module's FP8 scales, or nil for a full-precision linear.
    public var fp8: FP8Quantization?

    public init(weight: Tensor<Double>, bias: Tensor<Double>? = nil, fp8: FP8Quantization? = nil) {
        self.weight = weight
        self.bias = bias
        self.fp8 = fp8
    }

    /// `x [rows, in] -> [rows, out]`; a weight with several FP8 weight scales as one FP8 linear per block.
    public func callAsFunction(_ x: Tensor<Double>) -> Tensor<Double> {
        guard let fp8 else { return linear(x, weight, bias: bias) }
        guard fp8.weightScales.count == 1 else {
            return Self.concatenatingColumns(rowBlocks(fp8.weightScales.count).map { $0(x) })
        }
        return FP8StaticLinear(weight: fp8.weightCodes(weight), weightScale: fp8.weightScales[0],
                               activationScale: fp8.activationScale, bias: bias)(x, convention: fp8.convention,
                                                                                  accumulation: .exact)
    }

    /// The `count` equal blocks of output rows, `[out / count, in]` each with its part of the bias and its own
    /// FP8 scales: a fused gate|up expert's gate and up halves (spec/experts.md eq. 4) for `count` = 2.
    public func rowBlocks(_ count: Int) -> [LinearLayer] {
        let (rows, width) = (weight.shape[0] / count, weight.shape[1])
        precondition(rows * count == weight.shape[0], "LinearLayer: \(weight.shape) in \(count) row blocks")
        return (0..<count).map { index in
            let span = (index * rows)..<((index + 1) * rows)
            return LinearLayer(weight: Tensor(shape: [rows, width],
                                              scalars: Array(weight.scalars[(span.lowerBound * width)..<(span.upperBound * width)])),
                               bias: bias.map { Tensor(shape: [rows], scalars: Array($0.scalars[span])) },
                               fp8: fp8?.block(index, of: count))
        }
    }

    /// `[T, a]`, `[T, b]`, … -> `[T, a + b + …]`.
    private static func concatenatingColumns(_ parts: [Tensor<Double>]) -> Tensor<Double> {
        let tokens = parts[0].shape[0]
        var scalars: [Double] = []
        for t in 0..<tokens {
            for part in parts {
                let width = part.shape[1]
                scalars += part.scalars[(t * width)..<((t + 1) * width)]
            }
        }
        return Tensor(shape: [tokens, parts.map { $0.shape[1] }.reduce(0, +)], scalars: scalars)
    }

    /// The input as this layer multiplies it: `x` itself, or for an FP8 module its dequantized activations
    /// x_q · s_a (exact in float64). For products that fold the weight elsewhere (absorbed MLA, spec/attention.md
    /// eq. 9–10), so they see the same input as `callAsFunction`.
    public func effectiveInput(_ x: Tensor<Double>) -> Tensor<Double> {
        guard let fp8 else { return x }
        return fp8.quantizedActivations(x).map { $0 * fp8.activationScale }
    }
}

extension WeightStore {
    /// The linear `module` (`….self_attn.q_a_proj`): `module.weight`, `module.bias` when `bias`, and the store's
    /// FP8 scales for it.
    public func linearLayer(_ module: String, bias: Bool = false) throws(WeightError) -> LinearLayer {
        let name = module + ".weight"
        return LinearLayer(weight: try tensor(name), bias: bias ? try tensor(module + ".bias") : nil,
                           fp8: try fp8Quantization(of: name, row: nil))
    }

    /// Row `row` of a stacked expert tensor (`….experts.down_proj` [E, out, in]) as one linear.
    public func linearLayer(stacked name: String, row index: Int) throws(WeightError) -> LinearLayer {
        LinearLayer(weight: try row(name, index), fp8: try fp8Quantization(of: name, row: index))
    }
}
