// How `assay diff`, `coverage` and `bench` run a plugin's kernels (spec/plugin-abi.md §2).

import ArgumentParser
import Backends

struct PluginOptions: ParsableArguments {
    @Option(help: "Seconds a plugin's kernel may take per call before it fails that op (its worker is killed).")
    var opTimeout: Double = 60

    @Flag(help: "Run a plugin's kernels in this process: faster, but a crashing kernel ends the run.")
    var inProcess = false

    func validate() throws {
        guard opTimeout > 0, opTimeout.isFinite else { throw ValidationError("--op-timeout must be a positive number of seconds") }
    }

    var isolation: PluginIsolation { inProcess ? .inProcess : .worker(timeout: opTimeout) }
}
