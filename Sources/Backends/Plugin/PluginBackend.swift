// A backend loaded from a shared library through the C plugin ABI (Sources/CAssayPlugin/include/assay_plugin.h,
// spec/plugin-abi.md): `assay diff --backend plugin:PATH.so`. Ops the library does not export stay NOT COVERED.
//
// Goals, in order: a plugin cannot make a diff pass by writing outside its outputs (PluginExecutor.swift); a
// library that does not load, speaks another ABI version, lists an op it does not export or lists it without
// f32 is a clear error at load time; then every op of the op table that has an entry point reaches the plugin with
// exactly the arguments its header comment states (PluginTextOps.swift, PluginAttention.swift,
// PluginVisionOps.swift).

#if canImport(Glibc)
import Glibc
#endif
import CAssayPlugin
import MistralSmall4
import Tensor

/// Why a plugin cannot be used, naming the library.
public struct PluginError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let message: String
    /// One line (`Escaped.line`), whatever the plugin's own error text holds.
    public var description: String { Escaped.line("plugin \(path): \(message)") }
}

/// Where a plugin's kernels run.
public enum PluginIsolation: Sendable, Equatable {
    /// In this process: fastest, but a crashing kernel takes the run down.
    case inProcess
    /// In a worker process (PluginWorker.swift): a signal, exit() or a call longer than `timeout` seconds fails
    /// that op, named, and the run goes on.
    case worker(timeout: Double)

    public static let standard = PluginIsolation.worker(timeout: 60)
}

/// The ops of a loaded plugin.
public final class PluginBackend: Backend, @unchecked Sendable {
    public let name: String
    public let operations: Set<SpecOp>
    public var precision: CandidatePrecision { .f32 }
    /// The ABI version the plugin was built for (1 or 2).
    public let abiVersion: UInt32
    let library: PluginLibrary
    /// The worker the calls run in, unless in-process.
    private let worker: PluginWorker?

    /// `path` as dlopen is given it: `lib.so` (no slash) becomes `./lib.so`, a file in the current directory, where
    /// dlopen would search the system library path for that name instead.
    public static func resolved(_ path: String) -> String { path.contains("/") ? path : "./" + path }

    /// Loads the plugin at `path` (its info is read here; its kernels run as `isolation` says). A path without a
    /// slash is a file in the current directory (see `resolved`).
    public init(path given: String, isolation: PluginIsolation = .standard) throws(PluginError) {
        let path = Self.resolved(given)
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let note = path == given ? "" : " \(path) (a path without a slash is taken in the current directory)"
            throw PluginError(path: given, message: "cannot load\(note): \(String(cString: dlerror()))")
        }
        func symbol(_ name: String) -> UnsafeMutableRawPointer? { dlsym(handle, name) }
        guard let getInfo = symbol("assay_plugin_get_info"), let errorText = symbol("assay_plugin_last_error") else {
            throw PluginError(path: path, message: "exports no assay_plugin_get_info / assay_plugin_last_error: not an Assay plugin")
        }
        library = PluginLibrary(handle: handle, lastError: unsafeBitCast(
            errorText, to: (@convention(c) () -> UnsafePointer<CChar>?).self))
        let infoFunction = unsafeBitCast(getInfo, to: (@convention(c) () -> UnsafePointer<assay_plugin_info>?).self)
        guard let info = infoFunction()?.pointee else { throw PluginError(path: path, message: "assay_plugin_get_info returned NULL") }
        guard (1...ASSAY_PLUGIN_ABI_VERSION).contains(info.abi_version) else {
            throw PluginError(path: path, message: "built for ABI version \(info.abi_version); this assay loads versions "
                              + "1 to \(ASSAY_PLUGIN_ABI_VERSION)")
        }
        abiVersion = info.abi_version
        let offered = Self.pluggableOps(abiVersion: abiVersion)
        guard Int(info.op_count) <= offered.count else {
            throw PluginError(path: path, message: "op_count \(info.op_count): ABI version \(abiVersion) has "
                              + "\(offered.count) ops, each listed once")
        }
        guard info.op_count == 0 || info.ops != nil else {
            throw PluginError(path: path, message: "op_count \(info.op_count) with ops NULL")
        }
        var ops = Set<SpecOp>()
        for index in 0..<Int(info.op_count) {
            let entry = info.ops[index]
            guard let namePointer = entry.op else {
                throw PluginError(path: path, message: "ops[\(index)].op is NULL")
            }
            let opName = String(cString: namePointer)
            guard let op = SpecOp(rawValue: opName), offered.contains(op) else {
                throw PluginError(path: path, message: "lists op '\(opName)', which ABI version \(abiVersion) has no "
                                  + "entry point for (\(offered.map(\.rawValue).joined(separator: ", ")))")
            }
            guard entry.dtypes & UInt32(ASSAY_DTYPE_F32) != 0 else {
                throw PluginError(path: path, message: "lists op '\(opName)' with dtypes \(entry.dtypes), without "
                                  + "ASSAY_DTYPE_F32: this assay runs plugins in f32")
            }
            guard symbol(op.entry.pluginEntryPoint) != nil else {
                throw PluginError(path: path, message: "lists op '\(opName)' for f32 but exports no "
                                  + op.entry.pluginEntryPoint)
            }
            guard ops.insert(op).inserted else {
                throw PluginError(path: path, message: "lists op '\(opName)' twice (ops[\(index)])")
            }
        }
        name = "plugin:" + (info.name.map { String(cString: $0) } ?? FilePath.lastComponent(path))
        operations = ops
        worker = switch isolation {
        case .inProcess: nil
        case .worker(let timeout): PluginWorker(plugin: path, timeout: timeout)
        }
    }

    deinit { dlclose(library.handle) }

    /// The ops the op table gives an entry point in ABI version `abiVersion`.
    static func pluggableOps(abiVersion: UInt32) -> [SpecOp] {
        SpecOp.allCases.filter { $0.entry.pluginABIVersion <= abiVersion }
    }

    /// Runs `op` with `arguments` (its entry point from the op table); an op the plugin does not list is missing.
    func call(_ op: SpecOp, _ arguments: [PluginArgument]) throws -> PluginResult {
        guard operations.contains(op) else { throw missing(op) }
        let call = PluginCall(op: op, symbol: op.entry.pluginEntryPoint, arguments: arguments)
        do throws(PluginCallFailure) {
            if let worker { return try worker.run(call) }
            return try PluginExecutor.run(call, on: library)
        } catch {
            throw BackendError(backend: name, op: op, error.message)
        }
    }

    /// `store`'s weight `name` (row `row` of stacked experts) as float32, or an unsupported-op error when the store
    /// holds it in FP8: the plugin ABI's f32 entry points take float weights.
    func f32Weight(_ op: SpecOp, _ store: any WeightStore, _ name: String, row: Int? = nil) throws -> [Float] {
        guard try store.fp8Quantization(of: name, row: row) == nil else {
            throw BackendError(backend: self.name, op: op, "\(name) is FP8; the plugin ABI's f32 entry points take "
                               + "float weights", unsupported: true)
        }
        let values = if let row { try store.row(name, row) } else { try store.tensor(name) }
        return values.scalars.map { Float($0) }
    }
}

/// Float32 values of a float64 tensor.
func floats(_ t: Tensor<Double>) -> PluginBuffer { .f32(t.scalars.map { Float($0) }) }

/// A float32 result as the float64 tensor of `shape`.
func tensor(_ values: [Float], _ shape: [Int]) -> Tensor<Double> { Tensor(shape: shape, scalars: values.map(Double.init)) }
