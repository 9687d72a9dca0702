// Where a long run is — `golden`, `forward`, `diff` and `bench` (README, "Progress"): the case, the step within it
// (layer i of n, or run i of n), the time since the run began and an estimate of what is left, on standard error.
// A terminal gets one line rewritten in place; a pipe or a file one plain line per step; `--quiet` nothing.
// Standard output is never touched, so what a command prints there does not change.
//
//     golden tiny: case long (3/5), layer 2 of 3, 1.4 s elapsed, ~2.1 s left

import MistralSmall4
import Tensor

/// A progress report over `cases × steps` equal units of work.
public final class RunProgress {
    /// How the report is shown.
    public enum Style: Sendable {
        /// One line rewritten in place (`\r`, erase to the end of the line): a terminal.
        case updating
        /// One line per finished step: a pipe or a file.
        case lines
        /// Nothing.
        case quiet
    }

    let title: String
    let style: Style
    private let clock: () -> Double
    private let write: (String) -> Void
    private let started: Double
    /// What a step is called: "layer", "run".
    private var noun = "layer"
    private var first = 0
    private var cases = 1, steps = 1
    private var caseLabel = "", caseIndex = 0, finished = 0

    /// A report titled `title` ("golden tiny"), written by `write` as `style` says, timed by `clock` (seconds).
    public init(_ title: String, style: Style, clock: @escaping () -> Double = monotonicSeconds,
                write: @escaping (String) -> Void) {
        (self.title, self.style, self.clock, self.write) = (title, style, clock, write)
        started = clock()
    }

    /// The work ahead: `cases` cases of `steps` steps called `noun` each; for layers, decoder layer `first` is
    /// the first step.
    public func plan(cases: Int, steps: Int, noun: String = "layer", first: Int = 0) {
        (self.cases, self.steps, self.noun, self.first) = (max(cases, 1), max(steps, 1), noun, first)
    }

    /// Case `index` (0-based), named `name`, begins.
    public func begin(case name: String, index: Int) {
        (caseLabel, caseIndex) = (name, index)
        finished = index * steps
        if style == .updating { show(step: 0) }
    }

    /// Step `step` (0-based) of the current case is done.
    public func done(step: Int) {
        finished = caseIndex * steps + min(step + 1, steps)
        show(step: step + 1)
    }

    /// Hears a tap of a run: a decoder layer's output ends that layer (TapRecorder.onRecord).
    public func heard(_ tap: Tap) {
        guard tap.kind == .decoderLayer, let layer = tap.module.split(separator: ".").last.flatMap({ Int($0) }) else {
            return
        }
        done(step: layer - first)
    }

    /// The run is over: a terminal's line is erased.
    public func finish() {
        if style == .updating { write("\r\u{1B}[K") }
    }

    /// The line for `step` steps of the current case done.
    func line(step: Int) -> String {
        let elapsed = clock() - started, total = cases * steps
        let left = finished == 0 ? "estimating" : "~" + Self.duration(elapsed / Double(finished) * Double(total - finished))
            + " left"
        let where_ = cases > 1 || !caseLabel.isEmpty ? "case \(caseLabel) (\(caseIndex + 1)/\(cases)), " : ""
        return "\(title): \(where_)\(noun) \(step) of \(steps), \(Self.duration(elapsed)) elapsed, \(left)"
    }

    private func show(step: Int) {
        switch style {
        case .updating: write("\r\u{1B}[K" + line(step: step))
        case .lines: write(line(step: step) + "\n")
        case .quiet: break
        }
    }

    /// `seconds` as `4.2 s` below a minute, else `3 min 05 s`.
    static func duration(_ seconds: Double) -> String {
        guard seconds >= 59.95 else { return "\((seconds * 10).rounded() / 10) s" }
        let whole = Int(seconds.rounded())
        return "\(whole / 60) min " + (whole % 60 < 10 ? "0" : "") + "\(whole % 60) s"
    }
}
