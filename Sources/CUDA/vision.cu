// The vision tower's gathers and its 2D RoPE (spec/vision.md, spec/projector.md); the products are launch_linear.

#include "kernels.cuh"

namespace {

constexpr int threads = 256;

unsigned blocks(int64_t count) { return unsigned((count + threads - 1) / threads); }

// im2col for one image, spec/vision.md eq. 1 with kernel = stride = patch:
//   columns [rows·cols, C·p·p]: columns[r·cols + c, (ch·p + i)·p + j] = pixels[ch, r·p + i, c·p + j]
// pixels [C, height, width] (one image); rows = height / p, cols = width / p (partial patches dropped). Then
// W [hidden, C·p·p] · columnsᵀ is the image's output [hidden, rows, cols], summed in (ch, i, j) order.
__global__ void im2col(const float *pixels, float *columns, int64_t channels, int64_t height, int64_t width,
                       int64_t patch) {
    const int64_t rows = height / patch, cols = width / patch, k = channels * patch * patch;
    const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (index >= rows * cols * k) return;
    const int64_t at = index / k, e = index % k, r = at / cols, c = at % cols;
    const int64_t ch = e / (patch * patch), i = e / patch % patch, j = e % patch;
    columns[index] = pixels[(ch * height + r * patch + i) * width + c * patch + j];
}

// The patch merger's unfold, spec/projector.md eq. 2: output row m gathers the merge × merge block whose top-left
// patch is source[m, 0] in an image of source[m, 1] patch columns:
//   v [merged, hidden·s²]: v[m, c·s² + a·s + b] = x[source[m, 0] + a·source[m, 1] + b, c],   x [patches, hidden]
__global__ void unfold(const float *x, const int64_t *source, float *v, int64_t merged, int64_t hidden, int64_t merge) {
    const int64_t width = hidden * merge * merge, index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (index >= merged * width) return;
    const int64_t m = index / width, e = index % width, c = e / (merge * merge), a = e / merge % merge, b = e % merge;
    v[index] = x[(source[m * 2] + a * source[m * 2 + 1] + b) * hidden + c];
}

// 2D RoPE in place on q and k [patches, heads·d], spec/vision.md eq. 6–7: a thread per (patch, head, pair j) turns
// the interleaved pair (x[2j], x[2j+1]) by row · f[2j] when j < d/4, else by col · f[2(j − d/4) + 1]; (row, col) is
// the patch's place in its image, at[t] = {row, col}. Angles in float64, cos and sin rounded to float32.
__global__ void rope_2d(float *q, float *k, const int64_t *at, const double *frequencies, int64_t patches,
                        int64_t heads, int64_t d) {
    const int64_t pairs = d / 2, index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (index >= patches * heads * pairs) return;
    const int64_t t = index / (heads * pairs), j = index % pairs, offset = (index / pairs) * d + 2 * j;
    const double angle = j < d / 4 ? double(at[t * 2]) * frequencies[2 * j]
                                   : double(at[t * 2 + 1]) * frequencies[2 * (j - d / 4) + 1];
    const float c = float(cos(angle)), s = float(sin(angle));
    float u = q[offset], v = q[offset + 1];
    q[offset] = u * c - v * s;
    q[offset + 1] = v * c + u * s;
    u = k[offset], v = k[offset + 1];
    k[offset] = u * c - v * s;
    k[offset + 1] = v * c + u * s;
}

// y [rows, width] += bias [width] (when not NULL), then y = GELU(y) when `gelu`: exact GELU in torch's operation
// order, (u · ½) · (1 + erf(u / √2)) (spec/projector.md eq. 5).
__global__ void bias_activation(float *y, const float *bias, int64_t rows, int64_t width, int gelu) {
    const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (index >= rows * width) return;
    float u = y[index];
    if (bias) u += bias[index % width];
    if (gelu) u = (u * 0.5f) * (1.0f + erff(u * 0.70710678118654752440f));
    y[index] = u;
}

} // namespace

void launch_im2col(const float *pixels, float *columns, int64_t channels, int64_t height, int64_t width, int64_t patch) {
    const int64_t count = (height / patch) * (width / patch) * channels * patch * patch;
    if (count > 0) ASSAY_LAUNCH(im2col, blocks(count), threads, pixels, columns, channels, height, width, patch);
}

void launch_unfold(const float *x, const int64_t *source, float *v, int64_t merged, int64_t hidden, int64_t merge) {
    const int64_t count = merged * hidden * merge * merge;
    if (count > 0) ASSAY_LAUNCH(unfold, blocks(count), threads, x, source, v, merged, hidden, merge);
}

void launch_rope_2d(float *q, float *k, const int64_t *at, const double *frequencies, int64_t patches, int64_t heads,
                    int64_t d) {
    const int64_t count = patches * heads * (d / 2);
    if (count > 0) ASSAY_LAUNCH(rope_2d, blocks(count), threads, q, k, at, frequencies, patches, heads, d);
}

void launch_bias_activation(float *y, const float *bias, int64_t rows, int64_t width, bool gelu) {
    if (rows * width > 0)
        ASSAY_LAUNCH(bias_activation, blocks(rows * width), threads, y, bias, rows, width, int(gelu));
}
