// A golden set in memory: what `assay diff` runs a backend against — its config, weights, and each case's inputs
// and golden taps. Loaded from a verified directory, or built from a reference run (`assay selftest`).

import MistralSmall4
import Tensor

/// One case: inputs, the taps in production order with their classes, the golden values.
public struct GoldenCaseData: Sendable {
    public let name: String
    public let inputs: ForwardInputs
    public let images: VisionInputs?
    /// A layer-range set's case: the hidden state `[B·S, H]` its first layer takes.
    public let hidden: Tensor<Double>?
    public let taps: [Tap]
    public let golden: TapTable

    public init(name: String, inputs: ForwardInputs, images: VisionInputs?, hidden: Tensor<Double>? = nil, taps: [Tap],
                golden: TapTable) {
        (self.name, self.inputs, self.images, self.hidden, self.taps, self.golden) = (name, inputs, images, hidden, taps,
                                                                                      golden)
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
    /// A layer-range set's decoder layers (spec/goldens.md §3.2); nil: the whole model.
    public let layers: ClosedRange<Int>?
    /// Where it came from, for the report (a directory, or `selftest`).
    public let origin: String

    public init(config: ModelConfig, profile: PrecisionProfile, store: any WeightStore, cases: [GoldenCaseData],
                layers: ClosedRange<Int>? = nil, origin: String) {
        (self.config, self.profile, self.cases, self.layers, self.origin) = (config, profile, cases, layers, origin)
        self.store = profile.weights(store)
    }

    /// The router of the set's config and profile, selecting from given logits (which choices a tie leaves free).
    var router: Router { Router(selecting: config.text, profile: profile) }

    /// Verifies the set in `directory` and reads it with its weights: those it ships, the checkpoint it was made
    /// from (`checkpoint`, checked against the sha256s the set records), or its config's synthetic weights.
    public static func load(_ directory: String, checkpoint: String? = nil) throws(GoldenError) -> GoldenData {
        try load(GoldenVerifier.checked(directory), from: directory, checkpoint: checkpoint)
    }

    /// The set `set`, verified already, read from `directory`.
    static func load(_ set: VerifiedSet, from directory: String, checkpoint: String? = nil) throws(GoldenError)
        -> GoldenData
    {
        let fields = set.fields
        if checkpoint != nil, fields.checkpoint == nil {
            throw GoldenError(file: "manifest.json", "the set was made from \(fields.sourceSummary), not a checkpoint: "
                              + "it takes no --checkpoint")
        }
        let store: any WeightStore
        if let (record, shipped) = fields.checkpoint {
            guard let weights = checkpoint ?? (shipped ? directory : nil) else {
                throw GoldenError(file: "manifest.json", "the set ships no weights: give --checkpoint DIR, the "
                                  + "\(record.layout.rawValue) checkpoint it was made from (its sha256s are recorded)")
            }
            if checkpoint != nil { try record.check(weights) }
            do { store = try CheckpointWeightStore(config: set.config, directory: weights, profile: fields.profile) } catch {
                throw GoldenError(file: error.source, tensor: error.tensor, error.message)
            }
        } else if fields.weights != nil {
            do { store = try CheckpointWeightStore(config: set.config, directory: directory) } catch {
                throw GoldenError(file: error.source, tensor: error.tensor, error.message)
            }
        } else {
            store = SyntheticWeightStore(config: set.config, seed: fields.seed)
        }
        let (config, profile) = (set.config, set.fields.profile)
        let cases = set.cases.map { $0.data(config) }
        return GoldenData(config: config, profile: profile, store: store, cases: cases, layers: fields.layers,
                          origin: FilePath.lastComponent(directory))
    }
}

extension StoredCase {
    /// The case as a diff runs it.
    func data(_ config: ModelConfig) -> GoldenCaseData {
        GoldenCaseData(name: name, inputs: forward, images: images, hidden: hidden, taps: taps, golden: golden)
    }
}
