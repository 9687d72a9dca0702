// The HTML report of a diff — spec/conformance.md §5: one self-contained page (inline CSS and SVG, no script, no
// network) with the per-layer error chart, the per-position error of the attention taps, and the table.

#if canImport(Glibc)
import Glibc
#endif
import MistralSmall4
import Tensor

extension DiffResult {
    /// The page. Charts plot log10 NMSE; an NMSE of 0 is drawn on the bottom edge.
    public var html: String {
        let title = "Assay diff: \(backend) vs \(goldens) (\(mode.rawValue), \(precision.rawValue))"
        let verdictLine = failures.first.map { "FAIL: first failing tap \($0.tap) in case \($0.caseName)" }
            ?? "PASS: every compared tap is within its limit"
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>
            body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
            h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
            table { border-collapse: collapse; font: 12px ui-monospace, monospace; }
            td, th { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: right; }
            td:nth-child(2), th:nth-child(2), td:last-child { text-align: left; }
            .PASS { color: #1a7f37; } .FAIL { color: #cf222e; font-weight: bold; } .NOT { color: #9a6700; }
            .verdict { font-size: 16px; font-weight: bold; }
            svg { background: #fafafa; border: 1px solid #ddd; }
            </style></head><body>
            <h1>\(escape(title))</h1>
            <p class="verdict \(failures.isEmpty ? "PASS" : "FAIL")">\(escape(verdictLine))</p>
            <p>\(verdicts.count - notCovered.count) taps compared, \(failures.count) failed, \(notCovered.count) not \
            covered. Limits: spec/tolerances.json, precision \(precision.rawValue). Metrics: spec/conformance.md.</p>
            <h2>Error per tap, in model order (log10 NMSE; dashed: the limit; red: failed; bottom edge: exactly 0; \
            hover a point for its tap)</h2>
            \(errorChart())
            <h2>Attention error per token row (log10 NMSE; padding rows are not compared)</h2>
            \(positionCharts())
            <h2>Every tap</h2>
            \(table())
            </body></html>

            """
    }

    private static let floor = -40.0

    private func log10NMSE(_ x: Double) -> Double { x > 0 ? Swift.max(log10(x), Self.floor) : Self.floor }

    private var caseNames: [String] {
        var seen = [String]()
        for v in verdicts where !seen.contains(v.caseName) { seen.append(v.caseName) }
        return seen
    }

    /// One panel per case: log10 NMSE of each numerically compared tap against its index, and the limit.
    private func errorChart() -> String {
        let (width, height, left, top) = (900.0, 220.0, 50.0, 10.0)
        let palette = ["#0969da", "#8250df", "#bf3989", "#1a7f37", "#9a6700", "#57606a"]
        let numeric = verdicts.filter { $0.comparison != nil }
        let values = (numeric.map { $0.comparison!.nmse } + numeric.compactMap(\.limit)).filter { $0 > 0 }.map(log10NMSE)
        let low = (values.min() ?? -20).rounded(.down) - 1, high = Swift.max((values.max() ?? 0).rounded(.up), low + 2)
        func y(_ v: Double) -> Double { top + (high - Swift.max(v, low)) / (high - low) * (height - 2 * top) }
        var svg = ""
        for (n, name) in caseNames.enumerated() {
            let taps = numeric.filter { $0.caseName == name }
            guard taps.count > 0 else { continue }
            let step = (width - left - 10) / Double(Swift.max(taps.count - 1, 1))
            func x(_ i: Int) -> Double { left + Double(i) * step }
            var body = ""
            for tick in stride(from: low, through: high, by: Swift.max(((high - low) / 5).rounded(.up), 1)) {
                body += "<line x1=\"\(left)\" x2=\"\(width - 10)\" y1=\"\(y(tick))\" y2=\"\(y(tick))\" stroke=\"#e5e5e5\"/>"
                body += "<text x=\"4\" y=\"\(y(tick) + 4)\" font-size=\"10\">1e\(Int(tick))</text>"
            }
            let color = palette[n % palette.count]
            let line = taps.enumerated().map { "\(x($0.offset)),\(y(log10NMSE($0.element.comparison!.nmse)))" }
            let limit = taps.enumerated().compactMap { i, v in v.limit.map { "\(x(i)),\(y(log10NMSE($0)))" } }
            body += "<polyline fill=\"none\" stroke=\"#999\" stroke-dasharray=\"4 3\" points=\"\(limit.joined(separator: " "))\"/>"
            body += "<polyline fill=\"none\" stroke=\"\(color)\" points=\"\(line.joined(separator: " "))\"/>"
            for (i, v) in taps.enumerated() {
                let c = v.comparison!
                body += "<circle cx=\"\(x(i))\" cy=\"\(y(log10NMSE(c.nmse)))\" r=\"\(v.passed ? 2.5 : 4)\" fill=\""
                    + "\(v.passed ? color : "#cf222e")\"><title>\(escape(v.tap)): NMSE \(scientific(c.nmse))</title></circle>"
            }
            svg += "<p><b>case \(escape(name))</b> (\(taps.count) taps)</p><svg width=\"\(Int(width))\" "
                + "height=\"\(Int(height))\" xmlns=\"http://www.w3.org/2000/svg\">\(body)</svg>\n"
        }
        return svg.isEmpty ? "<p>No tap was compared numerically.</p>" : svg
    }

    /// One heatmap per case: a row per attention tap, a cell per token row, colored by log10 NMSE.
    private func positionCharts() -> String {
        let attention = verdicts.filter { $0.rowErrors != nil }
        let values = attention.flatMap { $0.rowErrors!.filter { $0 > 0 }.map(log10NMSE) }
        let low = (values.min() ?? -20).rounded(.down), high = Swift.max((values.max() ?? 0).rounded(.up), low + 1)
        var out = ""
        for name in caseNames {
            let taps = attention.filter { $0.caseName == name }
            guard let columns = taps.map({ $0.rowErrors!.count }).max(), columns > 0 else { continue }
            let (cell, label) = (Swift.max(4.0, Swift.min(24.0, 600.0 / Double(columns))), 380.0)
            var body = ""
            for (r, v) in taps.enumerated() {
                body += "<text x=\"2\" y=\"\(Double(r) * 14 + 11)\" font-size=\"10\">\(escape(v.tap))</text>"
                for (c, e) in v.rowErrors!.enumerated() {
                    let t = e > 0 ? (log10NMSE(e) - low) / (high - low) : 0
                    body += "<rect x=\"\(label + Double(c) * cell)\" y=\"\(Double(r) * 14)\" width=\"\(cell - 1)\" "
                        + "height=\"13\" fill=\"\(heat(t))\"><title>\(escape(v.tap)) row \(c): NMSE \(scientific(e))"
                        + "</title></rect>"
                }
            }
            out += "<p><b>case \(escape(name))</b>: token rows 0…\(columns - 1); color from 1e\(Int(low)) (pale) to "
                + "1e\(Int(high)) (dark red)</p><svg width=\"\(Int(label + Double(columns) * cell + 10))\" height=\""
                + "\(taps.count * 14 + 4)\" xmlns=\"http://www.w3.org/2000/svg\">\(body)</svg>\n"
        }
        return out.isEmpty ? "<p>No attention tap was compared.</p>" : out
    }

    /// Pale yellow (0) to dark red (1).
    private func heat(_ t: Double) -> String {
        let s = Swift.min(Swift.max(t, 0), 1)
        let (r, g, b) = (255 - 115 * s, 245 - 225 * s, 200 - 180 * s)
        return "rgb(\(Int(r)),\(Int(g)),\(Int(b)))"
    }

    private func table() -> String {
        var rows = "<table><tr><th>case</th><th>tap</th><th>op</th><th>shape</th><th>NMSE</th><th>max abs</th>"
            + "<th>cos</th><th>limit</th><th>verdict</th></tr>\n"
        for v in verdicts {
            let c = v.comparison
            let cells = [v.caseName, v.tap, opName(v.tap), Shape.describe(v.shape), c.map { scientific($0.nmse) } ?? "",
                         c.map { scientific($0.maxAbsoluteError) } ?? "", c.map { String($0.cosine) } ?? "",
                         v.limit.map(scientific) ?? ""]
            rows += "<tr>" + cells.map { "<td>\(escape($0))</td>" }.joined() + "<td class=\"\(v.status.rawValue.prefix(4))"
                + "\">\(v.status.rawValue)\(v.note.isEmpty ? "" : " — " + escape(v.note))</td></tr>\n"
        }
        return rows + "</table>"
    }

    private func escape(_ s: String) -> String {
        var out = ""
        for character in s {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}
