// TapTable: one case's taps by name, from a safetensors file (a golden set, a port's dump) or from a run (a
// backend in `assay diff`), so every verdict is computed by the same code whatever produced the values.

import MistralSmall4
import Tensor

/// Named tap values, with where they came from for messages.
public struct TapTable: Sendable {
    /// A file name, or `backend NAME`.
    public let source: String
    public private(set) var values: [String: TapValue]
    /// Names in the order they were produced or stored.
    public private(set) var names: [String]

    public init(source: String) {
        self.source = source
        values = [:]
        names = []
    }

    /// Every tap of `recorder`.
    public init(source: String, recorder: TapRecorder) {
        self.init(source: source)
        for (name, value) in recorder.taps { self[name] = value }
    }

    /// Every tensor of the safetensors file at `path`: float dtypes as reals, integer dtypes as integers.
    public init(file path: String) throws(GoldenError) {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch {
            throw GoldenError(file: error.file ?? FilePath.lastComponent(path), tensor: error.tensor, error.message)
        }
        try self.init(file)
    }

    /// Every tensor of `file`, opened already.
    init(_ file: SafeTensorsFile) throws(GoldenError) {
        self.init(source: file.name)
        for name in file.tensorNames {
            do {
                self[name] = try file.info(name).dtype.isFloatingPoint ? .real(try file.doubles(name))
                    : .integer(try file.integers(name))
            } catch {
                throw GoldenError(file: file.name, tensor: name, error.message)
            }
        }
    }

    public subscript(name: String) -> TapValue? {
        get { values[name] }
        set {
            if values[name] == nil, newValue != nil { names.append(name) }
            if newValue == nil { names.removeAll { $0 == name } }
            values[name] = newValue
        }
    }

    /// The real-valued tap `name`, or an error naming it.
    func real(_ name: String) throws(GoldenError) -> Tensor<Double> {
        switch values[name] {
        case .real(let t): return t
        case .integer: throw GoldenError(file: source, tensor: name, "integer dtype; a real-valued tap needs F64, F32, BF16 or F16")
        case nil: throw GoldenError(file: source, tensor: name, "missing")
        }
    }

    /// The integer tap `name`, or an error naming it.
    func integers(_ name: String) throws(GoldenError) -> Tensor<Int> {
        switch values[name] {
        case .integer(let t): return t
        case .real: throw GoldenError(file: source, tensor: name, "a float dtype; router indices need an integer dtype")
        case nil: throw GoldenError(file: source, tensor: name, "missing")
        }
    }
}
