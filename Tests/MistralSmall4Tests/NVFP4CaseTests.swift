// NVFP4 golden cases (spec/quant.md §10): one quantized linear and one quantized SwiGLU expert, stored as ModelOpt
// and as compressed-tensors write them, whose outputs Tools/make_nvfp4_cases.py computed independently (Python,
// E4M3 by enumeration, E2M1 by vLLM's threshold table). The reference reads the stored fields and must agree.

import Foundation
import Testing
import Tensor
@testable import MistralSmall4

@Suite struct NVFP4CaseTests {
    static let file = Result { try SafeTensorsFile(path: Fixtures.path("nvfp4/cases.safetensors")) }

    /// The linear `module` of `storage` in the fixture, read by the checkpoint names of that storage.
    func layer(_ module: String, _ storage: NVFP4Storage) throws -> NVFP4Linear {
        let file = try Self.file.get()
        let names = storage.tensorNames
        let prefix = "\(storage.rawValue).\(module)."
        let packed = try file.info(prefix + names.packed)
        let weight = try NVFP4Weight(shape: [packed.shape[0], packed.shape[1] * 2],
                                     packed: try file.bytes(prefix + names.packed),
                                     blockScaleCodes: try file.bytes(prefix + names.blockScales),
                                     storedGlobal: try file.doubles(prefix + names.weightGlobal).scalars[0], storage: storage)
        return try NVFP4Linear(weight: weight, storedInputGlobal: try file.doubles(prefix + names.inputGlobal).scalars[0],
                               storage: storage)
    }

    func expectClose(_ y: Tensor<Double>, _ expected: Tensor<Double>) {
        #expect(y.shape == expected.shape)
        // block sums and scale products are exact on both sides; measured worst relative difference 0 for the linears,
        // 4.4e-16 for the expert (numpy's exp against glibc's in silu). Reading compressed-tensors' divisor as a
        // multiplier fails here by up to 100% of an output.
        for (a, b) in zip(y.scalars, expected.scalars) { #expect(abs(a - b) <= 1e-12 * max(abs(b), 1e-6), "\(a) vs \(b)") }
    }

    @Test(arguments: NVFP4Storage.allCases)
    func quantizedLinear(storage: NVFP4Storage) throws {
        let file = try Self.file.get()
        expectClose(try layer("linear", storage)(try file.doubles("x")), try file.doubles("\(storage.rawValue).linear.output"))
    }

    /// spec/experts.md eq. (1) with both projections in NVFP4: gate | up, silu(gate) · up in float64, then down.
    @Test(arguments: NVFP4Storage.allCases)
    func quantizedExpert(storage: NVFP4Storage) throws {
        let file = try Self.file.get()
        let x = try file.doubles("x")
        let gateUp = try layer("expert.gate_up_proj", storage)(x)                                  // [T, 2I]
        let (tokens, width) = (x.shape[0], gateUp.shape[1] / 2)
        var h = [Double]()
        for t in 0..<tokens {
            for i in 0..<width {
                let (a, u) = (gateUp.scalars[t * 2 * width + i], gateUp.scalars[t * 2 * width + width + i])
                h.append(a / (1 + exp(-a)) * u)
            }
        }
        let y = try layer("expert.down_proj", storage)(Tensor(shape: [tokens, width], scalars: h))
        expectClose(y, try file.doubles("\(storage.rawValue).expert.output"))
    }

    /// The two storages hold the same weights under reciprocal global scales: their outputs differ only where the
    /// float32 rounding of 1/g moves a product (measured NMSE 3.1e-16: no block scale or code moved here).
    @Test func bothStoragesDescribeTheSameLayer() throws {
        let file = try Self.file.get()
        let (a, b) = (try file.doubles("modelopt.linear.output"), try file.doubles("compressed-tensors.linear.output"))
        let error = zip(a.scalars, b.scalars).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        #expect(error / b.scalars.reduce(0) { $0 + $1 * $1 } < 1e-12)
    }
}
