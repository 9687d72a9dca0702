// SafeTensorsError: the one error type of safetensors reading, writing and sharded checkpoints.
//
// Goals, in order: every message is one line that names the file and, where there is one, the tensor;
// then messages are stable text that tests and spec/safetensors.md can quote exactly.

/// A problem with a safetensors file, a sharded checkpoint or a tensor being encoded.
///
/// ```
/// description = "<file>: tensor '<name>': <message>"   (either prefix absent when unknown)
/// ```
/// `file` is the last path component, so messages read the same wherever the file lives. Names and message are
/// printed escaped (`Escaped.line`): one line, whatever a file's tensor names hold.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
    /// Last path component of the file (or directory) at fault; nil for an in-memory tensor.
    public let file: String?
    /// The tensor at fault, if the problem belongs to one.
    public let tensor: String?
    /// What is wrong, without the file and tensor prefixes.
    public let message: String

    public init(file: String?, tensor: String? = nil, _ message: String) {
        self.file = file
        self.tensor = tensor
        self.message = message
    }

    public var description: String {
        var text = ""
        if let file { text += Escaped.line(file) + ": " }
        if let tensor { text += "tensor '\(Escaped.line(tensor))': " }
        return text + Escaped.line(message)
    }
}
