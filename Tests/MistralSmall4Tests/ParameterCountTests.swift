// Parameter counts: the full model's published figures, and every preset against a closed-form count.

import Testing
@testable import MistralSmall4

/// The parameter count written out as formulas (a second derivation, independent of the inventory code).
func closedFormCount(_ config: ModelConfig) -> Int {
    let t = config.text
    let (h, heads) = (t.hiddenSize, t.numAttentionHeads)
    let query = t.qLoraRank.map { $0 * h + $0 + heads * t.qkHeadDim * $0 } ?? heads * t.qkHeadDim * h
    let attention = query + (t.kvLoraRank + t.qkRopeHeadDim) * h + t.kvLoraRank
        + heads * (t.qkNopeHeadDim + t.vHeadDim) * t.kvLoraRank + h * heads * t.vHeadDim
    let moe = t.nRoutedExperts * 3 * t.moeIntermediateSize * h + t.nRoutedExperts * h
        + 3 * t.moeIntermediateSize * t.nSharedExperts * h
    let dense = 3 * t.intermediateSize * h
    let layers = t.numHiddenLayers * (attention + 2 * h) + t.firstKDenseReplace * dense
        + (t.numHiddenLayers - t.firstKDenseReplace) * moe
    var total = t.vocabSize * h * (config.tieWordEmbeddings ? 1 : 2) + layers + h
    if let m = config.multimodal {
        let v = m.vision
        let hv = v.hiddenSize
        total += hv * v.numChannels * v.patchSize * v.patchSize + hv
            + v.numHiddenLayers * (2 * hv + 3 * v.intermediateSize * hv + 4 * hv * hv)
        total += hv + hv * hv * m.spatialMergeSize * m.spatialMergeSize + h * hv + h * h
    }
    return total
}

@Suite struct ParameterCountTests {
    @Test func fullModelMatchesThePublishedFigures() {
        let counts = ParameterCounts(Preset.full.config)
        #expect(counts.total == 119_401_298_944)
        #expect(counts.active == 6_095_717_376)
        #expect(counts[.embedding].total == 536_870_912 && counts[.lmHead].total == 536_870_912)
        #expect(counts[.vision].total == 403_305_472)
        #expect(counts[.projector].total == 25_166_848)
        #expect(counts.total - counts[.vision].total - counts[.projector].total == 118_972_826_624)
        #expect(counts[.denseMLP].tensors == 0)
    }

    @Test(arguments: [
        (false, true, false, 6_095_717_376),
        (false, true, true, 6_524_189_696),
        (true, true, false, 6_632_588_288),
        (true, true, true, 7_061_060_608),
        (false, false, false, 5_558_846_464),
    ])
    func fullModelActiveByConvention(embedding: Bool, lmHead: Bool, vision: Bool, active: Int) {
        let convention = CountingConvention(embeddingTable: embedding, lmHead: lmHead, visionAndProjector: vision)
        #expect(ParameterCounts(Preset.full.config).active(convention) == active)
    }

    @Test func oneFullDecoderLayer() {
        let layer0 = TensorInventory(Preset.full.config).entries
            .filter { $0.name.hasPrefix("model.language_model.layers.0.") }
        #expect(layer0.reduce(0) { $0 + $1.elementCount } == 3_274_974_464)
    }

    @Test func routedExpertsCountKOfE() {
        for preset in Preset.allCases {
            let config = preset.config
            let routed = ParameterCounts(config)[.routedExperts]
            #expect(routed.total % config.text.nRoutedExperts == 0)
            #expect(routed.activePerToken == routed.total / config.text.nRoutedExperts * config.text.numExpertsPerTok)
        }
    }

    @Test(arguments: Preset.allCases)
    func totalMatchesTheClosedForm(preset: Preset) {
        #expect(ParameterCounts(preset.config).total == closedFormCount(preset.config))
    }

    @Test func closedFormCoversTiedAndPlainQueryConfigs() throws {
        var config = Preset.tiny.config
        config.tieWordEmbeddings = true
        config.text.qLoraRank = nil
        #expect(ParameterCounts(config).total == closedFormCount(config))
        let bare = try decodeConfig(minimalMistral4())
        #expect(ParameterCounts(bare).total == closedFormCount(bare))
    }

    @Test func conventionsAreAllDistinctAndIncludeTheHeadline() {
        #expect(Set(CountingConvention.allCases).count == 8)
        #expect(CountingConvention.allCases.contains(.headline))
        #expect(CountingConvention.headline.name == "core + lm_head")
    }
}
