// The spec and the code in step (spec/README.md): every op page has its parts, names Swift symbols that exist and
// golden taps that the committed sets hold, and every reference layer file cites a spec page that exists. A renamed
// symbol, a removed tap or a deleted page fails here, not in a reader's head.

import Foundation
import Testing

@Suite struct SpecBookTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The pages that define an op of the model.
    static let opPages = ["rmsnorm", "rope", "attention", "router", "experts", "decoder", "vision", "projector",
                          "preprocessing", "quant"]

    static func read(_ relative: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)
    }

    /// The Swift files under `folder`, relative to the root.
    static func swiftFiles(_ folder: String) throws -> [String] {
        let base = root.appendingPathComponent(folder)
        let walker = FileManager.default.enumerator(atPath: base.path)
        return (walker?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".swift") }.map { folder + "/" + $0 }.sorted()
    }

    /// Every name Sources/ and Tests/ declare: types, extensions, functions, properties, enum cases.
    static let declared: Set<String> = {
        let files = ((try? swiftFiles("Sources")) ?? []) + ((try? swiftFiles("Tests")) ?? [])
        let code = files.compactMap { try? read($0) }.joined(separator: "\n")
        let declaration = /(?:struct|enum|class|protocol|extension|typealias|actor|func|var|let|case)\s+([A-Za-z_][A-Za-z0-9_]*)/
        return Set(code.matches(of: declaration).map { String($0.1) })
    }()

    /// The text of the sections whose heading contains `title` (any level), up to the next heading of that level or
    /// higher.
    static func sections(_ title: String, of page: String) -> [String] {
        var found: [String] = []
        var current: (level: Int, lines: [String])?
        for line in page.split(separator: "\n", omittingEmptySubsequences: false) {
            let level = line.prefix { $0 == "#" }.count
            if level > 0, line.dropFirst(level).first == " " {
                if let open = current, level <= open.level {
                    found.append(open.lines.joined(separator: "\n"))
                    current = nil
                }
                if current == nil, line.lowercased().contains(title) { current = (level, []) }
                continue
            }
            current?.lines.append(String(line))
        }
        if let open = current { found.append(open.lines.joined(separator: "\n")) }
        return found
    }

    /// The `backticked` spans of `text`.
    static func backticked(_ text: String) -> [String] {
        text.matches(of: /`([^`]+)`/).map { String($0.1) }
    }

    /// Every tap name of the committed golden sets.
    static let taps: Set<String> = {
        var names = Set<String>()
        for set in ["goldens/tiny", "goldens/tiny-vision"] {
            guard let text = try? read(set + "/manifest.json") else { continue }
            for match in text.matches(of: /"name"\s*:\s*"([^"]+)"/) { names.insert(String(match.1)) }
        }
        return names
    }()

    /// A spec tap pattern (`…layers.{i}.mlp.gate#logits`, `model.vision_tower.transformer.layers.{i}`) as a regex.
    static func tapPattern(_ written: String) throws -> Regex<AnyRegexOutput> {
        var pattern = NSRegularExpression.escapedPattern(for: written)
        pattern = pattern.replacingOccurrences(of: "\\{i\\}", with: "[0-9]+")
        pattern = pattern.replacingOccurrences(of: "…", with: ".*")
        return try Regex("^" + pattern + "$")
    }

    @Test(arguments: opPages)
    func opPageHasEveryPart(page: String) throws {
        let text = try Self.read("spec/\(page).md").lowercased()
        let missing = ["attribute", "input", "reference symbol", "golden tap", "what ports got wrong", "precision"]
            .filter { Self.sections($0, of: text).isEmpty }
        #expect(missing.isEmpty, "spec/\(page).md has no section on \(missing)")
        #expect(text.contains("(1)"), "spec/\(page).md numbers no equation")
    }

    @Test(arguments: opPages)
    func referenceSymbolsExist(page: String) throws {
        let symbols = Self.sections("reference symbol", of: try Self.read("spec/\(page).md"))
            .flatMap(Self.backticked).filter { $0.wholeMatch(of: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/) != nil }
            .filter { !$0.contains("_") }   // snake_case spans are checkpoint and transformers names, not Swift
        #expect(!symbols.isEmpty, "spec/\(page).md names no Swift symbol")
        for symbol in symbols {
            let undeclared = symbol.split(separator: ".").map(String.init).filter { !Self.declared.contains($0) }
            #expect(undeclared.isEmpty, "spec/\(page).md: `\(symbol)`: nothing declares \(undeclared)")
        }
    }

    @Test(arguments: opPages)
    func goldenTapsExist(page: String) throws {
        let written = Self.sections("golden tap", of: try Self.read("spec/\(page).md")).flatMap(Self.backticked)
            .map { String($0.split(separator: " ")[0]) }
            .filter { $0.hasPrefix("model.") || $0.hasPrefix("…") || $0 == "lm_head" }
        for tap in written {
            let pattern = try Self.tapPattern(tap)
            let held = Self.taps.contains { $0.wholeMatch(of: pattern) != nil }
            #expect(held, "spec/\(page).md: tap `\(tap)` is in no golden set")
        }
    }

    @Test func goldenManifestsWereRead() {
        #expect(Self.taps.contains("model.language_model.layers.1.mlp.gate#indices"))
        #expect(Self.taps.contains("model.vision_tower.patch_conv"))
    }

    @Test func everyLayerFileCitesAnExistingSpecPage() throws {
        let files = try Self.swiftFiles("Sources/MistralSmall4/Text") + Self.swiftFiles("Sources/MistralSmall4/Vision")
            + Self.swiftFiles("Sources/MistralSmall4/Quant")
        #expect(files.count > 20)
        for file in files {
            let header = try Self.read(file).split(separator: "\n").prefix(while: { $0.hasPrefix("//") }).joined(separator: "\n")
            let pages = header.matches(of: /spec\/([a-z0-9-]+)\.md/).map { "spec/\($0.1).md" }
            #expect(!pages.isEmpty, "\(file) cites no spec page in its opening comment")
            for page in pages {
                #expect(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(page).path),
                        "\(file) cites \(page), which does not exist")
            }
        }
    }
}
