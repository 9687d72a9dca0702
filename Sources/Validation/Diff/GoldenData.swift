// A golden set in memory: what `assay diff` runs a backend against — its config, weights, and each case's inputs
// and golden taps. Loaded from a verified directory, or built from a reference run (`assay selftest`).

import MistralSmall4
import Tensor

/// One case: inputs, the taps in production order with their classes, the golden values.
public struct GoldenCaseData: Sendable {
    public let name: String
    public let inputs: ForwardInputs
    public let images: VisionInputs?
    public let taps: [Tap]
    public let golden: TapTable

    public init(name: String, inputs: ForwardInputs, images: VisionInputs?, taps: [Tap],
                golden: TapTable) {
        (self.name, self.inputs, self.images, self.taps, self.golden) = (name, inputs, images, taps, golden)
    }

    /// Per token row (batch-major): true where the attention mask is 1.
    var valid: [Bool] { inputs.attentionMask.scalars.map { $0 == 1 } }
}

/// A whole golden set.
public struct GoldenData: Sendable {
    public let config: ModelConfig
    public let profile: PrecisionProfile
    /// The weights the goldens were made with (as the profile holds them).
    public let store: any WeightStore
    public let cases: [GoldenCaseData]
    /// Where it came from, for the report (a directory, or `selftest`).
    public let origin: String

    public init(config: ModelConfig, profile: PrecisionProfile, store: any WeightStore, cases: [GoldenCaseData],
                origin: String) {
        (self.config, self.profile, self.cases, self.origin) = (config, profile, cases, origin)
        self.store = profile.weights(store)
    }

    /// The router of the set's config and profile, selecting from given logits (which choices a tie leaves free).
    var router: Router { Router(selecting: config.text, profile: profile) }

    /// Verifies the set in `directory` and reads it: its shipped checkpoint, or the synthetic weights of its
    /// preset and seed when it ships none.
    public static func load(_ directory: String) throws(GoldenError) -> GoldenData {
        try load(GoldenVerifier.checked(directory), from: directory)
    }

    /// The set `set`, verified already, read from `directory`.
    static func load(_ set: VerifiedSet, from directory: String) throws(GoldenError) -> GoldenData {
        let store: any WeightStore
        if set.fields.weights != nil {
            do { store = try CheckpointWeightStore(config: set.config, directory: directory) } catch {
                throw GoldenError(file: error.source, tensor: error.tensor, error.message)
            }
        } else {
            store = SyntheticWeightStore(config: set.config, seed: set.fields.seed)
        }
        let (config, profile) = (set.config, set.fields.profile)
        let cases = set.cases.map { $0.data(config) }
        return GoldenData(config: config, profile: profile, store: store, cases: cases,
                          origin: FilePath.lastComponent(directory))
    }
}

extension StoredCase {
    /// The case as a diff runs it.
    func data(_ config: ModelConfig) -> GoldenCaseData {
        GoldenCaseData(name: name, inputs: forward, images: images, taps: taps, golden: golden)
    }
}
