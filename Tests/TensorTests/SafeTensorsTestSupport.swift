// Helpers shared by the SafeTensors* test suites: temp directories, error text, small files.

import Foundation
@testable import Tensor

/// A fresh directory under the system temp directory, removed with everything in it when released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "assay-safetensors-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The path of `name` inside this directory.
    func file(_ name: String) -> String { path + "/" + name }

    /// The names in this directory, sorted.
    func names() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }
}

/// The description of the error `body` throws, or nil when it throws nothing.
func errorText(_ body: () throws -> Any) -> String? {
    do {
        _ = try body()
        return nil
    } catch {
        return "\(error)"
    }
}

/// A stored tensor from Doubles (F64, F32, …) or, for integer dtypes, from the same values as Ints.
func stored(_ name: String, _ dtype: DType, _ shape: [Int], _ values: [Double]) throws -> StoredTensor {
    if dtype.isFloatingPoint {
        return try StoredTensor(name: name, encoding: Tensor(shape: shape, scalars: values), as: dtype)
    }
    return try StoredTensor(name: name, encoding: Tensor(shape: shape, scalars: values.map { Int($0) }), as: dtype)
}
