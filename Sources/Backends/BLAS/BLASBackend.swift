// The OpenBLAS backend: every spec op in float32 with float32 accumulation, attention products and the remaining
// linears through cblas_sgemm, the weight linears of attention and the MLPs through the panel GEMM where the CPU
// runs it (PanelGEMM.swift) — what a CPU kernel author would write, diffed by `assay diff --backend blas`.
// Attention: BLASAttention.swift; routed experts: BLASExperts.swift; vision: BLASVision.swift.

#if canImport(Glibc)
import Glibc
#endif
import MistralSmall4
import Tensor

/// Float32 CPU kernels over OpenBLAS.
public struct BLASBackend: Backend {
    /// Float32 weights kept between calls (`assay bench`), or nil: converted from the store on every call.
    let cache: KeyedMemo<Any>?

    /// `cachingWeights`: keep every converted weight (for repeated runs over one store; never for a diff).
    public init(cachingWeights: Bool = false) {
        cache = cachingWeights ? KeyedMemo() : nil
    }

    /// What `convert` makes from the store, kept under `key` when caching (keys are module names, one kind of
    /// value each).
    func weights<T>(_ key: String, _ convert: () throws -> T) rethrows -> T {
        guard let cache else { return try convert() }
        return try cache.value(key) { try convert() } as? T ?? convert()
    }

    /// Bytes a weight linear streams per weight of a synthetic or BF16 model: 2 where the panel kernel runs (every
    /// weight is a bf16 value, so its panels are bf16), 4 where sgemm multiplies float32 weights.
    public static var streamedBytesPerWeight: Int { LinearWeight.panelsAvailable ? 2 : 4 }

    public var name: String { "blas" }
    public var precision: CandidatePrecision { .f32 }
    public var operations: Set<SpecOp> { Set(SpecOp.allCases) }

    /// spec/decoder.md eq. (1): the rows, as float32.
    public func embedding(_ ids: [Int], table: String, store: any WeightStore) throws -> Tensor<Double> {
        var rows = [Float]()
        for id in ids { rows += Matrix(try store.rows(table, id..<(id + 1))).values }
        return Matrix(rows: ids.count, cols: rows.count / max(ids.count, 1), values: rows).tensor()
    }

    public func rmsNorm(_ x: Tensor<Double>, weight: Tensor<Double>, epsilon: Double) throws -> Tensor<Double> {
        Kernels.rmsNorm(Matrix(x), weight: Matrix(weight).values, epsilon: Float(epsilon)).tensor(x.shape)
    }

    public func add(_ a: Tensor<Double>, _ b: Tensor<Double>) throws -> Tensor<Double> {
        Tensor(shape: a.shape, scalars: zip(a.scalars, b.scalars).map { Double(Float($0) + Float($1)) })
    }

    /// spec/router.md: the logits by sgemm; the selection (softmax, groups, top-k with ties to the lower id,
    /// renormalization) is the reference's own `Router.select`, run on the float32 logits — a handful of scalars
    /// per token, and the one place those rules are written.
    public func router(_ x: Tensor<Double>, weight: Tensor<Double>, config: TextConfig) throws -> Routing {
        let logits = Kernels.linear(Matrix(x), Matrix(weight)).tensor()                        // [T, E]
        var routing = Router(weight: weight, config: config).select(logits)
        routing.weights = routing.weights.map { Double(Float($0)) }
        return routing
    }

    public func swiglu(_ x: Tensor<Double>, store: any WeightStore, prefix: String) throws -> Tensor<Double> {
        let w = try weights(prefix) {
            let mlp = try SwiGLU(store, prefix: prefix)
            return [ProjectionWeight(try mlp.fusedGateUp(backend: name, op: .swiglu)), ProjectionWeight(mlp.down)]
        }
        return Self.swiglu(Matrix(x), gateUp: w[0], down: w[1]).tensor()
    }

    /// spec/experts.md eq. (1): `x [T, H]`, gate|up [2I, H], down [H, I] -> [T, H].
    static func swiglu(_ x: Matrix, gateUp: ProjectionWeight, down: ProjectionWeight) -> Matrix {
        Kernels.linear(Kernels.gatedSiLU(Kernels.linear(x, gateUp)), down)
    }

    /// spec/decoder.md eq. (5), one sgemm per block of `vocabularyBlocks`.
    public func lmHead(_ x: Tensor<Double>, name: String, store: any WeightStore) throws -> Tensor<Double> {
        let input = Matrix(x)
        let vocab = store.config.text.vocabSize
        var logits = Matrix(rows: input.rows, cols: vocab)
        for rows in vocabularyBlocks(vocab) {
            let part = Kernels.linear(input, Matrix(try store.rows(name, rows)))                 // [T, rows]
            for t in 0..<input.rows {
                for (column, v) in rows.enumerated() { logits.values[t * vocab + v] = part.values[t * rows.count + column] }
            }
        }
        return logits.tensor()
    }

    /// spec/projector.md eq. (2)–(3): the reference's channel order (v[c·s² + a·s + b]), then one sgemm.
    public func patchMerger(_ x: Tensor<Double>, weight: Tensor<Double>, mergeSize: Int, grids: PatchGrids)
        throws -> Tensor<Double>
    {
        let unfolded = PatchMerger.unfold(x, grids: grids, mergeSize: mergeSize)
        return Kernels.linear(Matrix(unfolded), Matrix(weight)).tensor()
    }

    /// spec/projector.md eq. (4)–(5).
    public func projectorMLP(_ x: Tensor<Double>, linear1: Tensor<Double>, bias1: Tensor<Double>?, linear2: Tensor<Double>,
                             bias2: Tensor<Double>?) throws -> Tensor<Double> {
        var up = Kernels.linear(Matrix(x), Matrix(linear1), bias: bias1.map { Matrix($0).values })
        up.values = up.values.map { u in u * 0.5 * (1 + erff(u * 0.70710678)) }
        return Kernels.linear(up, Matrix(linear2), bias: bias2.map { Matrix($0).values }).tensor()
    }
}
