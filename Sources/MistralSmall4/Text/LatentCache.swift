// LatentCache: what MLA keeps per token between decode steps — spec/attention.md §4.
//
// One row per token: the normalized latent c (r_kv wide) followed by the rotated shared key k_pe (d_r wide),
// 256 + 64 = 320 numbers for Mistral Small 4 instead of 32 heads × (128 + 128) = 8192 for expanded keys and values.

/// The latent cache of one layer for one sequence.
public struct LatentCache: Sendable {
    /// Width of a row: r_kv + d_r.
    public let width: Int
    /// [tokens, r_kv + d_r], row-major: `[normed c ‖ roped k_pe]` per token, in feeding order.
    public private(set) var rows: [Double] = []
    /// Whether each cached token may be attended to (its `attention_mask` entry).
    public private(set) var visible: [Bool] = []

    public init(width: Int) { self.width = width }

    /// Tokens cached so far.
    public var count: Int { visible.count }

    /// Appends one token's row.
    public mutating func append(_ row: ArraySlice<Double>, visible isVisible: Bool) {
        precondition(row.count == width, "latent row of \(row.count), cache width \(width)")
        rows.append(contentsOf: row)
        visible.append(isVisible)
    }
}
