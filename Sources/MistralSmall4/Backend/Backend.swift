// Backend: the spec ops a compute backend implements, one call each, so `assay diff` can run any backend layer by
// layer against a golden set — spec/conformance.md §5 (the diff engine) and §6 (coverage).
//
// Goals, in order: one op per spec page section, with the inputs a kernel author would take (activations as
// tensors, weights as they sit in the checkpoint); an op a backend lacks says so by name (`BackendError`), so the
// diff reports it as not covered and never runs the reference in its place; then the fewest ops that still cover
// every tap.
//
// Values cross the boundary as float64 tensors whatever the backend computes in: a float32 backend's results are
// float32 values, exactly representable.

import Tensor

/// The precision a candidate (a backend, or a port's dump) computed in: it picks the limits of spec/tolerances.json.
public enum CandidatePrecision: String, Sendable, CaseIterable {
    case f64, f32, bf16
}

/// A backend cannot run an op: it does not implement it, or not for these shapes.
public struct BackendError: Error, CustomStringConvertible, Equatable, Sendable {
    public let backend: String
    public let op: SpecOp
    public let message: String
    /// True when the op is missing altogether (the diff then reports its taps as not covered).
    public let unsupported: Bool

    public init(backend: String, op: SpecOp, _ message: String, unsupported: Bool = false) {
        self.backend = backend
        self.op = op
        self.message = message
        self.unsupported = unsupported
    }

    public var description: String { "backend \(backend): op \(op.rawValue): \(message)" }
}

/// The image geometry an op needs: each image's patch grid, images' patches consecutive and row-major.
public typealias PatchGrids = [(rows: Int, cols: Int)]

/// A compute backend. Every op has a default that throws "not implemented", so a backend implements what it has
/// and `operations` lists exactly those.
public protocol Backend: Sendable {
    /// `reference`, `blas`, `cuda`, `plugin:NAME`.
    var name: String { get }
    /// What the backend computes in.
    var precision: CandidatePrecision { get }
    /// The ops it implements.
    var operations: Set<SpecOp> { get }

    /// `ids [T] -> [T, H]`, rows of the table `table` [V, H] in `store`.
    func embedding(_ ids: [Int], table: String, store: any WeightStore) throws -> Tensor<Double>
    /// `x [rows, width] -> [rows, width]`.
    func rmsNorm(_ x: Tensor<Double>, weight: Tensor<Double>, epsilon: Double) throws -> Tensor<Double>
    /// `a + b`, same shape.
    func add(_ a: Tensor<Double>, _ b: Tensor<Double>) throws -> Tensor<Double>
    /// A prefill of B sequences: `x [B·S, H]` (normed, batch-major), positions and mask from `inputs`, weights
    /// `prefix.*` (`….layers.{l}.self_attn`). Returns the output `[B·S, H]` and the latent cache rows
    /// `[B·S, r_kv + d_r]`.
    func mlaAttention(_ x: Tensor<Double>, inputs: ForwardInputs, store: any WeightStore, prefix: String)
        throws -> (output: Tensor<Double>, latents: Tensor<Double>)
    /// One new token per sequence: `x [B, H]` (normed) at `positions [B]`, `visible [B]` its mask entries, each
    /// appended to `caches[b]` and attending over everything cached. Returns `[B, H]` and the new cache rows
    /// `[B, r_kv + d_r]`.
    func mlaDecode(_ x: Tensor<Double>, positions: [Int], visible: [Bool], caches: inout [LatentCache],
                   store: any WeightStore, prefix: String) throws -> (output: Tensor<Double>, latents: Tensor<Double>)
    /// `x [T, H]`, `weight [E, H]` -> the routing of T tokens.
    func router(_ x: Tensor<Double>, weight: Tensor<Double>, config: TextConfig) throws -> Routing
    /// `x [T, H]` with `routing` -> `[T, H]`; experts `prefix.gate_up_proj` [E, 2I, H], `prefix.down_proj` [E, H, I].
    func routedExperts(_ x: Tensor<Double>, routing: Routing, store: any WeightStore, prefix: String)
        throws -> Tensor<Double>
    /// `x [T, width] -> [T, width]` through the SwiGLU MLP `prefix.{gate,up,down}_proj` (`….mlp`,
    /// `….mlp.shared_experts`, `….feed_forward`).
    func swiglu(_ x: Tensor<Double>, store: any WeightStore, prefix: String) throws -> Tensor<Double>
    /// `x [T, H] -> [T, V]` with the head `name` [V, H] in `store`.
    func lmHead(_ x: Tensor<Double>, name: String, store: any WeightStore) throws -> Tensor<Double>
    /// `pixels [N, C, H, W]`, `weight [Hv, C, p, p]` -> `[N, Hv, H/p, W/p]`.
    func patchEmbedding(_ pixels: Tensor<Double>, weight: Tensor<Double>) throws -> Tensor<Double>
    /// `x [P, Hv] -> [P, Hv]`, q/k rows of `weights` in native (interleaved-pair) order.
    func visionAttention(_ x: Tensor<Double>, weights: VisionAttentionWeights, config: VisionConfig, grids: PatchGrids)
        throws -> Tensor<Double>
    /// `x [P, Hv] -> [P/s², Hv]` with `weight [Hv, Hv·s²]`.
    func patchMerger(_ x: Tensor<Double>, weight: Tensor<Double>, mergeSize: Int, grids: PatchGrids)
        throws -> Tensor<Double>
    /// `x [M, Hv] -> [M, H]`: linear_1 [H, Hv], GELU, linear_2 [H, H]; biases optional.
    func projectorMLP(_ x: Tensor<Double>, linear1: Tensor<Double>, bias1: Tensor<Double>?, linear2: Tensor<Double>,
                      bias2: Tensor<Double>?) throws -> Tensor<Double>
}

