import Testing
@testable import MistralSmall4

@Suite struct PresetEmbeddingTests {
    @Test func fullPresetIsCompiledIn() {
        #expect(PackageResources.full_json.count > 100)
    }
}
