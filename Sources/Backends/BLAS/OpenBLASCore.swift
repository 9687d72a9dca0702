// Which kernel set ("core") OpenBLAS runs, and the remedy when it runs its generic one (issue 24).
//
// OpenBLAS's DYNAMIC_ARCH build (Debian's) picks its kernels from the CPU model, in a library constructor that runs
// before main. A CPU newer than the library is not recognised: 0.3.21 then runs a core whose kernels predate AVX
// (`OPENBLAS_VERBOSE=2` prints `Core: Prescott`), and the 2048³ sgemm falls from 219 GFLOP/s (SkylakeX kernels) to
// 62. The constructor reads OPENBLAS_CORETYPE, and nothing later can switch cores, so `assay` checks first thing in
// main (OpenBLASCore.replaceGenericCore) and, where the CPU runs better kernels, sets the variable and executes
// itself again. The kernels change speed, not results beyond float32 rounding (Tools/lib/cli-checks diffs the BLAS
// backend under Prescott and Haswell against the same goldens).

#if canImport(Glibc)
import Glibc
#endif
import COpenBLAS
import Tensor

public enum OpenBLASCore {
    /// The variable OpenBLAS reads (case-insensitively) for its core type, e.g. `SKYLAKEX`; set by a user, it is
    /// their choice and assay leaves it alone.
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"

    /// Set by assay's re-execution to the core OpenBLAS had picked itself: it marks that the one re-execution
    /// happened (so there is never a second) and tells `assay bench` what was replaced.
    public static let replacedVariable = "ASSAY_OPENBLAS_REPLACED_CORE"

    /// For tests only: the core to take as OpenBLAS's own pick, so that the re-execution can be exercised on a
    /// machine whose CPU OpenBLAS recognises (Tools/lib/cli-checks).
    public static let assumedPickVariable = "ASSAY_TEST_OPENBLAS_PICKED_CORE"

    /// The core OpenBLAS runs in this process, as it names it: "Haswell", "Zen", "SkylakeX", "Prescott", ….
    public static var name: String { String(cString: openblas_get_corename()) }

    /// The cores whose kernels predate AVX, as OpenBLAS 0.3.21 names them (driver/others/dynamic.c, `corename`):
    /// its fallbacks for CPUs it does not recognise (Prescott is the last one on x86-64, Katmai on 32-bit x86;
    /// Barcelona when it believes the OS lacks AVX; Nehalem and Dunnington for Centaur and Zhaoxin models it does
    /// not know) and the genuinely old CPUs, for which bestCoreType finds nothing better. Lower-cased.
    static let genericCores: Set<String> = [
        "unknown", "katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2", "penryn", "dunnington",
        "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona", "nano", "bobcat",
    ]

    /// Whether OpenBLAS's core `name` is one of its pre-AVX generic cores (case-insensitive).
    public static func isGeneric(_ name: String) -> Bool { genericCores.contains(name.lowercased()) }

    /// The best OPENBLAS_CORETYPE for a CPU with these instruction-set flags (as /proc/cpuinfo names them), or nil
    /// when it has nothing better than a generic core. SKYLAKEX needs AVX-512 F, BW, VL and DQ (Knights Landing
    /// has F without the others); HASWELL needs AVX2 and FMA.
    public static func bestCoreType(flags: Set<String>) -> String? {
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) { return "SKYLAKEX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "HASWELL" }
        return nil
    }

    /// The core type to set before OpenBLAS starts, or nil to keep OpenBLAS's pick: only when it `picked` a generic
    /// core, the CPU (`flags`) runs better ones, and neither the user (OPENBLAS_CORETYPE) nor an earlier
    /// re-execution (replacedVariable) has chosen. `environment` holds those two variables where they are set.
    /// `flags` is read only when the pick is generic: every `assay` start asks, and most machines need no flags.
    public static func coreTypeToForce(picked: String, flags: @autoclosure () -> Set<String>,
                                       environment: [String: String]) -> String? {
        guard environment[coreTypeVariable] == nil, environment[replacedVariable] == nil, isGeneric(picked) else {
            return nil
        }
        return bestCoreType(flags: flags())
    }

    /// The flags of the first `flags` line of /proc/cpuinfo's text (x86 Linux); empty when there is none.
    public static func cpuFlags(cpuinfo: String) -> Set<String> {
        for line in cpuinfo.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].filter({ !$0.isWhitespace }) == "flags" {
                return Set(parts[1].split(whereSeparator: \.isWhitespace).map(String.init))
            }
        }
        return []
    }

    /// This CPU's flags as the kernel reports them: the kernel drops AVX-512 where the OS does not save its
    /// registers, so a flag here is one that runs. Empty off Linux.
    static func cpuFlags() -> Set<String> {
        guard let bytes = try? FilePath.readRegularFile("/proc/cpuinfo") else { return [] }
        return cpuFlags(cpuinfo: String(decoding: bytes, as: UTF8.self))
    }

    /// The core OpenBLAS replaced by assay's re-execution of this process, or nil when it runs its own pick (or
    /// the user's OPENBLAS_CORETYPE).
    public static var replaced: String? { environmentValue(replacedVariable) }

    /// Call first thing in main, before anything else runs: when OpenBLAS started on a generic core and the CPU
    /// runs better ones, sets OPENBLAS_CORETYPE and executes this binary again with the same arguments, so that the
    /// new process's OpenBLAS constructor picks the better core. Returns when there is nothing to replace, or when
    /// the execution fails (then with a warning on stderr, and the run goes on with the generic core).
    public static func replaceGenericCore() {
        let picked = environmentValue(assumedPickVariable) ?? name
        let environment = [coreTypeVariable, replacedVariable].reduce(into: [String: String]()) {
            $0[$1] = environmentValue($1)
        }
        guard let coreType = coreTypeToForce(picked: picked, flags: cpuFlags(), environment: environment) else {
            return
        }
        setenv(coreTypeVariable, coreType, 1)
        setenv(replacedVariable, picked, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        let warning = "assay: warning: OpenBLAS runs its generic core \(picked); re-executing with "
            + "\(coreTypeVariable)=\(coreType) failed (\(String(cString: strerror(errno))))\n"
        _ = warning.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        unsetenv(coreTypeVariable)
        unsetenv(replacedVariable)
    }

    private static func environmentValue(_ variable: String) -> String? { getenv(variable).map { String(cString: $0) } }
}
