// PluginCall: one call of a plugin entry point, described as data — its symbol and its arguments, every one a
// pointer (an args struct, an input buffer, an output buffer, a struct of input pointers, or NULL) — so the same
// description can be run in this process or handed to a worker process (spec/plugin-abi.md §2).
//
// Goals, in order: a kernel cannot make a diff pass by writing outside its outputs (each output is surrounded by
// sentinels, checked after the call, and pre-filled with values no kernel leaves by accident: NaN, or −1 for
// indices, so an unwritten value fails); then one description for every op, read by every executor.

#if canImport(Glibc)
import Glibc
#endif
import MistralSmall4

/// Values a plugin reads or writes.
enum PluginBuffer: Equatable {
    case f32([Float])
    case f64([Double])
    case i64([Int64])
    /// FP8 E4M3 codes.
    case u8([UInt8])
    /// bfloat16 bit patterns.
    case u16([UInt16])

    var byteCount: Int {
        switch self {
        case .f32(let v): v.count * 4
        case .f64(let v): v.count * 8
        case .i64(let v): v.count * 8
        case .u8(let v): v.count
        case .u16(let v): v.count * 2
        }
    }
}

/// One pointer argument of an entry point.
enum PluginArgument {
    /// An args struct (scalars only), passed by address.
    case args([UInt8])
    case input(PluginBuffer)
    /// An output of `count` elements; the call returns it.
    case output(OutputKind, count: Int)
    /// A struct of pointers (`assay_mla_weights`): each an input buffer or NULL, in field order, then `trailer`: the
    /// bytes of the scalar fields that follow the pointers (`assay_mla_f8_weights.scales`), or none.
    case table([PluginBuffer?], trailer: [UInt8] = [])
    case null
}

enum OutputKind {
    case f32, i64
    /// bfloat16 bit patterns.
    case u16

    var size: Int {
        switch self {
        case .f32: 4
        case .i64: 8
        case .u16: 2
        }
    }
}

/// A call: the symbol and its arguments, in order.
struct PluginCall {
    let op: SpecOp
    let symbol: String
    let arguments: [PluginArgument]

    /// The bytes of a C struct value (its scalars), for `.args`.
    static func bytes<T>(of value: T) -> [UInt8] {
        withUnsafeBytes(of: value) { Array($0) }
    }
}

/// What a call returned: the outputs in argument order.
struct PluginResult {
    let outputs: [PluginBuffer]

    func f32(_ index: Int) -> [Float] {
        guard case .f32(let v) = outputs[index] else { preconditionFailure("output \(index) is not f32") }
        return v
    }

    func u16(_ index: Int) -> [UInt16] {
        guard case .u16(let v) = outputs[index] else { preconditionFailure("output \(index) is not u16") }
        return v
    }

    func i64(_ index: Int) -> [Int64] {
        guard case .i64(let v) = outputs[index] else { preconditionFailure("output \(index) is not i64") }
        return v
    }
}

/// Why a call failed: the plugin's status and message, a write outside an output, or (isolated) the process dying.
struct PluginCallFailure: Error {
    let message: String
}

/// Values written around every output; a kernel that changes one wrote out of bounds.
enum Guard {
    static let count = 64
    static let f32 = Float(bitPattern: 0x7FC5_A5A5)
    static let i64 = Int64(bitPattern: 0x7FC5_A5A5_A5A5_A5A5)
    /// A bfloat16 NaN with a payload.
    static let u16: UInt16 = 0x7FC5
    /// What an output holds before the call: an element left unwritten fails its tap.
    static let unwrittenF32 = Float.nan
    static let unwrittenI64: Int64 = -1
    /// The bfloat16 NaN.
    static let unwrittenU16: UInt16 = 0x7FC0
}
