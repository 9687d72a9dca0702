// SafeTensorsFileWriter: a safetensors file too large to hold in memory, written a run of bytes at a time and in
// any order — what a full-width checkpoint export needs (one expert tensor of a layer is 2 GiB of FP8 codes).
//
// The header is SafeTensorsWriter's (same data order, same bytes for the same tensors), written first; the file is
// then sized and each run lands at its tensor's data offset (pwrite), so one generated slab can go to several files
// at once. `finish` refuses a file in which some tensor did not get exactly its byte count, then fsyncs and closes.
// The file is written in place: callers put it inside an `AtomicDirectory`, which is renamed only when complete.

#if canImport(Glibc)
import Glibc
#endif

/// A tensor's header fields, checked as StoredTensor checks them, before its bytes exist.
public struct TensorSlot: SafeTensorsEntry, Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let byteCount: Int

    /// Throws when the name is empty or reserved, or the shape has a negative extent or too many elements.
    public init(name: String, dtype: DType, shape: [Int]) throws(SafeTensorsError) {
        guard !name.isEmpty else { throw SafeTensorsError(file: nil, "a tensor has an empty name") }
        guard name != SafeTensorsHeader.metadataKey else {
            throw SafeTensorsError(file: nil, tensor: name, "the name is reserved for metadata")
        }
        let bytes = Shape.elementCount(shape)?.multipliedReportingOverflow(by: dtype.byteSize)
        guard let bytes, !bytes.overflow else {
            throw SafeTensorsError(file: nil, tensor: name,
                                   "shape \(TensorInfo.describe(shape)) has more bytes than Int can count")
        }
        (self.name, self.dtype, self.shape, byteCount) = (name, dtype, shape, bytes.partialValue)
    }
}

/// One safetensors file being written by runs of bytes.
public final class SafeTensorsFileWriter {
    public let path: String
    private let name: String
    private var descriptor: Int32
    /// Each tensor's absolute file offset and size, and the bytes written to it so far.
    private var places: [String: (start: Int, count: Int)] = [:]
    private var written: [String: Int] = [:]
    private let order: [String]

    /// Creates `path` (which must not exist), writes the header of `tensors` and sizes the file.
    public init(path: String, tensors: [TensorSlot], metadata: [String: String] = [:]) throws(SafeTensorsError) {
        self.path = path
        name = FilePath.lastComponent(path)
        let (header, ordered) = try SafeTensorsWriter.layout(tensors, metadata: metadata, file: name)
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw SafeTensorsError(file: name, "cannot create: \(MappedFile.lastSystemError())") }
        var offset = header.count
        for tensor in ordered {
            places[tensor.name] = (offset, tensor.byteCount)
            offset += tensor.byteCount
        }
        order = ordered.map(\.name)
        try put(header, at: 0)
        guard ftruncate(descriptor, off_t(offset)) == 0 else {
            throw SafeTensorsError(file: name, "cannot size to \(offset) bytes: \(MappedFile.lastSystemError())")
        }
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// Writes `bytes` into tensor `tensor` starting at its byte `offset`; a run past the tensor's end is an error.
    public func write(_ bytes: [UInt8], tensor: String, at offset: Int = 0) throws(SafeTensorsError) {
        guard let place = places[tensor] else { throw SafeTensorsError(file: name, tensor: tensor, "not in this file") }
        guard offset >= 0, offset + bytes.count <= place.count else {
            throw SafeTensorsError(file: name, tensor: tensor,
                                   "bytes \(offset)..<\(offset + bytes.count) outside its \(place.count)")
        }
        try put(bytes, at: place.start + offset)
        written[tensor, default: 0] += bytes.count
    }

    /// Checks that every tensor got exactly its byte count, then fsyncs and closes the file.
    public func finish() throws(SafeTensorsError) {
        for tensor in order where written[tensor, default: 0] != places[tensor]!.count {
            throw SafeTensorsError(file: name, tensor: tensor,
                                   "\(written[tensor, default: 0]) bytes written of its \(places[tensor]!.count)")
        }
        guard fsync(descriptor) == 0 else { throw SafeTensorsError(file: name, "cannot fsync: \(MappedFile.lastSystemError())") }
        let closing = descriptor
        descriptor = -1
        guard close(closing) == 0 else { throw SafeTensorsError(file: name, "cannot close: \(MappedFile.lastSystemError())") }
    }

    /// pwrite of all of `bytes` at absolute `offset`, retrying short writes and interrupted calls.
    private func put(_ bytes: [UInt8], at offset: Int) throws(SafeTensorsError) {
        let failure: SafeTensorsError? = bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return nil }
            var done = 0
            while done < buffer.count {
                let count = pwrite(descriptor, base + done, buffer.count - done, off_t(offset + done))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return SafeTensorsError(file: name, "cannot write: \(MappedFile.lastSystemError())") }
                done += count
            }
            return nil
        }
        if let failure { throw failure }
    }
}
