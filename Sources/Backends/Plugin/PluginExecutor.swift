// Running a PluginCall on a loaded library in this process: every argument laid out in memory, outputs between
// sentinels, the entry point called with its pointers, the sentinels and the status checked. The worker process of
// an isolated run (PluginWorker.swift) calls the same code on its side, with guard pages around the outputs too.

#if canImport(Glibc)
import Glibc
#endif

/// A loaded plugin library: its handle and its error function.
struct PluginLibrary {
    let handle: UnsafeMutableRawPointer
    let lastError: @convention(c) () -> UnsafePointer<CChar>?

    func symbol(_ name: String) -> UnsafeMutableRawPointer? { dlsym(handle, name) }
}

enum PluginExecutor {
    /// Calls `call` on `library`. `guardPages`: each output also sits between inaccessible pages, so a write far
    /// outside it faults (only where a fault cannot take the runner down: the worker).
    static func run(_ call: PluginCall, on library: PluginLibrary, guardPages: Bool = false)
        throws(PluginCallFailure) -> PluginResult
    {
        guard let function = library.symbol(call.symbol) else {
            throw PluginCallFailure(message: "exports no \(call.symbol)")
        }
        var memory = Memory(guardPages: guardPages)
        defer { memory.release() }
        var outputs = [(index: Int, kind: OutputKind, count: Int, base: UnsafeMutableRawPointer)]()
        var pointers = [UnsafeRawPointer?]()
        for (index, argument) in call.arguments.enumerated() {
            switch argument {
            case .args(let bytes): pointers.append(UnsafeRawPointer(memory.copy(bytes)))
            case .input(let buffer): pointers.append(UnsafeRawPointer(memory.copy(buffer)))
            case .output(let kind, let count):
                let base = memory.output(kind, count: count)
                outputs.append((index, kind, count, base))
                pointers.append(UnsafeRawPointer(base))
            case .table(let fields, let trailer):
                let table = fields.map { $0.map { UnsafeRawPointer(memory.copy($0)) } }
                var bytes = table.withUnsafeBytes { Array($0) }
                bytes += trailer
                pointers.append(UnsafeRawPointer(memory.copy(bytes)))
            case .null: pointers.append(nil)
            }
        }
        let status = invoke(function, pointers)
        guard status == 0 else {
            throw PluginCallFailure(message: "returned \(status): " + (library.lastError().map { String(cString: $0) } ?? ""))
        }
        var results = [PluginBuffer]()
        for output in outputs {
            let (before, after) = Memory.changedSentinels(output.base, output.kind, count: output.count)
            guard before == 0, after == 0 else {
                throw PluginCallFailure(message: "wrote outside its output buffer (argument \(output.index + 1): "
                                        + "\(before) value(s) before it, \(after) after it, of \(Guard.count) checked "
                                        + "on each side)")
            }
            results.append(Memory.read(output.base, output.kind, count: output.count))
        }
        let far = memory.changedSlack()
        guard far == 0 else {
            throw PluginCallFailure(message: "wrote outside its output buffers (\(far) byte(s) far before one)")
        }
        return PluginResult(outputs: results)
    }

    /// The entry point called with `p` (every argument a pointer; ABI version 2's longest call takes 10).
    static func invoke(_ f: UnsafeMutableRawPointer, _ p: [UnsafeRawPointer?]) -> Int32 {
        typealias P = UnsafeRawPointer?
        switch p.count {
        case 3: return unsafeBitCast(f, to: (@convention(c) (P, P, P) -> Int32).self)(p[0], p[1], p[2])
        case 4: return unsafeBitCast(f, to: (@convention(c) (P, P, P, P) -> Int32).self)(p[0], p[1], p[2], p[3])
        case 5: return unsafeBitCast(f, to: (@convention(c) (P, P, P, P, P) -> Int32).self)(p[0], p[1], p[2], p[3], p[4])
        case 6: return unsafeBitCast(f, to: (@convention(c) (P, P, P, P, P, P) -> Int32).self)(
            p[0], p[1], p[2], p[3], p[4], p[5])
        case 7: return unsafeBitCast(f, to: (@convention(c) (P, P, P, P, P, P, P) -> Int32).self)(
            p[0], p[1], p[2], p[3], p[4], p[5], p[6])
        case 8: return unsafeBitCast(f, to: (@convention(c) (P, P, P, P, P, P, P, P) -> Int32).self)(
            p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7])
        case 9: return unsafeBitCast(f, to: (@convention(c) (P, P, P, P, P, P, P, P, P) -> Int32).self)(
            p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8])
        case 10: return unsafeBitCast(f, to: (@convention(c) (P, P, P, P, P, P, P, P, P, P) -> Int32).self)(
            p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9])
        default: preconditionFailure("no entry point of ABI version 2 takes \(p.count) arguments")
        }
    }
}

/// The memory of one call, released after it.
private struct Memory {
    let guardPages: Bool
    private var allocations = [(pointer: UnsafeMutableRawPointer, bytes: Int, mapped: Bool)]()
    static let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// Inaccessible bytes on each side of a guarded output: a write up to 1 MiB (262,144 floats) beyond it faults.
    static let guardBytes = 1 << 20

    init(guardPages: Bool) { self.guardPages = guardPages }

