import Testing
import Tensor

@Suite struct TensorTests {
    let t = Tensor(shape: [2, 3, 4], scalars: (0..<24).map(Double.init))

    @Test func indexingIsRowMajor() {
        #expect(t.strides == [12, 4, 1])
        #expect(t[0, 0, 0] == 0 && t[0, 0, 3] == 3 && t[0, 1, 0] == 4 && t[1, 0, 0] == 12 && t[1, 2, 3] == 23)
        #expect(t.offset([1, 2, 1]) == 21)
        var u = t
        u[1, 1, 1] = -1
        #expect(u.scalars[17] == -1 && t.scalars[17] == 17)  // value semantics
    }

    @Test func reshapeKeepsOrderAndSliceTakesOuterRows() {
        #expect(t.reshaped([6, 4])[5, 3] == 23)
        let s = t.slice(1..<2)
        #expect(s.shape == [1, 3, 4] && s.scalars == (12..<24).map(Double.init))
        #expect(t.slice(0..<0).shape == [0, 3, 4])
    }

    @Test func transposeSwapsAxes() {
        let m = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let mt = m.transposed()
        #expect(mt.shape == [3, 2] && mt.scalars == [1, 4, 2, 5, 3, 6])
        #expect(mt.transposed() == m)
    }

    @Test func scalarsAndEmptyShapes() {
        let scalar = Tensor(shape: [], scalars: [7.0])
        #expect(scalar.count == 1 && scalar.rank == 0 && scalar.offset([]) == 0)
        #expect(Tensor<Float>(shape: [3, 0], repeating: 1).count == 0)
        #expect(t.map { Float($0) * 2 }[1, 2, 3] == 46)
    }

    @Test func elementCountReportsOverflowAndNegatives() {
        #expect(Shape.elementCount([2, 3, 4]) == 24)
        #expect(Shape.elementCount([]) == 1)
        #expect(Shape.elementCount([1 << 32, 1 << 32]) == nil)
        #expect(Shape.elementCount([4, -1]) == nil)
        #expect(Shape.describe([2, 3]) == "[2, 3]")
    }
}
