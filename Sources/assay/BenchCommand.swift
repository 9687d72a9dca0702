// `assay bench`: one MoE decoder layer of a backend timed for prefills and a decode step, with the linears'
// throughput against the machine's measured sgemm rate. Figures, not tests: Tools/bench_torch.py runs the same
// layer in PyTorch eager and prints the ratio.

import ArgumentParser
import Backends
import MistralSmall4
import Tensor
import Validation

#if canImport(Glibc)
import Glibc
#endif

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time one MoE decoder layer of a backend: prefills of N tokens and one decode step over a latent cache.",
        discussion: """
            The layer is the preset's first MoE layer on synthetic weights (seed 0), run through the same backend \
            ops as `assay diff` (DiffEngine.decoderLayer). A warm-up run converts and keeps the weights (the \
            backend's own cache; non-expert weights memoized as float64), then the median of --repeats runs is \
            reported: seconds, tokens/s, the linears' GFLOP/s over the whole layer's time (a lower bound of their \
            own rate) and its share of a 2048³ sgemm measured in the same run (on the OpenBLAS core named in the \
            output; assay replaces a generic one, see OPENBLAS_VERBOSE=2), the rate inside the backend's own \
            GEMM calls (blas: sgemm and the panel GEMM), peak RSS. The decode step is one \
            token at position C over a latent cache of C random rows. The reference backend is float64 and slow: \
            use small presets with it.
            """)

    @Option(help: "The backend: \(BackendRegistry.names).")
    var backend: String

    @Option(help: "The preset: \(ParamsCommand.presetNames).")
    var preset: String = Preset.fullShapeL1.rawValue

    @Option(parsing: .upToNextOption, help: "Prefill lengths (one sequence each).")
    var tokens: [Int] = [32]

    @Option(help: "Latent cache rows for the decode step (0: no decode step).")
    var context = 4096

    @Option(help: "Threads (OpenBLAS and the reference's own); default: all cores.")
    var threads: Int?

    @Option(help: "Timed runs per figure (the median is reported).")
    var repeats = 3

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        _ = try Preset.named(preset)
        guard tokens.allSatisfy({ $0 > 0 }), !tokens.isEmpty else { throw ValidationError("--tokens must be at least 1") }
        guard context >= 0, repeats >= 1 else { throw ValidationError("--context must be ≥ 0 and --repeats ≥ 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let threads = self.threads ?? ComputeThreads.online
        ComputeThreads.limit(to: threads)
        OpenBLAS.setThreads(threads)
        let config = try Preset.named(preset).load()
        let text = config.text
        guard let layer = (0..<text.numHiddenLayers).first(where: text.isMoELayer) else {
            throw ValidationError("preset \(preset) has no MoE layer")
        }
        let chosen = try BackendRegistry.backend(backend, profile: .exact, reusingWeights: true)
        let store = MemoizedWeightStore(SyntheticWeightStore(config: config, seed: 0))
        let peak = OpenBLAS.sgemmGFLOPs()
        let anchors = MachineAnchors(threads: threads)
        let trace = ShapeTrace(config)
        let weightBytes = BLASBackend.streamedBytesPerWeight          // the bound's bytes: bf16 panels, or float32
        var seconds = [(key: String, value: Double)]()
        var gemmRates = [(key: String, value: Double)](), work = [String: (flops: Double, bytes: Double)]()
        let reporter = progress.reporter("bench \(backend)")   // a warm-up and the timed runs per figure
        reporter.plan(cases: tokens.count + (context > 0 ? 1 : 0), steps: repeats + 1, noun: "run")
        defer { reporter.finish() }
        for (index, n) in tokens.enumerated() {
            reporter.begin(case: "prefill \(n)", index: index)
            let inputs = try ForwardInputs(inputIds: Tensor(shape: [1, n], repeating: 0), config: text)
            let hidden = Self.hidden(rows: n, width: text.hiddenSize)
            let time = try median(reporter) {
                try DiffEngine.decoderLayer(chosen, index: layer, hidden: hidden, inputs: inputs, store: store)
            }
            seconds.append(("prefill_\(n)", time))
            let gemm = GEMMMeter.take()
            if gemm.seconds > 0 { gemmRates.append(("prefill_\(n)", gemm.flops / gemm.seconds / 1e9)) }
            let multiplyAdds = trace.weightMultiplyAdds(layer: layer, span: TokenSpan(tokens: n))
            work["prefill_\(n)"] = (2 * Double(multiplyAdds), trace.weightBytes(layer: layer, span: TokenSpan(tokens: n),
                                                                                 bytesPerWeight: weightBytes))
        }
        if context > 0 {
            let inputs = try ForwardInputs(inputIds: Tensor(shape: [1, 1], repeating: 0),
                                           positionIds: Tensor(shape: [1, 1], scalars: [context]), config: text)
            let caches = [Self.cache(rows: context, config: text)]
            reporter.begin(case: "decode", index: tokens.count)
            let time = try median(reporter) { try DiffEngine.decoderLayer(chosen, index: layer, hidden: Self.hidden(rows: 1, width: text.hiddenSize),
                                                                inputs: inputs, store: store, caches: caches) }
            seconds.append(("decode", time))
            _ = GEMMMeter.take()
            // A decode step attends over the latent cache (absorbed, spec/attention.md eq. 9–10): kv_b is folded into
            // the query, never run over the cached rows as the expanded prefill runs it.
            let span = TokenSpan(start: context, tokens: 1)
            work["decode"] = (2 * Double(trace.weightMultiplyAdds(layer: layer, span: span, algorithm: .absorbed)),
                              trace.weightBytes(layer: layer, span: span, bytesPerWeight: weightBytes,
                                                algorithm: .absorbed))
        }
        report(seconds: seconds, gemmRates: gemmRates, peak: peak, anchors: anchors,
               work: work, layer: layer, threads: threads)
    }

    /// The median seconds of `repeats` runs of `body`, after one warm-up run (the GEMM meter counts the timed runs);
    /// `progress` hears each run end.
    private func median(_ progress: RunProgress, _ body: () throws -> Tensor<Double>) throws -> Double {
        _ = try body()
        progress.done(step: 0)
        _ = GEMMMeter.take()
        var samples = [Double]()
        for run in 1...repeats {
            let start = monotonicSeconds()
            _ = try body()
            samples.append(monotonicSeconds() - start)
            progress.done(step: run)
        }
        return samples.sorted()[samples.count / 2]
    }

    private func report(seconds: [(key: String, value: Double)],
                        gemmRates: [(key: String, value: Double)], peak: Double, anchors: MachineAnchors,
                        work: [String: (flops: Double, bytes: Double)], layer: Int, threads: Int) {
        let rss = peakResidentBytes()
        let bounds = work.mapValues { anchors.bound(flops: $0.flops, bytes: $0.bytes) }
        // The linears' GFLOP/s over the whole layer's time, for the prefill runs (decode's is in its bound).
        let linearRates = seconds.filter { $0.key.hasPrefix("prefill_") }.compactMap { key, time in
            work[key].map { (key: key, value: $0.flops / time / 1e9) }
        }
        if json {
            print(JSONValue.object([
                ("backend", .string(backend)), ("preset", .string(preset)), ("layer", .int(layer)),
                ("threads", .int(threads)), ("context", .int(context)), ("openblas_core", .string(OpenBLASCore.name)),
                ("openblas_core_replaced", OpenBLASCore.replaced.map(JSONValue.string) ?? .null),
                ("sgemm_peak_gflops", .number("\(peak)")),
                ("fma_peak_gflops", .number("\(anchors.fmaGFLOPs)")), ("fma_units", .string(anchors.fmaUnits)),
                ("read_gbytes_per_second", .number("\(anchors.readGBytesPerSecond)")),
                ("linear_bound", .object(bounds.sorted { $0.key < $1.key }.map { key, bound in
                    (key, .object([("kind", .string(bound.kind)), ("seconds", .number("\(bound.seconds)"))]))
                })),
                ("seconds", .object(seconds.map { ($0.key, .number("\($0.value)")) })),
                ("linear_gflops", .object(linearRates.map { ($0.key, .number("\($0.value)")) })),
                ("sgemm_call_gflops", .object(gemmRates.map { ($0.key, .number("\($0.value)")) })),
                ("peak_rss_bytes", .int(rss)),
            ]).serialized(pretty: false))
            return
        }
        print("bench \(backend): preset \(preset), layer \(layer) (MoE), \(threads) threads; sgemm 2048³ peak "
              + "\(twoDecimals(peak)) GFLOP/s on OpenBLAS core \(Self.coreDescription)")
        print("  anchors: FMA peak \(twoDecimals(anchors.fmaGFLOPs)) GFLOP/s (registers only, \(anchors.fmaUnits)), "
              + "memory read \(twoDecimals(anchors.readGBytesPerSecond)) GB/s; each shape's linears are bound by the "
              + "larger of FLOPs ÷ FMA peak and weight bytes (\(BLASBackend.streamedBytesPerWeight) a weight) ÷ read rate")
        for (key, time) in seconds {
            var line = "  \(pad(key, 14)) \(pad(twoDecimals(time * 1000), 10, right: true)) ms"
            if let n = Int(key.dropFirst("prefill_".count)), let rate = linearRates.first(where: { $0.key == key })?.value {
                line += "  \(pad(twoDecimals(Double(n) / time), 10, right: true)) tokens/s  linears "
                    + "\(twoDecimals(rate)) GFLOP/s = \(twoDecimals(rate / peak * 100))% of peak"
            }
            if let rate = gemmRates.first(where: { $0.key == key })?.value {
                line += "; inside GEMMs \(twoDecimals(rate)) GFLOP/s = \(twoDecimals(rate / peak * 100))%"
            }
            if let bound = bounds[key], let done = work[key] {
                line += "; \(bound.kind)-bound: the linears need ≥ \(twoDecimals(bound.seconds * 1000)) ms ("
                    + (bound.kind == "memory" ? "\(twoDecimals(done.bytes / 1e6)) MB of weights at the read rate"
                       : "\(twoDecimals(done.flops / 1e9)) GFLOP at the FMA peak")
                    + "), \(twoDecimals(bound.seconds / time * 100))% of this time"
            }
            print(line)
        }
        print("  peak RSS       \(twoDecimals(Double(rss) / Double(1 << 30))) GiB")
    }

    /// The OpenBLAS core the peak ran on, with the generic one it replaced: "Haswell", "SkylakeX (replacing
    /// Prescott)".
    static var coreDescription: String {
        OpenBLASCore.name + (OpenBLASCore.replaced.map { " (replacing \($0))" } ?? "")
    }

    /// Hidden states of a typical scale (standard normals × 0.5, Philox stream "bench.hidden"). [rows, width]
    static func hidden(rows: Int, width: Int) -> Tensor<Double> {
        Tensor(shape: [rows, width], scalars: TensorStream(seed: 0, name: "bench.hidden").normals(0..<(rows * width)).map { $0 * 0.5 })
    }

    /// A latent cache of `rows` visible random rows (Philox stream "bench.cache").
    static func cache(rows: Int, config: TextConfig) -> LatentCache {
        var cache = LatentCache(width: config.latentCacheWidth)
        let values = TensorStream(seed: 0, name: "bench.cache").normals(0..<(rows * cache.width))
        for r in 0..<rows { cache.append(values[(r * cache.width)..<((r + 1) * cache.width)], visible: true) }
        return cache
    }
}

/// The process's peak resident set size so far (getrusage; Linux reports KiB).
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

/// `x` with two decimals: `twoDecimals(3.14159)` is `"3.14"`.
func twoDecimals(_ x: Double) -> String { hundredthsText(Int((x * 100).rounded())) }
