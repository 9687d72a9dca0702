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
