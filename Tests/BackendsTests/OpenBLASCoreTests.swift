// The choice of OpenBLAS core (issue 24): which core type a CPU's flags allow, and when assay replaces OpenBLAS's
// own pick. The re-execution itself, and the BLAS backend passing the goldens under Prescott and Haswell kernels alike,
// are checked on the built binary by Tools/lib/cli-checks.

import Testing
import Backends

@Suite struct OpenBLASCoreTests {
    static let sse: Set<String> = ["fpu", "sse", "sse2", "pni", "ssse3", "sse4_1", "sse4_2"]
    static let sandyBridge = sse.union(["avx"])
    static let zen3 = sandyBridge.union(["avx2", "fma", "f16c", "bmi2"])
    static let knightsLanding = zen3.union(["avx512f", "avx512cd", "avx512er", "avx512pf"])
    static let zen5 = zen3.union(["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd", "avx512_bf16"])

    @Test(arguments: [
        (zen5, "SKYLAKEX"),
        (knightsLanding, "HASWELL"),                    // AVX-512F without BW, VL, DQ: SkylakeX kernels would fault
        (zen3, "HASWELL"),
        (zen5.subtracting(["avx512dq"]), "HASWELL"),
        (zen3.subtracting(["fma"]), nil),
        (sandyBridge, nil),
        (sse, nil),
        ([], nil),
    ] as [(Set<String>, String?)])
    func bestCoreTypeFollowsTheInstructionSet(flags: Set<String>, expected: String?) {
        #expect(OpenBLASCore.bestCoreType(flags: flags) == expected)
    }

    @Test func genericCoresAreThePreAVXOnes() {
        for name in ["Prescott", "Katmai", "Core2", "Nehalem", "Barcelona", "Unknown", "PRESCOTT"] {
            #expect(OpenBLASCore.isGeneric(name), "\(name)")
        }
        for name in ["Sandybridge", "Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "NeoverseN1"] {
            #expect(!OpenBLASCore.isGeneric(name), "\(name)")
        }
    }

    @Test func aGenericPickIsReplacedOnlyWhenNobodyChose() {
        let replace = OpenBLASCore.coreTypeToForce
        #expect(replace("Prescott", Self.zen5, [:]) == "SKYLAKEX")
        #expect(replace("Prescott", Self.zen3, [:]) == "HASWELL")
        #expect(replace("Zen", Self.zen5, [:]) == nil)                 // OpenBLAS's own tuned pick stands
        #expect(replace("Prescott", Self.sse, [:]) == nil)             // nothing better to run
        #expect(replace("Prescott", Self.zen5, ["OPENBLAS_CORETYPE": "PRESCOTT"]) == nil)   // the user's choice
        #expect(replace("Prescott", Self.zen5, ["ASSAY_OPENBLAS_REPLACED_CORE": "Prescott"]) == nil)  // no loop
    }

    @Test func cpuinfoFlagsAreTheFirstFlagsLine() {
        let cpuinfo = """
            processor\t: 0
            vendor_id\t: AuthenticAMD
            flags\t\t: fpu sse2 avx2 fma avx512f
            bugs\t\t: sysret_ss_attrs
            processor\t: 1
            flags\t\t: fpu

            """
        #expect(OpenBLASCore.cpuFlags(cpuinfo: cpuinfo) == ["fpu", "sse2", "avx2", "fma", "avx512f"])
        #expect(OpenBLASCore.cpuFlags(cpuinfo: "processor\t: 0\nFeatures\t: fp asimd\n").isEmpty)   // aarch64
    }

    @Test func openBLASNamesItsCore() {
        #expect(!OpenBLASCore.name.isEmpty && OpenBLASCore.name != "Unknown")
    }
}
