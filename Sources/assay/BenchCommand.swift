// `assay bench`: timed runs of whole forward passes, reported with peak memory.

import ArgumentParser
import MistralSmall4
import Tensor

#if canImport(Glibc)
import Glibc
#endif

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark a forward pass.",
        subcommands: [BenchReferenceCommand.self])
}

struct BenchReferenceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reference",
        abstract: "Time one prefill of the float64 reference on synthetic weights; print seconds, tokens/s, peak RSS.",
        discussion: """
            The weights are generated while the pass runs (the expert loop streams one expert at a time), so the \
            time includes drawing every weight the tokens touch. Targets for full-shape-L1 at 32 tokens on a 2-core \
            machine: ≤ 90 s and ≤ 4 GiB peak resident memory.
            """)

    @Option(help: "The preset: \(ParamsCommand.presetNames).")
    var preset: String = Preset.fullShapeL1.rawValue

    @Option(help: "Tokens in the prompt (one sequence).")
    var tokens: Int = 32

    @Option(help: "The seed of the synthetic weights.")
    var seed: UInt64 = 0

    @Option(help: "MLA algorithm: expanded or absorbed.")
    var attention: AttentionAlgorithm = .expanded

    func validate() throws {
        guard Preset(rawValue: preset) != nil else {
            throw ValidationError("unknown preset '\(preset)'; presets: \(ParamsCommand.presetNames)")
        }
        guard tokens > 0 else { throw ValidationError("--tokens must be at least 1") }
    }

    func run() throws {
        let config = try Preset(rawValue: preset)!.load()
        let ids = (0..<tokens).map { ($0 * 7919 + 13) % config.text.vocabSize }
        let inputs = try ForwardInputs(inputIds: Tensor(shape: [1, tokens], scalars: ids), config: config.text)
        let decoder = TextDecoder(store: SyntheticWeightStore(config: config, seed: seed), algorithm: attention)
        let start = monotonicSeconds()
        try decoder.forward(inputs, taps: TapRecorder(filter: try Regex("^lm_head$")))
        let seconds = monotonicSeconds() - start
        let peak = peakResidentBytes()
        print("bench reference: preset \(preset), \(tokens) tokens, \(attention.rawValue) attention")
        let targeted = preset == Preset.fullShapeL1.rawValue && tokens == 32
        print("  seconds     \(twoDecimals(seconds))"
              + (targeted ? "   (\(twoDecimals(seconds / 90))× the 90 s target)" : ""))
        print("  tokens/s    \(twoDecimals(Double(tokens) / seconds))")
        print("  peak RSS    \(twoDecimals(Double(peak) / Double(1 << 30))) GiB"
              + (targeted ? "   (\(twoDecimals(Double(peak) / Double(4 << 30)))× the 4 GiB target)" : ""))
    }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

/// The process's peak resident set size so far (getrusage; Linux reports KiB).
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

/// `x` with two decimals: `twoDecimals(3.14159)` is `"3.14"`.
func twoDecimals(_ x: Double) -> String { hundredthsText(Int((x * 100).rounded())) }
