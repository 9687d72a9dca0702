// AtomicDirectory: create a directory of files so that it appears complete or not at all.
//
// ```
// mkdir <path>.tmp-<pid>-<random> → body writes its files there → rename to <path>
// ```
// On failure the temp directory and everything in it are removed; after `removeTempDirectoriesOnSignals()`, so
// too when SIGINT, SIGTERM or SIGHUP ends the process. `path` must not exist beforehand (not even as a dangling
// symlink): a golden set or checkpoint is never merged into an older one.

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

public enum AtomicDirectory {
    /// The temp directories being written. The lock also orders mkdir and rename against the signal watcher: it
    /// removes a temp directory either before the rename or not at all.
    private static let pending = Mutex<Set<String>>([])

    /// The signals after which the watcher removes the temp directories.
    private static let endingSignals = [SIGINT, SIGTERM, SIGHUP]

    /// Creates `path` by running `body` on a fresh temp sibling and renaming it into place.
    public static func create(_ path: String, _ body: (String) throws -> Void) throws {
        let name = FilePath.lastComponent(path)
        var status = stat()
        guard lstat(path, &status) != 0 else {
            throw SafeTensorsError(file: name, "already exists; choose a new directory or remove it first")
        }
        let temp = path + ".tmp-\(getpid())-\(String(UInt64.random(in: .min ... .max), radix: 16))"
        let made = pending.withLock { set in
            guard mkdir(temp, 0o755) == 0 else { return false }
            set.insert(temp)
            return true
        }
        guard made else {
            throw SafeTensorsError(file: name, "cannot create \(FilePath.lastComponent(temp)): \(MappedFile.lastSystemError())")
        }
        do {
            try body(temp)
            let renamed = pending.withLock { set in
                guard rename(temp, path) == 0 else { return false }
                set.remove(temp)
                return true
            }
            guard renamed else {
                throw SafeTensorsError(file: name, "cannot rename the temp directory: \(MappedFile.lastSystemError())")
            }
        } catch {
            pending.withLock { set in
                removeTree(temp)
                set.remove(temp)
            }
            throw error
        }
    }

    /// The write end of the pipe the signal handler reports a signal on (-1: not installed).
    private static let signalPipe = Atomic<Int32>(-1)

    /// From now on SIGINT, SIGTERM and SIGHUP (unless ignored, as in a background job) first remove every temp
    /// directory `create` is writing, then end the process as the signal would have (exit status 128 + signal).
    /// The handler only writes the signal's number to a pipe (async-signal-safe, whichever thread it runs on); a
    /// watcher thread reads it and does the removal as ordinary code.
    public static func removeTempDirectoriesOnSignals() {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }   // best effort: without the pipe a signal ends the process as before
        signalPipe.store(ends[1], ordering: .sequentiallyConsistent)
        for signalNumber in endingSignals {
            let previous = signal(signalNumber) { received in
                var byte = UInt8(truncatingIfNeeded: received)
                _ = write(AtomicDirectory.signalPipe.load(ordering: .sequentiallyConsistent), &byte, 1)
            }
            if let previous, unsafeBitCast(previous, to: Int.self) == 1 { signal(signalNumber, SIG_IGN) }  // SIG_IGN
        }
        let readEnd = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        readEnd.initialize(to: ends[0])
        var thread = pthread_t()
        pthread_create(&thread, nil, { argument in
            let descriptor = argument!.assumingMemoryBound(to: Int32.self).pointee
            var byte: UInt8 = 0
            while read(descriptor, &byte, 1) != 1 {}
            let received = Int32(byte)
            AtomicDirectory.pending.withLock { set in    // held until the process ends: no rename after this
                for temp in set { AtomicDirectory.removeTree(temp) }
                signal(received, SIG_DFL)
                raise(received)
                _exit(128 + received)                       // not reached: the default action ends the process
            }
            return nil
        }, readEnd)
    }

    /// Writes `bytes` to `path` atomically (temp file, fsync, rename).
    public static func writeFile(_ bytes: [UInt8], to path: String) throws(SafeTensorsError) {
        try AtomicFile.write(to: path) { sink throws(SafeTensorsError) in try sink.write(bytes) }
    }

    /// Removes a directory of plain files (what `body` writes), best effort; retried while a file appears during
    /// the removal (a writer still running when a signal came).
    private static func removeTree(_ directory: String) {
        for _ in 0..<5 {
            for child in FilePath.names(in: directory) ?? [] { unlink(FilePath.join(directory, child)) }
            if rmdir(directory) == 0 || errno == ENOENT { return }
        }
    }
}
