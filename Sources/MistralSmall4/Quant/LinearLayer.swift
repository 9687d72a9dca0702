// LinearLayer: one linear layer as the model runs it — plain `y = x · Wᵀ + b` (Math/Linear.swift), FP8 static
// W8A8 when the store quantizes the module so (spec/quant.md eq. 2–4 through `FP8StaticLinear`, float64 sums), or
// NVFP4 W4A4 (eq. 13–15 through `NVFP4Linear`). The layers call this and never branch on quantization themselves.

import Tensor

/// A weight `[out, in]`, its bias `[out]` and, for a quantized module, its scales.
public struct LinearLayer: Sendable {
    /// `[out, in]`: the values the model multiplies (a quantized module's dequantized weight).
    public var weight: Tensor<Double>
    /// `[out]`, or nil.
    public var bias: Tensor<Double>?
    /// The module's FP8 or NVFP4 scales, or nil for a full-precision linear.
    public var quantization: LinearQuantization?

    public init(weight: Tensor<Double>, bias: Tensor<Double>? = nil, quantization: LinearQuantization? = nil) {
        self.weight = weight
        self.bias = bias
        self.quantization = quantization
    }

    public init(weight: Tensor<Double>, bias: Tensor<Double>? = nil, fp8: FP8Quantization?) {
        self.init(weight: weight, bias: bias, quantization: fp8.map(LinearQuantization.fp8))
    }

    /// The module's FP8 scales, or nil (full precision or NVFP4).
    public var fp8: FP8Quantization? { quantization?.fp8 }

    /// `x [rows, in] -> [rows, out]`; a weight with several weight scales (FP8 s_w or NVFP4 g_w) as one quantized
    /// linear per block.
    public func callAsFunction(_ x: Tensor<Double>) -> Tensor<Double> {
        switch quantization {
        case nil:
            return linear(x, weight, bias: bias)
        case .fp8(let fp8):
            guard fp8.weightScales.count == 1 else {
                return Self.concatenatingColumns(rowBlocks(fp8.weightScales.count).map { $0(x) })
            }
            return FP8StaticLinear(weight: fp8.weightCodes(weight), weightScale: fp8.weightScales[0],
                                   activationScale: fp8.activationScale, bias: bias)(x, convention: fp8.convention,
                                                                                      accumulation: .exact)
        case .nvfp4(let nvfp4):
            guard nvfp4.weightGlobals.count == 1 else {
                return Self.concatenatingColumns(rowBlocks(nvfp4.weightGlobals.count).map { $0(x) })
            }
            let y = nvfp4.product(x, weight)                                                     // [rows, out]
            guard let bias else { return y }
            let out = y.shape[1]
            return Tensor(shape: y.shape, scalars: y.scalars.enumerated().map { $1 + bias.scalars[$0 % out] })
        }
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
                               quantization: quantization?.block(index, of: count))
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

    /// The input as this layer multiplies it: `x` itself, or for a quantized module its dequantized activations
    /// (exact in float64). For products that fold the weight elsewhere (absorbed MLA, spec/attention.md eq. 9–10),
    /// so they see the same input as `callAsFunction`.
    public func effectiveInput(_ x: Tensor<Double>) -> Tensor<Double> {
        quantization?.effectiveInput(x) ?? x
    }
}

extension WeightStore {
    /// The linear `module` (`….self_attn.q_a_proj`): `module.weight`, `module.bias` when `bias`, and the store's
    /// quantization of it.
    public func linearLayer(_ module: String, bias: Bool = false) throws(WeightError) -> LinearLayer {
        let name = module + ".weight"
        return LinearLayer(weight: try tensor(name), bias: bias ? try tensor(module + ".bias") : nil,
                           quantization: try quantization(of: name, row: nil))
    }

    /// Row `row` of a stacked expert tensor (`….experts.down_proj` [E, out, in]) as one linear.
    public func linearLayer(stacked name: String, row index: Int) throws(WeightError) -> LinearLayer {
        LinearLayer(weight: try row(name, index), quantization: try quantization(of: name, row: index))
    }
}
