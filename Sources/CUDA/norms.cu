// Row-wise and elementwise kernels: RMSNorm, add, the SwiGLU gate, the embedding gather (kernels.cuh).

#include "kernels.cuh"

namespace {

constexpr int threads = 256;

// One block per row r: x rows `x_stride` floats apart, y rows `y_stride` apart (the first `width` of each).
__global__ void rms_norm(const float *x, int64_t x_stride, const float *weight, float *y, int64_t y_stride,
                         int64_t width, float epsilon) {
    __shared__ float partial[threads];
    const float *row = x + blockIdx.x * x_stride;
    float sum = 0;
    for (int64_t i = threadIdx.x; i < width; i += blockDim.x) sum += row[i] * row[i];
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (int stride = threads / 2; stride > 0; stride /= 2) {   // tree sum: a fixed order for a fixed width
        if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
        __syncthreads();
    }
    const float inverse = rsqrtf(partial[0] / float(width) + epsilon);
    for (int64_t i = threadIdx.x; i < width; i += blockDim.x) y[blockIdx.x * y_stride + i] = weight[i] * (row[i] * inverse);
}

__global__ void add(const float *a, const float *b, float *y, int64_t count) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < count) y[i] = a[i] + b[i];
}

__global__ void gated_silu(const float *gate_up, float *h, int64_t tokens, int64_t width) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= tokens * width) return;
    const int64_t t = i / width, j = i % width;
    const float g = gate_up[t * 2 * width + j], u = gate_up[t * 2 * width + width + j];
    h[i] = g / (1.0f + expf(-g)) * u;
}

__global__ void gather(const int64_t *ids, const float *table, float *y, int64_t tokens, int64_t hidden) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < tokens * hidden) y[i] = table[ids[i / hidden] * hidden + i % hidden];
}

unsigned blocks(int64_t count) { return unsigned((count + threads - 1) / threads); }

} // namespace

void launch_rms_norm(const float *x, const float *weight, float *y, int64_t rows, int64_t width, float epsilon) {
    launch_rms_norm_strided(x, width, weight, y, width, rows, width, epsilon);
}

void launch_rms_norm_strided(const float *x, int64_t x_stride, const float *weight, float *y, int64_t y_stride,
                             int64_t rows, int64_t width, float epsilon) {
    if (rows > 0) ASSAY_LAUNCH(rms_norm, unsigned(rows), threads, x, x_stride, weight, y, y_stride, width, epsilon);
}

void launch_add(const float *a, const float *b, float *y, int64_t count) {
    if (count > 0) ASSAY_LAUNCH(add, blocks(count), threads, a, b, y, count);
}

void launch_gated_silu(const float *gate_up, float *h, int64_t tokens, int64_t width) {
    if (tokens * width > 0) ASSAY_LAUNCH(gated_silu, blocks(tokens * width), threads, gate_up, h, tokens, width);
}

void launch_gather(const int64_t *ids, const float *table, float *y, int64_t tokens, int64_t hidden) {
    if (tokens * hidden > 0) ASSAY_LAUNCH(gather, blocks(tokens * hidden), threads, ids, table, y, tokens, hidden);
}
