// The host side every entry point (ops_*.cu) is built from: errors, device buffers for activations and outputs,
// weight arguments from the device cache (cuda_plugin.cu), the linear layers of each dtype, and the copy back.
#pragma once

#include <cstddef>
#include <type_traits>

#include "assay_plugin.h"
#include "kernels.cuh"   // and, through cuda_compat.cuh, the CUDA runtime or its host emulation

// Records "<op>: <what>: <CUDA's text> (<its name>)" as the last error; returns 1, the ABI's failure code.
int fail(const char *op, const char *what, cudaError_t status);
// Records an argument error, printf-style; returns 1.
int fail_arguments(const char *format, ...);

// cudaMalloc; when it fails, the unused cached weights are freed and it is tried once more.
cudaError_t device_allocate(void **pointer, size_t bytes);

// A weight argument's device copy from the cache, held (not evicted) while this lives: key (host pointer, byte
// count), checked against a 64-bit hash of the bytes on every call, re-uploaded when they changed. NULL stays NULL.
cudaError_t weight_acquire(const void *host, size_t bytes, const void **device);
void weight_release(const void *host, size_t bytes);

template <typename T> struct Weight {
    const T *data = nullptr;
    cudaError_t status = cudaSuccess;
    const T *host;
    size_t bytes;

    Weight(const T *host, size_t count) : host(host), bytes(count * sizeof(T)) {
        const void *device = nullptr;
        if (host) status = weight_acquire(host, bytes, &device);
        data = static_cast<const T *>(device);
    }
    ~Weight() {
        if (data) weight_release(host, bytes);
    }
    Weight(const Weight &) = delete;
    Weight &operator=(const Weight &) = delete;
};

// A device buffer of `count` values, freed on scope exit; the two-argument form copies host data in.
template <typename T> struct Device {
    T *data = nullptr;
    cudaError_t status = cudaSuccess;

    explicit Device(size_t count) { status = device_allocate(reinterpret_cast<void **>(&data), count * sizeof(T)); }
    Device(const T *host, size_t count) : Device(count) {
        if (status == cudaSuccess) status = cudaMemcpy(data, host, count * sizeof(T), cudaMemcpyHostToDevice);
    }
    ~Device() { cudaFree(data); }
    Device(const Device &) = delete;
    Device &operator=(const Device &) = delete;
};

// The first failure among `buffers`, or cudaSuccess.
template <typename... Buffers> cudaError_t first_failure(const Buffers &...buffers) {
    cudaError_t statuses[] = {buffers.status...};
    for (cudaError_t status : statuses)
        if (status != cudaSuccess) return status;
    return cudaSuccess;
}

// Waits for the launched kernels and copies `count` values of each (device, host) output pair back.
int finish(const char *op, const void *device, void *host, size_t bytes);
template <typename T, typename... More>
int finish(const char *op, const Device<T> &device, T *host, size_t count, const More &...more) {
    if (int status = finish(op, device.data, host, count * sizeof(T))) return status;
    if constexpr (sizeof...(more) > 0) return finish(op, more...);
    return 0;
}

// The ABI's bfloat16 bits and E4M3 codes as CUDA's types (same size and layout).
inline const bf16 *as_bf16(const uint16_t *bits) { return reinterpret_cast<const bf16 *>(bits); }
inline bf16 *as_bf16(uint16_t *bits) { return reinterpret_cast<bf16 *>(bits); }
inline const e4m3 *as_e4m3(const uint8_t *codes) { return reinterpret_cast<const e4m3 *>(codes); }

// A linear layer on the device, y [m, n] = x [m, k] · Wᵀ: plain weights w (float or bf16), or, for float
// activations, FP8 codes and scales (f8.w set) with xq scratch for the quantized input (at least m · k codes).
template <typename T> struct Linear {
    const T *w = nullptr;
    F8Layer f8 = {};
    e4m3 *xq = nullptr;

    void operator()(const T *x, T *y, int64_t m, int64_t n, int64_t k) const {
        if constexpr (std::is_same_v<T, float>)
            if (f8.w) return launch_linear_f8(x, xq, f8, y, m, n, k);
        launch_linear(x, w, y, m, n, k);
    }
};

// The FP8 layer of codes w under one linear's scales (split: where the second weight scale starts).
inline F8Layer f8_layer(const uint8_t *w, float activation_scale, float weight_scale, float second_scale,
                        int64_t split, int convention) {
    return {as_e4m3(w), activation_scale, {weight_scale, second_scale}, split, convention};
}

// spec/experts.md eq. 1 on `tokens` rows: projected [tokens, 2·width] = x · gate_upᵀ, gated [tokens, width] =
// silu(gate) ⊙ up, y [tokens, hidden] = gated · downᵀ.
template <typename T>
void launch_swiglu(const Linear<T> &gate_up, const Linear<T> &down, const T *x, T *projected, T *gated, T *y,
                   int64_t tokens, int64_t hidden, int64_t width) {
    gate_up(x, projected, tokens, 2 * width, hidden);
    launch_gated_silu(projected, gated, tokens, width);
    down(gated, y, tokens, hidden, width);
}
