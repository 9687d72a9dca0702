// A backend loaded from a shared library through the C plugin ABI (Sources/CAssayPlugin/include/assay_plugin.h,
// spec/plugin-abi.md): `assay diff --backend plugin:PATH.so`. Ops the library does not export stay NOT COVERED.
//
// Goals, in order: a plugin cannot make a diff pass by writing outside its outputs (PluginExecutor.swift); a
// library that does not load, speaks another ABI version, lists an op with a dtype it does not export (or with
// unknown or no dtype bits) is a clear error at load time; then every op of the op table that has an entry point
// reaches the plugin with exactly the arguments its header comment states (PluginTextOps.swift,
// PluginAttention.swift, PluginVisionOps.swift, PluginFP8.swift): in f32, with the linears a store holds in FP8
// through the f8e4m3 entry points (codes and scales as stored), or in bf16 for the ops that have bf16 entry points.

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
    /// The ops this run can reach: an f32 run's ops listed with f32 or f8e4m3, a bf16 run's ops listed with bf16.
    public let operations: Set<SpecOp>
    /// A bf16 run is judged by the bf16 limits (isolated only); an f32 run, FP8 linears included, by the f32 ones.
    public var precision: CandidatePrecision { dtype == .bf16 ? .bf16 : .f32 }
    /// The ABI version the plugin was built for (1 or 2).
    public let abiVersion: UInt32
    /// The dtypes the plugin lists for each of its ops (a version-1 plugin: f32 only).
    public let dtypes: [SpecOp: Set<PluginDType>]
    /// What this run passes: f32 (and f8e4m3 for the linears a store holds in FP8), or bf16.
    public let dtype: PluginDType
    let library: PluginLibrary
    /// The worker the calls run in, unless in-process.
    private let worker: PluginWorker?

    /// `path` as dlopen is given it: `lib.so` (no slash) becomes `./lib.so`, a file in the current directory, where
    /// dlopen would search the system library path for that name instead.
    public static func resolved(_ path: String) -> String { path.contains("/") ? path : "./" + path }

    /// Loads the plugin at `path` (its info is read here; its kernels run as `isolation` says; a path without a
    /// slash is a file in the current directory, see `resolved`). `dtype` .bf16 runs the ops the plugin lists with
    /// ASSAY_DTYPE_BF16 through their bf16 entry points, every other op NOT COVERED.
    public init(path given: String, isolation: PluginIsolation = .standard, dtype: PluginDType = .f32)
        throws(PluginError)
    {
        let path = Self.resolved(given)
        guard dtype == .f32 || dtype == .bf16 else {
            throw PluginError(path: path, message: "a plugin runs in f32 or bf16; its f8e4m3 and nvfp4 entry points "
                              + "serve the linears an f32 run finds in FP8 or NVFP4")
        }
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
        var listed = [SpecOp: Set<PluginDType>]()
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
            guard listed[op] == nil else {
                throw PluginError(path: path, message: "lists op '\(opName)' twice (ops[\(index)])")
            }
            listed[op] = try Self.dtypes(of: entry.dtypes, op: op, abiVersion: abiVersion, path: path) {
                (dtype: PluginDType, entryPoint: String) throws(PluginError) in
                guard symbol(entryPoint) != nil else {
                    throw PluginError(path: path, message: "lists op '\(opName)' for \(dtype.rawValue) but exports no "
                                      + entryPoint)
                }
            }
        }
        name = "plugin:" + (info.name.map { String(cString: $0) } ?? FilePath.lastComponent(path))
        self.dtype = dtype
        dtypes = listed
        operations = Set(listed.filter { dtype == .bf16 ? $0.value.contains(.bf16) : !$0.value.isDisjoint(with: [.f32, .f8e4m3, .nvfp4]) }.keys)
        worker = switch isolation {
        case .inProcess: nil
        case .worker(let timeout): PluginWorker(plugin: path, timeout: timeout)
        }
    }

    deinit { dlclose(library.handle) }

    /// The dtypes of `bits` for `op`, each checked by `exported` with its entry point. Version 2: every bit a known
    /// one, at least one, each a dtype the op table gives the op an entry point for. Version 1 (whose header had the
    /// bits but only f32 entry points): the f32 bit, the others ignored as they always were.
    static func dtypes(of bits: UInt32, op: SpecOp, abiVersion: UInt32, path: String,
                       exported: (PluginDType, String) throws(PluginError) -> Void) throws(PluginError) -> Set<PluginDType> {
        let known = PluginDType.allCases.reduce(UInt32(0)) { $0 | $1.bit }
        if abiVersion == 1 {
            guard bits & PluginDType.f32.bit != 0 else {
                throw PluginError(path: path, message: "lists op '\(op.rawValue)' with dtypes \(bits), without "
                                  + "ASSAY_DTYPE_F32: ABI version 1 has f32 entry points only")
            }
            try exported(.f32, op.entry.pluginEntryPoint)
            return [.f32]
        }
        guard bits & ~known == 0 else {
            throw PluginError(path: path, message: "lists op '\(op.rawValue)' with dtypes \(bits): bits \(bits & ~known) "
                              + "are no ASSAY_DTYPE_* of ABI version 2 (\(PluginDType.allCases.map(\.bitName).joined(separator: ", ")))")
        }
        let dtypes = PluginDType.allCases.filter { bits & $0.bit != 0 }
        guard !dtypes.isEmpty else {
            throw PluginError(path: path, message: "lists op '\(op.rawValue)' with dtypes 0: no ASSAY_DTYPE_* bit")
        }
        for dtype in dtypes {
            guard let entryPoint = op.entry.pluginEntryPoints[dtype] else {
                throw PluginError(path: path, message: "lists op '\(op.rawValue)' with \(dtype.bitName), which it has no "
                                  + "entry point for (it has \(op.entry.pluginEntryPoints.keys.sorted().map(\.rawValue).joined(separator: ", ")))")
            }
            try exported(dtype, entryPoint)
        }
        return Set(dtypes)
    }

    /// The ops the op table gives an entry point in ABI version `abiVersion`.
    static func pluggableOps(abiVersion: UInt32) -> [SpecOp] {
        SpecOp.allCases.filter { $0.entry.pluginABIVersion <= abiVersion }
    }

    /// Runs `op`'s `dtype` entry point (from the op table; default: the run's dtype) with `arguments`; an op the
    /// plugin does not list with that dtype is missing (NOT COVERED), saying which dtype.
    func call(_ op: SpecOp, _ arguments: [PluginArgument], dtype: PluginDType? = nil) throws -> PluginResult {
        let dtype = self.dtype == .bf16 ? .bf16 : dtype ?? .f32   // a bf16 run reaches bf16 entry points only
        guard let listed = dtypes[op] else { throw missing(op) }
        guard listed.contains(dtype), let symbol = op.entry.pluginEntryPoints[dtype] else {
            let why = dtype == .f8e4m3 || dtype == .nvfp4
                ? "its weights are \(dtype == .nvfp4 ? "NVFP4" : "FP8"), and the plugin lists it without \(dtype.bitName)"
                : "the plugin lists it without \(dtype.bitName) (it lists \(listed.sorted().map(\.rawValue).joined(separator: ", ")))"
            throw BackendError(backend: name, op: op, why, unsupported: true)
        }
        let call = PluginCall(op: op, symbol: symbol, arguments: arguments)
        do throws(PluginCallFailure) {
            if let worker { return try worker.run(call) }
            return try PluginExecutor.run(call, on: library)
        } catch {
            throw BackendError(backend: name, op: op, error.message)
        }
    }

    /// `store`'s weight `name` (row `row` of stacked experts) as float32, or an unsupported-op error when the store
    /// holds it quantized: the plugin ABI's f32 entry points take float weights.
    func f32Weight(_ op: SpecOp, _ store: any WeightStore, _ name: String, row: Int? = nil) throws -> [Float] {
        if let quantization = try store.quantization(of: name, row: row) {
            throw BackendError(backend: self.name, op: op, "\(name) is \(quantization.scheme); the plugin ABI's f32 "
                               + "entry points take float weights", unsupported: true)
        }
        let values = if let row { try store.row(name, row) } else { try store.tensor(name) }
        return values.scalars.map { Float($0) }
    }

    /// Float weights for an entry point that takes them (f32, bf16): unsupported when the store holds `layers`
    /// quantized in a scheme that entry point does not take (NVFP4 always; FP8 where the op has no f8e4m3 one).
    func requireFloat(_ op: SpecOp, _ layers: LinearLayer...) throws {
        if let quantization = layers.lazy.compactMap(\.quantization).first {
            throw BackendError(backend: name, op: op, "\(quantization.scheme) weights; the plugin ABI's \(dtype.rawValue) "
                               + "entry points take float weights", unsupported: true)
        }
    }
}

/// Float32 values of a float64 tensor.
func floats(_ t: Tensor<Double>) -> PluginBuffer { .f32(t.scalars.map { Float($0) }) }

/// A float32 result as the float64 tensor of `shape`.
func tensor(_ values: [Float], _ shape: [Int]) -> Tensor<Double> { Tensor(shape: shape, scalars: values.map(Double.init)) }

/// bfloat16 bit patterns of a float64 tensor, each rounded to nearest, ties to even.
func bf16(_ t: Tensor<Double>) -> PluginBuffer { .u16(t.scalars.map { BFloat16($0).bitPattern }) }

/// A bfloat16 result as the float64 tensor of `shape`.
func tensor(bf16 values: [UInt16], _ shape: [Int]) -> Tensor<Double> {
    Tensor(shape: shape, scalars: values.map { BFloat16(bitPattern: $0).doubleValue })
}
