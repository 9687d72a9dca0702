// CostModel: FLOPs and bytes moved per token of the text decoder, for a prefill and for a decode step, and what a
// roofline makes of them — `assay explain` (spec/explain.md §3–§5).
//
// Goals, in order: the multiply-adds are the ShapeTrace's (so the same figures the test checks against the running
// reference); bytes follow stated assumptions, each in one place: weights are read once per forward (routed experts:
// the expected number of distinct experts that uniform, independent routing of the new rows touches), the latent
// cache is read once per layer and the new rows written once, activations stay on chip and are not counted.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How weights are stored, for the bytes they cost to read.
public enum WeightFormat: String, CaseIterable, Sendable {
    /// Every tensor in bf16.
    case bf16
    /// The released checkpoint: attention, expert and dense-MLP linears in FP8 E4M3 (one byte; the per-tensor
    /// scales are negligible), the embedding, norms, router and lm_head in bf16.
    case fp8

    /// Bytes per element of a tensor of `component`.
    public func bytes(_ component: Component) -> Int {
        switch (self, component) {
        case (.fp8, .attention), (.fp8, .routedExperts), (.fp8, .sharedExperts), (.fp8, .denseMLP): 1
        default: 2
        }
    }
}

/// What one forward of new tokens costs, in total and per token.
public struct ForwardCost: Sendable, Equatable {
    /// New rows (tokens over all sequences) the totals are spread over.
    public let tokens: Int
    /// Multiply-adds of the products with a weight (every linear; kv_b's absorbed form included).
    public let weightMultiplyAdds: Int
    /// Multiply-adds of the attention products (q·k, p·v, or their latent forms), which grow with the context.
    public let attentionMultiplyAdds: Int
    /// Weight bytes read; fractional because the distinct routed experts are an expectation.
    public let weightBytes: Double
    public let cacheReadBytes: Int
    public let cacheWriteBytes: Int

    /// FLOPs (2 per multiply-add) per token.
    public var flopsPerToken: Double { 2 * Double(weightMultiplyAdds + attentionMultiplyAdds) / Double(tokens) }
    /// Bytes read and written per token.
    public var bytesPerToken: Double { (weightBytes + Double(cacheReadBytes + cacheWriteBytes)) / Double(tokens) }
    /// FLOPs per byte.
    public var intensity: Double { flopsPerToken / bytesPerToken }
}

/// Per-token costs of a config's text decoder.
public struct CostModel: Sendable {
    public let trace: ShapeTrace
    public let format: WeightFormat
    /// Bytes per latent-cache value (bf16).
    public let cacheBytesPerValue = 2

    public init(_ config: ModelConfig, format: WeightFormat = .bf16) {
        trace = ShapeTrace(config)
        self.format = format
    }

    var text: TextConfig { trace.config.text }

    /// Latent-cache values one token leaves, summed over layers: `(r_kv + d_r)` per layer (spec/attention.md §4).
    public var latentCacheValuesPerToken: Int { text.numHiddenLayers * text.latentCacheWidth }

    /// What multi-head attention with the same heads would cache instead: K `(d_n + d_r)` and V `d_v` per head.
    public var multiHeadCacheValuesPerToken: Int {
        text.numHiddenLayers * text.numAttentionHeads * (text.qkHeadDim + text.vHeadDim)
    }

    /// A prefill of `tokens` tokens in one sequence, attention expanded (as transformers computes it).
    public func prefill(tokens: Int) -> ForwardCost {
        cost(TokenSpan(tokens: tokens), algorithm: .expanded)
    }

    /// One decode step of `batch` sequences, each new token seeing `context` keys (itself included), attention
    /// absorbed over the latent cache.
    public func decode(context: Int, batch: Int = 1) -> ForwardCost {
        cost(TokenSpan(start: context - 1, tokens: 1, batch: batch), algorithm: .absorbed)
    }

    /// The costs of `span` through the decoder.
    public func cost(_ span: TokenSpan, algorithm: AttentionAlgorithm) -> ForwardCost {
        let steps = trace.decoder(span: span, algorithm: algorithm)
        let cacheRow = latentCacheValuesPerToken * cacheBytesPerValue
        return ForwardCost(
            tokens: span.rows,
            weightMultiplyAdds: steps.filter { $0.parameters > 0 }.map(\.multiplyAdds).reduce(0, +),
            attentionMultiplyAdds: steps.filter { $0.parameters == 0 }.map(\.multiplyAdds).reduce(0, +),
            weightBytes: weightBytes(rows: span.rows),
            cacheReadBytes: (span.start + span.tokens) * span.batch * cacheRow,
            cacheWriteBytes: span.rows * cacheRow)
    }

    /// Bytes of the text decoder's weights a forward of `rows` new rows reads: every tensor once, the embedding
    /// rows it gathers, and of each routed-expert tensor the expected share of experts the rows touch.
    func weightBytes(rows: Int) -> Double {
        let touched = text.expertsTouched(rows: rows)
        var bytes = 0.0
        for entry in trace.inventory.entries {
            let elements = Double(entry.elementCount), size = Double(format.bytes(entry.component))
            switch entry.component {
            case .vision, .projector: continue
            case .embedding: bytes += Double(min(rows, entry.shape[0]) * entry.shape[1]) * size
            case .routedExperts: bytes += elements * touched * size
            default: bytes += elements * size
            }
        }
        return bytes
    }
}

/// A machine's roofline: peak matrix throughput and memory bandwidth.
public struct Roofline: Sendable, Equatable {
    public let name: String
    public let flopsPerSecond: Double
    public let bytesPerSecond: Double

    public init(name: String, flopsPerSecond: Double, bytesPerSecond: Double) {
        self.name = name
        self.flopsPerSecond = flopsPerSecond
        self.bytesPerSecond = bytesPerSecond
    }

    /// NVIDIA's H100 SXM5 datasheet: 989 TFLOP/s dense BF16 tensor-core throughput, 3.35 TB/s HBM3.
    public static let h100 = Roofline(name: "H100 SXM5 (datasheet, dense bf16)", flopsPerSecond: 989e12,
                                      bytesPerSecond: 3.35e12)

    /// FLOPs per byte above which a kernel is compute-bound.
    public var ridge: Double { flopsPerSecond / bytesPerSecond }

    /// The least time per token `cost` can take here: the larger of its compute time and its memory time.
    public func secondsPerToken(_ cost: ForwardCost) -> Double {
        max(cost.flopsPerToken / flopsPerSecond, cost.bytesPerToken / bytesPerSecond)
    }

    /// `compute` or `memory`: what bounds `cost` here.
    public func bound(_ cost: ForwardCost) -> String { cost.intensity >= ridge ? "compute" : "memory" }
}

extension TextConfig {
    /// The expected share of the routed experts `rows` rows pick at least once, each row k of E uniformly:
    /// 1 − (1 − k/E)^rows.
    public func expertsTouched(rows: Int) -> Double {
        1 - pow(1 - Double(numExpertsPerTok) / Double(nRoutedExperts), Double(rows))
    }
}
