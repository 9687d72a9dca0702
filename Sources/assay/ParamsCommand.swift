// `assay params`: the parameter counts of a preset or a config file, per component and per counting convention.
//
// Goals, in order: every figure comes from the tensor inventory (MistralSmall4's ParameterCounts), then output a
// person can scan (aligned tables) or a script can read (--json). A bad config prints one line and exits 1.

import ArgumentParser
import MistralSmall4
import Tensor

struct ParamsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "params",
        abstract: "Count the parameters of a preset or a config, per component and active per token.",
        discussion: """
            Active per token counts k/E of the routed experts and every other parameter in full. The headline \
            figure (active_parameters in --json) counts the text decoder and lm_head, not the embedding table \
            nor the vision tower and projector; the table lists all eight conventions. spec/model.md maps the \
            launch claims onto them.
            """)

    static let presetNames = Preset.allCases.map(\.rawValue).joined(separator: ", ")

    @Option(help: "A preset: \(presetNames).")
    var preset: String?

    @Option(help: "A config.json, a params.json, or a checkpoint directory holding one.")
    var config: String?

    @Flag(help: "Print one JSON object: total_parameters, active_parameters, components, active_by_convention.")
    var json = false

    @Flag(help: "Also list every parameter tensor: name, shape, component.")
    var tensors = false

    func validate() throws {
        guard (preset == nil) != (config == nil) else {
            throw ValidationError("give exactly one of --preset, --config")
        }
        if let preset { _ = try Preset.named(preset) }
    }

    func run() throws {
        let (model, label) = try chosenConfig()
        let counts = ParameterCounts(model)
        let inventory = TensorInventory(model)
        print(json ? jsonReport(counts, inventory, label: label) : tableReport(counts, inventory, label: label))
    }

    /// The config named on the command line, and how the report names it.
    func chosenConfig() throws -> (ModelConfig, String) {
        if let path = config { return (try ModelConfig.load(path: path), path) }
        guard let name = preset, let preset = Preset(rawValue: name) else {
            throw ValidationError("give exactly one of --preset, --config")
        }
        return (try preset.load(), "preset \(name)")
    }

    // MARK: Tables

    func tableReport(_ counts: ParameterCounts, _ inventory: TensorInventory, label: String) -> String {
        var lines = ["Mistral Small 4 parameters: \(label)", ""]
        lines.append(row("component", "tensors", "total", "active per token"))
        for c in counts.components {
            lines.append(row(c.component.rawValue, "\(c.tensors)", grouped(c.total), grouped(c.activePerToken)))
        }
        lines.append(row("total", "\(inventory.entries.count)", grouped(counts.total), ""))
        lines += ["", "Active per token, by what is counted besides the core",
                  "(core: attention, router, k/E of the routed experts, shared experts, dense MLPs, decoder norms)", ""]
        let width = CountingConvention.allCases.map(\.name.count).max()! + 2
        lines.append(pad("counted", width) + pad("active", 17, right: true))
        for convention in CountingConvention.allCases {
            let active = counts.active(convention)
            let mark = convention == .headline ? "   <- active_parameters" : ""
            lines.append(pad(convention.name, width) + pad(grouped(active), 17, right: true)
                + pad(abbreviated(active), 10, right: true) + mark)
        }
        if tensors {
            let nameWidth = inventory.entries.map(\.name.count).max()! + 2
            let shapeWidth = inventory.entries.map { Shape.describe($0.shape).count }.max()! + 2
            lines += ["", pad("tensor", nameWidth) + pad("shape", shapeWidth) + "component"]
            for entry in inventory.entries {
                let shape = Shape.describe(entry.shape)
                lines.append(pad(entry.name, nameWidth) + pad(shape, shapeWidth) + entry.component.rawValue)
            }
        }
        return lines.map { String($0.reversed().drop { $0 == " " }.reversed()) }.joined(separator: "\n")
    }

    func row(_ name: String, _ tensors: String, _ total: String, _ active: String) -> String {
        pad(name, 16) + pad(tensors, 8, right: true) + pad(total, 20, right: true) + pad(active, 20, right: true)
    }

    // MARK: JSON

    func jsonReport(_ counts: ParameterCounts, _ inventory: TensorInventory, label: String) -> String {
        let components = JSONValue.object(counts.components.map { c in
            (c.component.rawValue, .object([
                ("tensors", .int(c.tensors)), ("total", .int(c.total)), ("active_per_token", .int(c.activePerToken)),
            ]))
        })
        let conventions = JSONValue.array(CountingConvention.allCases.map { convention in
            .object([
                ("counted", .string(convention.name)),
                ("embedding_table", .bool(convention.embeddingTable)),
                ("lm_head", .bool(convention.lmHead)),
                ("vision_and_projector", .bool(convention.visionAndProjector)),
                ("active_parameters", .int(counts.active(convention))),
            ])
        })
        var members: [(key: String, value: JSONValue)] = [
            ("source", .string(label)),
            ("total_parameters", .int(counts.total)),
            ("active_parameters", .int(counts.active)),
            ("active_parameters_counted", .string(CountingConvention.headline.name)),
            ("components", components),
            ("active_by_convention", conventions),
        ]
        if tensors {
            members.append(("tensors", .array(inventory.entries.map { entry in
                .object([
                    ("name", .string(entry.name)),
                    ("shape", .array(entry.shape.map(JSONValue.int))),
                    ("component", .string(entry.component.rawValue)),
                ])
            })))
        }
        return JSONValue.object(members).serialized(pretty: true)
    }
}

extension Preset {
    /// The preset a `--preset` option names, or the usage error listing them all.
    static func named(_ name: String) throws -> Preset {
        guard let preset = Preset(rawValue: name) else {
            throw ValidationError("unknown preset '\(name)'; presets: \(ParamsCommand.presetNames)")
        }
        return preset
    }
}
