// What a layer replay needs of the run it continues (positions and mask; image sizes), carried in the taps file
// `forward` writes: as safetensors metadata, `assay.<name>` = {"shape": [...], "values": [...]}, so the file holds
// taps only (a port's dump and a capture read alike) and `forward --layers --input TAPS` replays at the run's own
// positions — spec/checkpoints.md §5.

import MistralSmall4
import Tensor

struct RunContext {
    /// The names a replay reads: text layers need positions and mask, vision layers the image sizes.
    static func needed(vision: Bool) -> [String] { vision ? ["image_sizes"] : ["position_ids", "attention_mask"] }

    let file: SafeTensorsFile

    /// `file` holds `name`, as a tensor or as the metadata `forward` writes.
    func has(_ name: String) -> Bool { file.contains(name) || file.metadata[Self.key(name)] != nil }

    /// The integers `name`, from the tensor or else the metadata; nil when neither is there.
    func integers(_ name: String) throws(SafeTensorsError) -> Tensor<Int>? {
        if file.contains(name) { return try file.integers(name) }
        guard let text = file.metadata[Self.key(name)] else { return nil }
        let bad = SafeTensorsError(file: file.name, tensor: "__metadata__." + Self.key(name),
                                   "not {\"shape\": [..], \"values\": [..]} of integers whose count fits the shape")
        guard let json = try? JSONValue.parse(text), let extents = json["shape"]?.arrayValue,
              let items = json["values"]?.arrayValue else { throw bad }
        let shape = extents.compactMap(\.intValue), values = items.compactMap(\.intValue)
        guard shape.count == extents.count, values.count == items.count, shape.allSatisfy({ $0 >= 0 }),
              shape.reduce(1, { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }) == values.count
        else { throw bad }
        return Tensor(shape: shape, scalars: values)
    }

    /// The metadata that carries `tensors` (name, values) into a taps file.
    static func metadata(_ tensors: [(name: String, value: Tensor<Int>)]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: tensors.map { name, value in
            (key(name), JSONValue.object([("shape", .array(value.shape.map(JSONValue.int))),
                                          ("values", .array(value.scalars.map(JSONValue.int)))]).serialized())
        })
    }

    /// The metadata of a run on `inputs` (and `images`).
    static func metadata(_ inputs: ForwardInputs, images: VisionInputs?) -> [String: String] {
        var tensors = [("position_ids", inputs.positionIds), ("attention_mask", inputs.attentionMask)]
        if let images {
            tensors.append(("image_sizes", Tensor(shape: [images.count, 2],
                                                  scalars: images.imageSizes.flatMap { [$0.height, $0.width] })))
        }
        return metadata(tensors)
    }

    private static func key(_ name: String) -> String { "assay." + name }
}
