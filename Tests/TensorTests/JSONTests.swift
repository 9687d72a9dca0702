import Testing
@testable import Tensor

@Suite struct JSONTests {
    @Test func parsesNestedDocumentInOrder() throws {
        let value = try JSONValue.parse(#" {"b": [1, -2.5e3, true, null], "a": {"x": "y\u00e9\n"}} "#)
        #expect(value.objectValue?.map(\.key) == ["b", "a"])
        #expect(value["b"]?.arrayValue?.count == 4)
        #expect(value["b"]?.arrayValue?[0].intValue == 1)
        #expect(value["b"]?.arrayValue?[1].doubleValue == -2500)
        #expect(value["b"]?.arrayValue?[1].intValue == nil)
        #expect(value["a"]?["x"]?.stringValue == "yé\n")
    }

    @Test func integersAreExactOrAbsent() throws {
        #expect(try JSONValue.parse("9223372036854775807").intValue == Int.max)
        #expect(try JSONValue.parse("9223372036854775808").intValue == nil)
        #expect(try JSONValue.parse("-0").intValue == 0)
    }

    @Test func surrogatePairsJoin() throws {
        #expect(try JSONValue.parse(#""\ud83d\ude00""#).stringValue == "😀")
    }

    @Test(arguments: [
        ("{\"a\":1,\"a\":2}", "duplicate key \"a\"", 7),
        ("[1,2", "unterminated array", 4),
        ("{\"a\" 1}", "expected ':'", 5),
        ("01", "unexpected content after the JSON value", 1),
        ("1.", "digits expected after '.'", 0),
        ("\"a\u{01}\"", "control character in string", 2),
        ("\"\\x\"", "invalid escape '\\x'", 1),
        ("\"\\ud800\"", "unpaired surrogate in \\u escape", 7),
        ("nul", "invalid literal, expected 'null'", 0),
        ("", "unexpected end of input", 0),
        ("[1] x", "unexpected content after the JSON value", 4),
    ])
    func rejectsMalformedText(text: String, message: String, offset: Int) {
        #expect(throws: JSONSyntaxError(message: message, byteOffset: offset)) { try JSONValue.parse(text) }
    }

    @Test func rejectsInvalidUTF8WithItsOffset() {
        let bytes: [UInt8] = Array("{\"a\":\"".utf8) + [0xFF] + Array("\"}".utf8)
        #expect(throws: JSONSyntaxError(message: "text is not valid UTF-8", byteOffset: 6)) { try JSONValue.parse(bytes) }
    }

    @Test func rejectsDeepNesting() {
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(deep) }
    }

    @Test func serializationRoundTrips() throws {
        let text = #"{"name":"q\"\\\t\b\f\u0001","shape":[2,3],"f":1e-06,"ok":false,"none":null,"empty":{},"list":[]}"#
        let value = try JSONValue.parse(text)
        #expect(value.serialized() == text)
        #expect(try JSONValue.parse(value.serialized(pretty: true)) == value)
    }
}
