// The element types the kernels load and store, all computed in float32: float, bfloat16 (__nv_bfloat16 of
// cuda_bf16.h) and FP8 E4M3 codes (__nv_fp8_e4m3 of cuda_fp8.h); and the FP8 activation quantization of
// spec/quant.md eq. 2–3. The same conversions run under nvcc and, through the wheel's headers, on the host.
#pragma once

#include "cuda_compat.cuh"

using bf16 = __nv_bfloat16;
using e4m3 = __nv_fp8_e4m3;

// A stored element as float32 (exact for all three).
__host__ __device__ __forceinline__ float widen(float x) { return x; }
__host__ __device__ __forceinline__ float widen(bf16 x) { return __bfloat162float(x); }
__host__ __device__ __forceinline__ float widen(e4m3 x) { return float(x); }

// x stored as T: float unchanged; bf16 to nearest, ties to even (spec/number-formats.md).
template <typename T> __device__ __forceinline__ T narrow(float x);
template <> __device__ __forceinline__ float narrow<float>(float x) { return x; }
template <> __device__ __forceinline__ bf16 narrow<bf16>(float x) { return __float2bfloat16_rn(x); }

// x rounded as T stores it, kept in float: spec/precision.md's B(·) for bf16, the identity for float.
template <typename T> __device__ __forceinline__ float rounded(float x) { return widen(narrow<T>(x)); }

// The activation conventions of assay_plugin.h (ASSAY_F8_HUGGING_FACE, ASSAY_F8_VLLM).
constexpr int f8_hugging_face = 0, f8_vllm = 1;

// x_q of one activation x under scale s_a (spec/quant.md): Hugging Face, eq. 2, E(B(x / s_a)) with the quotient in
// float64 rounded once to bf16; vLLM, eq. 3, E(F(F(x) · F(1 / s_a))). E(·), the e4m3 conversion: nearest, ties to
// even, saturating at ±448 (__NV_SATFINITE); NaN stays NaN.
__device__ __forceinline__ e4m3 quantize(float x, float scale, int convention) {
    if (convention == f8_vllm) return e4m3(x * (1.0f / scale));
    return e4m3(__double2bfloat16(double(x) / double(scale)));
}