    mutating func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
        allocations.append((pointer, bytes, false))
        return pointer
    }

    mutating func copy(_ bytes: [UInt8]) -> UnsafeMutableRawPointer {
        let pointer = allocate(bytes.count)
        bytes.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return pointer
    }

    mutating func copy<T>(_ values: [T]) -> UnsafeMutableRawPointer {
        let bytes = values.count * MemoryLayout<T>.stride
        let pointer = allocate(bytes)
        values.withUnsafeBytes { if bytes > 0 { pointer.copyMemory(from: $0.baseAddress!, byteCount: bytes) } }
        return pointer
    }

    mutating func copy(_ buffer: PluginBuffer) -> UnsafeMutableRawPointer {
        switch buffer {
        case .f32(let v): copy(v)
        case .f64(let v): copy(v)
        case .i64(let v): copy(v)
        case .u8(let v): copy(v)
        case .u16(let v): copy(v)
        }
    }

    /// `count` elements between `Guard.count` sentinels on each side, pre-filled as unwritten; with guard pages, the
    /// whole sits at the end of its mapping, just before `guardBytes` of inaccessible pages, and after as many (the
    /// slack between is filled with `slackByte` and checked as well). Returns the first element's address.
    mutating func output(_ kind: OutputKind, count: Int) -> UnsafeMutableRawPointer {
        let size = kind.size
        let total = (count + 2 * Guard.count) * size
        let base: UnsafeMutableRawPointer
        if guardPages {
            let body = (total + Self.page - 1) / Self.page * Self.page
            let side = Self.guardBytes
            let mapping = mmap(nil, body + 2 * side, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
            mprotect(mapping, side, PROT_NONE)
            mprotect(mapping + side + body, side, PROT_NONE)
            allocations.append((mapping, body + 2 * side, true))
            memset(mapping + side, Int32(Self.slackByte), body - total)
            slack.append((mapping + side, body - total))
            base = mapping + side + (body - total)
        } else {
            base = allocate(total)
        }
        switch kind {
        case .f32:
            let values = base.bindMemory(to: Float.self, capacity: count + 2 * Guard.count)
            for i in 0..<(count + 2 * Guard.count) {
                values[i] = i < Guard.count || i >= Guard.count + count ? Guard.f32 : Guard.unwrittenF32
            }
        case .i64:
            let values = base.bindMemory(to: Int64.self, capacity: count + 2 * Guard.count)
            for i in 0..<(count + 2 * Guard.count) {
                values[i] = i < Guard.count || i >= Guard.count + count ? Guard.i64 : Guard.unwrittenI64
            }
        case .u16:
            let values = base.bindMemory(to: UInt16.self, capacity: count + 2 * Guard.count)
            for i in 0..<(count + 2 * Guard.count) {
                values[i] = i < Guard.count || i >= Guard.count + count ? Guard.u16 : Guard.unwrittenU16
            }
        }
        return base + Guard.count * size
    }

    /// The byte the slack before a guarded output holds; `slack` lists those regions.
    static let slackByte: UInt8 = 0xA5
    private(set) var slack = [(start: UnsafeMutableRawPointer, bytes: Int)]()

    /// Bytes of the slack regions a call changed (a write far before an output that missed the guard page).
    func changedSlack() -> Int {
        slack.reduce(0) { total, region in
            total + (0..<region.bytes).filter { region.start.load(fromByteOffset: $0, as: UInt8.self) != Self.slackByte }.count
        }
    }

    /// Sentinels changed before and after the output at `first`.
    static func changedSentinels(_ first: UnsafeMutableRawPointer, _ kind: OutputKind, count: Int) -> (Int, Int) {
        switch kind {
        case .f32:
            let v = (first - Guard.count * 4).assumingMemoryBound(to: Float.self)
            let changed = { (i: Int) in v[i].bitPattern != Guard.f32.bitPattern }
            return ((0..<Guard.count).filter(changed).count,
                    ((Guard.count + count)..<(2 * Guard.count + count)).filter(changed).count)
        case .i64:
            let v = (first - Guard.count * 8).assumingMemoryBound(to: Int64.self)
            let changed = { (i: Int) in v[i] != Guard.i64 }
            return ((0..<Guard.count).filter(changed).count,
                    ((Guard.count + count)..<(2 * Guard.count + count)).filter(changed).count)
        case .u16:
            let v = (first - Guard.count * 2).assumingMemoryBound(to: UInt16.self)
            let changed = { (i: Int) in v[i] != Guard.u16 }
            return ((0..<Guard.count).filter(changed).count,
                    ((Guard.count + count)..<(2 * Guard.count + count)).filter(changed).count)
        }
    }

    static func read(_ first: UnsafeMutableRawPointer, _ kind: OutputKind, count: Int) -> PluginBuffer {
        switch kind {
        case .f32: .f32(Array(UnsafeBufferPointer(start: first.assumingMemoryBound(to: Float.self), count: count)))
        case .i64: .i64(Array(UnsafeBufferPointer(start: first.assumingMemoryBound(to: Int64.self), count: count)))
        case .u16: .u16(Array(UnsafeBufferPointer(start: first.assumingMemoryBound(to: UInt16.self), count: count)))
        }
    }

    func release() {
        for allocation in allocations {
            if allocation.mapped { munmap(allocation.pointer, allocation.bytes) } else { allocation.pointer.deallocate() }
        }
    }
}
