// swift-tools-version:6.1
// Assay: the reference model-spec of Mistral Small 4 and the framework that checks kernels and ports against it.
// Layout: README.md ("Layout"); each target below says what it holds.
import PackageDescription

let package = Package(
    name: "Assay",
    products: [
        .executable(name: "assay", targets: ["assay"]),
        .executable(name: "assay-plugin-worker", targets: ["assay-plugin-worker"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "MistralSmall4", targets: ["MistralSmall4"]),
        .library(name: "Validation", targets: ["Validation"]),
        .library(name: "Backends", targets: ["Backends"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Tensors, number formats with exact rounding, Philox RNG, strict JSON, safetensors.
        .target(name: "Tensor"),
        // Configs (HF config.json, Mistral params.json, presets), the tensor inventory, parameter counts.
        // `Presets` is a symlink to spec/presets: the JSON files there are compiled into the binary.
        .target(name: "MistralSmall4", dependencies: ["Tensor", "CLibPNG"], resources: [.embedInCode("Presets")]),
        // libpng's simplified read API for PNG images (Debian libpng-dev; Tools/test and Tools/validate install it).
        .systemLibrary(name: "CLibPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        // OpenBLAS's CBLAS (Debian libopenblas-dev; Tools/test and Tools/validate install it).
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // FFTW 3 (Debian libfftw3-dev; Tools/test and Tools/validate install it): the FFT oracles and diagnostics.
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3", providers: [.apt(["libfftw3-dev"])]),
        // Compute backends: the OpenBLAS float32 backend (the Backend protocol and the reference live in MistralSmall4).
        .target(name: "Backends", dependencies: ["Tensor", "MistralSmall4", "COpenBLAS", "CAssayPlugin", "CPanelGEMM"]),
        // The C plugin ABI (include/assay_plugin.h): what `--backend plugin:PATH.so` loads (spec/plugin-abi.md).
        .target(name: "CAssayPlugin"),
        // The BLAS backend's GEMM over packed weight panels (AVX-512F or AVX2 + FMA, picked at run time); -O3 in debug
        // builds too, so tests run it at speed.
        .target(name: "CPanelGEMM", cSettings: [.unsafeFlags(["-O3"])]),
        // Comparison metrics shared by tests, diffs and cross-checks; golden sets (write, verify); conformance.
        // `Resources/tolerances.json` is a symlink to spec/tolerances.json, compiled into the binary.
        .target(name: "Validation", dependencies: ["Tensor", "MistralSmall4", "CFFTW"],
                resources: [.embedInCode("Resources")]),
        // The process a plugin's kernels run in, so a crash or hang fails one op (spec/plugin-abi.md §2).
        .executableTarget(name: "assay-plugin-worker", dependencies: ["Backends"]),
        .executableTarget(
            name: "assay",
            dependencies: [
                "Tensor", "MistralSmall4", "Validation", "Backends",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "TensorTests", dependencies: ["Tensor"], exclude: ["Fixtures"]),
        .testTarget(name: "MistralSmall4Tests", dependencies: ["MistralSmall4", "Tensor"], exclude: ["Fixtures"]),
        .testTarget(name: "ValidationTests", dependencies: ["Validation", "MistralSmall4", "Tensor"]),
        .testTarget(name: "BackendsTests", dependencies: ["Backends", "MistralSmall4", "Validation", "Tensor",
                                                          "assay-plugin-worker"]),
    ]
)
