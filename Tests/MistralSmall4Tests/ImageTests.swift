// Image loading and Pixtral preprocessing (spec/preprocessing.md): PNG and PPM fixtures against what PIL hands
// transformers' processor, the alpha table against PIL's, bad files named, the size rules, resize invariants with a
// hand-computed case, and pixel_values against transformers'. Fixtures: Tools/make_image_fixtures.py.

import Foundation
import Testing
import Tensor
@testable import MistralSmall4

@Suite struct ImageTests {
    static func fixture(_ name: String) -> String { Fixtures.path("images/" + name) }

    /// Writes `bytes` to a fresh temp file named `name` and loads it.
    static func load(_ bytes: [UInt8], name: String = "test.ppm") throws -> RGBImage {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("assay-image-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent(name).path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return try RGBImage.load(path: path)
    }

    // MARK: - Loading

    @Test(arguments: ["rgb", "rgba", "gray", "gray-alpha", "palette", "bilevel", "gamma"])
    func pngDecodesAsPILHandsItToTheProcessor(name: String) throws {
        let image = try RGBImage.load(path: Self.fixture(name + ".png"))
        let expected = try RGBImage.load(path: Self.fixture(name + ".expected.ppm"))
        #expect(image == expected)
    }

    /// 16-bit PNGs: libpng (read as sRGB, eq. 1's caveat in spec/preprocessing.md §1) rounds each sample to 8 bits,
    /// round(v · 255 / 65535); PIL keeps the high byte of an RGB sample, ⌊v / 256⌋, and clips a gray `I;16` sample
    /// to 255. They agree within one level for RGB and not at all for gray.
    @Test func sixteenBitPNGsFollowLibpngNotPIL() throws {
        let rgb = try RGBImage.load(path: Self.fixture("rgb16.png"))
        let pil = try RGBImage.load(path: Self.fixture("rgb16.expected.ppm"))
        #expect(zip(rgb.pixels, pil.pixels).allSatisfy { abs(Int($0) - Int($1)) <= 1 })
        #expect(rgb != pil)
        let gray = try RGBImage.load(path: Self.fixture("gray16.png"))
        #expect(gray.width == 5 && gray.height == 4)
        #expect(try RGBImage.load(path: Self.fixture("gray16.expected.ppm")).pixels.allSatisfy { $0 == 255 })
    }

    @Test func alphaCompositingIsPILsForEveryValueAndAlpha() throws {
        let table = try RGBImage.load(path: Self.fixture("alpha-composite.png"))   // PIL's, row v, column α
        #expect(table.width == 256 && table.height == 256)
        for v in 0..<256 {
            for a in 0..<256 {
                let pil = table.pixels[(v * 256 + a) * 3]
                #expect(RGBImage.compositeOnWhite(UInt8(v), alpha: UInt8(a)) == pil, "value \(v), alpha \(a)")
            }
        }
        #expect(RGBImage.compositeOnWhite(128, alpha: 128) == 191 && RGBImage.compositeOnWhite(0, alpha: 255) == 0)
    }

    @Test func ppmHeaderTakesCommentsAndAnyWhitespace() throws {
        let header = "P6\r\n# a comment\n\t2 # width\n1\u{0B}\u{0C}# maxval next\n255 "
        let image = try Self.load(Array(header.utf8) + [1, 2, 3, 250, 251, 252, 99])   // a trailing byte is ignored
        #expect(image == RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 250, 251, 252]))
    }

    /// Samples scale as PIL's PpmDecoder: min(255, round(v / maxval · 255)) in float64, ties to even.
    @Test func ppmSamplesScaleAsPIL() throws {
        let wide: [Int] = [0, 0x1234, 0xFFFF, 0x8080, 0x00FF, 0x7F80]
        let sixteen = try Self.load(Array("P6 2 1 65535\n".utf8) + wide.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] })
        #expect(sixteen.pixels == [0, 18, 255, 128, 1, 127])   // PIL's values
        let thousand = try Self.load(Array("P6 2 1 1000\n".utf8) + [0, 2, 0x03, 0xE6, 0x27, 0x10, 0, 0, 0, 0, 0, 1])
        #expect(thousand.pixels == [1, 254, 255, 0, 0, 0])      // 0.51 → 1, 254.49 → 254, 10000 clips to 255
        let hundred = try Self.load(Array("P6 3 1 100\n".utf8) + [50, 30, 150, 100, 0, 1, 2, 3, 4])
        #expect(hundred.pixels == [128, 76, 255, 255, 0, 3, 5, 8, 10])  // 127.5 → 128 and 76.5 → 76: ties to even
    }

    @Test(arguments: [
        ("bad/truncated.png", "PNG: "),
        ("bad/garbage.png", "not a PNG or binary PPM (P6) file"),
        ("bad/zero-width.ppm", "size 0 × 4: an image needs at least one pixel"),
        ("bad/zero-width.png", "PNG: "),
        ("no-such-file.png", "no such file"),
        ("bad", "not a regular file"),
    ])
    func badFilesAreRefusedNamingTheFile(path: String, message: String) {
        let error = #expect(throws: ImageError.self) { try RGBImage.load(path: Self.fixture(path)) }
        #expect(error?.file == FilePath.lastComponent(path))
        #expect(error?.message.hasPrefix(message) == true, "\(error?.description ?? "")")
    }

    @Test(arguments: [
        ("P6 2 2 255\n", 11, "truncated: 2 × 2 pixels need 12 raster bytes, the file has 11"),
        ("P6 2 1 65535\n", 11, "truncated: 2 × 1 pixels need 12 raster bytes, the file has 11"),
        ("P6 2 x 255\n", 0, "PPM header: height is not a decimal number (found byte 120)"),
        ("P6 2 1", 0, "PPM header: maxval is not a decimal number (the file ends)"),
        ("P6 2 1 0\n", 0, "PPM header: maxval 0 is outside 1…65535"),
        ("P6 2 1 65536\n", 0, "PPM header: maxval 65536 is outside 1…65535"),
        ("P6 2 1 255", 0, "PPM header: maxval must be followed by one whitespace byte"),
        ("P6 12345678901 1 255\n", 0, "PPM header: width has more than 10 digits"),
        ("P6 20000 10000 255\n", 0, "size 20000 × 10000 has more than 178956970 pixels"),
        ("P3 1 1 255\n", 3, "not a PNG or binary PPM (P6) file"),
    ])
    func badPPMsAreRefused(header: String, raster: Int, message: String) {
        let error = #expect(throws: ImageError.self) {
            try Self.load(Array(header.utf8) + [UInt8](repeating: 7, count: raster), name: "bad.ppm")
        }
        #expect(error?.description.hasPrefix("bad.ppm: " + message) == true, "\(error?.description ?? "")")
    }

    // MARK: - Output size, eqs. (2)–(3)

    @Test(arguments: [
        (20, 20, 28, 28), (28, 28, 28, 28), (29, 1, 56, 28), (1, 1540, 28, 1540),  // small sides round up
        (1541, 20, 1540, 28), (4000, 3000, 1540, 1176), (3000, 4000, 1176, 1540),  // oversize scales down
        (1541, 1, 1540, 28), (1540, 1540, 1540, 1540), (2000, 1600, 1540, 1232),
    ])
    func outputSizeScalesDownAndRoundsUp(height: Int, width: Int, outHeight: Int, outWidth: Int) {
        let size = ImagePreprocessor(Preset.full.config.multimodal!).outputSize(height: height, width: width)
        #expect(size == (outHeight, outWidth), "\(height) × \(width)")
    }

    // MARK: - Resize, eqs. (4)–(8)

    @Test(arguments: [(5, 7, 28, 56), (90, 100, 7, 13), (300, 17, 28, 28), (3, 3, 3, 9), (64, 64, 1, 1)])
    func constantImagesStayConstant(height: Int, width: Int, toHeight: Int, toWidth: Int) {
        for level: UInt8 in [0, 1, 128, 254, 255] {
            let image = RGBImage(width: width, height: height, pixels: [UInt8](repeating: level, count: width * height * 3))
            let resized = BicubicResize.resize(image, height: toHeight, width: toWidth)
            #expect(resized.pixels.allSatisfy { $0 == level }, "level \(level)")
        }
    }

    @Test func sameSizeIsTheIdentity() {
        let pixels = (0..<(6 * 4 * 3)).map { UInt8(($0 * 97) % 256) }
        let image = RGBImage(width: 6, height: 4, pixels: pixels)
        #expect(BicubicResize.resize(image, height: 4, width: 6) == image)
    }

    /// Halving: s = 2, σ = 4, κ = 1/2, interior taps at (j − 3.5)/2: k(±0.25) = 0.8671875, k(±0.75) = 0.2265625,
    /// k(±1.25) = −0.0703125, k(±1.75) = −0.0234375, sum 2. At the left edge, taps 0…4 hold k(−0.25) … k(1.75),
    /// sum 1.8671875, so the axis's largest weight is 0.8671875 / 1.8671875 = 0.4644: p = 16 (0.4644·2^16 < 2^15 ≤
    /// 0.4644·2^17), and the interior weights ×2^16 are −768, −2304, 7424, 28416, 28416, 7424, −2304, −768. The
    /// ramp 4x then averages exactly to 8i + 2; the edge gives (0.8671875·4 + 0.2265625·8 − 0.0703125·12 −
    /// 0.0234375·16) / 1.8671875 = 4.0625 / 1.8671875 = 2.18 → 2.
    @Test func halvingARampMatchesTheHandComputation() {
        let axis = BicubicResize.axisWeights(input: 64, output: 32)
        #expect(axis.precision == 16)
        #expect(axis.start[5] == 7 && axis.weights[5] == [-768, -2304, 7424, 28416, 28416, 7424, -2304, -768])
        let ramp = (0..<3).flatMap { _ in (0..<64).flatMap { x in [UInt8](repeating: UInt8(4 * x), count: 3) } }
        let half = BicubicResize.resize(RGBImage(width: 64, height: 3, pixels: ramp), height: 3, width: 32)
        for x in 2..<30 { #expect(half.pixels[x * 3] == UInt8(8 * x + 2), "x = \(x)") }
        #expect(half.pixels[0] == 2)
    }

    // MARK: - The processor against transformers

    /// pixtral.safetensors holds transformers' output (torchvision backend, CPU) for pixtral-a.png (13 × 9 RGBA,
    /// scaled up) and pixtral-b.png (33 × 40, scaled down) with longest edge 28. The resized uint8 levels must be
    /// identical; the values differ only by transformers' float32 arithmetic in eq. (9) and the F32 storage
    /// (at most 3.8e-7 in Tools/crosscheck_preprocessing.py's runs), so 1e-6 is allowed.
    @Test func pixelValuesMatchTransformers() throws {
        var multimodal = Preset.tinyVision.config.multimodal!
        multimodal.vision.imageSize = 28
        let images = try ["pixtral-a.png", "pixtral-b.png"].map { name throws(ImageError) in
            try RGBImage.load(path: Self.fixture(name))
        }
        let ours = ImagePreprocessor(multimodal)(images)
        let expected = try SafeTensorsFile(path: Self.fixture("pixtral.safetensors"))
        #expect(ours.imageSizes == (try expected.integers("image_sizes")))
        let theirs = try expected.doubles("pixel_values")
        #expect(ours.pixelValues.shape == theirs.shape)
        let plane = 28 * 28
        for (i, (a, b)) in zip(ours.pixelValues.scalars, theirs.scalars).enumerated() {
            let c = (i / plane) % 3
            let level = { (v: Double) in ((v * ImagePreprocessor.std[c] + ImagePreprocessor.mean[c]) * 255).rounded() }
            #expect(level(a) == level(b) && abs(a - b) <= 1e-6, "element \(i): \(a) vs \(b)")
        }
    }

    @Test func batchesPadWithZerosOnTheRightAndBottom() {
        let processor = ImagePreprocessor(Preset.tinyVision.config.multimodal!)
        let tall = RGBImage(width: 10, height: 50, pixels: [UInt8](repeating: 0, count: 10 * 50 * 3))
        let wide = RGBImage(width: 30, height: 5, pixels: [UInt8](repeating: 255, count: 30 * 5 * 3))
        let batch = processor([tall, wide])
        #expect(batch.imageSizes.scalars == [56, 28, 28, 56])
        #expect(batch.pixelValues.shape == [2, 3, 56, 56])
        let black = (0 - ImagePreprocessor.mean[1]) / ImagePreprocessor.std[1]
        #expect(batch.pixelValues[0, 1, 55, 27] == black && batch.pixelValues[0, 1, 55, 28] == 0)
        #expect(batch.pixelValues[1, 2, 27, 55] == (1 - ImagePreprocessor.mean[2]) / ImagePreprocessor.std[2])
        #expect(batch.pixelValues[1, 2, 28, 0] == 0)
    }
}
