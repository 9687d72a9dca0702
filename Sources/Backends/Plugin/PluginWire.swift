// The bytes a PluginCall and its outcome travel as between the runner and its worker process (PluginWorker.swift):
// little-endian, length-prefixed, no pointers — every pointer is rebuilt on the worker's side.
//
//   call     symbol, then per argument a tag (0 args, 1 input, 2 output, 3 table, 4 null) and its payload
//   buffer   element tag (0 f32, 1 f64, 2 i64, 3 u8, 4 u16), element count, elements
//   outcome  0 and the outputs as buffers, or 1 and a message

import MistralSmall4

/// Appends values to a byte array.
struct WireWriter {
    private(set) var bytes = [UInt8]()

    mutating func integer(_ value: Int) { withUnsafeBytes(of: Int64(value).littleEndian) { bytes += $0 } }
    mutating func byte(_ value: UInt8) { bytes.append(value) }
    mutating func data(_ data: [UInt8]) { integer(data.count); bytes += data }
    mutating func text(_ text: String) { data(Array(text.utf8)) }

    mutating func buffer(_ buffer: PluginBuffer) {
        switch buffer {
        case .f32(let v): byte(0); integer(v.count); v.withUnsafeBytes { bytes += $0 }
        case .f64(let v): byte(1); integer(v.count); v.withUnsafeBytes { bytes += $0 }
        case .i64(let v): byte(2); integer(v.count); v.withUnsafeBytes { bytes += $0 }
        case .u8(let v): byte(3); integer(v.count); bytes += v
        case .u16(let v): byte(4); integer(v.count); v.withUnsafeBytes { bytes += $0 }
        }
    }
}

/// Reads what a WireWriter wrote; a short or malformed message is an error, never a trap.
struct WireReader {
    struct Malformed: Error {}
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func take(_ count: Int) throws(Malformed) -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - offset else { throw Malformed() }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    mutating func integer() throws(Malformed) -> Int {
        let raw = try take(8)
        return Int(raw.reversed().reduce(Int64(0)) { $0 << 8 | Int64($1) })
    }

    mutating func byte() throws(Malformed) -> UInt8 { try take(1).first! }

    /// A count of items to follow, which the rest of the message could hold.
    mutating func count() throws(Malformed) -> Int {
        let count = try integer()
        guard count >= 0, count <= bytes.count - offset else { throw Malformed() }
        return count
    }
    mutating func data() throws(Malformed) -> [UInt8] { Array(try take(try integer())) }
    mutating func text() throws(Malformed) -> String { String(decoding: try data(), as: UTF8.self) }

    mutating func buffer() throws(Malformed) -> PluginBuffer {
        let tag = try byte(), count = try integer()
        guard count >= 0, count <= Int.max / 8 else { throw Malformed() }
        func values<T>(_: T.Type) throws(Malformed) -> [T] {
            let raw = try take(count * MemoryLayout<T>.stride)
            return raw.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
        }
        switch tag {
        case 0: return .f32(try values(Float.self))
        case 1: return .f64(try values(Double.self))
        case 2: return .i64(try values(Int64.self))
        case 3: return .u8(try values(UInt8.self))
        case 4: return .u16(try values(UInt16.self))
        default: throw Malformed()
        }
    }
}

extension PluginCall {
    var wire: [UInt8] {
        var w = WireWriter()
        w.text(op.rawValue)
        w.text(symbol)
        w.integer(arguments.count)
        for argument in arguments {
            switch argument {
            case .args(let bytes): w.byte(0); w.data(bytes)
            case .input(let buffer): w.byte(1); w.buffer(buffer)
            case .output(let kind, let count):
                let tag: UInt8 = switch kind { case .f32: 0; case .i64: 1; case .u16: 2 }
                w.byte(2); w.byte(tag); w.integer(count)
            case .table(let fields, let trailer):
                w.byte(3); w.integer(fields.count)
                for field in fields {
                    if let field { w.byte(1); w.buffer(field) } else { w.byte(0) }
                }
                w.data(trailer)
            case .null: w.byte(4)
            }
        }
        return w.bytes
    }

    init(wire bytes: [UInt8]) throws(WireReader.Malformed) {
        var r = WireReader(bytes)
        guard let op = SpecOp(rawValue: try r.text()) else { throw WireReader.Malformed() }
        let symbol = try r.text()
        var arguments = [PluginArgument]()
        for _ in 0..<(try r.count()) {
            switch try r.byte() {
            case 0: arguments.append(.args(try r.data()))
            case 1: arguments.append(.input(try r.buffer()))
            case 2:
                let kinds: [OutputKind] = [.f32, .i64, .u16]
                let tag = Int(try r.byte())
                guard tag < kinds.count else { throw WireReader.Malformed() }
                let kind = kinds[tag]
                let count = try r.integer()
                guard count >= 0, count <= Int.max / 16 else { throw WireReader.Malformed() }
                arguments.append(.output(kind, count: count))
            case 3:
                var fields = [PluginBuffer?]()
                for _ in 0..<(try r.count()) { fields.append(try r.byte() == 1 ? try r.buffer() : nil) }
                arguments.append(.table(fields, trailer: try r.data()))
            case 4: arguments.append(.null)
            default: throw WireReader.Malformed()
            }
        }
        self.init(op: op, symbol: symbol, arguments: arguments)
    }
}

/// A call's outcome on the wire.
enum PluginOutcome {
    case result(PluginResult)
    case failure(String)

    var wire: [UInt8] {
        var w = WireWriter()
        switch self {
        case .result(let result): w.byte(0); w.integer(result.outputs.count); result.outputs.forEach { w.buffer($0) }
        case .failure(let message): w.byte(1); w.text(message)
        }
        return w.bytes
    }

    init(wire bytes: [UInt8]) throws(WireReader.Malformed) {
        var r = WireReader(bytes)
        if try r.byte() == 1 { self = .failure(try r.text()); return }
        var outputs = [PluginBuffer]()
        for _ in 0..<(try r.count()) { outputs.append(try r.buffer()) }
        self = .result(PluginResult(outputs: outputs))
    }
}
