// Row-wise and elementwise kernels: RMSNorm, add, the SwiGLU gate, the embedding gather (kernels.cuh), each for
// float and bf16 elements. Arithmetic is float32; a bf16 kernel rounds where spec/precision.md §2 says transformers
// does (rounded<T>, the identity for float).

#include "kernels.cuh"

namespace {

constexpr int threads = 256;

// One block per row r: x rows `x_stride` elements apart, y rows `y_stride` apart (the first `width` of each).
// spec/rmsnorm.md eq. 1–2 (bf16: n_i = B(x_i · r), y_i = B(w_i · n_i)).
template <typename T>
__global__ void rms_norm(const T *x, int64_t x_stride, const T *weight, T *y, int64_t y_stride, int64_t width,
                         float epsilon) {
    __shared__ float partial[threads];
    const T *row = x + blockIdx.x * x_stride;
    float sum = 0;
    for (int64_t i = threadIdx.x; i < width; i += blockDim.x) sum += widen(row[i]) * widen(row[i]);
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (int stride = threads / 2; stride > 0; stride /= 2) {   // tree sum: a fixed order for a fixed width
        if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
        __syncthreads();
    }
    const float inverse = rsqrtf(partial[0] / float(width) + epsilon);
    for (int64_t i = threadIdx.x; i < width; i += blockDim.x)
        y[blockIdx.x * y_stride + i] = narrow<T>(widen(weight[i]) * rounded<T>(widen(row[i]) * inverse));
}

template <typename T> __global__ void add(const T *a, const T *b, T *y, int64_t count) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < count) y[i] = narrow<T>(widen(a[i]) + widen(b[i]));
}

// spec/experts.md eq. 1 (bf16: h = B(B(silu(g)) · u), spec/precision.md).
template <typename T> __global__ void gated_silu(const T *gate_up, T *h, int64_t tokens, int64_t width) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= tokens * width) return;
    const int64_t t = i / width, j = i % width;
    const float g = widen(gate_up[t * 2 * width + j]), u = widen(gate_up[t * 2 * width + width + j]);
    h[i] = narrow<T>(rounded<T>(g / (1.0f + expf(-g))) * u);
}

template <typename T> __global__ void gather(const int64_t *ids, const T *table, T *y, int64_t tokens, int64_t hidden) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < tokens * hidden) y[i] = table[ids[i / hidden] * hidden + i % hidden];
}

unsigned blocks(int64_t count) { return unsigned((count + threads - 1) / threads); }

template <typename T>
void rms_norm_rows(const T *x, int64_t x_stride, const T *weight, T *y, int64_t y_stride, int64_t rows, int64_t width,
                   float epsilon) {
    const auto kernel = rms_norm<T>;
    if (rows > 0) ASSAY_LAUNCH(kernel, unsigned(rows), threads, x, x_stride, weight, y, y_stride, width, epsilon);
}

template <typename T> void add_elements(const T *a, const T *b, T *y, int64_t count) {
    const auto kernel = add<T>;
    if (count > 0) ASSAY_LAUNCH(kernel, blocks(count), threads, a, b, y, count);
}

template <typename T> void gate(const T *gate_up, T *h, int64_t tokens, int64_t width) {
    const auto kernel = gated_silu<T>;
    if (tokens * width > 0) ASSAY_LAUNCH(kernel, blocks(tokens * width), threads, gate_up, h, tokens, width);
}

template <typename T> void gather_rows(const int64_t *ids, const T *table, T *y, int64_t tokens, int64_t hidden) {
    const auto kernel = gather<T>;
    if (tokens * hidden > 0) ASSAY_LAUNCH(kernel, blocks(tokens * hidden), threads, ids, table, y, tokens, hidden);
}

} // namespace

void launch_rms_norm(const float *x, const float *weight, float *y, int64_t rows, int64_t width, float epsilon) {
    rms_norm_rows(x, width, weight, y, width, rows, width, epsilon);
}
void launch_rms_norm(const bf16 *x, const bf16 *weight, bf16 *y, int64_t rows, int64_t width, float epsilon) {
    rms_norm_rows(x, width, weight, y, width, rows, width, epsilon);
}
void launch_rms_norm_strided(const float *x, int64_t x_stride, const float *weight, float *y, int64_t y_stride,
                             int64_t rows, int64_t width, float epsilon) {
    rms_norm_rows(x, x_stride, weight, y, y_stride, rows, width, epsilon);
}

void launch_add(const float *a, const float *b, float *y, int64_t count) { add_elements(a, b, y, count); }
void launch_add(const bf16 *a, const bf16 *b, bf16 *y, int64_t count) { add_elements(a, b, y, count); }

void launch_gated_silu(const float *gate_up, float *h, int64_t tokens, int64_t width) { gate(gate_up, h, tokens, width); }
void launch_gated_silu(const bf16 *gate_up, bf16 *h, int64_t tokens, int64_t width) { gate(gate_up, h, tokens, width); }

void launch_gather(const int64_t *ids, const float *table, float *y, int64_t tokens, int64_t hidden) {
    gather_rows(ids, table, y, tokens, hidden);
}
void launch_gather(const int64_t *ids, const bf16 *table, bf16 *y, int64_t tokens, int64_t hidden) {
    gather_rows(ids, table, y, tokens, hidden);
}
