// What `assay explain` prints, as tables or JSON; `assay explore` prints its summary side by side for two configs.

import MistralSmall4
import Tensor
import Validation

/// Everything `explain` reports about one config.
struct Explanation {
    let config: ModelConfig
    let tokens: Int
    let context: Int
    let batch: Int
    let layer: Int
    let image: (height: Int, width: Int)?
    let model: CostModel
    let counts: ParameterCounts
    let prefillSteps: [TraceStep]
    let decodeSteps: [TraceStep]
    let visionSteps: [TraceStep]?
    let prefill: ForwardCost
    let decode: ForwardCost
    let rooflines: [Roofline]

    init(config: ModelConfig, costs: CostOptions, layer: Int, image: (height: Int, width: Int)?, machine: Roofline?) throws {
        self.config = config
        (tokens, context, batch, self.layer, self.image) = (costs.tokens, costs.context, costs.batch, layer, image)
        model = CostModel(config, format: costs.weights)
        counts = ParameterCounts(config)
        prefillSteps = model.trace.decoderLayer(layer, span: TokenSpan(tokens: tokens), algorithm: .expanded)
        decodeSteps = model.trace.decoderLayer(layer, span: TokenSpan(start: context - 1, tokens: 1, batch: batch),
                                               algorithm: .absorbed)
        let trace = model.trace
        visionSteps = image.flatMap { trace.visionPath(height: $0.height, width: $0.width, allBlocks: false) }
        prefill = model.prefill(tokens: tokens)
        decode = model.decode(context: context, batch: batch)
        rooflines = [machine, .h100].compactMap { $0 }
    }

    var text: TextConfig { config.text }

    /// The figures `explore` compares, in order: name and value.
    var summary: [(name: String, value: Double)] {
        [("total parameters", Double(counts.total)),
         ("active parameters per token", Double(counts.active)),
         ("prefill FLOPs per token", prefill.flopsPerToken),
         ("prefill bytes per token", prefill.bytesPerToken),
         ("decode FLOPs per token", decode.flopsPerToken),
         ("decode bytes per token", decode.bytesPerToken),
         ("decode FLOPs per byte", decode.intensity),
         ("latent cache values per token", Double(model.latentCacheValuesPerToken)),
         ("latent cache bytes per sequence at context", Double(model.latentCacheValuesPerToken * model.cacheBytesPerValue * context))]
    }

    // MARK: Tables

    func tables(statistics: [TapStatistics]?) -> String {
        var lines = ["Mistral Small 4 explained: \(config.source.fileName), \(text.numHiddenLayers) layers, hidden "
                     + "\(text.hiddenSize), \(model.format.rawValue) weights", ""]
        lines += ["Decoder layer \(layer), prefill of \(tokens) tokens (attention expanded, spec/attention.md eq. 1-8)"]
        lines += traceTable(prefillSteps, perRow: tokens)
        lines += ["", "The same layer in a decode step: \(batch) × 1 token at context \(context) (attention absorbed, "
                  + "eq. 9-10); the rows that differ"]
        let changed = decodeSteps.filter { step in !prefillSteps.contains { $0.module == step.module && $0.operation == step.operation } }
        lines += traceTable(changed, perRow: batch)
        if let visionSteps, let image {
            lines += ["", "Vision path, one \(image.height)×\(image.width) image (one of the tower's "
                      + "\(config.multimodal!.vision.numHiddenLayers) blocks shown; spec/vision.md, spec/projector.md)"]
            lines += traceTable(visionSteps, perRow: nil)
        }
        lines += ["", pad("Parameters per component", 26) + pad("total", 18, right: true)
                  + pad("active per token", 20, right: true) + "   (assay params: the counting conventions)"]
        for c in counts.components where c.total > 0 {
            lines.append(pad("  " + c.component.rawValue, 26) + pad(grouped(c.total), 18, right: true)
                         + pad(grouped(c.activePerToken), 20, right: true))
        }
        lines += ["", "Per token, whole text decoder" + pad("prefill \(tokens)", 22, right: true)
                  + pad("decode ctx \(context) ×\(batch)", 24, right: true)]
        for (name, a, b) in costRows { lines.append(pad(name, 30) + pad(a, 22, right: true) + pad(b, 24, right: true)) }
        let multiHead = model.multiHeadCacheValuesPerToken, latent = model.latentCacheValuesPerToken
        lines += ["", "Latent cache: \(text.latentCacheWidth) values × \(text.numHiddenLayers) layers = "
                  + "\(grouped(latent)) values (\(grouped(latent * model.cacheBytesPerValue)) bytes bf16) per token; "
                  + "multi-head K/V would hold \(grouped(multiHead)) (\(twoDecimals(Double(multiHead) / Double(latent)))×)"]
        lines += ["", "Rooflines" + pad("FLOP/s", 40, right: true) + pad("bytes/s", 10, right: true)
                  + pad("ridge", 8, right: true) + pad("prefill", 22, right: true) + pad("decode", 22, right: true)]
        for roof in rooflines {
            lines.append(pad(roof.name, 43) + pad(engineering(roof.flopsPerSecond), 6, right: true)
                         + pad(engineering(roof.bytesPerSecond), 10, right: true) + pad(engineering(roof.ridge), 8, right: true)
                         + pad(verdict(roof, prefill), 22, right: true) + pad(verdict(roof, decode), 22, right: true))
        }
        if let statistics {
            lines += ["", "Measured: the reference on \(config.source.fileName)'s synthetic weights, \(tokens) tokens",
                      pad("tap", 56) + pad("shape", 18) + pad("mean", 11, right: true) + pad("rms", 11, right: true)
                      + pad("max |x|", 11, right: true)]
            for s in statistics {
                lines.append(pad(s.tap, 56) + pad(Shape.describe(s.shape), 18) + pad(scientific(s.mean), 11, right: true)
                             + pad(scientific(s.rms), 11, right: true) + pad(scientific(s.maxAbs), 11, right: true))
            }
        }
        return lines.map { String($0.reversed().drop { $0 == " " }.reversed()) }.joined(separator: "\n")
    }

