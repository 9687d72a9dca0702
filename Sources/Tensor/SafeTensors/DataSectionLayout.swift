// DataSectionLayout: the rule that tensors tile the data section exactly, as the Rust library demands.
//
// Goals, in order: accept exactly the files Python `safetensors` loads (no overlaps, no gaps, no trailing
// bytes), then name the two tensors of an overlap or the byte range of a gap.

enum DataSectionLayout {
    /// Returns `tensors` sorted by offset after checking that they cover `0..<dataSize` with no overlap.
    ///
    /// ```
    /// sorted by (begin, end):  begin₀ = 0,  beginᵢ = endᵢ₋₁,  end_last = dataSize
    /// ```
    /// Empty tensors (begin = end) may sit at any boundary; several may share one.
    static func sortedCheckingCoverage(
        _ tensors: [TensorInfo], dataSize: Int, file: String
    ) throws(SafeTensorsError) -> [TensorInfo] {
        let sorted = tensors.sorted { a, b in
            let (x, y) = (a.dataOffsets, b.dataOffsets)
            return x == y ? a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
                : (x.lowerBound, x.upperBound) < (y.lowerBound, y.upperBound)
        }
        var covered = 0
        var previous: TensorInfo?
        for tensor in sorted {
            let range = tensor.dataOffsets
            if range.lowerBound < covered, let previous {
                throw SafeTensorsError(
                    file: file, tensor: tensor.name,
                    "data_offsets \(describe(range)) overlap tensor '\(previous.name)' "
                        + "at \(describe(previous.dataOffsets))")
            }
            if range.lowerBound > covered {
                throw SafeTensorsError(
                    file: file, tensor: tensor.name,
                    "data_offsets \(describe(range)) leave a gap: "
                        + "bytes [\(covered), \(range.lowerBound)) of the data section belong to no tensor")
            }
            covered = range.upperBound
            previous = tensor
        }
        guard covered == dataSize else {
            throw SafeTensorsError(
                file: file,
                "data section has \(dataSize - covered) trailing bytes [\(covered), \(dataSize)) "
                    + "that belong to no tensor")
        }
        return sorted
    }

    /// `[begin, end]`, the way the header writes data_offsets.
    static func describe(_ range: Range<Int>) -> String { "[\(range.lowerBound), \(range.upperBound)]" }
}
