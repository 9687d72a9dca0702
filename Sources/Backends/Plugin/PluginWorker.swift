// The runner's side of plugin isolation — spec/plugin-abi.md §2: every call of a plugin's kernel runs in a worker
// process (`assay-plugin-worker PLUGIN`, built beside `assay`), so a kernel that segfaults, aborts, calls exit(),
// writes far outside its buffers or hangs fails that op, named, and the diff goes on with a fresh worker.
//
// Frames are an 8-byte little-endian length and the bytes (PluginWire.swift): calls on the worker's fd 3, outcomes
// on its fd 4; its stdout goes to this process's stderr, so a kernel that prints cannot corrupt the stream.

#if canImport(Glibc)
import Glibc
#endif
import Tensor

/// A worker process for one plugin library, started on first use and again after each death.
final class PluginWorker {
    let plugin: String
    /// Seconds a call may take before its worker is killed.
    let timeout: Double
    private var running: (pid: pid_t, calls: Int32, outcomes: Int32)?

    init(plugin: String, timeout: Double) {
        (self.plugin, self.timeout) = (plugin, timeout)
        signal(SIGPIPE, SIG_IGN)   // a write to a worker that died is an error to report, not a signal to die of
    }

    deinit { stop() }

    /// The worker executable: beside this process's own.
    static var executable: String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, Int(PATH_MAX))
        let own = length > 0 ? String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        return FilePath.join(String(own[..<(own.lastIndex(of: "/") ?? own.startIndex)]), "assay-plugin-worker")
    }

    /// Runs `call` in the worker.
    func run(_ call: PluginCall) throws(PluginCallFailure) -> PluginResult {
        let worker = try started()
        guard Self.send(call.wire, to: worker.calls) else { throw died(during: call) }
        switch receive(from: worker.outcomes) {
        case .frame(let bytes):
            switch try? PluginOutcome(wire: bytes) {
            case .result(let result)?: return result
            case .failure(let message)?: throw PluginCallFailure(message: message)
            case nil: stop(); throw PluginCallFailure(message: "the worker sent a malformed answer")
            }
        case .timedOut:
            throw PluginCallFailure(message: "\(call.symbol) did not return within the op timeout of "
                                    + "\(Int(timeout.rounded(.up))) s; its worker was killed")
        case .died:
            throw died(during: call)
        }
    }

    private func started() throws(PluginCallFailure) -> (pid: pid_t, calls: Int32, outcomes: Int32) {
        if let running { return running }
        var toWorker: [Int32] = [0, 0], fromWorker: [Int32] = [0, 0]
        guard pipe(&toWorker) == 0, pipe(&fromWorker) == 0 else {
            throw PluginCallFailure(message: "cannot make the worker's pipes: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toWorker[0], 3)
        posix_spawn_file_actions_adddup2(&actions, fromWorker[1], 4)
        posix_spawn_file_actions_adddup2(&actions, 2, 1)
        let executable = Self.executable
        let arguments = [executable, plugin]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // The worker's crashes are the kernel's: reported here, not backtraced there (which takes seconds).
        var environment = [strdup("SWIFT_BACKTRACE=enable=no")]
        var entry = environ
        while let variable = entry.pointee {
            if !String(cString: variable).hasPrefix("SWIFT_BACKTRACE=") { environment.append(strdup(variable)) }
            entry += 1
        }
        environment.append(nil)
        defer { environment.forEach { free($0) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, executable, &actions, nil, &argv, &environment)
        close(toWorker[0])
        close(fromWorker[1])
        guard status == 0 else {
            close(toWorker[1])
            close(fromWorker[0])
            throw PluginCallFailure(message: "cannot start \(executable): \(String(cString: strerror(status)))")
        }
        running = (pid, toWorker[1], fromWorker[0])
        return running!
    }

    /// Closes the worker's pipes and reaps it, if there is one; returns its wait status. `exiting`: it closed its
    /// side, so wait for its own end (killing it could hide its signal); otherwise kill it first if it still runs.
    @discardableResult
    private func stop(exiting: Bool = false) -> Int32? {
        guard let worker = running else { return nil }
        running = nil
        close(worker.calls)
        close(worker.outcomes)
        var status: Int32 = 0
        if exiting {
            waitpid(worker.pid, &status, 0)
        } else if waitpid(worker.pid, &status, WNOHANG) == 0 {
            kill(worker.pid, SIGKILL)
            waitpid(worker.pid, &status, 0)
        }
        return status
    }

    /// Why the worker stopped answering during `call`: the signal that killed it, or the status it exited with.
    private func died(during call: PluginCall) -> PluginCallFailure {
        guard let status = stop(exiting: true) else { return PluginCallFailure(message: "the worker is gone") }
        let signalled = status & 0x7F
        if signalled != 0 {
            let name = strsignal(signalled).map { String(cString: $0) } ?? "signal"
            return PluginCallFailure(message: "crashed in \(call.symbol): killed by signal \(signalled) (\(name))")
        }
        return PluginCallFailure(message: "exited with status \((status >> 8) & 0xFF) inside \(call.symbol)")
    }

    /// Writes one frame; false when the worker is gone.
    private static func send(_ bytes: [UInt8], to fd: Int32) -> Bool {
        var frame = withUnsafeBytes(of: Int64(bytes.count).littleEndian) { Array($0) }
        frame += bytes
        return writeAll(frame, to: fd)
    }

    static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    private enum Answer {
        case frame([UInt8]), died, timedOut
    }

    /// Reads one frame within the timeout. A call past the timeout kills the worker.
    private func receive(from fd: Int32) -> Answer {
        let deadline = monotonicSeconds() + timeout
        var reader = FrameReader()
        while true {
            let left = deadline - monotonicSeconds()
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(max(0, min(left, 3600)) * 1000))
            if ready < 0, errno == EINTR { continue }
            if ready == 0 {
                stop()
                return .timedOut
            }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let count = read(fd, &chunk, chunk.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return .died }
            if let frame = reader.add(chunk[0..<count]) { return .frame(frame) }
        }
    }
}

/// Collects bytes until one whole frame has arrived.
struct FrameReader {
    private var bytes = [UInt8]()

    /// The frame, once `chunk` completes it.
    mutating func add(_ chunk: ArraySlice<UInt8>) -> [UInt8]? {
        bytes += chunk
        guard bytes.count >= 8 else { return nil }
        let length = Int(bytes[0..<8].reversed().reduce(Int64(0)) { $0 << 8 | Int64($1) })
        guard bytes.count >= 8 + length else { return nil }
        return Array(bytes[8..<(8 + length)])
    }
}

/// The worker's side: load the library, answer calls until the runner closes the call stream.
public enum PluginWorkerLoop {
    public static func serve(plugin: String, calls: Int32, outcomes: Int32) -> Never {
        guard let handle = dlopen(plugin, RTLD_NOW | RTLD_LOCAL), let errorText = dlsym(handle, "assay_plugin_last_error")
        else {
            let message = "assay-plugin-worker: cannot load \(plugin)\n"
            _ = PluginWorker.writeAll(Array(message.utf8), to: 2)
            exit(3)
        }
        let library = PluginLibrary(handle: handle, lastError: unsafeBitCast(
            errorText, to: (@convention(c) () -> UnsafePointer<CChar>?).self))
        var reader = FrameReader()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(calls, &chunk, chunk.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { exit(0) }
            var pending = chunk[0..<count]
            while let frame = reader.add(pending) {
                reader = FrameReader()
                let outcome: PluginOutcome
                do {
                    outcome = .result(try PluginExecutor.run(try PluginCall(wire: frame), on: library, guardPages: true))
                } catch let failure as PluginCallFailure {
                    outcome = .failure(failure.message)
                } catch {
                    outcome = .failure("the runner sent a malformed call")
                }
                var answer = withUnsafeBytes(of: Int64(outcome.wire.count).littleEndian) { Array($0) }
                answer += outcome.wire
                guard PluginWorker.writeAll(answer, to: outcomes) else { exit(0) }
                pending = []
            }
        }
    }
}
