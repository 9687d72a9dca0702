// The backends `assay diff`, `assay coverage` and `assay bench` can run, by name.

import ArgumentParser
import MistralSmall4

/// The backends this build can run, by name.
enum BackendRegistry {
    static let names = "reference"

    static func backend(_ name: String, profile: PrecisionProfile) throws -> any Backend {
        switch name {
        case "reference": return ReferenceBackend(profile: profile)
        default: throw ValidationError("unknown backend '\(name)'; this build has: \(names)")
        }
    }
}
