// The backends `assay diff`, `assay coverage` and `assay bench` can run, by name.

import ArgumentParser
import Backends
import MistralSmall4
import Validation

/// The backends this build can run, by name.
enum BackendRegistry {
    static let names = "reference, blas, plugin:PATH.so (a PATH without a slash is in the current directory)"

    /// `name`, or `reference+BUG` (the reference with one of `assay selftest`'s planted bugs, for demonstrations).
    /// `reusingWeights`: the backend may keep weights it converted between calls (`assay bench`, which runs one
    /// layer over one store again and again; never a diff).
    static func backend(_ name: String, profile: PrecisionProfile, reusingWeights: Bool = false,
                        plugins: PluginIsolation = .standard, pluginDType: PluginDType = .f32) throws -> any Backend {
        if name.hasPrefix("plugin:") {
            return try PluginBackend(path: String(name.dropFirst("plugin:".count)), isolation: plugins, dtype: pluginDType)
        }
        if name.hasPrefix("reference+") {
            guard let bug = PlantedBug(rawValue: String(name.dropFirst("reference+".count))) else {
                throw ValidationError("unknown planted bug in '\(name)'; bugs: "
                                      + PlantedBug.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return BuggyBackend(bug, profile: profile)
        }
        switch name {
        case "reference": return ReferenceBackend(profile: profile)
        case "blas": return BLASBackend(cachingWeights: reusingWeights)
        default: throw ValidationError("unknown backend '\(name)'; this build has: \(names)")
        }
    }
}
