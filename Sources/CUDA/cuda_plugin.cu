// libassay_cuda.so: Assay's CUDA backend as a plugin of the C ABI (Sources/CAssayPlugin/include/assay_plugin.h,
// spec/plugin-abi.md). This file holds the info call, the error text, and the host side of every entry point: copy
// the host buffers to the device, launch, copy the result back, and turn any CUDA error into a non-zero return whose
// text names the call. The kernels live beside it (norms.cu, gemm.cu).
//
// Weights arrive as host pointers on every call; this version copies them each time (correctness first; caching by
// name comes with ABI version 2).

#include <cstdio>

#include "assay_plugin.h"
#include "kernels.cuh"   // and, through cuda_compat.cuh, the CUDA runtime or its host emulation

namespace {

thread_local char last_error_text[512] = "";

// Records `what` failed with `status`; returns 1, the ABI's failure code.
int fail(const char *what, cudaError_t status) {
    std::snprintf(last_error_text, sizeof last_error_text, "%s: %s (%s)", what, cudaGetErrorString(status),
                  cudaGetErrorName(status));
    return 1;
}

// A device copy of `count` values, freed on scope exit; the two-argument form copies host data in.
template <typename T> struct Device {
    T *data = nullptr;
    cudaError_t status = cudaSuccess;

    explicit Device(size_t count) { status = cudaMalloc(&data, count * sizeof(T)); }
    Device(const T *host, size_t count) : Device(count) {
        if (status == cudaSuccess) status = cudaMemcpy(data, host, count * sizeof(T), cudaMemcpyHostToDevice);
    }
    ~Device() { cudaFree(data); }
    Device(const Device &) = delete;
    Device &operator=(const Device &) = delete;
};
using DeviceBuffer = Device<float>;

// The first failure among `buffers`, or cudaSuccess.
template <typename... Buffers> cudaError_t first_failure(const Buffers &...buffers) {
    cudaError_t statuses[] = {buffers.status...};
    for (cudaError_t status : statuses)
        if (status != cudaSuccess) return status;
    return cudaSuccess;
}

// Waits for the launched kernels and copies `count` floats of `device` into `host`.
int finish(const char *op, const DeviceBuffer &device, float *host, size_t count) {
    cudaError_t status = cudaGetLastError();
    if (status == cudaSuccess) status = cudaDeviceSynchronize();
    if (status != cudaSuccess) return fail(op, status);
    status = cudaMemcpy(host, device.data, count * sizeof(float), cudaMemcpyDeviceToHost);
    return status == cudaSuccess ? 0 : fail(op, status);
}

const assay_op_info operations[] = {
    {"rms_norm", ASSAY_DTYPE_F32},
    {"add", ASSAY_DTYPE_F32},
    {"swiglu", ASSAY_DTYPE_F32},
    {"embedding", ASSAY_DTYPE_F32},
    {"lm_head", ASSAY_DTYPE_F32},
};

const assay_plugin_info info = {ASSAY_PLUGIN_ABI_VERSION, "cuda", sizeof operations / sizeof operations[0],
                                operations};

} // namespace

extern "C" {

const assay_plugin_info *assay_plugin_get_info(void) { return &info; }

const char *assay_plugin_last_error(void) { return last_error_text; }

int assay_rms_norm_f32(const assay_rms_norm_args *args, const float *x, const float *weight, float *y) {
    const size_t count = size_t(args->rows) * size_t(args->width);
    DeviceBuffer dx(x, count), dw(weight, size_t(args->width)), dy(count);
    if (cudaError_t status = first_failure(dx, dw, dy)) return fail("rms_norm: device buffers", status);
    launch_rms_norm(dx.data, dw.data, dy.data, args->rows, args->width, args->epsilon);
    return finish("rms_norm", dy, y, count);
}

int assay_add_f32(const assay_add_args *args, const float *a, const float *b, float *y) {
    const size_t count = size_t(args->count);
    DeviceBuffer da(a, count), db(b, count), dy(count);
    if (cudaError_t status = first_failure(da, db, dy)) return fail("add: device buffers", status);
    launch_add(da.data, db.data, dy.data, args->count);
    return finish("add", dy, y, count);
}

int assay_swiglu_f32(const assay_swiglu_args *args, const float *x, const float *gate_up, const float *down, float *y) {
    const int64_t tokens = args->tokens, hidden = args->hidden, width = args->intermediate;
    DeviceBuffer dx(x, size_t(tokens * hidden)), dgu(gate_up, size_t(2 * width * hidden)),
        dd(down, size_t(hidden * width)), projected(size_t(tokens * 2 * width)), gated(size_t(tokens * width)),
        dy(size_t(tokens * hidden));
    if (cudaError_t status = first_failure(dx, dgu, dd, projected, gated, dy))
        return fail("swiglu: device buffers", status);
    launch_linear(dx.data, dgu.data, projected.data, tokens, 2 * width, hidden);   // [T, 2I] = x · gate_upᵀ
    launch_gated_silu(projected.data, gated.data, tokens, width);                    // [T, I]
    launch_linear(gated.data, dd.data, dy.data, tokens, hidden, width);              // [T, H] = h · downᵀ
    return finish("swiglu", dy, y, size_t(tokens * hidden));
}

int assay_embedding_f32(const assay_embedding_args *args, const int64_t *ids, const float *table, float *y) {
    const size_t count = size_t(args->tokens * args->hidden);
    Device<int64_t> dids(ids, size_t(args->tokens));
    DeviceBuffer dtable(table, size_t(args->rows * args->hidden)), dy(count);
    if (cudaError_t status = first_failure(dids, dtable, dy)) return fail("embedding: device buffers", status);
    launch_gather(dids.data, dtable.data, dy.data, args->tokens, args->hidden);
    return finish("embedding", dy, y, count);
}

int assay_lm_head_f32(const assay_lm_head_args *args, const float *x, const float *weight, float *y) {
    const size_t count = size_t(args->tokens * args->vocab);
    DeviceBuffer dx(x, size_t(args->tokens * args->hidden)), dw(weight, size_t(args->vocab * args->hidden)), dy(count);
    if (cudaError_t status = first_failure(dx, dw, dy)) return fail("lm_head: device buffers", status);
    launch_linear(dx.data, dw.data, dy.data, args->tokens, args->vocab, args->hidden);   // [T, V] = x · Wᵀ
    return finish("lm_head", dy, y, count);
}

} // extern "C"
