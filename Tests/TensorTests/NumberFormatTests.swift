import Testing
import Tensor

/// Checks every format against Tests/TensorTests/Fixtures/number_formats.json, written by
/// Tools/make_number_format_tables.py from ml_dtypes/numpy (float32 inputs) and exact rational
/// rounding (float64 inputs).
@Suite struct NumberFormatTests {
    static let formats: [BinaryFloatFormat] = [.float8E4M3FN, .float8E5M2, .float4E2M1, .bfloat16, .float16]

    static func fixture(_ format: BinaryFloatFormat) throws -> JSONValue {
        let all = try Fixtures.json("number_formats.json")["formats"]?.arrayValue ?? []
        return try #require(all.first { $0["name"]?.stringValue == format.name }, "no fixture for \(format)")
    }

    static func hex(_ value: JSONValue?) -> UInt64? {
        value?.stringValue.flatMap { UInt64($0.dropFirst(2), radix: 16) }
    }

    @Test(arguments: formats.filter { $0.bitWidth <= 8 })
    func everyCodeDecodesToTheTableValue(format: BinaryFloatFormat) throws {
        let table = try #require(try Self.fixture(format)["decode"]?.arrayValue)
        #expect(table.count == format.codeCount)
        for (code, entry) in table.enumerated() {
            let value = format.decode(UInt16(code))
            if entry.stringValue == "nan" {
                #expect(value.isNaN, "code \(code)")
            } else {
                #expect(value.bitPattern == Self.hex(entry), "\(format) code \(code) decodes to \(value)")
            }
        }
    }

    @Test(arguments: formats)
    func encodingMatchesTheIndependentOracles(format: BinaryFloatFormat) throws {
        let fixture = try Self.fixture(format)
        #expect(Self.hex(fixture["max"]) == format.maxFinite.bitPattern)
        let rows = try #require(fixture["encode"]?.arrayValue)
        #expect(rows.count > 1000)
        var mismatches: [String] = []
        for row in rows {
            guard let fields = row.arrayValue, fields.count == 4, let bits = Self.hex(fields[0]),
                  let plain = fields[2].intValue, let saturated = fields[3].intValue else {
                Issue.record("malformed row \(row)"); return
            }
            let input = fields[1].intValue == 32 ? Double(Float(bitPattern: UInt32(bits))) : Double(bitPattern: bits)
            let got = (format.encode(input, saturating: false), format.encode(input, saturating: true))
            if got != (UInt16(plain), UInt16(saturated)) {
                mismatches.append("\(input): got \(got), expected (\(plain), \(saturated))")
            }
        }
        #expect(mismatches.count == 0, "\(format): first mismatches \(mismatches.prefix(3))")
    }

    @Test(arguments: formats)
    func everyCodeRoundTrips(format: BinaryFloatFormat) {
        for code in (0..<format.codeCount).map(UInt16.init) {
            let value = format.decode(code)
            let back = format.encode(value, saturating: false)
            if value.isNaN {
                #expect(format.decode(back).isNaN, "\(format) NaN code \(code)")
            } else {
                #expect(back == code, "\(format) code \(code) (\(value)) re-encodes as \(back)")
            }
        }
    }

    @Test func float16AgreesWithSwiftsFloat16Everywhere() {
        for code in UInt16.min...UInt16.max {
            let native = Double(Float16(bitPattern: code))
            let mine = BinaryFloatFormat.float16.decode(code)
            #expect(native.isNaN ? mine.isNaN : native.bitPattern == mine.bitPattern, "code \(code)")
            if !native.isNaN {
                #expect(Float16(native).bitPattern == BinaryFloatFormat.float16.encode(native, saturating: false))
            }
        }
    }

