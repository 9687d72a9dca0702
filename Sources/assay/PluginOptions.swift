// How `assay diff`, `coverage` and `bench` run a plugin's kernels (spec/plugin-abi.md §2).

import ArgumentParser
import Backends
import MistralSmall4

struct PluginOptions: ParsableArguments {
    @Option(help: "Seconds a plugin's kernel may take per call before it fails that op (its worker is killed).")
    var opTimeout: Double = 60

    @Flag(help: "Run a plugin's kernels in this process: faster, but a crashing kernel ends the run.")
    var inProcess = false

    @Option(help: ArgumentHelp("f32 (default; FP8 linears through the f8e4m3 entry points), or bf16: the ops a plugin "
                               + "lists with ASSAY_DTYPE_BF16, judged by the bf16 limits (isolated only, against an "
                               + "hf-bf16 set)."))
    var pluginDtype: PluginRunDType = .f32

    enum PluginRunDType: String, ExpressibleByArgument { case f32, bf16 }

    func validate() throws {
        guard opTimeout > 0, opTimeout.isFinite else { throw ValidationError("--op-timeout must be a positive number of seconds") }
    }

    var isolation: PluginIsolation { inProcess ? .inProcess : .worker(timeout: opTimeout) }
    var dtype: PluginDType { pluginDtype == .bf16 ? .bf16 : .f32 }
}
