// TextTable: the column padding the commands' plain-text tables share.

/// `text` filled with spaces to `width` characters, on the right (or on the left with `right`).
func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - text.count))
    return right ? fill + text : text + fill
}
