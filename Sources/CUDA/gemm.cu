// y [m, n] = x [m, k] · w [n, k]ᵀ in 16 × 16 tiles through shared memory, float32 sums in k order (kernels.cuh).
// The plain tiled form: correctness first; the tensor-core path comes with the performance work of issue 8.

#include "kernels.cuh"

namespace {

constexpr int tile = 16;

__global__ void linear(const float *x, const float *w, float *y, int64_t m, int64_t n, int64_t k) {
    __shared__ float xs[tile][tile], ws[tile][tile + 1];
    const int64_t row = int64_t(blockIdx.y) * tile + threadIdx.y, column = int64_t(blockIdx.x) * tile + threadIdx.x;
    const int64_t wRow = int64_t(blockIdx.x) * tile + threadIdx.y;   // the weight row this thread loads
    float sum = 0;
    for (int64_t k0 = 0; k0 < k; k0 += tile) {
        const int64_t kx = k0 + threadIdx.x;
        xs[threadIdx.y][threadIdx.x] = row < m && kx < k ? x[row * k + kx] : 0.0f;
        ws[threadIdx.y][threadIdx.x] = wRow < n && kx < k ? w[wRow * k + kx] : 0.0f;
        __syncthreads();
        for (int i = 0; i < tile; i++) sum += xs[threadIdx.y][i] * ws[threadIdx.x][i];
        __syncthreads();
    }
    if (row < m && column < n) y[row * n + column] = sum;
}

} // namespace

void launch_linear(const float *x, const float *w, float *y, int64_t m, int64_t n, int64_t k) {
    if (m <= 0 || n <= 0) return;
    const dim3 threads(tile, tile), grid(unsigned((n + tile - 1) / tile), unsigned((m + tile - 1) / tile));
    ASSAY_LAUNCH(linear, grid, threads, x, w, y, m, n, k);
}
