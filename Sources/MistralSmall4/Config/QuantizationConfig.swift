// QuantizationConfig: the `quantization_config` of a quantized checkpoint, recorded as written.
//
// The released checkpoint is FP8 E4M3 with static per-tensor activation scales (`quant_method` "fp8",
// `activation_scheme` "static", no weight blocks); the vision tower, projector and lm_head stay unquantized. The
// numerics of that scheme are the Quant/ layers' business; this type only carries the fields. It does not change
// the tensor inventory: scales are stored beside the weights and are not parameters.

/// A checkpoint's quantization, in transformers' `quantization_config` names.
public struct QuantizationConfig: Sendable, Equatable, Codable {
    /// The scheme, e.g. `fp8`.
    public var quantMethod: String
    /// `static` (calibrated activation scales stored in the checkpoint) or `dynamic`; nil when not written.
    public var activationScheme: String?
    /// Block shape [rows, columns] of the weight scales; nil for one scale per tensor.
    public var weightBlockSize: [Int]?
    /// Module-name prefixes left unquantized.
    public var modulesToNotConvert: [String]?

    enum CodingKeys: String, CodingKey {
        case quantMethod = "quant_method"
        case activationScheme = "activation_scheme"
        case weightBlockSize = "weight_block_size"
        case modulesToNotConvert = "modules_to_not_convert"
    }
}
