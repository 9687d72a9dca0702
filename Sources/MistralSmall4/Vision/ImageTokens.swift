// Image tokens in the prompt and the multimodal merge — spec/projector.md eq. (6)–(7).
//
// An image of R × C merged tokens (R = height / (p·s), C = width / (p·s)) is written in the prompt as
//
//   ([IMG] × C, [IMG_BREAK]) × R, with the last [IMG_BREAK] replaced by [IMG_END]                          (6)
//
// and its projector outputs replace the [IMG] embeddings in order: row-major within the image, images in the
// order their blocks appear, sequences in batch order (transformers' `masked_scatter`)                    (7)

import Tensor

/// The image tokens of Mistral's tokenizer (tekken): [IMG] is the config's `image_token_index`; [IMG_BREAK] and
/// [IMG_END] are not in config.json and are the tokenizer's ids 12 and 13.
public struct ImageTokenLayout: Sendable, Equatable {
    public let image: Int
    public let rowBreak: Int
    public let end: Int

    public init(_ config: MultimodalConfig) {
        image = config.imageTokenIndex
        rowBreak = 12
        end = 13
    }

    /// Eq. (6): the token block of an image of `rows` × `cols` merged tokens.
    public func block(rows: Int, cols: Int) -> [Int] {
        var tokens = [Int]()
        for r in 0..<rows { tokens += Array(repeating: image, count: cols) + [r == rows - 1 ? end : rowBreak] }
        return tokens
    }

    /// `prompt` with each [IMG] placeholder replaced by the block of the next image (`grids`: merged rows and
    /// columns of each image). Every image needs its own placeholder, and every placeholder an image.
    public func expand(prompt: [Int], grids: [(rows: Int, cols: Int)]) throws(InputError) -> [Int] {
        let placeholders = prompt.filter { $0 == image }.count
        guard placeholders == grids.count else {
            throw InputError(field: "prompt", "\(placeholders) [IMG] placeholder(s) (id \(image)) for \(grids.count) "
                             + "image(s): put one [IMG] where each image goes")
        }
        var next = 0
        return prompt.flatMap { token -> [Int] in
            guard token == image else { return [token] }
            defer { next += 1 }
            return block(rows: grids[next].rows, cols: grids[next].cols)
        }
    }

    /// Checks that `ids [B, S]` hold one block of eq. (6) per image, in order, each inside one sequence, and
    /// no other image token (with no images: no image token at all). Throws naming the sequence, token position and
    /// image at fault.
    public func check(_ ids: Tensor<Int>, grids: [(rows: Int, cols: Int)]) throws(InputError) {
        let (batch, length) = (ids.shape[0], ids.shape[1])
        let special: Set<Int> = [image, rowBreak, end]
        var next = 0
        for b in 0..<batch {
            let row = Array(ids.scalars[(b * length)..<((b + 1) * length)])
            var t = 0
            while t < length {
                guard special.contains(row[t]) else { t += 1; continue }
                guard !grids.isEmpty else {
                    throw InputError(field: "input_ids", "image tokens (id \(row[t]) at sequence \(b) token \(t)) but "
                                     + "no image: give each [IMG] block its image (pixel_values and image_sizes, or "
                                     + "--image)")
                }
                guard next < grids.count else {
                    throw InputError(field: "input_ids", "sequence \(b) token \(t): an image token (id \(row[t])) "
                                     + "after the blocks of all \(grids.count) image(s)")
                }
                let expected = block(rows: grids[next].rows, cols: grids[next].cols)
                let found = Array(row[t..<min(t + expected.count, length)])
                let mismatch = found.indices.first { found[$0] != expected[$0] }
                if let bad = mismatch ?? (found.count < expected.count ? found.count : nil) {
                    let seen = t + bad < length ? "id \(row[t + bad])" : "the end of the sequence"
                    throw InputError(field: "input_ids", "sequence \(b) token \(t + bad): image \(next) "
                                     + "(\(grids[next].rows)×\(grids[next].cols) tokens) expects id "
                                     + "\(expected[bad]) there, found \(seen)")
                }
                t += expected.count
                next += 1
            }
        }
        guard next == grids.count else {
            throw InputError(field: "input_ids", "\(grids.count) image(s) but \(next) image block(s) in the tokens")
        }
    }

    /// Eq. (7): `embeddings [B·S, H]` with the rows at [IMG] tokens of `ids` replaced, in order, by `features
    /// [tokens, H]`. `check` must have passed (so the counts agree).
    public func merge(_ embeddings: Tensor<Double>, ids: Tensor<Int>, features: Tensor<Double>) -> Tensor<Double> {
        let hidden = embeddings.shape[1]
        var scalars = embeddings.scalars
        var next = 0
        for (t, id) in ids.scalars.enumerated() where id == image {
            scalars.replaceSubrange((t * hidden)..<((t + 1) * hidden),
                                    with: features.scalars[(next * hidden)..<((next + 1) * hidden)])
            next += 1
        }
        return Tensor(shape: embeddings.shape, scalars: scalars)
    }
}
