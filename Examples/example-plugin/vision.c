/*
 * The vision tower's own ops and the multimodal projector: patch embedding, 2D-RoPE attention within each image,
 * the patch merger and the projector MLP — spec/vision.md and spec/projector.md. The vision norms and feed-forward
 * are rms_norm and swiglu (text.c). Part of example_plugin.c, which #includes it.
 */
#include "common.h"

/* Checks that the images' patch grids (N,2) cover exactly `patches` rows, each side a multiple of `multiple`. */
static int check_grids(const int64_t *grids, int64_t images, int64_t patches, int64_t multiple) {
    int64_t total = 0;
    for (int64_t n = 0; n < images; n++) {
        const int64_t rows = grids[2 * n], cols = grids[2 * n + 1];
        if (rows <= 0 || cols <= 0 || rows % multiple || cols % multiple) return 1;
        total += rows * cols;
    }
    return total != patches;
}

/* ---- patch_embedding: spec/vision.md eq. 1 -------------------------------------------------------------------- */

/* pixels (N,C,Hp,Wp), weight (Hv,C,p,p) -> y (N,Hv,Hp/p,Wp/p):
 *   y[n,o,r,c] = Σ_{ch,i,j} W[o,ch,i,j] · pixels[n, ch, r·p + i, c·p + j]      kernel = stride = p, no bias */
int assay_patch_embedding_f32(const assay_patch_embedding_args *args, const float *pixels, const float *weight,
                              float *y) {
    const int64_t C = args->channels, H = args->height, W = args->width, p = args->patch, Hv = args->hidden;
    if (p <= 0) return fail("patch_embedding: patch must be > 0");
    const int64_t rows = H / p, cols = W / p;                                          /* partial patches dropped */
    for (int64_t n = 0; n < args->images; n++)
        for (int64_t o = 0; o < Hv; o++)
            for (int64_t r = 0; r < rows; r++)
                for (int64_t c = 0; c < cols; c++) {
                    float sum = 0.0f;
                    for (int64_t ch = 0; ch < C; ch++)
                        for (int64_t i = 0; i < p; i++) {                      /* kernel row i against pixel row */
                            const float *kernel = weight + ((o * C + ch) * p + i) * p;
                            sum += dot(kernel, pixels + ((n * C + ch) * H + r * p + i) * W + c * p, p);
                        }
                    y[((n * Hv + o) * rows + r) * cols + c] = sum;
                }
    return 0;
}

/* ---- vision_attention: spec/vision.md eq. 5–10 --------------------------------------------------------------- */

/* One head's q or k x (d,) at patch (row, col) of its image, rotated in place, eq. 6–7: interleaved pairs
 * (x[2j], x[2j+1]) stay interleaved; pair j < d/4 turns by row · f[2j], pair j ≥ d/4 by col · f[2(j − d/4) + 1];
 * angles in float64, cos/sin rounded to float32. frequencies (d/2,). */
static void rope_2d(float *x, int64_t d, int64_t row, int64_t col, const double *frequencies) {
    const int64_t quarter = d / 4;
    for (int64_t j = 0; j < d / 2; j++) {
        double angle = j < quarter ? (double)row * frequencies[2 * j]
                                   : (double)col * frequencies[2 * (j - quarter) + 1];
        float c = (float)cos(angle), s = (float)sin(angle), u = x[2 * j], v = x[2 * j + 1];
        x[2 * j] = u * c - v * s;
        x[2 * j + 1] = v * c + u * s;
    }
}

/* One image of P patches (rows × cols grid, row-major), all heads, eq. 9–10 before W_o:
 *   q, k, v (P,Hv) -> mixed (P,Hv),  mixed[t, head h] = Σ_s softmax_s(q_t·k_s / √d) v_s.
 * scores is (P,) scratch. */
static void vision_image(const float *q, const float *k, const float *v, int64_t P, int64_t Hv, int64_t heads,
                         float *mixed, float *scores) {
    const int64_t d = Hv / heads;
    const float scale = 1.0f / sqrtf((float)d);
    for (int64_t t = 0; t < P; t++)
        for (int64_t h = 0; h < heads; h++) {
            for (int64_t s = 0; s < P; s++) scores[s] = dot(q + t * Hv + h * d, k + s * Hv + h * d, d) * scale;
            softmax(scores, P);                                                         /* (9) no causal mask */
            float *o = mixed + t * Hv + h * d;
            for (int64_t i = 0; i < d; i++) o[i] = 0.0f;
            for (int64_t s = 0; s < P; s++)
                for (int64_t i = 0; i < d; i++) o[i] += scores[s] * v[s * Hv + h * d + i];
        }
}

/* x (P,Hv), grids (N,2), frequencies (d/2,), wq, wk, wv, wo (Hv,Hv) -> y (P,Hv). Eq. 8: q, k, v = W·x, q and k
 * rotated at each patch's (row, col) inside its own image; eq. 9–10 within each image only (block-diagonal). */
