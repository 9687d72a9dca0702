// FP8 E4M3 W8A8 around the tiled product (spec/quant.md): activations quantized by eq. 2 or 3 before
// launch_linear_codes, and the two views the absorbed decode takes (spec/quant.md §6): kv_b's weight dequantized,
// F(w_q · s_w), and the latents as kv_b sees them, x_q · s_a.

#include "kernels.cuh"

namespace {

constexpr int threads = 256;

unsigned blocks(int64_t count) { return unsigned((count + threads - 1) / threads); }

// xq [count] = Q(x [count]) under s_a, eq. 2 or 3.
__global__ void quantize_activations(const float *x, e4m3 *xq, int64_t count, float scale, int convention) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < count) xq[i] = quantize(x[i], scale, convention);
}

// rows of `stride` floats: y[r, c] = Q(x[r, c]) · s_a for c < width, x[r, c] after (x == y allowed).
__global__ void kv_b_view(const float *x, float *y, int64_t rows, int64_t stride, int64_t width, float scale,
                          int convention) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= rows * stride) return;
    y[i] = i % stride < width ? widen(quantize(x[i], scale, convention)) * scale : x[i];
}

// values [count] = F(w_q · s_w).
__global__ void dequantize(const e4m3 *w, float *values, int64_t count, float scale) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < count) values[i] = widen(w[i]) * scale;
}

} // namespace

void launch_linear_f8(const float *x, e4m3 *xq, const F8Layer &layer, float *y, int64_t m, int64_t n, int64_t k) {
    if (m * k > 0)
        ASSAY_LAUNCH(quantize_activations, blocks(m * k), threads, x, xq, m * k, layer.activation_scale,
                     layer.convention);                                                     // eq. 2–3
    launch_linear_codes(xq, layer, y, m, n, k);                                             // eq. 5
}

void launch_kv_b_view(const float *x, float *y, int64_t rows, int64_t stride, int64_t width, float scale,
                      int convention) {
    if (rows * stride > 0)
        ASSAY_LAUNCH(kv_b_view, blocks(rows * stride), threads, x, y, rows, stride, width, scale, convention);
}

void launch_dequantize(const e4m3 *w, float *values, int64_t count, float scale) {
    if (count > 0) ASSAY_LAUNCH(dequantize, blocks(count), threads, w, values, count, scale);
}
