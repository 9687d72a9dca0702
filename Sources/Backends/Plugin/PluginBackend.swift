// A backend loaded from a shared library through the C plugin ABI (Sources/CAssayPlugin/include/assay_plugin.h,
// spec/plugin-abi.md): `assay diff --backend plugin:PATH.so`. Ops the library does not export stay NOT COVERED.
//
// Goals, in order: a plugin cannot make a diff pass by writing outside its output (every output is surrounded by
// sentinel values, checked after the call, and pre-filled with NaN so an unwritten value fails); a library that
// does not load, speaks another ABI version or lists an op it does not export is a clear error at load time.

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
    public var description: String { "plugin \(path): \(message)" }
}

/// The ops of a loaded plugin.
public final class PluginBackend: Backend, @unchecked Sendable {
    public let name: String
    public let operations: Set<SpecOp>
    public var precision: CandidatePrecision { .f32 }
    private let handle: UnsafeMutableRawPointer
    private let lastError: @convention(c) () -> UnsafePointer<CChar>?

    /// Values written around every output buffer; a plugin that changes one wrote out of bounds.
    static let guardCount = 64
    static let sentinel = Float(bitPattern: 0x7FC5_A5A5)

    public init(path: String) throws(PluginError) {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw PluginError(path: path, message: "cannot load: \(String(cString: dlerror()))")
        }
        self.handle = handle
        func symbol(_ name: String) -> UnsafeMutableRawPointer? { dlsym(handle, name) }
        guard let getInfo = symbol("assay_plugin_get_info"), let errorText = symbol("assay_plugin_last_error") else {
            throw PluginError(path: path, message: "exports no assay_plugin_get_info / assay_plugin_last_error: not an Assay plugin")
        }
        lastError = unsafeBitCast(errorText, to: (@convention(c) () -> UnsafePointer<CChar>?).self)
        let infoFunction = unsafeBitCast(getInfo, to: (@convention(c) () -> UnsafePointer<assay_plugin_info>?).self)
        guard let info = infoFunction()?.pointee else { throw PluginError(path: path, message: "assay_plugin_get_info returned NULL") }
        guard info.abi_version == ASSAY_PLUGIN_ABI_VERSION else {
            throw PluginError(path: path, message: "built for ABI version \(info.abi_version); this assay loads version "
                              + "\(ASSAY_PLUGIN_ABI_VERSION)")
        }
        var ops = Set<SpecOp>()
        for index in 0..<Int(info.op_count) {
            let entry = info.ops[index]
            let opName = entry.op.map { String(cString: $0) } ?? ""
            guard let op = SpecOp(rawValue: opName), let entryPoint = op.entry.pluginEntryPoint else {
                throw PluginError(path: path, message: "lists op '\(opName)', which ABI version 1 has no entry point for "
                                  + "(\(Self.pluggableOps.map(\.rawValue).joined(separator: ", ")))")
            }
            guard entry.dtypes & UInt32(ASSAY_DTYPE_F32) != 0 else {
                throw PluginError(path: path, message: "lists op '\(opName)' with dtypes \(entry.dtypes), without "
                                  + "ASSAY_DTYPE_F32: ABI version 1 runs f32 only")
            }
            guard symbol(entryPoint) != nil else {
                throw PluginError(path: path, message: "lists op '\(opName)' for f32 but exports no \(entryPoint)")
            }
            ops.insert(op)
        }
        name = "plugin:" + (info.name.map { String(cString: $0) } ?? FilePath.lastComponent(path))
        operations = ops
    }

    deinit { dlclose(handle) }

    /// The ops the op table gives a plugin entry point.
    static let pluggableOps = SpecOp.allCases.filter { $0.entry.pluginEntryPoint != nil }

    private func function<F>(_ op: SpecOp, as type: F.Type) throws -> F {
        guard operations.contains(op), let symbol = op.entry.pluginEntryPoint, let pointer = dlsym(handle, symbol)
        else { throw missing(op) }
        return unsafeBitCast(pointer, to: type)
    }

    /// Runs `call` on an output of `count` floats surrounded by sentinels and pre-filled with NaN; checks its
    /// status and the sentinels.
    private func guarded(_ op: SpecOp, count: Int, _ call: (UnsafeMutablePointer<Float>) -> Int32) throws -> [Float] {
        var buffer = [Float](repeating: Self.sentinel, count: count + 2 * Self.guardCount)
        for i in 0..<count { buffer[Self.guardCount + i] = .nan }
        let status = buffer.withUnsafeMutableBufferPointer { call($0.baseAddress! + Self.guardCount) }
        guard status == 0 else {
            throw BackendError(backend: name, op: op, "returned \(status): " + (lastError().map { String(cString: $0) } ?? ""))
        }
        let before = (0..<Self.guardCount).filter { buffer[$0].bitPattern != Self.sentinel.bitPattern }.count
        let after = (0..<Self.guardCount).filter { buffer[Self.guardCount + count + $0].bitPattern != Self.sentinel.bitPattern }.count
        guard before == 0, after == 0 else {
            throw BackendError(backend: name, op: op, "wrote outside its output buffer (\(before) value(s) before it, "
                               + "\(after) after it, of \(Self.guardCount) checked on each side)")
        }
        return Array(buffer[Self.guardCount..<(Self.guardCount + count)])
    }

    private typealias RMSNorm = @convention(c) (UnsafePointer<assay_rms_norm_args>?, UnsafePointer<Float>?,
                                                 UnsafePointer<Float>?, UnsafeMutablePointer<Float>?) -> Int32
    private typealias Add = @convention(c) (UnsafePointer<assay_add_args>?, UnsafePointer<Float>?, UnsafePointer<Float>?,
                                            UnsafeMutablePointer<Float>?) -> Int32
    private typealias SwiGLUCall = @convention(c) (UnsafePointer<assay_swiglu_args>?, UnsafePointer<Float>?,
                                                   UnsafePointer<Float>?, UnsafePointer<Float>?,
                                                   UnsafeMutablePointer<Float>?) -> Int32

    private typealias Embedding = @convention(c) (UnsafePointer<assay_embedding_args>?, UnsafePointer<Int64>?,
                                                  UnsafePointer<Float>?, UnsafeMutablePointer<Float>?) -> Int32
    private typealias LMHead = @convention(c) (UnsafePointer<assay_lm_head_args>?, UnsafePointer<Float>?,
                                               UnsafePointer<Float>?, UnsafeMutablePointer<Float>?) -> Int32

    /// The rows the ids use (ascending id) and the ids re-indexed into them: the gather is the plugin's.
    public func embedding(_ ids: [Int], table: String, store: any WeightStore) throws -> Tensor<Double> {
        let call = try function(.embedding, as: Embedding.self)
        let used = Array(Set(ids)).sorted()
        let slot = Dictionary(uniqueKeysWithValues: used.enumerated().map { ($1, $0) })
        var rows = [Float]()
        for id in used { rows += try store.rows(table, id..<(id + 1)).scalars.map { Float($0) } }
        let hidden = rows.count / max(used.count, 1)
        var args = assay_embedding_args(tokens: Int64(ids.count), rows: Int64(used.count), hidden: Int64(hidden))
        let indices = ids.map { Int64(slot[$0]!) }
        let y = try guarded(.embedding, count: ids.count * hidden) { out in call(&args, indices, rows, out) }
        return Tensor(shape: [ids.count, hidden], scalars: y.map(Double.init))
    }

    /// One call per block of `vocabularyBlocks`, as the reference streams the head.
    public func lmHead(_ x: Tensor<Double>, name: String, store: any WeightStore) throws -> Tensor<Double> {
        let call = try function(.lmHead, as: LMHead.self)
        let (tokens, hidden, vocab) = (x.shape[0], x.shape[1], store.config.text.vocabSize)
        let input = x.scalars.map { Float($0) }
        var logits = [Double](repeating: 0, count: tokens * vocab)
        for block in vocabularyBlocks(vocab) {
            let weight = try store.rows(name, block).scalars.map { Float($0) }
            var args = assay_lm_head_args(tokens: Int64(tokens), hidden: Int64(hidden), vocab: Int64(block.count))
            let part = try guarded(.lmHead, count: tokens * block.count) { out in call(&args, input, weight, out) }
            for t in 0..<tokens {
                for (column, v) in block.enumerated() { logits[t * vocab + v] = Double(part[t * block.count + column]) }
            }
        }
        return Tensor(shape: [tokens, vocab], scalars: logits)
    }

    public func rmsNorm(_ x: Tensor<Double>, weight: Tensor<Double>, epsilon: Double) throws -> Tensor<Double> {
        let call = try function(.rmsNorm, as: RMSNorm.self)
        let (input, gain) = (x.scalars.map { Float($0) }, weight.scalars.map { Float($0) })
        var args = assay_rms_norm_args(rows: Int64(x.count / max(weight.count, 1)), width: Int64(weight.count),
                                       epsilon: Float(epsilon))
        let y = try guarded(.rmsNorm, count: x.count) { out in call(&args, input, gain, out) }
        return Tensor(shape: x.shape, scalars: y.map(Double.init))
    }

    public func add(_ a: Tensor<Double>, _ b: Tensor<Double>) throws -> Tensor<Double> {
        let call = try function(.add, as: Add.self)
        var args = assay_add_args(count: Int64(a.count))
        let (x, y) = (a.scalars.map { Float($0) }, b.scalars.map { Float($0) })
        let sum = try guarded(.add, count: a.count) { out in call(&args, x, y, out) }
        return Tensor(shape: a.shape, scalars: sum.map(Double.init))
    }

    public func swiglu(_ x: Tensor<Double>, store: any WeightStore, prefix: String) throws -> Tensor<Double> {
        let call = try function(.swiglu, as: SwiGLUCall.self)
        let mlp = try SwiGLU(store, prefix: prefix)
        let fused = try mlp.fusedGateUp(backend: name, op: .swiglu)
        guard fused.fp8 == nil, mlp.down.fp8 == nil else {
            throw BackendError(backend: name, op: .swiglu, "the plugin ABI has no FP8 linears yet", unsupported: true)
        }
        let (tokens, hidden, width) = (x.shape[0], x.shape[1], mlp.down.weight.shape[1])
        var args = assay_swiglu_args(tokens: Int64(tokens), hidden: Int64(hidden), intermediate: Int64(width))
        let (input, gateUp, down) = (x.scalars.map { Float($0) }, fused.weight.scalars.map { Float($0) },
                                     mlp.down.weight.scalars.map { Float($0) })
        let y = try guarded(.swiglu, count: tokens * hidden) { out in call(&args, input, gateUp, down, out) }
        return Tensor(shape: [tokens, hidden], scalars: y.map(Double.init))
    }
}