    /// One line per step; multiply-adds per row (token) when `perRow` is given, in total otherwise.
    func traceTable(_ steps: [TraceStep], perRow: Int?) -> [String] {
        let width = steps.map(\.module.count).max().map { $0 + 2 } ?? 8
        var lines = [pad("module", width) + pad("op", 28) + pad("input → output", 34) + pad("params", 14, right: true)
                     + pad(perRow == nil ? "FLOPs" : "FLOPs/token", 12, right: true)]
        for step in steps {
            let flops = 2 * Double(step.multiplyAdds) / Double(perRow ?? 1)
            lines.append(pad(step.module, width) + pad(step.operation, 28)
                         + pad(Shape.describe(step.input) + " → " + Shape.describe(step.output), 34)
                         + pad(step.parameters == 0 ? "" : engineering(Double(step.parameters)), 14, right: true)
                         + pad(flops == 0 ? "" : engineering(flops), 12, right: true))
        }
        return lines
    }

    var costRows: [(String, String, String)] {
        func both(_ f: (ForwardCost) -> Double) -> (String, String) { (engineering(f(prefill)), engineering(f(decode))) }
        let rows: [(String, (ForwardCost) -> Double)] = [
            ("FLOPs", \.flopsPerToken),
            ("  of linears", { 2 * Double($0.weightMultiplyAdds) / Double($0.tokens) }),
            ("  of attention products", { 2 * Double($0.attentionMultiplyAdds) / Double($0.tokens) }),
            ("bytes", \.bytesPerToken),
            ("  weights read", { $0.weightBytes / Double($0.tokens) }),
            ("  latent cache read", { Double($0.cacheReadBytes) / Double($0.tokens) }),
            ("  latent cache written", { Double($0.cacheWriteBytes) / Double($0.tokens) }),
            ("FLOPs per byte", \.intensity),
        ]
        return rows.map { row in let (a, b) = both(row.1); return (row.0, a, b) }
    }

    /// `memory-bound, ≥ 1.2 ms/token`.
    func verdict(_ roof: Roofline, _ cost: ForwardCost) -> String {
        "\(roof.bound(cost)), ≥ \(duration(roof.secondsPerToken(cost)))"
    }

    // MARK: JSON

