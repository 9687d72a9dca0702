// FilePath: the few path and file operations Assay's readers need, on plain String paths.
//
// Goals, in order: correct for relative and absolute POSIX paths, then small — no Foundation.

#if canImport(Glibc)
import Glibc
#endif

public enum FilePath {
    /// `"/a/b/model.safetensors"` → `"model.safetensors"`; a trailing slash is ignored.
    public static func lastComponent(_ path: String) -> String {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        return trimmed.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? trimmed
    }

    /// The directory part of `path`: `"a/b.st"` → `"a"`, `"b.st"` → `"."`, `"/b.st"` → `"/"`.
    public static func directory(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// `directory` + `/` + `name`.
    public static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Whether something (file, directory, …) exists at `path`.
    public static func exists(_ path: String) -> Bool { fileType(path) != nil }

    /// Whether `path` names a directory (following symlinks).
    public static func isDirectory(_ path: String) -> Bool { fileType(path) == S_IFDIR }

    /// Whether `path` names a regular file (following symlinks).
    public static func isRegularFile(_ path: String) -> Bool { fileType(path) == S_IFREG }

    private static func fileType(_ path: String) -> mode_t? {
        var status = stat()
        return stat(path, &status) == 0 ? status.st_mode & S_IFMT : nil
    }

    /// The names in directory `path` (not `.` or `..`), sorted by bytes; nil when it cannot be read.
    public static func names(in path: String) -> [String]? {
        guard let stream = opendir(path) else { return nil }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Opens `path` read-only, refusing anything but a regular file (a FIFO, device, socket or directory) without
    /// blocking on it: opened with O_NONBLOCK, so a FIFO with no writer is refused, not waited on. The caller closes
    /// the returned descriptor. Every file Assay reads goes through here.
    public static func openRegularFile(_ path: String) throws(FileError) -> Int32 {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileError.system("cannot open") }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let error = FileError.system("cannot stat")
            close(descriptor)
            throw error
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw FileError(description: "not a regular file (\(kind(status.st_mode)))")
        }
        return descriptor
    }

    /// The whole regular file at `path` (see `openRegularFile`). For small files (configs, manifests, images);
    /// tensors are mmapped.
    public static func readRegularFile(_ path: String) throws(FileError) -> [UInt8] {
        var bytes: [UInt8] = []
        try readChunks(path) { bytes += $0 }
        return bytes
    }

    /// The sha256 of the regular file at `path` as 64 hex digits, read 1 MiB at a time (a checkpoint's shards).
    public static func sha256(_ path: String) throws(FileError) -> String {
        var stream = SHA256.Stream()
        try readChunks(path) { stream.update($0) }
        return SHA256.hex(digest: stream.finish())
    }

    /// The regular file at `path` (see `openRegularFile`) handed to `body` in order, a chunk at a time.
    private static func readChunks(_ path: String, _ body: (ArraySlice<UInt8>) -> Void) throws(FileError) {
        let descriptor = try openRegularFile(path)
        defer { close(descriptor) }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw FileError.system("cannot read") }
            if count == 0 { return }
            body(chunk[..<count])
        }
    }

    /// Refuses `path` as an output unless it is new or a regular file: a symlink, FIFO, directory or device is
    /// never replaced (lstat, so a symlink is not followed).
    public static func checkReplaceable(_ path: String) throws(FileError) {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            if errno == ENOENT { return }
            throw FileError.system("cannot stat")
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw FileError(description: "not a regular file (\(kind(status.st_mode))); only a new path or a regular "
                            + "file is replaced")
        }
    }

    /// What a non-regular file is, for messages: "a FIFO", "a directory", …
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: "a FIFO"
        case S_IFDIR: "a directory"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        case S_IFLNK: "a symbolic link"
        default: "a special file"
        }
    }
}

/// Why a file could not be opened, read or replaced: one line such as "cannot open: No such file or directory" or
/// "not a regular file (a FIFO)", without the file's name (the caller names it).
public struct FileError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    /// The file does not exist (ENOENT), for callers that say "missing".
    public let isMissing: Bool

    public init(description: String, isMissing: Bool = false) {
        self.description = description
        self.isMissing = isMissing
    }

    /// `operation` and `strerror(errno)`, e.g. "cannot open: No such file or directory".
    static func system(_ operation: String) -> FileError {
        let missing = errno == ENOENT
        return FileError(description: "\(operation): \(String(cString: strerror(errno)))", isMissing: missing)
    }
}
