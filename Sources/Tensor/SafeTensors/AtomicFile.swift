// AtomicFile: write a file so that readers see either the old file or the complete new one.
//
// Goals, in order: never leave a partial file at the target path, never leave a temp file behind on
// failure, then durability: the data is fsynced before the rename, the directory after it.
//
// ```
// open <path>.tmp-<pid>-<random> (O_CREAT | O_EXCL) → write all → fsync → close → rename over <path>
// ```
// Only a new path or a regular file is replaced: a symlink, FIFO, directory or device at `path` is refused (before
// anything is written, and again just before the rename), naming `path` as given.

#if canImport(Glibc)
import Glibc
#endif

enum AtomicFile {
    /// Writes all bytes handed to it to one open file descriptor.
    struct Sink {
        fileprivate let descriptor: Int32
        fileprivate let name: String

        /// Writes `bytes` completely, retrying short writes and interrupted calls.
        func write(_ bytes: [UInt8]) throws(SafeTensorsError) {
            // Array.withUnsafeBytes is not typed-throws, so the loop returns its error instead of throwing it.
            let failure: SafeTensorsError? = bytes.withUnsafeBytes { buffer in
                guard let base = buffer.baseAddress else { return nil }  // nothing to write
                var done = 0
                while done < buffer.count {
                    let written = Glibc.write(descriptor, base + done, buffer.count - done)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else {
                        return SafeTensorsError(file: name, "cannot write: \(MappedFile.lastSystemError())")
                    }
                    done += written
                }
                return nil
            }
            if let failure { throw failure }
        }
    }

    /// Runs `body` on a temp file beside `path`, then renames it over `path`; errors name `path`'s last component.
    static func write(to path: String, _ body: (Sink) throws(SafeTensorsError) -> Void) throws(SafeTensorsError) {
        let name = FilePath.lastComponent(path)
        try checkReplaceable(path)
        let temp = path + ".tmp-\(getpid())-\(String(UInt64.random(in: .min ... .max), radix: 16))"
        let descriptor = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw SafeTensorsError(
                file: name, "cannot create temp file \(FilePath.lastComponent(temp)): \(MappedFile.lastSystemError())")
        }
        var isOpen = true
        do throws(SafeTensorsError) {
            try body(Sink(descriptor: descriptor, name: name))
            guard fsync(descriptor) == 0 else {
                throw SafeTensorsError(file: name, "cannot fsync: \(MappedFile.lastSystemError())")
            }
            isOpen = false
            guard close(descriptor) == 0 else {
                throw SafeTensorsError(file: name, "cannot close: \(MappedFile.lastSystemError())")
            }
            try checkReplaceable(path)
            guard rename(temp, path) == 0 else {
                throw SafeTensorsError(
                    file: name, "cannot rename the temp file over it: \(MappedFile.lastSystemError())")
            }
        } catch {
            if isOpen { close(descriptor) }
            unlink(temp)
            throw error
        }
        syncDirectory(FilePath.directory(path))
    }

    /// Throws naming `path` as given (its last component alone would hide which `null` or `full`) unless it is new
    /// or a regular file.
    static func checkReplaceable(_ path: String) throws(SafeTensorsError) {
        do { try FilePath.checkReplaceable(path) } catch { throw SafeTensorsError(file: path, error.description) }
    }

    /// Makes the rename durable. Best effort: some file systems refuse fsync on a directory, and the new
    /// file is already complete and in place, so a failure here is not reported.
    private static func syncDirectory(_ directory: String) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }
}