    @Test func bfloat16IsTheTopHalfOfFloat32() {
        for code in UInt16.min...UInt16.max {
            let widened = Float(bitPattern: UInt32(code) << 16)
            let value = BFloat16(bitPattern: code).floatValue
            #expect(widened.isNaN ? value.isNaN : widened.bitPattern == value.bitPattern)
        }
        #expect(BFloat16(Float(1.00390625)).bitPattern == 0x3F80)  // 1 + 2^-8: tie, to even (1.0)
        #expect(BFloat16(Float(1.01171875)).bitPattern == 0x3F82)  // 1 + 3·2^-8: tie, to even (1 + 2^-6)
    }

    @Test func tiesGoToTheEvenCode() {
        let e4m3 = MiniFloatFormat.e4m3fn
        #expect(e4m3.rounded(1.0625, saturating: false) == 1.0)
        #expect(e4m3.rounded(1.1875, saturating: false) == 1.25)
        #expect(e4m3.rounded(464, saturating: false) == 448)  // midpoint of 448 and the NaN slot (480)
        #expect(e4m3.rounded(465, saturating: false).isNaN)
        #expect(e4m3.rounded(465, saturating: true) == 448)
        #expect(e4m3.encode(-.infinity, saturating: false) == 0xFF)
        let e2m1 = MiniFloatFormat.e2m1
        #expect([0.25, 0.75, 2.5, 3.5, 5.0, 7.0, 1e9].map { e2m1.rounded($0, saturating: false) } == [0, 1, 2, 4, 4, 6, 6])
        #expect(MiniFloatFormat.e5m2.rounded(61440, saturating: false) == .infinity)  // midpoint of max and 2^16
    }

    @Test func e2m1HasExactlyTheSixteenPublishedValues() {
        let expected: [Double] = [0, 0.5, 1, 1.5, 2, 3, 4, 6]
        let decoded = (0..<16).map { MiniFloatFormat.e2m1.decode(UInt8($0)) }
        #expect(Array(decoded[0..<8]) == expected)
        #expect(Array(decoded[8..<16]) == expected.map { -$0 })
        #expect(decoded[8].sign == .minus)  // code 8 is −0
        #expect(MiniFloatFormat.e2m1.encode(.nan, saturating: false) == 0)  // no NaN in E2M1: +0, documented
    }

    @Test func float64InputsRoundOnceNotThroughFloat32() {
        let x = 1.0625 + 0x1p-40  // just above the tie between 1.0 and 1.125
        #expect(MiniFloatFormat.e4m3fn.rounded(x, saturating: false) == 1.125)
        #expect(MiniFloatFormat.e4m3fn.rounded(Double(Float(x)), saturating: false) == 1.0)  // torch/ml_dtypes path
        #expect(BFloat16(1 + 0x1p-8 + 0x1p-40).doubleValue == 1 + 0x1p-7)
    }

    @Test func fp4PackingPutsTheEvenElementInTheLowNibble() {
        #expect(FP4Packing.pack([0x1, 0x2, 0xF]) == [0x21, 0x0F])
        let codes: [UInt8] = (0..<33).map { UInt8($0 % 16) }
        #expect(FP4Packing.unpack(FP4Packing.pack(codes), count: codes.count) == codes)
        #expect(FP4Packing.unpack([0xA5], count: 2) == [0x5, 0xA])
    }

    /// `BFloat16.rounded`'s bit-pattern fast path against the general encoder: every finite code, the midpoint
    /// to the next code (a tie), and the doubles one ulp either side of that midpoint, both signs.
    @Test func bf16FastRoundingEqualsTheEncoder() {
        let format = BinaryFloatFormat.bfloat16
        for code in 0..<UInt16(0x7F80) {
            let value = format.decode(code), next = format.decode(code + 1)
            let midpoint = (value + next) / 2
            for x in [value, midpoint, midpoint.nextDown, midpoint.nextUp] where x.isFinite {
                for signed in [x, -x] {
                    let expected = format.decode(format.encode(signed, saturating: false))
                    #expect(BFloat16.rounded(signed).bitPattern == expected.bitPattern, "\(signed)")
                }
            }
        }
    }
}
