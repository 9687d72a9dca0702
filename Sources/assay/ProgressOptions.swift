// `--quiet` and the progress report of the long commands (golden, forward, diff, bench) on standard error: one
// updating line on a terminal, a plain line per layer into a pipe or file, nothing with --quiet (RunProgress).

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Validation

struct ProgressOptions: ParsableArguments {
    @Flag(help: ArgumentHelp("Show no progress on standard error (by default: one updating line on a terminal, a "
                             + "line per layer otherwise; standard output is the same either way)."))
    var quiet = false

    /// A report titled `title`, in the style standard error calls for.
    func reporter(_ title: String) -> RunProgress {
        RunProgress(title, style: quiet ? .quiet : isatty(STDERR_FILENO) != 0 ? .updating : .lines, write: standardError)
    }
}

/// Writes `text` to standard error as it is (a progress line rewritten in place has no newline).
private func standardError(_ text: String) {
    var text = text
    text.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
