// The vision tower's and projector's entry points: patch_embedding, patch_merger, projector_mlp, vision_attention
// (spec/vision.md, spec/projector.md), f32; the products are launch_linear, the gathers and RoPE in vision.cu.

#include <vector>

#include "plugin.cuh"

namespace {

// The images' patch grids [images, 2] cover exactly `patches` patches, each side a positive multiple of `multiple`.
bool grids_cover(const int64_t *grids, int64_t images, int64_t patches, int64_t multiple) {
    int64_t total = 0;
    for (int64_t n = 0; n < images; n++) {
        const int64_t rows = grids[2 * n], cols = grids[2 * n + 1];
        if (rows <= 0 || cols <= 0 || rows % multiple || cols % multiple) return false;
        total += rows * cols;
    }
    return total == patches;
}

} // namespace

extern "C" {

// patch_embedding: per image, im2col then W [hidden, C·p·p] · columnsᵀ, which is the image's [hidden, rows, cols].
int assay_patch_embedding_f32(const assay_patch_embedding_args *args, const float *pixels, const float *weight,
                              float *y) {
    const int64_t N = args->images, C = args->channels, H = args->height, W = args->width, p = args->patch;
    const int64_t hidden = args->hidden;
    if (p <= 0) return fail_arguments("patch_embedding: patch must be > 0");
    const int64_t patches = (H / p) * (W / p), K = C * p * p;
    Device<float> dpixels(pixels, size_t(N * C * H * W)), columns(size_t(patches * K)), dy(size_t(N * hidden * patches));
    Weight<float> dw(weight, size_t(hidden * K));
    if (cudaError_t status = first_failure(dpixels, dw, columns, dy))
        return fail("patch_embedding", "device buffers", status);
    for (int64_t n = 0; n < N; n++) {
        launch_im2col(dpixels.data + n * C * H * W, columns.data, C, H, W, p);
        launch_linear(dw.data, columns.data, dy.data + n * hidden * patches, hidden, patches, K);
    }
    return finish("patch_embedding", dy, y, size_t(N * hidden * patches));
}

// patch_merger: the unfold gather (block row m starts at source[m]), then v · Wᵀ.
int assay_patch_merger_f32(const assay_patch_merger_args *args, const float *x, const int64_t *grids,
                           const float *weight, float *y) {
    const int64_t hidden = args->hidden, s = args->merge, P = args->patches;
    if (s <= 0 || !grids_cover(grids, args->images, P, s))
        return fail_arguments("patch_merger: grids must cover the patches, each side a multiple of merge");
    const int64_t merged = P / (s * s), width = hidden * s * s;
    std::vector<int64_t> source;
    for (int64_t n = 0, start = 0; n < args->images; start += grids[2 * n] * grids[2 * n + 1], n++) {
        const int64_t cols = grids[2 * n + 1];
        for (int64_t i = 0; i < grids[2 * n] / s; i++)
            for (int64_t j = 0; j < cols / s; j++) {
                source.push_back(start + s * i * cols + s * j);
                source.push_back(cols);
            }
    }
    Device<float> dx(x, size_t(P * hidden)), v(size_t(merged * width)), dy(size_t(merged * hidden));
    Device<int64_t> dsource(source.data(), source.size());
    Weight<float> dw(weight, size_t(hidden * width));
    if (cudaError_t status = first_failure(dx, dw, v, dy, dsource)) return fail("patch_merger", "device buffers", status);
    launch_unfold(dx.data, dsource.data, v.data, merged, hidden, s);                           // (2)
    launch_linear(v.data, dw.data, dy.data, merged, hidden, width);                            // (3)
    return finish("patch_merger", dy, y, size_t(merged * hidden));
}

// projector_mlp: y = W2 · GELU(W1 · x + b1) + b2: two launch_linear with a bias (+ GELU) kernel after each.
int assay_projector_mlp_f32(const assay_projector_mlp_args *args, const float *x, const float *w1, const float *b1,
                            const float *w2, const float *b2, float *y) {
    const int64_t rows = args->rows, in = args->input, hidden = args->hidden;
    Device<float> dx(x, size_t(rows * in)), u(size_t(rows * hidden)), dy(size_t(rows * hidden));
    Weight<float> dw1(w1, size_t(hidden * in)), dw2(w2, size_t(hidden * hidden)), db1(b1, size_t(hidden)),
        db2(b2, size_t(hidden));
    if (cudaError_t status = first_failure(dx, dw1, dw2, u, dy, db1, db2))
        return fail("projector_mlp", "device buffers", status);
    launch_linear(dx.data, dw1.data, u.data, rows, hidden, in);                                // (4)
    launch_bias_activation(u.data, db1.data, rows, hidden, true);
    launch_linear(u.data, dw2.data, dy.data, rows, hidden, hidden);                            // (5)
    if (db2.data) launch_bias_activation(dy.data, db2.data, rows, hidden, false);
    return finish("projector_mlp", dy, y, size_t(rows * hidden));
}

// vision_attention: q, k, v by launch_linear; 2D RoPE in place; a block per (patch, head) attends within the
// patch's image; y = mixed · W_oᵀ.
int assay_vision_attention_f32(const assay_vision_attention_args *args, const float *x, const int64_t *grids,
                               const double *frequencies, const float *wq, const float *wk, const float *wv,
                               const float *wo, float *y) {
    const int64_t P = args->patches, hidden = args->hidden, heads = args->heads, d = heads > 0 ? hidden / heads : 0;
    if (heads <= 0 || hidden % heads || d % 4 || !grids_cover(grids, args->images, P, 1))
        return fail_arguments("vision_attention: needs head_dim = hidden / heads divisible by 4 and grids covering "
                              "the patches");
    std::vector<int64_t> at(size_t(P * 2)), span(size_t(P * 2));   // per patch: {row, col}; {first, count}
    for (int64_t n = 0, start = 0; n < args->images; start += grids[2 * n] * grids[2 * n + 1], n++) {
        const int64_t cols = grids[2 * n + 1], count = grids[2 * n] * cols;
        for (int64_t t = 0; t < count; t++) {
            at[size_t((start + t) * 2)] = t / cols;
            at[size_t((start + t) * 2 + 1)] = t % cols;
            span[size_t((start + t) * 2)] = start;
            span[size_t((start + t) * 2 + 1)] = count;
        }
    }
    const size_t count = size_t(P * hidden), square = size_t(hidden * hidden);
    Device<float> dx(x, count), q(count), k(count), v(count), mixed(count), dy(count);
    Device<int64_t> dat(at.data(), at.size()), dspan(span.data(), span.size());
    Weight<float> dwq(wq, square), dwk(wk, square), dwv(wv, square), dwo(wo, square);
    Weight<double> dfreq(frequencies, size_t(d / 2));
    if (cudaError_t status = first_failure(dx, dwq, dwk, dwv, dwo, q, k, v, mixed, dy, dat, dspan, dfreq))
        return fail("vision_attention", "device buffers", status);
    launch_linear(dx.data, dwq.data, q.data, P, hidden, hidden);                               // (8)
    launch_linear(dx.data, dwk.data, k.data, P, hidden, hidden);
    launch_linear(dx.data, dwv.data, v.data, P, hidden, hidden);
    launch_rope_2d(q.data, k.data, dat.data, dfreq.data, P, heads, d);                         // (6)–(7)
    launch_vision_attention(q.data, k.data, v.data, dspan.data, mixed.data, P, heads, d);      // (9)
    launch_linear(mixed.data, dwo.data, dy.data, P, hidden, hidden);                           // (10)
    return finish("vision_attention", dy, y, count);
}

} // extern "C"
