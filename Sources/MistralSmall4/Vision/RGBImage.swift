// RGBImage: an 8-bit RGB picture as the image processor receives it — spec/preprocessing.md §1.
//
// Loading (PNG, binary PPM, alpha onto white) is in ImageLoading.swift; resizing in BicubicResize.swift; the
// processor's steps in ImagePreprocess.swift.

import Tensor

/// 8-bit RGB pixels, row-major [height, width, 3].
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// [height, width, 3]: `pixels[(y · width + x) · 3 + channel]`, channels R, G, B.
    public let pixels: [UInt8]

    /// Wraps `pixels`. Traps when a side is not positive or the count is not height × width × 3.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "image size \(width) × \(height)")
        precondition(pixels.count == width * height * 3,
                     "\(pixels.count) bytes for a \(width) × \(height) RGB image (needs \(width * height * 3))")
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// An image file that cannot be used: `"cat.png: PNG: IDAT: Not enough image data"`.
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file at fault, as its last path component.
    public let file: String
    /// The problem, without the file prefix.
    public let message: String

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }

    /// One line (`Escaped.line`).
    public var description: String { Escaped.line("\(file): \(message)") }
}
