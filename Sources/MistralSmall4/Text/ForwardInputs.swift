// ForwardInputs: token ids, position ids and the attention mask of a batch, checked against the config —
// spec/decoder.md §3 (inputs and outputs).

import Tensor

/// A bad forward input: the field and what is wrong with it.
public struct InputError: Error, CustomStringConvertible, Equatable, Sendable {
    public let field: String
    public let message: String

    public init(field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { Escaped.line("input '\(field)': \(message)") }
}

/// A batch of B sequences of S tokens.
public struct ForwardInputs: Sendable, Equatable {
    /// [B, S], each in 0..<vocab_size.
    public let inputIds: Tensor<Int>
    /// [B, S], each in 0..<max_position_embeddings; default: 0…S−1 in every row (what transformers uses when none
    /// are given, padding or not).
    public let positionIds: Tensor<Int>
    /// [B, S] of 0/1: 0 marks a padding token no other token attends to; default: all 1.
    public let attentionMask: Tensor<Int>

    public var batch: Int { inputIds.shape[0] }
    public var length: Int { inputIds.shape[1] }

    /// Validates shapes and ranges against `config`, naming the first bad field and element.
    public init(inputIds: Tensor<Int>, positionIds: Tensor<Int>? = nil, attentionMask: Tensor<Int>? = nil,
                config: TextConfig) throws(InputError) {
        guard inputIds.rank == 2 else {
            throw InputError(field: "input_ids", "shape \(Shape.describe(inputIds.shape)), expected [batch, seq]")
        }
        guard inputIds.shape[0] > 0, inputIds.shape[1] > 0 else {
            throw InputError(field: "input_ids", "empty: shape \(Shape.describe(inputIds.shape))")
        }
        guard positionIds != nil || inputIds.shape[1] <= config.maxPositionEmbeddings else {
            throw InputError(field: "input_ids", "\(inputIds.shape[1]) tokens per sequence; without position_ids they "
                             + "take positions 0…\(inputIds.shape[1] - 1), past the model's \(config.maxPositionEmbeddings) "
                             + "(max_position_embeddings)")
        }
        let positions = positionIds ?? Tensor(
            shape: inputIds.shape, scalars: (0..<inputIds.shape[0]).flatMap { _ in 0..<inputIds.shape[1] })
        let mask = attentionMask ?? Tensor(shape: inputIds.shape, repeating: 1)
        try Self.check("input_ids", inputIds, shape: inputIds.shape, range: 0..<config.vocabSize)
        try Self.check("position_ids", positions, shape: inputIds.shape, range: 0..<config.maxPositionEmbeddings)
        try Self.check("attention_mask", mask, shape: inputIds.shape, range: 0..<2)
        self.inputIds = inputIds
        self.positionIds = positions
        self.attentionMask = mask
    }

    private static func check(_ field: String, _ t: Tensor<Int>, shape: [Int], range: Range<Int>) throws(InputError) {
        guard t.shape == shape else {
            throw InputError(field: field, "shape \(Shape.describe(t.shape)), input_ids has \(Shape.describe(shape))")
        }
        if let bad = t.scalars.firstIndex(where: { !range.contains($0) }) {
            throw InputError(field: field, "element [\(bad / shape[1]), \(bad % shape[1])] is \(t.scalars[bad]), "
                             + "outside \(range.lowerBound)…\(range.upperBound - 1)")
        }
    }

    /// The stored dtypes token ids may have; anything else (BOOL, I8, U8, a float type) is refused by `checkIdDType`.
    public static let idDTypes: [DType] = [.i64, .i32]

    /// Throws unless `dtype`, the stored dtype of the `field` tensor (input_ids), is one of `idDTypes`.
    public static func checkIdDType(_ dtype: DType, field: String = "input_ids") throws(InputError) {
        guard idDTypes.contains(dtype) else {
            throw InputError(field: field, "dtype \(dtype.rawValue); token ids must be "
                             + idDTypes.map(\.rawValue).joined(separator: " or "))
        }
    }

    /// Row `b` of a [B, S] tensor.
    func row(_ t: Tensor<Int>, _ b: Int) -> [Int] { Array(t.scalars[(b * length)..<((b + 1) * length)]) }
}
