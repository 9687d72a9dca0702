// Token embedding — spec/decoder.md eq. (1): h⁰_t = E[id_t], a row of `embed_tokens.weight` [V, H].

import Tensor

/// The embedding rows of `ids` (validated to lie in 0..<V), read from the store one row at a time.
/// `ids [T] -> [T, H]`.
public func embedTokens(_ ids: [Int], table name: String, store: some WeightStore) throws(WeightError)
    -> Tensor<Double>
{
    var rows = [Double]()
    for id in ids { rows += try store.rows(name, id..<(id + 1)).scalars }
    return Tensor(shape: [ids.count, store.config.text.hiddenSize], scalars: rows)
}
