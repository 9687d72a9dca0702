// assay-plugin-worker PLUGIN: the process a plugin's kernels run in — spec/plugin-abi.md §2. It loads the library,
// then answers calls (PluginWire.swift frames on fd 3) with outcomes (on fd 4) until fd 3 closes. Outputs sit
// between guard pages, so a far write faults here, where the runner sees this process die and names the op.

#if canImport(Glibc)
import Glibc
#endif
import Backends

guard CommandLine.arguments.count == 2 else {
    let usage = "usage: assay-plugin-worker PLUGIN.so (started by assay, frames on fd 3 and 4)\n"
    _ = usage.withCString { write(2, $0, strlen($0)) }
    exit(2)
}
PluginWorkerLoop.serve(plugin: CommandLine.arguments[1], calls: 3, outcomes: 4)
