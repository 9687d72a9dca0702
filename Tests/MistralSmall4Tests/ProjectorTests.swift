// The projector and the multimodal merge: the patch merger's channel order, exact GELU, the image token layout
// and its errors, and the features landing on the [IMG] rows.

import Testing
import Tensor
@testable import MistralSmall4

@Suite struct ProjectorTests {
    @Test func patchMergerChannelOrderIsFourCPlusTwoAPlusB() {
        // 4 × 6 patches of width 2; x[p][c] = 10·p + c. W picks v[4·1 + 2·1 + 0] and v[4·0 + 2·0 + 1].
        let (rows, cols, hidden) = (4, 6, 2)
        let x = Tensor(shape: [rows * cols, hidden], scalars: (0..<(rows * cols)).flatMap { p in [10.0 * Double(p), 10.0 * Double(p) + 1] })
        var w = [Double](repeating: 0, count: hidden * hidden * 4)
        w[0 * 8 + 6] = 1
        w[1 * 8 + 1] = 1
        let merged = PatchMerger(weight: Tensor(shape: [hidden, hidden * 4], scalars: w), mergeSize: 2)(
            x, grids: [(rows: rows, cols: cols)])
        #expect(merged.shape == [6, 2])
        for i in 0..<2 { for j in 0..<3 {
            let token = i * 3 + j
            #expect(merged[token, 0] == x[(2 * i + 1) * cols + 2 * j, 1])   // c = 1, a = 1, b = 0
            #expect(merged[token, 1] == x[(2 * i) * cols + 2 * j + 1, 0])   // c = 0, a = 0, b = 1
        } }
    }

    @Test func geluIsTheErfForm() {
        // Φ(1) = 0.841344746068542948…, so GELU(1) = Φ(1) and GELU(−1) = −(1 − Φ(1)). Within 2 ulp: a bound of
        // 1e-16 failed with |GELU(1) − Φ(1)| = 1.11e-16, one ulp, from rounding 1 + erf(·) before the product.
        #expect(abs(gelu(1) - 0.8413447460685429) <= 2 * 0.8413447460685429.ulp)
        #expect(abs(gelu(-1) + 0.15865525393145707) <= 2 * 0.15865525393145707.ulp)
        #expect(gelu(0) == 0)
    }

    @Test func blockLayoutAndPromptExpansion() throws {
        let layout = ImageTokenLayout(VisionFixtures.multimodal)
        #expect(layout.block(rows: 2, cols: 3) == [10, 10, 10, 12, 10, 10, 10, 13])
        #expect(try layout.expand(prompt: [1, 10, 5, 10], grids: [(1, 2), (2, 1)]) == [1, 10, 10, 13, 5, 10, 12, 10, 13])
        #expect(throws: InputError.self) { try layout.expand(prompt: [1, 10, 5], grids: [(1, 2), (2, 1)]) }
    }

    @Test(arguments: [
        ([1, 10, 10, 12, 10, 10, 13], "found id 12"),        // a row one [IMG] short
        ([1, 10, 10, 10, 12, 10, 10, 10], "end of the sequence"),
        ([1, 5, 7, 9, 2, 2, 2, 2], "but 0 image block(s)"),
        ([1, 10, 10, 10, 12, 10, 10, 10, 13, 13], "after the blocks of all 1 image(s)"),
    ])
    func imageTokensThatDoNotFitAreNamed(ids: [Int], message: String) throws {
        let layout = ImageTokenLayout(VisionFixtures.multimodal)
        let tokens = Tensor(shape: [1, ids.count], scalars: ids)
        let error = #expect(throws: InputError.self) { try layout.check(tokens, grids: [(rows: 2, cols: 3)]) }
        #expect(error?.field == "input_ids")
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
    }

    @Test func mergeFillsImageRowsInOrder() throws {
        let multimodal = VisionFixtures.multimodal
        let layout = ImageTokenLayout(multimodal)
        let ids = Tensor(shape: [2, 4], scalars: [1, 10, 13, 4, 10, 10, 13, 2])   // image 0: 1×1 in row 0; image 1: 1×2 in row 1
        try layout.check(ids, grids: [(1, 1), (1, 2)])
        let embeddings = Tensor<Double>(shape: [8, 2], scalars: (0..<16).map { -Double($0) })
        let features = Tensor<Double>(shape: [3, 2], scalars: [100, 101, 200, 201, 300, 301])
        let merged = layout.merge(embeddings, ids: ids, features: features)
        #expect(merged.scalars == [-0, -1, 100, 101, -4, -5, -6, -7, 200, 201, 300, 301, -12, -13, -14, -15])
    }
}
