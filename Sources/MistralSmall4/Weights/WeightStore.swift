// WeightStore: where the reference gets its parameters — synthetic (Philox, keyed by name) or a checkpoint.
//
// Goals, in order: every tensor arrives as float64 with the inventory's shape or not at all (a clear error
// naming the tensor); then streaming: a caller asks for a run of the outermost axis (one expert of a fused
// expert tensor, a block of lm_head rows, the embedding rows of the prompt), so a full-width model never holds
// all its weights at once.

import Tensor

/// A failure to provide a weight: the tensor, and what is wrong with it.
public struct WeightError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file or source the weight came from (a checkpoint shard, `config.json`, `synthetic`).
    public let source: String
    /// The Hugging Face tensor name; nil when the problem is the checkpoint as a whole (e.g. not a directory).
    public let tensor: String?
    public let message: String

    public init(source: String, tensor: String?, _ message: String) {
        self.source = source
        self.tensor = tensor
        self.message = message
    }

    /// One line, names escaped (`Escaped.line`).
    public var description: String {
        Escaped.line(source) + (tensor.map { ": tensor '\(Escaped.line($0))'" } ?? "") + ": " + Escaped.line(message)
    }
}

/// A source of float64 parameters under their Hugging Face names and inventory shapes.
public protocol WeightStore: Sendable {
    /// The config the weights belong to.
    var config: ModelConfig { get }
    /// The config's tensors: names and shapes every request is checked against.
    var inventory: TensorInventory { get }
    /// Rows `rows` of the outermost axis of tensor `name`: shape `[rows.count] + inventory shape.dropFirst()`.
    func rows(_ name: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double>
    /// The FP8 or NVFP4 scales of weight `name` (of its row `row` for stacked experts, one scale set per expert),
    /// or nil when the store holds it in full precision (spec/quant.md §4, §11). The default: nil for every weight.
    func quantization(of name: String, row: Int?) throws(WeightError) -> LinearQuantization?
    /// Whether the store holds quantized weights with scales of its own (an FP8 or NVFP4 checkpoint): a precision
    /// profile then runs them as they are instead of deriving quantized weights (spec/quant.md §6). The default:
    /// false.
    var holdsQuantized: Bool { get }
}

extension WeightStore {
    public func quantization(of name: String, row: Int?) throws(WeightError) -> LinearQuantization? { nil }
    public var holdsQuantized: Bool { false }

    /// The FP8 scales of weight `name`, or nil (full precision or NVFP4).
    public func fp8Quantization(of name: String, row: Int?) throws(WeightError) -> FP8Quantization? {
        try quantization(of: name, row: row)?.fp8
    }

    /// The inventory entry of `name`; an error when the config defines no such tensor.
    func entry(_ name: String) throws(WeightError) -> TensorEntry {
        guard let entry = inventory[name] else {
            throw WeightError(source: "config", tensor: name, "the config defines no such tensor")
        }
        return entry
    }

    /// The whole tensor `name`.
    public func tensor(_ name: String) throws(WeightError) -> Tensor<Double> {
        let shape = try entry(name).shape
        return try rows(name, 0..<(shape.first ?? 1))
    }

    /// Row `index` of the outermost axis with that axis dropped: one expert's `[2I, H]` of `gate_up_proj`.
    public func row(_ name: String, _ index: Int) throws(WeightError) -> Tensor<Double> {
        let slab = try rows(name, index..<(index + 1))
        return slab.reshaped(Array(slab.shape.dropFirst()))
    }
}

/// Another store's weights rounded to bfloat16, as transformers holds them when the model runs in bf16 (the
/// `hf-bf16` profile). Synthetic and BF16 weights are bf16 values already and pass through unchanged; so do the
/// base's own FP8 weights, which transformers keeps as E4M3 codes and scales.
public struct BF16RoundedWeightStore: WeightStore {
    public let base: any WeightStore
    public var config: ModelConfig { base.config }
    public var inventory: TensorInventory { base.inventory }

    public init(_ base: any WeightStore) { self.base = base }

    public func rows(_ name: String, _ rows: Range<Int>) throws(WeightError) -> Tensor<Double> {
        let slab = try base.rows(name, rows)
        let row = FP8Modules.isStacked(name) ? rows.lowerBound : nil
        guard base.holdsQuantized, !rows.isEmpty, try base.quantization(of: name, row: row) != nil else {
            return slab.map(BFloat16.rounded)
        }
        return slab
    }

    public func quantization(of name: String, row: Int?) throws(WeightError) -> LinearQuantization? {
        try base.quantization(of: name, row: row)
    }

    public var holdsQuantized: Bool { base.holdsQuantized }
}
