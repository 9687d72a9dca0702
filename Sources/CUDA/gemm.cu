// y [m, n] = x [m, k] · w [n, k]ᵀ in 16 × 16 tiles through shared memory, float32 sums in k order (kernels.cuh):
// one kernel template for every operand type — float, bf16, FP8 E4M3 codes — each element widened to float as its
// tile is loaded, and an epilogue that stores the sum (as float or bf16, or × the FP8 scale of its row block).
// The plain tiled form: correctness first; the tensor-core path comes with the performance work.

#include "kernels.cuh"

namespace {

constexpr int tile = 16;

// y[r, c] = sum, stored as Y.
template <typename Y> struct Store {
    Y *y;
    int64_t n;
    __device__ void operator()(int64_t r, int64_t c, float sum) const { y[r * n + c] = narrow<Y>(sum); }
};

// spec/quant.md eq. 5: y[r, c] = F(Σ) · F(s_a · s_w), s_w that of c's row block of w (gate or up rows).
struct StoreScaled {
    float *y;
    int64_t n, split;
    float low, high;   // F(s_a · s_w) of the rows [0, split) and [split, n) of w
    __device__ void operator()(int64_t r, int64_t c, float sum) const { y[r * n + c] = sum * (c < split ? low : high); }
};

template <typename X, typename W, typename Epilogue>
__global__ void linear(const X *x, const W *w, Epilogue store, int64_t m, int64_t n, int64_t k) {
    __shared__ float xs[tile][tile], ws[tile][tile + 1];
    const int64_t row = int64_t(blockIdx.y) * tile + threadIdx.y, column = int64_t(blockIdx.x) * tile + threadIdx.x;
    const int64_t wRow = int64_t(blockIdx.x) * tile + threadIdx.y;   // the weight row this thread loads
    float sum = 0;
    for (int64_t k0 = 0; k0 < k; k0 += tile) {
        const int64_t kx = k0 + threadIdx.x;
        xs[threadIdx.y][threadIdx.x] = row < m && kx < k ? widen(x[row * k + kx]) : 0.0f;
        ws[threadIdx.y][threadIdx.x] = wRow < n && kx < k ? widen(w[wRow * k + kx]) : 0.0f;
        __syncthreads();
        for (int i = 0; i < tile; i++) sum += xs[threadIdx.y][i] * ws[threadIdx.x][i];
        __syncthreads();
    }
    if (row < m && column < n) store(row, column, sum);
}

template <typename X, typename W, typename Epilogue>
void launch_tiles(const X *x, const W *w, Epilogue store, int64_t m, int64_t n, int64_t k) {
    if (m <= 0 || n <= 0) return;
    const dim3 threads(tile, tile), grid(unsigned((n + tile - 1) / tile), unsigned((m + tile - 1) / tile));
    const auto kernel = linear<X, W, Epilogue>;
    ASSAY_LAUNCH(kernel, grid, threads, x, w, store, m, n, k);
}

} // namespace

void launch_linear(const float *x, const float *w, float *y, int64_t m, int64_t n, int64_t k) {
    launch_tiles(x, w, Store<float>{y, n}, m, n, k);
}

void launch_linear(const bf16 *x, const bf16 *w, bf16 *y, int64_t m, int64_t n, int64_t k) {
    launch_tiles(x, w, Store<bf16>{y, n}, m, n, k);
}

void launch_linear_codes(const e4m3 *xq, const F8Layer &layer, float *y, int64_t m, int64_t n, int64_t k) {
    const float low = layer.activation_scale * layer.weight_scale[0], high = layer.activation_scale * layer.weight_scale[1];
    launch_tiles(xq, layer.w, StoreScaled{y, n, layer.split, low, high}, m, n, k);
}