    func json(statistics: [TapStatistics]?) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("source", .string(config.source.fileName)),
            ("tokens", .int(tokens)), ("context", .int(context)), ("batch", .int(batch)),
            ("weights", .string(model.format.rawValue)),
            ("layer", .object([("index", .int(layer)), ("prefill", stepsJSON(prefillSteps)),
                               ("decode", stepsJSON(decodeSteps))])),
            ("vision", visionSteps.map { steps in
                .object([("image", .array([.int(image!.height), .int(image!.width)])), ("steps", stepsJSON(steps))])
            } ?? .null),
            ("parameters", .object([("total", .int(counts.total)), ("active", .int(counts.active))]
                                   + counts.components.map { ($0.component.rawValue, .int($0.total)) })),
            ("prefill", costJSON(prefill)),
            ("decode", costJSON(decode)),
            ("latent_cache_values_per_token", .int(model.latentCacheValuesPerToken)),
            ("latent_cache_bytes_per_token", .int(model.latentCacheValuesPerToken * model.cacheBytesPerValue)),
            ("multi_head_cache_values_per_token", .int(model.multiHeadCacheValuesPerToken)),
            ("rooflines", .array(rooflines.map { roof in
                .object([("name", .string(roof.name)), ("flops_per_second", .number("\(roof.flopsPerSecond)")),
                         ("bytes_per_second", .number("\(roof.bytesPerSecond)")), ("ridge", .number("\(roof.ridge)")),
                         ("prefill_bound", .string(roof.bound(prefill))),
                         ("prefill_seconds_per_token", .number("\(roof.secondsPerToken(prefill))")),
                         ("decode_bound", .string(roof.bound(decode))),
                         ("decode_seconds_per_token", .number("\(roof.secondsPerToken(decode))"))])
            })),
        ]
        if let statistics {
            members.append(("run", .array(statistics.map { s in
                .object([("tap", .string(s.tap)), ("shape", .array(s.shape.map(JSONValue.int))),
                         ("mean", .number("\(s.mean)")), ("rms", .number("\(s.rms)")), ("max_abs", .number("\(s.maxAbs)"))])
            })))
        }
        return .object(members)
    }

    func stepsJSON(_ steps: [TraceStep]) -> JSONValue {
        .array(steps.map { step in
            .object([("module", .string(step.module)), ("operation", .string(step.operation)),
                     ("input", .array(step.input.map(JSONValue.int))), ("output", .array(step.output.map(JSONValue.int))),
                     ("parameters", .int(step.parameters)), ("multiply_adds", .int(step.multiplyAdds))])
        })
    }

    func costJSON(_ cost: ForwardCost) -> JSONValue {
        .object([("tokens", .int(cost.tokens)), ("linear_multiply_adds", .int(cost.weightMultiplyAdds)),
                 ("attention_multiply_adds", .int(cost.attentionMultiplyAdds)),
                 ("flops_per_token", .number("\(cost.flopsPerToken)")), ("weight_bytes", .number("\(cost.weightBytes)")),
                 ("cache_read_bytes", .int(cost.cacheReadBytes)), ("cache_write_bytes", .int(cost.cacheWriteBytes)),
                 ("bytes_per_token", .number("\(cost.bytesPerToken)")), ("flops_per_byte", .number("\(cost.intensity)"))])
    }
}

/// One tap of a real forward: its shape and the statistics `explain --run` prints.
struct TapStatistics {
    let tap: String
    let shape: [Int]
    let mean: Double
    let rms: Double
    let maxAbs: Double

    /// The reference's taps for `tokens` tokens (batch 1, positions 0…, ids spread over the vocabulary).
    static func forward(store: any WeightStore, tokens: Int) throws -> [TapStatistics] {
        let text = store.config.text
        let inputs = try ForwardInputs(inputIds: Tensor(shape: [1, tokens], scalars: (0..<tokens).map { ($0 * 37 + 11) % text.vocabSize }),
                                       config: text)
        let recorder = TapRecorder()
        try TextDecoder(store: store).forward(inputs, taps: recorder)
        return recorder.taps.map { tap in
            let values: [Double] = switch tap.value {
            case .real(let t): t.scalars
            case .integer(let t): t.scalars.map(Double.init)
            }
            let count = Double(max(values.count, 1))
            return TapStatistics(tap: tap.name, shape: tap.value.shape, mean: values.reduce(0, +) / count,
                                 rms: (values.reduce(0) { $0 + $1 * $1 } / count).squareRoot(),
                                 maxAbs: values.map(abs).max() ?? 0)
        }
    }
}