extension Backend {
    /// The error of an op this backend lacks.
    public func missing(_ op: SpecOp) -> BackendError {
        BackendError(backend: name, op: op, "not implemented by this backend", unsupported: true)
    }

    public func embedding(_ ids: [Int], table: String, store: any WeightStore) throws -> Tensor<Double> {
        throw missing(.embedding)
    }
    public func rmsNorm(_ x: Tensor<Double>, weight: Tensor<Double>, epsilon: Double) throws -> Tensor<Double> {
        throw missing(.rmsNorm)
    }
    public func add(_ a: Tensor<Double>, _ b: Tensor<Double>) throws -> Tensor<Double> { throw missing(.add) }
    public func mlaAttention(_ x: Tensor<Double>, inputs: ForwardInputs, store: any WeightStore, prefix: String)
        throws -> (output: Tensor<Double>, latents: Tensor<Double>) { throw missing(.mlaAttention) }
    public func mlaDecode(_ x: Tensor<Double>, positions: [Int], visible: [Bool], caches: inout [LatentCache],
                          store: any WeightStore, prefix: String) throws
        -> (output: Tensor<Double>, latents: Tensor<Double>) { throw missing(.mlaDecode) }
    public func router(_ x: Tensor<Double>, weight: Tensor<Double>, config: TextConfig) throws -> Routing {
        throw missing(.router)
    }
    public func routedExperts(_ x: Tensor<Double>, routing: Routing, store: any WeightStore, prefix: String)
        throws -> Tensor<Double> { throw missing(.routedExperts) }
    public func swiglu(_ x: Tensor<Double>, store: any WeightStore, prefix: String) throws -> Tensor<Double> {
        throw missing(.swiglu)
    }
    public func lmHead(_ x: Tensor<Double>, name: String, store: any WeightStore) throws -> Tensor<Double> {
        throw missing(.lmHead)
    }
    public func patchEmbedding(_ pixels: Tensor<Double>, weight: Tensor<Double>) throws -> Tensor<Double> {
        throw missing(.patchEmbedding)
    }
    public func visionAttention(_ x: Tensor<Double>, weights: VisionAttentionWeights, config: VisionConfig,
                                grids: PatchGrids) throws -> Tensor<Double> { throw missing(.visionAttention) }
    public func patchMerger(_ x: Tensor<Double>, weight: Tensor<Double>, mergeSize: Int, grids: PatchGrids)
        throws -> Tensor<Double> { throw missing(.patchMerger) }
    public func projectorMLP(_ x: Tensor<Double>, linear1: Tensor<Double>, bias1: Tensor<Double>?,
                             linear2: Tensor<Double>, bias2: Tensor<Double>?) throws -> Tensor<Double> {
        throw missing(.projectorMLP)
    }
}

extension SwiGLU {
    /// Gate and up as one fused [2I, H] layer for a backend that multiplies them together (with a weight scale per
    /// half when theirs differ); an unsupported-op error naming `backend` when an FP8 checkpoint quantizes their
    /// input differently.
    public func fusedGateUp(backend: String, op: SpecOp) throws(BackendError) -> LinearLayer {
        guard let gateUp else {
            throw BackendError(backend: backend, op: op, "gate_proj and up_proj quantize their input "
                               + "differently (FP8 activation scales); this backend multiplies them fused, one "
                               + "quantized input for both",
                               unsupported: true)
        }
        return gateUp
    }
}
