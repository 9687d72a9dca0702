import Testing
import Tensor

/// Philox, the tensor streams and synthetic weights (spec/rng.md), checked against published vectors
/// and against Tools/rng_reference.py, a second implementation written from the spec.
@Suite struct RandomTests {
    @Test func philoxKnownAnswers() {
        // Random123 tests/kat_vectors, "philox4x32 10" lines: counter, key -> output.
        let vectors: [(SIMD4<UInt32>, SIMD2<UInt32>, SIMD4<UInt32>)] = [
            (SIMD4(0, 0, 0, 0), SIMD2(0, 0), SIMD4(0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8)),
            (SIMD4(repeating: .max), SIMD2(repeating: .max), SIMD4(0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD)),
            (SIMD4(0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), SIMD2(0xA409_3822, 0x299F_31D0),
             SIMD4(0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1)),
        ]
        for (counter, key, expected) in vectors {
            #expect(Philox4x32.block(counter: counter, key: key) == expected)
        }
    }

    @Test func fnv1aKnownAnswers() {
        // The FNV reference test vectors (Noll, "FNV hash" test suite).
        #expect(fnv1a64("") == 0xCBF2_9CE4_8422_2325)
        #expect(fnv1a64("a") == 0xAF63_DC4C_8601_EC8C)
        #expect(fnv1a64("foobar") == 0x8594_4171_F739_67E8)
    }

    @Test func matchesThePythonPortOfTheSpec() throws {
        let fixture = try Fixtures.json("rng_reference.json")
        let cases = try #require(fixture["cases"]?.arrayValue)
        #expect(cases.count == 3)
        func hex(_ v: JSONValue) -> UInt64? { v.stringValue.flatMap { UInt64($0.dropFirst(2), radix: 16) } }
        for entry in cases {
            let seed = try #require(entry["seed"]?.stringValue.flatMap { UInt64($0) })
            let name = try #require(entry["name"]?.stringValue)
            let start = try #require(entry["start"]?.intValue), count = try #require(entry["count"]?.intValue)
            let std = try #require(entry["std"]?.doubleValue), mean = try #require(entry["mean"]?.doubleValue)
            let stream = TensorStream(seed: seed, name: name)
            #expect(stream.streamID == entry["stream_id"].flatMap(hex))
            for (block, words) in try #require(entry["blocks"]?.objectValue) {
                let expected = (words.arrayValue ?? []).compactMap(hex).map(UInt32.init)
                let got = stream.block(UInt64(block)!)
                #expect([got[0], got[1], got[2], got[3]] == expected, "\(name) block \(block)")
            }
            let normals = stream.normals(start..<(start + count)).map(\.bitPattern)
            #expect(normals == (entry["normals"]?.arrayValue ?? []).compactMap(hex), "\(name) normals")
            let weights = SyntheticWeights(seed: seed).normal(name, elements: start..<(start + count), std: std, mean: mean)
            #expect(weights.map(\.bitPattern) == (entry["weights"]?.arrayValue ?? []).compactMap(hex), "\(name) weights")
        }
    }

    @Test func aSliceIsTheSameAsTheWholeTensorsElements() {
        let weights = SyntheticWeights(seed: 7)
        let whole = weights.normal("experts.gate_up_proj", shape: [4, 6, 5], std: 0.5)
        for range in [0..<120, 37..<91, 30..<60, 119..<120, 5..<5] {
            let part = weights.normal("experts.gate_up_proj", elements: range, std: 0.5)
            #expect(part == Array(whole.scalars[range]), "elements \(range)")
        }
    }

    @Test func seedsAndNamesGiveIndependentStreams() {
        let a = SyntheticWeights(seed: 1).normal("w", elements: 0..<64, std: 1)
        #expect(a != SyntheticWeights(seed: 2).normal("w", elements: 0..<64, std: 1))
        #expect(a != SyntheticWeights(seed: 1).normal("w2", elements: 0..<64, std: 1))
        #expect(a == SyntheticWeights(seed: 1).normal("w", elements: 0..<64, std: 1))
    }

    @Test func normalsHaveUnitMomentsAndWeightsAreBFloat16Values() {
        let count = 1 << 16
        let z = TensorStream(seed: 42, name: "moments").normals(0..<count)
        let mean = z.reduce(0, +) / Double(count)
        let variance = z.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(count)
        let withinOneSigma = Double(z.filter { abs($0) < 1 }.count) / Double(count)
        // Standard errors at n = 65536: mean 0.004, variance 0.006, P(|z| < 1) 0.0018.
        #expect(abs(mean) < 0.02)
        #expect(abs(variance - 1) < 0.03)
        #expect(abs(withinOneSigma - 0.682_689) < 0.01)
        let w = SyntheticWeights(seed: 42).normal("moments", elements: 0..<4096, std: 0.02, mean: 1)
        #expect(w.allSatisfy { BFloat16($0).doubleValue == $0 })
    }
}
