// Multiply-adds of a decoder layer's linear layers per token — spec/attention.md eq. (1), (2), (5), (8) and
// spec/experts.md eq. (1)–(3). `assay bench` divides them by measured time for the linears' throughput.

extension TextConfig {
    /// Multiply-adds per token of layer `layer`'s linears in a prefill (the expanded kv_b included; the attention
    /// products QKᵀ and PV, which grow with the context, excluded): ×2 for FLOPs.
    public func linearMultiplyAddsPerToken(layer: Int) -> Int {
        let (n, dn, dr, dv) = (numAttentionHeads, qkNopeHeadDim, qkRopeHeadDim, vHeadDim)
        let query = qLoraRank.map { hiddenSize * $0 + $0 * n * (dn + dr) } ?? hiddenSize * n * (dn + dr)
        let attention = query + hiddenSize * (kvLoraRank + dr) + kvLoraRank * n * (dn + dv) + n * dv * hiddenSize
        let mlp = isMoELayer(layer)
            ? hiddenSize * nRoutedExperts + (numExpertsPerTok + nSharedExperts) * 3 * hiddenSize * moeIntermediateSize
            : 3 * hiddenSize * intermediateSize
        return attention + mlp
    }
}
