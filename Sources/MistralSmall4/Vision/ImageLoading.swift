// Image loading — spec/preprocessing.md §1, eq. (1).
//
// Goals, in order: the RGB bytes transformers' processor sees when it is handed `PIL.Image.open(path)` (its
// `convert_to_rgb`: gray and palette images as PIL's `convert("RGB")`, any transparency composited onto white as
// PIL's `alpha_composite`); then every bad file ends in one ImageError naming it, never a crash or a leak.
//
// The format is told by content: the PNG signature (decoded by libpng's simplified API to 8-bit RGBA), or `P6`
// and a whitespace byte (binary PPM, parsed here). Anything else is refused.
//
//   c' = round((α·c + 255·(255 − α)) / 255)      each of R, G, B with its alpha α; exact, as no quotient ties  (1)

import CLibPNG
import Tensor

extension RGBImage {
    /// The most pixels an image may have: where PIL refuses one (`DecompressionBombError`, 2 × 89,478,485).
    public static let maxPixels = 178_956_970

    /// Reads a PNG or binary PPM (P6) file as 8-bit RGB, alpha composited onto white (eq. 1).
    public static func load(path: String) throws(ImageError) -> RGBImage {
        let file = FilePath.lastComponent(path)
        guard FilePath.exists(path) else { throw ImageError(file: file, message: "no such file") }
        let bytes: [UInt8]
        do { bytes = try FilePath.readRegularFile(path) } catch { throw ImageError(file: file, message: error.description) }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return try decodePNG(bytes, file: file)
        }
        if bytes.count > 2, bytes.starts(with: Array("P6".utf8)), isWhitespace(bytes[2]) {
            return try decodePPM(bytes, file: file)
        }
        throw ImageError(file: file, message: "not a PNG or binary PPM (P6) file")
    }

    /// Eq. (1): PIL's `alpha_composite` of (c, α) over opaque white, then `convert("RGB")`. Equal to PIL's
    /// fixed-point code for all 256 × 256 (c, α) pairs (ImageTests checks it against the table PIL computes).
    static func compositeOnWhite(_ value: UInt8, alpha: UInt8) -> UInt8 {
        let (c, a) = (Int(value), Int(alpha))
        return UInt8((a * c + 255 * (255 - a) + 127) / 255)
    }

    /// Why a width × height image is refused — no pixels, or more than `maxPixels` — or nil.
    private static func sizeProblem(width: Int, height: Int) -> String? {
        if width <= 0 || height <= 0 { return "size \(width) × \(height): an image needs at least one pixel" }
        if width > maxPixels / height {
            return "size \(width) × \(height) has more than \(maxPixels) pixels (where PIL refuses an image)"
        }
        return nil
    }

    // MARK: - PNG

    /// libpng's simplified API to 8-bit RGBA, then eq. (1). gAMA chunks are dropped first, as PIL ignores them
    /// (libpng would convert the samples to sRGB), and 16-bit samples are read as sRGB (`PNG_IMAGE_FLAG_16BIT_sRGB`),
    /// not linear; spec/preprocessing.md §1 says where libpng and PIL still differ (16-bit files).
    private static func decodePNG(_ original: [UInt8], file: String) throws(ImageError) -> RGBImage {
        let bytes = withoutGamma(original)
        // libpng reads `bytes` until png_image_finish_read, so both calls run inside one withUnsafeBytes.
        let decoded: Result<RGBImage, ImageError> = bytes.withUnsafeBytes { memory in
            var image = png_image()
            image.version = png_uint_32(PNG_IMAGE_VERSION)
            defer { png_image_free(&image) }    // a no-op once finish_read has freed it
            func failure() -> Result<RGBImage, ImageError> {
                let text = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                return .failure(ImageError(file: file, message: "PNG: " + text))
            }
            guard png_image_begin_read_from_memory(&image, memory.baseAddress, memory.count) != 0 else {
                return failure()
            }
            let (width, height) = (Int(image.width), Int(image.height))
            if let problem = sizeProblem(width: width, height: height) {
                return .failure(ImageError(file: file, message: problem))
            }
            image.format = png_uint_32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)   // PNG_FORMAT_RGBA, 8-bit
            image.flags |= png_uint_32(PNG_IMAGE_FLAG_16BIT_sRGB)
            var rgba = [UInt8](repeating: 0, count: width * height * 4)   // [height, width, 4]
            let finished = rgba.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard finished != 0 else { return failure() }
            var rgb = [UInt8](repeating: 0, count: width * height * 3)
            for p in 0..<(width * height) {
                for c in 0..<3 { rgb[3 * p + c] = compositeOnWhite(rgba[4 * p + c], alpha: rgba[4 * p + 3]) }
            }
            return .success(RGBImage(width: width, height: height, pixels: rgb))
        }
        return try decoded.get()
    }

    /// The PNG without its gAMA chunks. A chunk running past the end stops the walk; the rest is kept as it is,
    /// for libpng to report.
    private static func withoutGamma(_ png: [UInt8]) -> [UInt8] {
        var (kept, at) = (Array(png.prefix(8)), 8)     // the signature, then chunks: length, type, data, CRC
        while at + 12 <= png.count {
            let end = at + 12 + png[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) }
            guard end <= png.count else { break }
            if !png[(at + 4)..<(at + 8)].elementsEqual("gAMA".utf8) { kept += png[at..<end] }
            at = end
        }
        return kept + png[at...]
    }

    // MARK: - PPM

    /// Binary PPM: `P6`, then width, height and maxval as decimal tokens separated by whitespace and `#` comments
    /// (to the end of the line), one whitespace byte, and the raster: 3 samples per pixel, one byte each when
    /// maxval < 256, else two bytes big-endian. Samples are scaled as PIL does: kept when maxval is 255, else
    /// min(255, round(v / maxval · 255)) in float64, ties to even. Bytes after the raster are ignored.
    private static func decodePPM(_ bytes: [UInt8], file: String) throws(ImageError) -> RGBImage {
        var reader = PPMHeaderReader(bytes: bytes, offset: 2, file: file)
        let width = try reader.number("width")
        let height = try reader.number("height")
        let maxval = try reader.number("maxval")
        guard (1...65535).contains(maxval) else {
            throw ImageError(file: file, message: "PPM header: maxval \(maxval) is outside 1…65535")
        }
        if let problem = sizeProblem(width: width, height: height) { throw ImageError(file: file, message: problem) }
        guard reader.offset < bytes.count, isWhitespace(bytes[reader.offset]) else {
            throw ImageError(file: file, message: "PPM header: maxval must be followed by one whitespace byte")
        }
        let start = reader.offset + 1
        let bytesPerSample = maxval < 256 ? 1 : 2
        let samples = width * height * 3
        guard bytes.count - start >= samples * bytesPerSample else {
            throw ImageError(file: file, message: "truncated: \(width) × \(height) pixels need "
                             + "\(samples * bytesPerSample) raster bytes, the file has \(bytes.count - start)")
        }
        let rgb = (0..<samples).map { i in
            let value = bytesPerSample == 1
                ? Int(bytes[start + i]) : Int(bytes[start + 2 * i]) << 8 | Int(bytes[start + 2 * i + 1])
            if maxval == 255 { return UInt8(value) }
            return UInt8(min(255, (Double(value) / Double(maxval) * 255).rounded(.toNearestOrEven)))
        }
        return RGBImage(width: width, height: height, pixels: rgb)
    }

    /// Netpbm whitespace: space, \t, \n, \v, \f, \r.
    fileprivate static func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }
}

/// Reads the decimal tokens of a PPM header.
private struct PPMHeaderReader {
    let bytes: [UInt8]
    var offset: Int
    let file: String

    /// Skips whitespace and comments, then reads one decimal token of at most 10 digits.
    mutating func number(_ field: String) throws(ImageError) -> Int {
        while offset < bytes.count {
            if RGBImage.isWhitespace(bytes[offset]) {
                offset += 1
            } else if bytes[offset] == UInt8(ascii: "#") {
                while offset < bytes.count, bytes[offset] != 0x0A, bytes[offset] != 0x0D { offset += 1 }
            } else {
                break
            }
        }
        let digits = bytes[offset...].prefix { (0x30...0x39).contains($0) }
        guard !digits.isEmpty else {
            let found = offset < bytes.count ? "found byte \(bytes[offset])" : "the file ends"
            throw ImageError(file: file, message: "PPM header: \(field) is not a decimal number (\(found))")
        }
        guard digits.count <= 10 else {
            throw ImageError(file: file, message: "PPM header: \(field) has more than 10 digits")
        }
        offset += digits.count
        return digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }
}
