// How `assay diff`, `coverage` and `bench` run a plugin's kernels (spec/plugin-abi.md §2).

import ArgumentParser
import Backends
import MistralSmall4

struct PluginOptions: ParsableArguments {
    @Option(help: "Seconds a plugin's kernel may take per call before it fails that op (its worker is killed; default 60).")
    var opTimeout: Double?

    @Flag(help: "Run a plugin's kernels in this process: faster, but a crashing kernel ends the run.")
    var inProcess = false

    @Option(help: ArgumentHelp("f32 (default; FP8 and NVFP4 linears through the f8e4m3 and nvfp4 entry points), or bf16: the ops a plugin "
                               + "lists with ASSAY_DTYPE_BF16, judged by the bf16 limits (isolated only, against an "
                               + "hf-bf16 set)."))
    var pluginDtype: PluginRunDType?

    enum PluginRunDType: String, ExpressibleByArgument { case f32, bf16 }

    func validate() throws {
        if let opTimeout, !(opTimeout > 0 && opTimeout.isFinite) {
            throw ValidationError("--op-timeout must be a positive number of seconds")
        }
        if inProcess, opTimeout != nil {
            throw ValidationError("--op-timeout applies to a plugin's worker; --in-process runs no worker")
        }
    }

    /// An option given for plugins when none of `backends` is one is an error, not silently ignored.
    func checkUsed(by backends: [String]) throws {
        guard !backends.contains(where: { $0.hasPrefix("plugin:") }) else { return }
        let given = [(opTimeout != nil, "--op-timeout"), (inProcess, "--in-process"), (pluginDtype != nil, "--plugin-dtype")]
        if let option = given.first(where: \.0)?.1 {
            throw ValidationError("\(option) applies to plugin backends; \(backends.joined(separator: ", ")) runs none")
        }
    }

    var isolation: PluginIsolation { inProcess ? .inProcess : .worker(timeout: opTimeout ?? 60) }
    var dtype: PluginDType { pluginDtype == .bf16 ? .bf16 : .f32 }
}
