// Escaped: text from a file (a tensor name, a case name, a field) made safe to print on one line.
//
// Goal: a name cannot fake output. A newline in a tensor name must not start a line that reads like a summary, and
// an escape sequence must not move the cursor or recolour the terminal.

public enum Escaped {
    /// `text` on one line: a backslash as `\\`, newline, carriage return and tab as `\n`, `\r`, `\t`, every other
    /// control character (C0, DEL, C1) and the line and paragraph separators U+2028/U+2029 as `\u{XX}`.
    /// `backslashes` false leaves backslashes as they are: for text whose names were escaped already, kept on one line.
    public static func line(_ text: String, backslashes: Bool = true) -> String {
        let escapes = { (scalar: Unicode.Scalar) in needsEscape(scalar) && (backslashes || scalar != "\\") }
        guard text.unicodeScalars.contains(where: escapes) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\" where backslashes: out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where escapes(scalar): out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\\" || scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
            || scalar.value == 0x2028 || scalar.value == 0x2029
    }
}
