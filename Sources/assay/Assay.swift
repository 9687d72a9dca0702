import ArgumentParser
import Backends
import Foundation
import Tensor

@main
struct Assay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assay",
        abstract: "The reference model-spec of Mistral Small 4, and the tools that check kernels and ports against it.",
        subcommands: [
            ExplainCommand.self, ExploreCommand.self, ForwardCommand.self, GoldenCommand.self, VerifyCommand.self, DiffCommand.self, CoverageCommand.self, SelfTestCommand.self, RopeSpectrumCommand.self, ConformCommand.self, PreprocessCommand.self, ExportCheckpointCommand.self, BenchCommand.self, InspectCommand.self,
            CanonicalizeCommand.self,
            ParamsCommand.self,
        ]
    )

    /// Before anything else: a generic OpenBLAS core is replaced by re-executing this binary (OpenBLASCore), so the
    /// work below runs once, on the better kernels.
    /// Every failure prints one line, `Error: …`, on standard error (control characters escaped; names in the
    /// errors' own texts are escaped already): a bad command line
    /// (unknown option, an option the command would ignore) exits 64 without the usage block (`--help` shows it),
    /// bad data exits 1. Help and version print as ArgumentParser prints them.
    static func main() {
        OpenBLASCore.replaceGenericCore()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            // Help and version print as ArgumentParser prints them; an ExitCode (a failed verdict) has said its say.
            guard code != .success, !(error is ExitCode) else { exit(withError: error) }
            var text = message(for: error)
            if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
            FileHandle.standardError.write(Data(("Error: " + Escaped.line(text, backslashes: false) + "\n").utf8))
            exit(withError: ExitCode(code.rawValue))
        }
    }
}
