// ParameterCounts: parameter totals per component and the active-per-token figures under each counting convention,
// summed from the TensorInventory (no formula is written twice).
//
// Active per token: a token runs through every tensor except the routed experts, of which it uses k of E. So the
// routed experts count k/E of their parameters, exactly: each routed tensor has E as its leading extent, and its
// active share is (elements / E) · k. Which other components a headline figure includes is a convention; spec/model.md
// maps the launch claims (119B total, 6B active, 6.5B, "8B including embedding and output layers") onto them.

/// What an active-parameter figure counts besides the text core (attention, router, k of E routed experts, shared
/// experts, dense MLPs, decoder norms). A component of the image path or an embedding table counts in full.
public struct CountingConvention: Hashable, Sendable, CaseIterable {
    /// The whole embedding table [V, H] (a token reads one row of it).
    public var embeddingTable: Bool
    /// lm_head [V, H] (every row is used for every token's logits).
    public var lmHead: Bool
    /// The vision tower and the projector.
    public var visionAndProjector: Bool

    public init(embeddingTable: Bool, lmHead: Bool, visionAndProjector: Bool) {
        self.embeddingTable = embeddingTable
        self.lmHead = lmHead
        self.visionAndProjector = visionAndProjector
    }

    /// The headline "active parameters": text core and lm_head, not the embedding table nor the image path
    /// (the launch post's "6B active").
    public static let headline = CountingConvention(embeddingTable: false, lmHead: true, visionAndProjector: false)

    /// All eight conventions: image path off then on, embedding table off then on, lm_head off then on.
    public static let allCases: [CountingConvention] = [false, true].flatMap { vision in
        [false, true].flatMap { embedding in
            [false, true].map { CountingConvention(embeddingTable: embedding, lmHead: $0, visionAndProjector: vision) }
        }
    }

    /// Whether this convention counts `component`'s active parameters.
    public func includes(_ component: Component) -> Bool {
        switch component {
        case .embedding: embeddingTable
        case .lmHead: lmHead
        case .vision, .projector: visionAndProjector
        case .attention, .router, .routedExperts, .sharedExperts, .denseMLP, .norms: true
        }
    }

    /// `"core + lm_head + vision"`: what is counted, for tables and reports.
    public var name: String {
        var parts = ["core"]
        if lmHead { parts.append("lm_head") }
        if embeddingTable { parts.append("embedding") }
        if visionAndProjector { parts.append("vision") }
        return parts.joined(separator: " + ")
    }
}

/// One component's share of the parameters.
public struct ComponentCount: Sendable, Equatable {
    public let component: Component
    /// Tensors in the inventory that belong to the component.
    public let tensors: Int
    public let total: Int
    /// Parameters one token uses: k/E of the routed experts' total, the whole total of any other component.
    public let activePerToken: Int
}

/// Parameter counts of a config, from its inventory.
public struct ParameterCounts: Sendable {
    /// One row per component, in `Component.allCases` order (components without tensors count 0).
    public let components: [ComponentCount]

    /// Counts `config`'s parameters; `config` must be valid (its counts then fit in Int).
    public init(_ config: ModelConfig) {
        let t = config.text
        var tensors: [Component: Int] = [:]
        var totals: [Component: Int] = [:]
        var active: [Component: Int] = [:]
        for entry in TensorInventory(config).entries {
            let count = entry.elementCount
            tensors[entry.component, default: 0] += 1
            totals[entry.component, default: 0] += count
            active[entry.component, default: 0] += entry.component == .routedExperts
                ? entry.shape.dropFirst().reduce(1, *) * t.numExpertsPerTok
                : count
        }
        components = Component.allCases.map { c in
            ComponentCount(
                component: c, tensors: tensors[c] ?? 0, total: totals[c] ?? 0, activePerToken: active[c] ?? 0)
        }
    }

    /// Every parameter of the model.
    public var total: Int { components.reduce(0) { $0 + $1.total } }

    /// The headline active-per-token count (`CountingConvention.headline`).
    public var active: Int { active(.headline) }

    /// Parameters one token uses, counting the components `convention` includes.
    public func active(_ convention: CountingConvention) -> Int {
        components.filter { convention.includes($0.component) }.reduce(0) { $0 + $1.activePerToken }
    }

    /// The row for `component`.
    public subscript(component: Component) -> ComponentCount {
        components.first { $0.component == component }!
    }
}
