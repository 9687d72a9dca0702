// `assay explore`: what-if configs. The figures of `explain` for a preset with fields changed, side by side with the
// original, and with --run the reference executed on the change carried over to `tiny` (spec/explain.md §6).
//
// Goals, in order: a combination the model cannot have is refused with the rule it breaks (the config validation
// every config.json goes through); then the side-by-side table, or --json.

import ArgumentParser
import MistralSmall4
import Tensor

struct ExploreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explore",
        abstract: "Change config fields and compare parameters, FLOPs, bytes and cache with the original.",
        discussion: """
            --set FIELD=VALUE names a config.json field: a bare name is looked up in text_config, then its \
            rope_parameters, then the top level, then vision_config; vision_config.FIELD is explicit. The changed \
            config is validated like any config.json. --run carries the change over to the tiny preset (a number \
            that differs between the preset and tiny is scaled by new/old) and runs the reference on it.
            """)

    @Option(help: "The preset to change: \(ParamsCommand.presetNames).")
    var preset = Preset.full.rawValue

    @Option(name: .customLong("set"), help: "FIELD=VALUE, repeatable, applied in order.")
    var changes: [String] = []

    @OptionGroup var costs: CostOptions

    @Flag(name: .customLong("run"), help: "Also run the reference on the change carried over to tiny (8 tokens).")
    var runReference = false

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        _ = try Preset.named(preset)
        guard !changes.isEmpty else { throw ValidationError("give at least one --set FIELD=VALUE") }
    }

    func run() throws {
        let base = try Preset.named(preset)
        let overrides = try changes.map { (text) throws(ConfigError) in try ConfigOverride(parsing: text) }
        let explain = { (config: ModelConfig) throws in
            try Explanation(config: config, costs: costs,
                            layer: (0..<config.text.numHiddenLayers).first(where: config.text.isMoELayer) ?? 0,
                            image: nil, machine: nil)
        }
        let original = try explain(try base.load()), modified = try explain(try base.load(overrides: overrides))
        let scaled = runReference ? try base.tinyScaled(overrides) : nil
        let statistics = try scaled.map { try TapStatistics.forward(store: SyntheticWeightStore(config: $0, seed: 0), tokens: 8) }
        if let statistics, let bad = statistics.first(where: { !$0.rms.isFinite || !$0.maxAbs.isFinite }) {
            print("explore --run: tap \(bad.tap) of the tiny-scaled config is not finite (rms \(bad.rms))")
            throw ExitCode(1)
        }
        print(json ? report(original, modified, scaled: scaled, statistics: statistics).serialized(pretty: true)
                   : table(original, modified, scaled: scaled, statistics: statistics))
    }

    func table(_ original: Explanation, _ modified: Explanation, scaled: ModelConfig?, statistics: [TapStatistics]?) -> String {
        var lines = ["What if: \(modified.config.source.fileName)", "",
                     pad("", 46) + pad("original", 16, right: true) + pad("modified", 16, right: true)
                     + pad("ratio", 10, right: true)]
        for (a, b) in zip(original.summary, modified.summary) {
            lines.append(pad(a.name, 46) + pad(engineering(a.value), 16, right: true)
                         + pad(engineering(b.value), 16, right: true) + pad(twoDecimals(b.value / a.value), 10, right: true))
        }
        if let scaled, let statistics {
            let last = statistics.last!
            lines += ["", "Ran the reference on \(scaled.source.fileName): \(statistics.count) taps, all finite; "
                      + "\(last.tap) \(Shape.describe(last.shape)) rms \(twoDecimals(last.rms))"]
        }
        return lines.joined(separator: "\n")
    }

    func report(_ original: Explanation, _ modified: Explanation, scaled: ModelConfig?, statistics: [TapStatistics]?) -> JSONValue {
        func figures(_ e: Explanation) -> JSONValue {
            .object(e.summary.map { (String($0.name.map { $0 == " " ? "_" : $0 }), .number("\($0.value)")) })
        }
        var members: [(key: String, value: JSONValue)] = [
            ("modified", .string(modified.config.source.fileName)),
            ("original_figures", figures(original)), ("modified_figures", figures(modified)),
        ]
        if let scaled, let statistics {
            members.append(("run", .object([("config", .string(scaled.source.fileName)), ("taps", .int(statistics.count))])))
        }
        return .object(members)
    }
}
