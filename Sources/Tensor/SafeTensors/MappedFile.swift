// MappedFile: a whole file mapped read-only into memory, unmapped when the last reference goes.
//
// Goals, in order: never trap or block on a bad path or an odd file (directory, FIFO, empty file), then laziness:
// mapping reads nothing, so a reader touches only the pages of the bytes it looks at.
// A file truncated by another process while mapped makes later reads fault (SIGBUS); Assay's files are
// written atomically (temp file + rename), so its own writes never truncate a mapped file.

#if canImport(Glibc)
import Glibc
#endif

/// The bytes of one file, mapped with `mmap(PROT_READ, MAP_PRIVATE)`.
final class MappedFile: @unchecked Sendable {
    // @unchecked: the mapping is read-only and never remapped, so sharing it across threads is safe.

    /// The whole file, `bytes.count == st_size`; valid only while this object is alive.
    let bytes: UnsafeRawBufferPointer

    /// Maps the file at `path`. Errors name the file by its last path component.
    init(path: String) throws(SafeTensorsError) {
        let name = FilePath.lastComponent(path)
        let descriptor: Int32
        do { descriptor = try FilePath.openRegularFile(path) } catch { throw SafeTensorsError(file: name, error.description) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw SafeTensorsError(file: name, "cannot stat: \(Self.lastSystemError())")
        }
        let size = Int(status.st_size)
        // mmap rejects a zero length, and an empty file has no header length to read anyway.
        guard size > 0 else { throw SafeTensorsError(file: name, "file is empty (0 bytes)") }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0),
              base != UnsafeMutableRawPointer(bitPattern: -1)  // MAP_FAILED
        else { throw SafeTensorsError(file: name, "cannot map \(size) bytes: \(Self.lastSystemError())") }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
    }

    /// `strerror(errno)`, e.g. "No such file or directory".
    static func lastSystemError() -> String {
        String(cString: strerror(errno))
    }
}
