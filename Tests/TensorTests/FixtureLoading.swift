import Foundation
import Tensor

/// Reads files from Tests/TensorTests/Fixtures (excluded from the build; located through #filePath).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func url(_ relativePath: String) -> URL { directory.appendingPathComponent(relativePath) }

    static func json(_ relativePath: String) throws -> JSONValue {
        try JSONValue.parse(Array(try Data(contentsOf: url(relativePath))))
    }
}
