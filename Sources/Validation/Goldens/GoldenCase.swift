// The inputs of a golden set — spec/goldens.md §2: deterministic token ids, positions and images, so any port
// can regenerate them from (seed, case name).

import MistralSmall4
import Tensor

/// One forward pass of a golden set: a name and its inputs.
public struct GoldenCase: Sendable {
    public let name: String
    /// What the case exercises, for the manifest.
    public let summary: String
    public let inputs: ForwardInputs
    public let images: VisionInputs?
    /// A layer-range set's case: the hidden state `[B·S, H]` its first layer takes (the ids are then inert).
    public var hidden: Tensor<Double>? = nil

    /// The first position of the long-context cases: past 2^18, where YaRN's interpolated frequencies and
    /// τ(p) > 1 both act; and near the end of the 1,048,576 positions.
    public static let longStart = 262_144
    public static let farStart = 1_000_000

    /// The first position of the `step` case: half the tokens before the first multiple of L =
    /// original_max_position_embeddings, half from it, so the sequence crosses the first step of the query
    /// temperature τ(p) = 1 + β·ln(1 + ⌊p / L⌋) (spec/rope.md eq. 11), where τ at p + 1 differs from τ at p.
    public static func stepStart(_ config: TextConfig, tokens: Int) -> Int {
        config.rope.originalMaxPositionEmbeddings - max(tokens / 2, 1)
    }

    /// The default cases: `start` (positions 0…), `step` (across τ's first step, stepStart…), `long` (262,144…),
    /// `far` (1,000,000…), each `batch` rows of `tokens` text ids, row 1 left-padded by 2 tokens; with `images` > 0
    /// and a vision tower, an `images` case (one sequence, positions 0…). `positions` replaces the four text cases
    /// by one starting there. With `layers` (a layer-range set, spec/goldens.md §3.2) each text case also gets a
    /// hidden state for its first layer, and there is no images case.
    public static func defaults(_ config: ModelConfig, seed: UInt64, tokens: Int, batch: Int, positions: Int?,
                                images: Int, layers: Bool = false) throws -> [GoldenCase] {
        let starts = positions.map { [("positions", $0)] }
            ?? [("start", 0), ("step", stepStart(config.text, tokens: tokens)), ("long", longStart), ("far", farStart)]
        var cases = try starts.map { name, start in
            GoldenCase(name: name, summary: "\(batch) × \(tokens) text tokens at positions \(start)…",
                       inputs: try text(config.text, seed: seed, case: name, tokens: tokens, batch: batch, start: start),
                       images: nil,
                       hidden: layers ? hiddenState(config.text, seed: seed, case: name, rows: batch * tokens) : nil)
        }
        if images > 0, !layers, let multimodal = config.multimodal {
            cases.append(try imageCase(config, multimodal, seed: seed, tokens: tokens, count: images))
        }
        return cases
    }

    /// `batch` rows of `tokens` ids drawn uniformly from 14 ..< vocab (above the special and image tokens),
    /// positions start…, row 1 (when batch > 1) left-padded by min(2, tokens − 1) masked tokens.
    static func text(_ config: TextConfig, seed: UInt64, case name: String, tokens: Int, batch: Int, start: Int)
        throws(InputError) -> ForwardInputs
    {
        let ids = textIds(config, seed: seed, stream: "golden.\(name).input_ids", count: batch * tokens)
        let pad = min(2, tokens - 1)
        let mask = (0..<batch).flatMap { b in (0..<tokens).map { b == 1 && $0 < pad ? 0 : 1 } }
        let positions = (0..<batch).flatMap { _ in (0..<tokens).map { start + $0 } }
        return try ForwardInputs(inputIds: Tensor(shape: [batch, tokens], scalars: ids),
                                 positionIds: Tensor(shape: [batch, tokens], scalars: positions),
                                 attentionMask: Tensor(shape: [batch, tokens], scalars: mask), config: config)
    }

    /// `rows` hidden states `[rows, H]`: the standard normals of the Philox stream `golden.<case>.hidden_states`,
    /// rounded to float32 (the stored dtype, so the stored input is what the reference ran on).
    static func hiddenState(_ config: TextConfig, seed: UInt64, case name: String, rows: Int) -> Tensor<Double> {
        let values = TensorStream(seed: seed, name: "golden.\(name).hidden_states").normals(0..<(rows * config.hiddenSize))
        return Tensor(shape: [rows, config.hiddenSize], scalars: values.map { Double(Float($0)) })
    }

    /// `count` ids uniform in 14 ..< vocab from the Philox stream `stream` (one 32-bit word per id).
    static func textIds(_ config: TextConfig, seed: UInt64, stream: String, count: Int) -> [Int] {
        let words = TensorStream(seed: seed, name: stream)
        let span = UInt32(max(config.vocabSize - 14, 1))
        return (0..<count).map { i in
            let block = words.block(UInt64(i / 4))
            return 14 + Int(block[i % 4] % span)
        }
    }

    /// `count` images of sizes that step through the tower's range (multiples of 28, at most image_size),
    /// pixels standard normals rounded to float32 (the stored dtype), with text before, between and after.
    static func imageCase(_ config: ModelConfig, _ multimodal: MultimodalConfig, seed: UInt64, tokens: Int,
                          count: Int) throws -> GoldenCase {
        let m = multimodal.vision.patchSize * multimodal.spatialMergeSize
        let limit = multimodal.vision.imageSize
        let sizes = (0..<count).map { k in (min(m * (2 - k % 2), limit), min(m * (3 - k % 2), limit)) }
        let (height, width) = (sizes.map(\.0).max()!, sizes.map(\.1).max()!)
        var pixels = [Double](repeating: 0, count: count * 3 * height * width)
        for (n, size) in sizes.enumerated() {
            let stream = TensorStream(seed: seed, name: "golden.images.pixel_values.\(n)")
            let values = stream.normals(0..<(3 * size.0 * size.1))
            for c in 0..<3 {
                for y in 0..<size.0 {
                    for x in 0..<size.1 {
                        pixels[((n * 3 + c) * height + y) * width + x] =
                            Double(Float(values[(c * size.0 + y) * size.1 + x]))
                    }
                }
            }
        }
        let images = try VisionInputs(pixelValues: Tensor(shape: [count, 3, height, width], scalars: pixels),
                                      imageSizes: Tensor(shape: [count, 2], scalars: sizes.flatMap { [$0.0, $0.1] }),
                                      config: multimodal)
        let text = textIds(config.text, seed: seed, stream: "golden.images.input_ids", count: tokens)
        let layout = ImageTokenLayout(multimodal)
        var prompt = [1]                                          // BOS, then text and an [IMG] per image
        for (i, id) in text.enumerated() {
            prompt.append(id)
            if i < count { prompt.append(layout.image) }
        }
        let ids = try layout.expand(prompt: prompt, grids: images.grids(cellSide: m))
        let inputs = try ForwardInputs(inputIds: Tensor(shape: [1, ids.count], scalars: ids), config: config.text)
        return GoldenCase(name: "images", summary: "\(count) images (\(sizes.map { "\($0.0)×\($0.1)" }.joined(separator: ", "))) "
                          + "in one sequence of \(ids.count) tokens at positions 0…", inputs: inputs, images: images)
    }
}
