// FilePath: the few path operations safetensors files and checkpoints need, on plain String paths.
//
// Goals, in order: correct for relative and absolute POSIX paths, then small — no Foundation.

#if canImport(Glibc)
import Glibc
#endif

enum FilePath {
    /// `"/a/b/model.safetensors"` → `"model.safetensors"`; a trailing slash is ignored.
    static func lastComponent(_ path: String) -> String {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        return trimmed.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? trimmed
    }

    /// The directory part of `path`: `"a/b.st"` → `"a"`, `"b.st"` → `"."`, `"/b.st"` → `"/"`.
    static func directory(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// `directory` + `/` + `name`.
    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Whether something (file, directory, …) exists at `path`.
    static func exists(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0
    }

    /// Whether `path` names a directory (following symlinks).
    static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }
}
