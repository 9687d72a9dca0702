// One decoder layer through a backend, nothing compared: the unit `assay bench` times. The same op sequence as a
// chained diff (DiffEngine.swift), so what is timed is what is validated.

import MistralSmall4
import Tensor

extension DiffEngine {
    /// Decoder layer `index` of `backend` on `hidden [B·S, H]` at `inputs`' positions; returns `[B·S, H]`. With
    /// `caches` (one per sequence, S = 1), attention decodes over them instead of running a prefill.
    public static func decoderLayer(_ backend: any Backend, index: Int, hidden: Tensor<Double>, inputs: ForwardInputs,
                                    config: ModelConfig, store: any WeightStore, caches: [LatentCache]? = nil) throws
        -> Tensor<Double>
    {
        let data = GoldenData(config: config, profile: .exact, store: store, cases: [], origin: "bench")
        let golden = GoldenCaseData(name: "bench", inputs: inputs, images: nil, taps: [], golden: TapTable(source: "none"))
        let run = CaseRun(backend: backend, data: data, golden: golden, mode: .chained, wanted: { _ in false })
        run.caches = caches
        let shape = [inputs.batch, inputs.length, config.text.hiddenSize]
        run.seed("input", hidden.reshaped(shape))
        let output = try run.layer(index, input: "input", shape: shape)
        if let why = run.uncovered.values.first { throw GoldenError(file: "bench", tensor: output, why) }
        return try run.own(output).reshaped([shape[0] * shape[1], shape[2]])
    }
}
