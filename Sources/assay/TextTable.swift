// TextTable: the column padding and number formatting the commands' plain-text output shares.

/// `text` filled with spaces to `width` characters, on the right (or on the left with `right`).
func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - text.count))
    return right ? fill + text : text + fill
}

/// A count of hundredths as a decimal: `hundredthsText(610)` is `"6.10"`, `hundredthsText(-5)` is `"-0.05"`.
func hundredthsText(_ hundredths: Int) -> String {
    let fraction = String(abs(hundredths) % 100)
    return (hundredths < 0 ? "-" : "") + "\(abs(hundredths) / 100)." + (fraction.count < 2 ? "0" : "") + fraction
}

/// `119401298944` → `"119,401,298,944"`.
func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, digit) in digits.enumerated() {
        if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(digit)
    }
    return (n < 0 ? "-" : "") + out
}

/// `6095717376` → `"6.10B"`, `102604` → `"102.60K"`: two decimals in the largest unit that fits.
func abbreviated(_ n: Int) -> String {
    guard let (unit, scale) = [("B", 1_000_000_000), ("M", 1_000_000), ("K", 1_000)].first(where: { n >= $0.1 })
    else { return String(n) }
    return hundredthsText((n + scale / 200) / (scale / 100)) + unit
}

/// `1.234e9` → `"1.23G"`, `23040` → `"23.0K"`: three significant digits in the largest SI unit that fits.
func engineering(_ x: Double) -> String {
    guard x.isFinite, x != 0 else { return x == 0 ? "0" : "\(x)" }
    let units: [(String, Double)] = [("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3), ("", 1)]
    let (unit, scale) = units.first { abs(x) >= $0.1 } ?? ("", 1)
    let value = x / scale
    if unit.isEmpty, value == value.rounded(), abs(value) < 1000 { return String(Int(value)) }   // 64, not 64.0
    let decimals = abs(value) >= 100 ? 0 : abs(value) >= 10 ? 1 : 2
    var factor = 1.0
    for _ in 0..<decimals { factor *= 10 }
    let rounded = (value * factor).rounded() / factor
    let text = decimals == 0 ? String(Int(rounded)) : String(rounded)
    return text + unit
}

/// `0.1234` → `"123 ms"`, `3.7e-6` → `"3.70 µs"`: a time in the largest unit of s, ms, µs, ns that keeps it ≥ 1.
func duration(_ seconds: Double) -> String {
    let units: [(String, Double)] = [("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)]
    let (unit, scale) = units.first { seconds >= $0.1 } ?? units[units.count - 1]
    return engineering(seconds / scale) + " " + unit
}
