// Where a failing tap's error lies, for a diagnosis no catalogued mistake explains: which token rows exceed the
// limit, whether the error grows with position (RoPE, YaRN and τ mistakes do), and which columns carry it (a head,
// the rotary part of the latent, every other column of interleaved pairs).

import MistralSmall4
import Tensor

enum ErrorPattern {
    /// One line on `verdict`'s tap, of kind `kind`: the candidate's values against the case's golden ones.
    static func describe(_ verdict: TapVerdict, kind: TapKind?, candidate: TapTable, golden: GoldenCaseData,
                         config: TextConfig) -> String {
        guard case .real(let a)? = candidate[verdict.tap], case .real(let b)? = golden.golden[verdict.tap],
              a.shape == b.shape, let width = b.shape.last, width > 0
        else { return "the tap holds expert ids: compare each token's set" }
        let rows = b.count / width
        let counted = rows == golden.valid.count ? golden.valid : [Bool](repeating: true, count: rows)
        let rowErrors = CaseComparison.rowErrors(a, b, rows: rows, width: width)
        let limit = verdict.limit ?? 0
        let over = (0..<rows).filter { counted[$0] && !(rowErrors[$0] <= limit) }
        var parts = ["\(over.count) of \(counted.filter { $0 }.count) rows over the limit"
                     + (over.isEmpty ? "" : " (rows \(over.prefix(6).map(String.init).joined(separator: ", "))\(over.count > 6 ? ", …" : ""))")]
        if rows == golden.inputs.positionIds.count {
            parts.append(positionTrend(rowErrors, positions: golden.inputs.positionIds.scalars, counted: counted))
        }
        let (columns, share) = columnShare(a, b, rows: rows, width: width, counted: counted)
        parts.append(share)
        if kind == .kvLatent, let columns {
            parts.append(Self.latentHint(columns, rank: config.kvLoraRank))
        }
        return parts.joined(separator: "; ")
    }

    /// Where in a `#kv_latent` row [ĉ (r_kv) ‖ k_r] the error sits, and what to check there.
    private static func latentHint(_ columns: Range<Int>, rank: Int) -> String {
        if columns.lowerBound >= rank {
            return "only the rotary key k_r (columns ≥ \(rank)) differs: check the RoPE pair order (spec/rope.md eq. 9–10), "
                + "YaRN's frequencies, and k_r's layout in the cache (spec/attention.md §4)"
        }
        if columns.upperBound <= rank {
            return "only the latent ĉ (columns < \(rank)) differs: check kv_a's rows [c | k_r] and kv_a_layernorm's ε "
                + "(spec/attention.md eq. 2–3)"
        }
        return "both ĉ and k_r differ: check kv_a_proj itself and its input"
    }

    /// Mean NMSE of the rows at the lower half of the positions against the upper half.
    private static func positionTrend(_ errors: [Double], positions: [Int], counted: [Bool]) -> String {
        let rows = errors.indices.filter { counted[$0] }.sorted { positions[$0] < positions[$1] }
        guard rows.count >= 2 else { return "one row: no trend with position" }
        let mean = { (slice: ArraySlice<Int>) in slice.map { errors[$0] }.reduce(0, +) / Double(slice.count) }
        let (early, late) = (mean(rows[..<(rows.count / 2)]), mean(rows[(rows.count / 2)...]))
        let trend = late > 10 * early ? "grows with position" : early > 10 * late ? "shrinks with position"
            : "is flat in position"
        return "the error \(trend) (row NMSE \(scientific(early)) at the lower positions, \(scientific(late)) at the upper)"
    }

    /// The narrowest run of columns that holds 90% of the squared error (nil when there is no finite error), and a
    /// line with it and the even columns' share.
    private static func columnShare(_ a: Tensor<Double>, _ b: Tensor<Double>, rows: Int, width: Int, counted: [Bool])
        -> (Range<Int>?, String)
    {
        var perColumn = [Double](repeating: 0, count: width)
        for row in 0..<rows where counted[row] {
            for column in 0..<width {
                let d = a.scalars[row * width + column] - b.scalars[row * width + column]
                perColumn[column] += d.isFinite ? d * d : .infinity
            }
        }
        let total = perColumn.reduce(0, +)
        guard total > 0, total.isFinite else { return (nil, total == 0 ? "no error in the counted rows" : "non-finite values") }
        var (best, sum, start) = ((0, width), 0.0, 0)   // two pointers over [start, end]: shares are ≥ 0
        for end in 0..<width {
            sum += perColumn[end]
            while start < end, sum - perColumn[start] >= 0.9 * total {
                sum -= perColumn[start]
                start += 1
            }
            if sum >= 0.9 * total, end + 1 - start < best.1 - best.0 { best = (start, end + 1) }
        }
        let even = stride(from: 0, to: width, by: 2).map { perColumn[$0] }.reduce(0, +) / total
        return (best.0..<best.1, "90% of the error in columns \(best.0)–\(best.1 - 1) of \(width), "
                + "\(Int((even * 100).rounded()))% in the even columns")
    }
}
