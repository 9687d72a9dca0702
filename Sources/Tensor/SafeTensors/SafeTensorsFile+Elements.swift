// Typed reads of a SafeTensorsFile's tensors: Double, Float and Int tensors from stored dtypes.
//
// Goals, in order: never a silent change of value — integers are read exactly or rejected with the
// element's index, BOOL bytes other than 0/1 are rejected — then one rounding point, stated: F64 read
// as Float rounds to nearest even. Every other float dtype is a subset of Float and widens exactly.

extension SafeTensorsFile {
    /// The tensor as Doubles: float dtypes exactly; integer dtypes exactly when |v| ≤ 2^53, else an error.
    public func doubles(_ tensorName: String) throws(SafeTensorsError) -> Tensor<Double> {
        try realTensor(tensorName, as: Double.self)
    }

    /// Rows `rows` of the tensor's outermost axis as Doubles (e.g. one expert of a fused expert tensor), read
    /// without touching the other rows. Throws naming the tensor when the range is out of bounds.
    public func doubles(_ tensorName: String, rows: Range<Int>) throws(SafeTensorsError) -> Tensor<Double> {
        try realTensor(tensorName, as: Double.self, rows: rows)
    }

    /// The tensor as Floats: F64 rounded to nearest even, other float dtypes exactly,
    /// integer dtypes exactly when |v| ≤ 2^24, else an error.
    public func floats(_ tensorName: String) throws(SafeTensorsError) -> Tensor<Float> {
        try realTensor(tensorName, as: Float.self)
    }

    /// The tensor as Ints, from I64, I32, U8, I8 or BOOL (whose bytes must be 0 or 1).
    public func integers(_ tensorName: String) throws(SafeTensorsError) -> Tensor<Int> {
        try withBytes(of: tensorName) { info, bytes throws(SafeTensorsError) in
            let reader = ElementReader(dtype: info.dtype, bytes: bytes)
            var scalars: [Int] = []
            scalars.reserveCapacity(reader.count)
            for index in 0..<reader.count {
                guard let value = reader.integer(index) else {
                    throw SafeTensorsError(
                        file: name, tensor: tensorName,
                        "\(info.dtype.rawValue) holds floating-point values; read it as Double or Float")
                }
                if info.dtype == .bool, value > 1 {
                    throw SafeTensorsError(
                        file: name, tensor: tensorName, "element \(index) of BOOL is \(value), not 0 or 1")
                }
                scalars.append(Int(value))
            }
            return Tensor(shape: info.shape, scalars: scalars)
        }
    }

    /// Shared body of `doubles` and `floats`: an integer converts only if `T` holds it exactly,
    /// that is `|v| ≤ 2^(T.significandBitCount + 1)`.
    /// `rows` limits the read to a run of the outermost axis (nil: the whole tensor).
    private func realTensor<T: BinaryFloatingPoint & Sendable>(
        _ tensorName: String, as type: T.Type, rows: Range<Int>? = nil
    ) throws(SafeTensorsError) -> Tensor<T> {
        try withBytes(of: tensorName) { info, bytes throws(SafeTensorsError) in
            let reader = ElementReader(dtype: info.dtype, bytes: bytes)
            guard info.dtype != .bool else {
                throw SafeTensorsError(file: name, tensor: tensorName, "BOOL holds truth values; read it as Int")
            }
            var shape = info.shape
            var elements = 0..<reader.count
            if let rows {
                guard let outer = shape.first, rows.lowerBound >= 0, rows.upperBound <= outer else {
                    throw SafeTensorsError(
                        file: name, tensor: tensorName,
                        "rows \(rows) out of range for shape \(Shape.describe(info.shape))")
                }
                let inner = reader.count / max(outer, 1)
                shape[0] = rows.count
                elements = (rows.lowerBound * inner)..<(rows.upperBound * inner)
            }
            let exactBits = T.significandBitCount + 1
            var scalars: [T] = []
            scalars.reserveCapacity(elements.count)
            for index in elements {
                if let value = reader.floatingPoint(index) {
                    scalars.append(T(value))
                } else if let value = reader.integer(index), value.magnitude <= UInt64(1) << exactBits {
                    scalars.append(T(value))
                } else {
                    throw SafeTensorsError(
                        file: name, tensor: tensorName,
                        "element \(index) of \(info.dtype.rawValue) is \(reader.integer(index) ?? 0), "
                            + "which \(T.self) cannot hold exactly (|v| > 2^\(exactBits))")
                }
            }
            return Tensor(shape: shape, scalars: scalars)
        }
    }
}
