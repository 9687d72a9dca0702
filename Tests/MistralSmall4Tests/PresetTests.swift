// The presets in spec/presets: the files match the enum, each decodes and validates, and each has the features
// its documentation promises.

import Foundation
import Testing
@testable import MistralSmall4

@Suite struct PresetTests {
    @Test func presetFilesAreExactlyTheEnumCases() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.presets.path)
        #expect(Set(files) == Set(Preset.allCases.map(\.fileName)))
    }

    @Test(arguments: Preset.allCases)
    func presetDecodesAndValidates(preset: Preset) throws {
        let config = try preset.load()
        #expect(config.source == .preset(preset))
        #expect(config.multimodal != nil, "every preset is a mistral3 config")
        try config.validate()
        let onDisk = try Data(contentsOf: Fixtures.presets.appendingPathComponent(preset.fileName))
        #expect(Array(onDisk) == preset.bytes, "the compiled-in copy is the file")
    }

    @Test func tinyTurnsEveryFeatureOn() throws {
        let config = Preset.tiny.config
        let t = config.text
        #expect(t.qLoraRank != nil)
        #expect(t.firstKDenseReplace == 1 && t.numHiddenLayers > 1 && !t.isMoELayer(0) && t.isMoELayer(1))
        #expect(t.nGroup == 2 && t.topkGroup == 1 && t.numExpertsPerTok <= t.nRoutedExperts / t.nGroup)
        #expect(t.routedScalingFactor != 1 && t.nSharedExperts == 1)
        #expect(![1e-6, 1e-5].contains(t.rmsNormEps))
        #expect(t.vocabSize >= 64)
        let yarn = try #require(t.rope.yarn)
        #expect(t.rope.ropeTheta == 10_000 && yarn.factor == 128 && t.rope.originalMaxPositionEmbeddings == 8192)
        #expect(t.maxPositionEmbeddings == 1_048_576 && t.rope.llama4ScalingBeta == 0.1)
        #expect(Set([t.qkNopeHeadDim, t.qkRopeHeadDim, t.vHeadDim]).count == 3, "head widths a port can't confuse")
        #expect(config.multimodal?.vision.numHiddenLayers == 1)
    }

    @Test func tinyVisionIsTinyWithARealTower() throws {
        let config = Preset.tinyVision.config
        #expect(config.text == Preset.tiny.config.text)
        let vision = try #require(config.multimodal?.vision)
        #expect(vision.numHiddenLayers == 2 && vision.hiddenSize == 32 && vision.numAttentionHeads == 2)
        #expect(vision.headDim == 16 && vision.patchSize == 14 && vision.imageSize == 112)
    }

    @Test func fullShapeL1IsFullWithOneLayerEach() {
        var full = Preset.full.config
        full.text.numHiddenLayers = 1
        full.multimodal?.vision.numHiddenLayers = 1
        full.source = .preset(.fullShapeL1)
        #expect(Preset.fullShapeL1.config == full)
    }

    @Test func smallKeepsTheFullModelsSettings() {
        let (small, full) = (Preset.small.config.text, Preset.full.config.text)
        #expect(small.hiddenSize == 256 && small.numHiddenLayers == 4)
        #expect(small.rope == full.rope && small.rmsNormEps == full.rmsNormEps)
        #expect((small.nGroup, small.topkGroup, small.firstKDenseReplace) == (1, 1, 0))
        #expect(small.routedScalingFactor == 1 && small.numExpertsPerTok == 4)
    }
}
