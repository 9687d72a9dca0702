// `assay rope-spectrum`: a backend's RoPE frequencies, phases and amplitudes recovered by FFT from its own MLA op,
// against spec/rope.md — Sources/Validation/Diagnostics/RopeSpectrum.swift.

import ArgumentParser
import MistralSmall4
import Validation

struct RopeSpectrumCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rope-spectrum",
        abstract: "Recover each RoPE pair's frequency and phase from a backend by FFT and compare with the spec.",
        discussion: """
            Feeds unit probes as the shared rope key through the backend's mla_attention op at positions START …, \
            reads the rotated pairs from the latent cache rows, and recovers each pair's frequency (FFT peak, then \
            the mean phase step), its phase error against p·ω in float64, and its amplitude. A pair is flagged when \
            its frequency is off by more than \(RopeSpectrum.frequencyTolerance) rad/position, its phase by more \
            than \(RopeSpectrum.phaseTolerance) rad, or its amplitude by more than 0.1%. Also prints what float32 \
            angles (p·ω computed in float32, as transformers does) cost at 262,144 and 1,000,000. Exit 1 when a \
            pair is flagged. Backends: \(BackendRegistry.names), or reference+BUG with a planted bug of `assay \
            selftest` (reference+rope-half-split, reference+yarn-range-from-max-positions).
            """)

    @Option(help: "The backend.")
    var backend: String

    @Option(help: "The preset whose RoPE is measured (tiny: 8 pairs; full-shape-L1: 32).")
    var preset: String = "tiny"

    @Option(help: "Positions per probe.")
    var positions = 256

    @Option(help: "The first position.")
    var start = 0

    func run() throws {
        let chosen = try Preset.named(preset)
        guard positions >= 16 else { throw ValidationError("--positions must be at least 16") }
        let config = try chosen.load()
        let pairs = try RopeSpectrum.measure(try BackendRegistry.backend(backend, profile: .exact), config: config,
                                             positions: positions, start: start)
        print([pad("pair", 5), pad("ω spec", 14, right: true), pad("ω FFT peak", 14, right: true),
               pad("ω measured", 14, right: true), pad("|Δω|", 10, right: true), pad("phase err", 10, right: true),
               pad("amplitude", 10, right: true), "  "].joined(separator: " "))
        for p in pairs {
            print([pad(String(p.pair), 5), pad(scientific(p.expected), 14, right: true), pad(scientific(p.coarse), 14, right: true),
                   pad(scientific(p.measured), 14, right: true), pad(scientific(abs(p.measured - p.expected)), 10, right: true),
                   pad(scientific(p.phaseError), 10, right: true), pad(scientific(p.amplitude), 10, right: true),
                   p.flagged ? "  FLAGGED" : "  ok"].joined(separator: " "))
        }
        let worst = pairs.max { a, b in
            (abs(a.measured - a.expected), a.phaseError) < (abs(b.measured - b.expected), b.phaseError)
        }!
        print("worst pair \(worst.pair): ω \(scientific(worst.measured)) measured vs \(scientific(worst.expected)) "
              + "spec, phase error \(scientific(worst.phaseError)) rad (backend \(backend), positions \(start)…"
              + "\(start + positions - 1))")
        for far in [262_144, 1_000_000] {
            print("float32 angles p·ω at \(far)…\(far + positions - 1): max error "
                  + scientific(RopeSpectrum.float32AngleError(config.text, start: far, positions: positions)) + " rad")
        }
        let flagged = pairs.filter(\.flagged)
        print("\(pairs.count) pairs, \(flagged.count) flagged")
        if !flagged.isEmpty { throw ExitCode(1) }
    }
}
