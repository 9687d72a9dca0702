// Shared helpers of the vision tests: the tiny-vision model and deterministic images.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensor
@testable import MistralSmall4

enum VisionFixtures {
    static let store = SyntheticWeightStore(config: try! Preset.tinyVision.load(), seed: 3)
    static var multimodal: MultimodalConfig { store.config.multimodal! }

    /// Images of the given (height, width) in one zero-padded canvas, pixel values a smooth deterministic pattern
    /// keyed by each image's `patterns` entry (default: its index). `[N, 3, maxH, maxW]`.
    static func images(_ sizes: [(Int, Int)], patterns: [Int]? = nil) throws -> VisionInputs {
        let patterns = patterns ?? Array(sizes.indices)
        let (height, width) = (sizes.map(\.0).max()!, sizes.map(\.1).max()!)
        var pixels = [Double](repeating: 0, count: sizes.count * 3 * height * width)
        for (n, size) in sizes.enumerated() {
            for c in 0..<3 {
                for y in 0..<size.0 {
                    for x in 0..<size.1 {
                        pixels[((n * 3 + c) * height + y) * width + x] = sin(Double(7 * patterns[n] + 3 * c + y) * 0.37 + Double(x) * 0.11) * 1.5
                    }
                }
            }
        }
        return try VisionInputs(pixelValues: Tensor(shape: [sizes.count, 3, height, width], scalars: pixels),
                                imageSizes: Tensor(shape: [sizes.count, 2], scalars: sizes.flatMap { [$0.0, $0.1] }),
                                config: multimodal)
    }

}
