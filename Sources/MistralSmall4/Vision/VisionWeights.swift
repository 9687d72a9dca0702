// VisionWeights: a Pixtral block's attention weights, read from the store in Mistral's native layout —
// spec/vision.md §5 (the q/k row permutation).
//
// This is the one file that knows how a Hugging Face checkpoint lays out the vision q/k rows. Mistral's tower
// rotates interleaved pairs (x[2i], x[2i+1]); transformers' Pixtral rotates half-split pairs (x[i], x[i + d/2]),
// so its converter permutes each head's q_proj and k_proj rows:
//
//   HF row  h·d + s·d/2 + i   =   native row  h·d + 2i + s          s ∈ {0, 1}, i < d/2      (14)
//
// The layers below work in the native layout; reading undoes (14). Attention scores are dot products of q and k
// over the same row order, so the layout changes no output (spec/vision.md §5 proves it; a test checks it).

import Tensor

/// The four projections of one vision attention block, q and k rows in native (interleaved-pair) order.
public struct VisionAttentionWeights: Sendable {
    /// [Hv, Hv] each: q, k (native rows), v, o.
    public let query: Tensor<Double>
    public let key: Tensor<Double>
    public let value: Tensor<Double>
    public let output: Tensor<Double>

    public init(query: Tensor<Double>, key: Tensor<Double>, value: Tensor<Double>, output: Tensor<Double>) {
        self.query = query
        self.key = key
        self.value = value
        self.output = output
    }

    /// Reads `prefix.{q,k,v,o}_proj.weight` (prefix `…transformer.layers.{i}.attention`), un-permuting q and k.
    public init(_ store: some WeightStore, prefix: String, heads: Int) throws(WeightError) {
        self.init(query: Self.nativeRows(try store.tensor(prefix + ".q_proj.weight"), heads: heads),
                  key: Self.nativeRows(try store.tensor(prefix + ".k_proj.weight"), heads: heads),
                  value: try store.tensor(prefix + ".v_proj.weight"),
                  output: try store.tensor(prefix + ".o_proj.weight"))
    }

    /// Undoes eq. (14): `hf [heads·d, in] -> [heads·d, in]`, native row h·d + 2i + s ← HF row h·d + s·d/2 + i.
    public static func nativeRows(_ hf: Tensor<Double>, heads: Int) -> Tensor<Double> {
        gatherRows(hf, heads: heads) { row, half in (row % 2) * half + row / 2 }
    }

    /// Applies eq. (14), as transformers' converter does: HF row h·d + s·d/2 + i ← native row h·d + 2i + s.
    public static func huggingFaceRows(_ native: Tensor<Double>, heads: Int) -> Tensor<Double> {
        gatherRows(native, heads: heads) { row, half in 2 * (row % half) + row / half }
    }

    /// Row r of each head of the result is row `source(r, d/2)` of the same head of `t` [heads·d, in].
    private static func gatherRows(_ t: Tensor<Double>, heads: Int, source: (Int, Int) -> Int) -> Tensor<Double> {
        let (d, width) = (t.shape[0] / heads, t.shape[1])
        var out = [Double]()
        out.reserveCapacity(t.count)
        for h in 0..<heads {
            for row in 0..<d {
                let from = (h * d + source(row, d / 2)) * width
                out += t.scalars[from..<(from + width)]
            }
        }
        return Tensor(shape: t.shape, scalars: out)
    }
}
