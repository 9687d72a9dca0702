// `--taps REGEX` of `assay forward` and `assay diff`: the taps whose names the expression matches anywhere.

import ArgumentParser

/// A regular expression over tap names, parsed (and refused when malformed) with the command line.
struct TapFilter: ExpressibleByArgument {
    let text: String
    let regex: Regex<AnyRegexOutput>

    init?(argument: String) {
        guard let regex = try? Regex(argument) else { return nil }
        (text, self.regex) = (argument, regex)
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

/// A command's own one-line error (exit 1), for what no library error covers.
struct CommandError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
