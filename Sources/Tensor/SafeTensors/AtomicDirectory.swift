// AtomicDirectory: create a directory of files so that it appears complete or not at all.
//
// ```
// mkdir <path>.tmp-<pid>-<random> → body writes its files there → rename to <path>
// ```
// On failure the temp directory and everything in it are removed. `path` must not exist beforehand: a golden
// set or checkpoint is never merged into an older one.

#if canImport(Glibc)
import Glibc
#endif

public enum AtomicDirectory {
    /// Creates `path` by running `body` on a fresh temp sibling and renaming it into place.
    public static func create(_ path: String, _ body: (String) throws -> Void) throws {
        let name = FilePath.lastComponent(path)
        guard !FilePath.exists(path) else {
            throw SafeTensorsError(file: name, "already exists; choose a new directory or remove it first")
        }
        let temp = path + ".tmp-\(getpid())-\(String(UInt64.random(in: .min ... .max), radix: 16))"
        guard mkdir(temp, 0o755) == 0 else {
            throw SafeTensorsError(file: name, "cannot create \(FilePath.lastComponent(temp)): \(MappedFile.lastSystemError())")
        }
        do {
            try body(temp)
            guard rename(temp, path) == 0 else {
                throw SafeTensorsError(file: name, "cannot rename the temp directory: \(MappedFile.lastSystemError())")
            }
        } catch {
            removeTree(temp)
            throw error
        }
    }

    /// Writes `bytes` to `path` atomically (temp file, fsync, rename).
    public static func writeFile(_ bytes: [UInt8], to path: String) throws(SafeTensorsError) {
        try AtomicFile.write(to: path) { sink throws(SafeTensorsError) in try sink.write(bytes) }
    }

    /// Removes a directory of plain files (what `body` writes), best effort.
    private static func removeTree(_ directory: String) {
        if let stream = opendir(directory) {
            while let entry = readdir(stream) {
                let child = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if child != ".", child != ".." { unlink(FilePath.join(directory, child)) }
            }
            closedir(stream)
        }
        rmdir(directory)
    }
}
