import ArgumentParser
import Backends

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
    static func main() {
        OpenBLASCore.replaceGenericCore()
        main(nil)
    }
}
