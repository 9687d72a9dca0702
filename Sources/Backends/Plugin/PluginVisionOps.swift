// The vision tower's and projector's ops through a plugin — spec/vision.md, spec/projector.md.

import CAssayPlugin
import MistralSmall4
import Tensor

extension PluginBackend {
    public func patchEmbedding(_ pixels: Tensor<Double>, weight: Tensor<Double>) throws -> Tensor<Double> {
        let (images, channels, height, width) = (pixels.shape[0], pixels.shape[1], pixels.shape[2], pixels.shape[3])
        let (hidden, patch) = (weight.shape[0], weight.shape[2])
        let args = assay_patch_embedding_args(images: Int64(images), channels: Int64(channels), height: Int64(height),
                                              width: Int64(width), hidden: Int64(hidden), patch: Int64(patch))
        let shape = [images, hidden, height / patch, width / patch]
        let result = try call(.patchEmbedding, [.args(PluginCall.bytes(of: args)), .input(floats(pixels)),
                                                .input(floats(weight)), .output(.f32, count: shape.reduce(1, *))])
        return tensor(result.f32(0), shape)
    }

    public func visionAttention(_ x: Tensor<Double>, weights: VisionAttentionWeights, config: VisionConfig,
                                grids: PatchGrids) throws -> Tensor<Double> {
        let args = assay_vision_attention_args(patches: Int64(x.shape[0]), hidden: Int64(x.shape[1]),
                                               heads: Int64(config.numAttentionHeads), images: Int64(grids.count))
        let frequencies = VisionRoPE(headDim: config.headDim, theta: config.ropeTheta).frequencies
        let result = try call(.visionAttention, [
            .args(PluginCall.bytes(of: args)), .input(floats(x)), .input(Self.grids(grids)), .input(.f64(frequencies)),
            .input(floats(weights.query)), .input(floats(weights.key)), .input(floats(weights.value)),
            .input(floats(weights.output)), .output(.f32, count: x.count),
        ])
        return tensor(result.f32(0), x.shape)
    }

    public func patchMerger(_ x: Tensor<Double>, weight: Tensor<Double>, mergeSize: Int, grids: PatchGrids)
        throws -> Tensor<Double>
    {
        let (patches, hidden) = (x.shape[0], x.shape[1])
        let merged = grids.map { ($0.rows / mergeSize) * ($0.cols / mergeSize) }.reduce(0, +)
        let args = assay_patch_merger_args(patches: Int64(patches), hidden: Int64(hidden), merge: Int64(mergeSize),
                                           images: Int64(grids.count))
        let result = try call(.patchMerger, [.args(PluginCall.bytes(of: args)), .input(floats(x)),
                                             .input(Self.grids(grids)), .input(floats(weight)),
                                             .output(.f32, count: merged * weight.shape[0])])
        return tensor(result.f32(0), [merged, weight.shape[0]])
    }

    public func projectorMLP(_ x: Tensor<Double>, linear1: Tensor<Double>, bias1: Tensor<Double>?,
                             linear2: Tensor<Double>, bias2: Tensor<Double>?) throws -> Tensor<Double> {
        let (rows, hidden) = (x.shape[0], linear2.shape[0])
        let args = assay_projector_mlp_args(rows: Int64(rows), input: Int64(x.shape[1]), hidden: Int64(hidden))
        let result = try call(.projectorMLP, [
            .args(PluginCall.bytes(of: args)), .input(floats(x)), .input(floats(linear1)),
            bias1.map { .input(floats($0)) } ?? .null, .input(floats(linear2)), bias2.map { .input(floats($0)) } ?? .null,
            .output(.f32, count: rows * hidden),
        ])
        return tensor(result.f32(0), [rows, hidden])
    }

    /// Each image's patch grid as `[images, 2]` (rows, cols).
    static func grids(_ grids: PatchGrids) -> PluginBuffer { .i64(grids.flatMap { [Int64($0.rows), Int64($0.cols)] }) }
}
