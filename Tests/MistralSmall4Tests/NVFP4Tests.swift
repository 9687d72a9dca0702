// NVFP4 (spec/quant.md §10) on cases small enough to check by hand: nibble order, both storage conventions of the
// global scales, E2M1 rounding against vLLM's published threshold table, the block scale and its clamp, zero and
// NaN blocks, every bad field named, and the block-scaled product against its fake-quantized form.

import Testing
import Tensor
@testable import MistralSmall4

@Suite struct NVFP4Tests {
    /// The sixteen E2M1 codes in order, packed two per byte (element 2k in the low nibble).
    static let allCodes: [UInt8] = [0x10, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE]
    static let allValues: [Double] = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6]

    /// E4M3 0x40 is 2.0; ModelOpt's multiplier 0.5 and compressed-tensors' divisor 2.0 are the same global scale.
    @Test(arguments: [(NVFP4Storage.modelOpt, 0.5), (.compressedTensors, 2.0)])
    func dequantizesEitherStorage(storage: NVFP4Storage, stored: Double) throws {
        let w = try NVFP4Weight(shape: [1, 16], packed: Self.allCodes, blockScaleCodes: [0x40], storedGlobal: stored,
                                storage: storage)
        #expect(w.dequantized().scalars == Self.allValues)                                   // v · 2 · 0.5
        #expect(w.globalScale == 0.5 && w.blockScales.scalars == [2])
    }

    @Test func theLowNibbleIsTheEvenElement() throws {
        let w = try NVFP4Weight(shape: [1, 16], packed: [0x21] + Array(repeating: 0, count: 7), blockScaleCodes: [0x38],
                                storedGlobal: 1, storage: .modelOpt)
        #expect(Array(w.dequantized().scalars.prefix(2)) == [0.5, 1.0])                       // 0x38 is 1.0
    }

    /// vLLM's `cast_to_fp4` (nvfp4_emulation_utils.py) as its threshold table: an independent statement of
    /// round-to-nearest-even onto E2M1.
    static func thresholdE2M1(_ x: Double) -> Double {
        let a = abs(x)
        let m: Double = a <= 0.25 ? 0 : a < 0.75 ? 0.5 : a <= 1.25 ? 1 : a < 1.75 ? 1.5 : a <= 2.5 ? 2 : a < 3.5 ? 3
            : a <= 5 ? 4 : 6
        return x < 0 ? -m : m
    }

    @Test func e2m1RoundingMatchesTheThresholdTable() {
        for k in -448...448 {
            let x = Double(k) / 64                                                             // ties included
            #expect(MiniFloatFormat.e2m1.rounded(x, saturating: true) == Self.thresholdE2M1(x), "\(x)")
        }
    }

    @Test func blockScalesTakeTheGlobalScaleAndClamp() {
        // amax 3 under g = 6 · 448 / 3 = 896: s = E(896 · 3 / 6) = 448 and x · 896 / 448 = 2x; 0.375 → 0.75 is the
        // tie between 0.5 and 1, which goes to the even 1
        let block = [3.0, -1.5, 0.375, 0.25] + Array(repeating: 0.0, count: 12)
        let (values, scales) = NVFP4Linear.quantizeActivations(block[...], globalScale: 896)
        #expect(scales == [448] && Array(values.prefix(4)) == [6, -3, 1, 0.5])
        // g · amax / 6 = 1792 > 448: the scale clamps to 448, and x · g / s = 8x clamps to ±6
        let (clamped, top) = NVFP4Linear.quantizeActivations(block[...], globalScale: 3584)
        #expect(top == [448] && Array(clamped.prefix(4)) == [6, -6, 3, 2])
        // s = E(1 · 1.1 / 6) = E(0.18333…) = 0.1875; 1.1 / 0.1875 = 5.87 → 6
        let (odd, oddScale) = NVFP4Linear.quantizeActivations(([1.1] + Array(repeating: 0.0, count: 15))[...], globalScale: 1)
        #expect(oddScale == [0.1875] && odd[0] == 6)
    }

    @Test func zeroBlocksStayZeroAndNaNBlocksShow() throws {
        let (zeros, zeroScale) = NVFP4Linear.quantizeActivations(Array(repeating: 0.0, count: 16)[...], globalScale: 7)
        #expect(zeroScale == [0] && zeros.allSatisfy { $0 == 0 })
        let w = try NVFP4Weight(shape: [1, 32], packed: Array(repeating: 0x22, count: 16), blockScaleCodes: [0x38, 0x38],
                                storedGlobal: 1, storage: .modelOpt)
        let layer = try NVFP4Linear(weight: w, storedInputGlobal: 1, storage: .modelOpt)
        var x = Tensor<Double>(shape: [2, 32], repeating: 1)
        x.scalars[40] = .nan                                                                   // row 1, block 0
        let y = layer(x)
        // a block of ones: s_x = E(1/6) = 0.171875, 1 / 0.171875 = 5.8 → 6, so each block sums 16 · 6 · 0.171875 = 16.5
        #expect(y.scalars[0] == 33 && y.scalars[1].isNaN)
    }

    @Test func everyBadFieldIsNamed() {
        func field(_ body: () throws -> Void) -> String? {
            do { try body(); return nil } catch let error as NVFP4Error { return error.field } catch { return "\(error)" }
        }
        let codes = Self.allCodes
        #expect(field { _ = try NVFP4Weight(shape: [1, 16], packed: Array(codes.dropLast()), blockScaleCodes: [0x38],
                                            storedGlobal: 1, storage: .compressedTensors) } == "weight_packed")
        #expect(field { _ = try NVFP4Weight(shape: [1, 12], packed: codes, blockScaleCodes: [0x38], storedGlobal: 1,
                                            storage: .modelOpt) } == "weight")
        #expect(field { _ = try NVFP4Weight(shape: [1, 16], packed: codes, blockScaleCodes: [0x38, 0x38], storedGlobal: 1,
                                            storage: .modelOpt) } == "weight_scale")
        #expect(field { _ = try NVFP4Weight(shape: [1, 16], packed: codes, blockScaleCodes: [0x7F], storedGlobal: 1,
                                            storage: .modelOpt) } == "weight_scale")                   // E4M3 NaN
        #expect(field { _ = try NVFP4Weight(shape: [1, 16], packed: codes, blockScaleCodes: [0xB8], storedGlobal: 1,
                                            storage: .modelOpt) } == "weight_scale")                   // −1
        for bad in [0.0, -1, .nan, .infinity] {
            #expect(field { _ = try NVFP4Weight(shape: [1, 16], packed: codes, blockScaleCodes: [0x38], storedGlobal: bad,
                                                storage: .compressedTensors) } == "weight_global_scale")
        }
        #expect(field {
            let w = try NVFP4Weight(shape: [1, 16], packed: codes, blockScaleCodes: [0x38], storedGlobal: 1, storage: .modelOpt)
            _ = try NVFP4Linear(weight: w, storedInputGlobal: .nan, storage: .modelOpt)
        } == "input_scale")
    }

    /// Eq. (15) (exact block sums, scaled once) against the fake-quantized form: dequantized activations times the
    /// dequantized weight, summed in float64.
    @Test(arguments: NVFP4Storage.allCases)
    func blockScaledProductEqualsItsFakeQuantizedForm(storage: NVFP4Storage) throws {
        let (outputs, inputs) = (5, 48)
        let draw = SyntheticWeights(seed: 9)
        let packed = draw.normal("packed", elements: 0..<(outputs * inputs / 2), std: 1).map { UInt8(Int(abs($0) * 1e6) % 256) }
        let scales = (0..<(outputs * inputs / 16)).map { UInt8(0x28 + $0 % 24) }                     // E4M3 0.25 … 3.5
        let stored = storage == .modelOpt ? 0.0123 : 1 / 0.0123
        let w = try NVFP4Weight(shape: [outputs, inputs], packed: packed, blockScaleCodes: scales, storedGlobal: stored,
                                storage: storage)
        let layer = try NVFP4Linear(weight: w, storedInputGlobal: storage == .modelOpt ? 0.004 : 250, storage: storage)
        let x = draw.normal("x", shape: [3, inputs], std: 1)
        let fake = linear(layer.dequantizedActivations(x), w.dequantized())
        let y = layer(x)
        for (a, b) in zip(y.scalars, fake.scalars) { #expect(abs(a - b) <= 1e-12 * max(abs(b), 1e-3)) }
        #expect(y.scalars.contains { $0 != 0 })
    }
}