int assay_vision_attention_f32(const assay_vision_attention_args *args, const float *x, const int64_t *grids,
                               const double *frequencies, const float *wq, const float *wk, const float *wv,
                               const float *wo, float *y) {
    const int64_t P = args->patches, Hv = args->hidden, heads = args->heads, d = heads > 0 ? Hv / heads : 0;
    if (heads <= 0 || Hv % heads || d % 4 || check_grids(grids, args->images, P, 1))
        return fail("vision_attention: needs head_dim = hidden / heads divisible by 4 and grids covering the patches");
    float *q = scratch(P * Hv), *k = scratch(P * Hv), *v = scratch(P * Hv), *mixed = scratch(P * Hv);
    float *scores = scratch(P);
    int status = q && k && v && mixed && scores ? 0 : fail("vision_attention: out of memory");
    for (int64_t t = 0; t < P && status == 0; t++) {                                   /* (8) */
        matmul(q + t * Hv, x + t * Hv, wq, NULL, Hv, Hv);
        matmul(k + t * Hv, x + t * Hv, wk, NULL, Hv, Hv);
        matmul(v + t * Hv, x + t * Hv, wv, NULL, Hv, Hv);
    }
    for (int64_t n = 0, start = 0; n < args->images && status == 0; start += grids[2 * n] * grids[2 * n + 1], n++) {
        const int64_t cols = grids[2 * n + 1], count = grids[2 * n] * cols;
        for (int64_t t = 0; t < count; t++)                                            /* (6)–(7), (0,0) per image */
            for (int64_t h = 0; h < heads; h++) {
                rope_2d(q + (start + t) * Hv + h * d, d, t / cols, t % cols, frequencies);
                rope_2d(k + (start + t) * Hv + h * d, d, t / cols, t % cols, frequencies);
            }
        vision_image(q + start * Hv, k + start * Hv, v + start * Hv, count, Hv, heads, mixed + start * Hv, scores);
    }
    for (int64_t t = 0; t < P && status == 0; t++) matmul(y + t * Hv, mixed + t * Hv, wo, NULL, Hv, Hv);   /* (10) */
    free(q);
    free(k);
    free(v);
    free(mixed);
    free(scores);
    return status;
}

/* ---- patch_merger and projector_mlp: spec/projector.md -------------------------------------------------------- */

/* x (P,Hv), grids (N,2), weight (Hv, Hv·s²) -> y (P/s², Hv). Eq. 2–3: each s × s block (i, j) of an image's grid,
 * blocks row-major, images in order, becomes v[c·s² + a·s + b] = x[patch (s·i + a, s·j + b)][c]; y = W · v. */
int assay_patch_merger_f32(const assay_patch_merger_args *args, const float *x, const int64_t *grids,
                           const float *weight, float *y) {
    const int64_t Hv = args->hidden, s = args->merge, width = Hv * s * s;
    if (s <= 0 || check_grids(grids, args->images, args->patches, s))
        return fail("patch_merger: grids must cover the patches, each side a multiple of merge");
    float *v = scratch(width);
    if (!v) return fail("patch_merger: out of memory");
    for (int64_t n = 0, start = 0, out = 0; n < args->images; start += grids[2 * n] * grids[2 * n + 1], n++) {
        const int64_t cols = grids[2 * n + 1];
        for (int64_t i = 0; i < grids[2 * n] / s; i++)
            for (int64_t j = 0; j < cols / s; j++, out++) {
                for (int64_t c = 0; c < Hv; c++)                                        /* (2) */
                    for (int64_t a = 0; a < s; a++)
                        for (int64_t b = 0; b < s; b++)
                            v[c * s * s + a * s + b] = x[(start + (s * i + a) * cols + s * j + b) * Hv + c];
                matmul(y + out * Hv, v, weight, NULL, width, Hv);                       /* (3) */
            }
    }
    free(v);
    return 0;
}

/* x (M,In), w1 (Hd,In), b1 (Hd,) or NULL, w2 (Hd,Hd), b2 (Hd,) or NULL -> y (M,Hd). Eq. 4–5:
 *   u = W1 · x + b1;  y = W2 · GELU(u) + b2,  GELU exact (erf). */
int assay_projector_mlp_f32(const assay_projector_mlp_args *args, const float *x, const float *w1, const float *b1,
                            const float *w2, const float *b2, float *y) {
    float *u = scratch(args->hidden);
    if (!u) return fail("projector_mlp: out of memory");
    for (int64_t r = 0; r < args->rows; r++) {
        matmul(u, x + r * args->input, w1, b1, args->input, args->hidden);             /* (4) */
        for (int64_t i = 0; i < args->hidden; i++) u[i] = gelu(u[i]);
        matmul(y + r * args->hidden, u, w2, b2, args->hidden, args->hidden);           /* (5) */
    }
    free(u);
    return 0;
}
