/*
 * The bf16 entry points: embedding, rms_norm, add, swiglu and lm_head on bfloat16 buffers (uint16_t bit patterns),
 * computing in float32 and rounding to bf16 where transformers does in the hf-bf16 profile (spec/precision.md),
 * written B(·). Part of example_plugin.c, which #includes it.
 */
#include "common.h"

/* bf16 bits -> float (exact: a bf16 is the top half of a float32). */
static float bf16_value(uint16_t bits) {
    uint32_t u = (uint32_t)bits << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* float -> bf16 bits, nearest, ties to even (NaN stays NaN). */
static uint16_t bf16_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if (isnan(f)) return 0x7FC0;
    u += 0x7FFF + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* B(x): x rounded to bf16, as a float. */
static float B(float x) { return bf16_value(bf16_bits(x)); }

/* count bf16 values -> floats, malloc'd; NULL when out of memory. */
static float *widen(const uint16_t *bits, int64_t count) {
    float *values = malloc((size_t)(count > 0 ? count : 1) * sizeof(float));
    if (values)
        for (int64_t i = 0; i < count; i++) values[i] = bf16_value(bits[i]);
    return values;
}

/* ids (T,) into table (R,H) -> y (T,H): a copy, exact. */
int assay_embedding_bf16(const assay_embedding_args *args, const int64_t *ids, const uint16_t *table, uint16_t *y) {
    for (int64_t t = 0; t < args->tokens; t++) {
        if (ids[t] < 0 || ids[t] >= args->rows) return fail("embedding_bf16: an id is outside [0, rows)");
        memcpy(y + t * args->hidden, table + ids[t] * args->hidden, (size_t)args->hidden * sizeof(uint16_t));
    }
    return 0;
}

/* x (R,W), weight (W,) -> y (R,W). spec/precision.md: ms = F(Σx²/n), r = F(1/F(sqrt(F(ms + ε)))),
 * n_i = B(x_i · r), y_i = B(w_i · n_i). */
int assay_rms_norm_bf16(const assay_rms_norm_args *args, const uint16_t *x, const uint16_t *weight, uint16_t *y) {
    if (args->rows < 0 || args->width <= 0) return fail("rms_norm_bf16: rows must be >= 0 and width > 0");
    const int64_t W = args->width;
    for (int64_t r = 0; r < args->rows; r++) {
        const uint16_t *xr = x + r * W;
        float sum = 0.0f;
        for (int64_t i = 0; i < W; i++) sum += bf16_value(xr[i]) * bf16_value(xr[i]);
        float inverse = 1.0f / sqrtf(sum / (float)W + args->epsilon);
        for (int64_t i = 0; i < W; i++)
            y[r * W + i] = bf16_bits(bf16_value(weight[i]) * B(bf16_value(xr[i]) * inverse));
    }
    return 0;
}

/* a (N,) + b (N,) -> y (N,) = B(a + b). */
int assay_add_bf16(const assay_add_args *args, const uint16_t *a, const uint16_t *b, uint16_t *y) {
    for (int64_t i = 0; i < args->count; i++) y[i] = bf16_bits(bf16_value(a[i]) + bf16_value(b[i]));
    return 0;
}

/* x (T,H), gate_up (2I,H), down (H,I) -> y (T,H). spec/precision.md: g = B(Σ), u = B(Σ), h = B(B(silu(g)) · u),
 * y = B(Σ down · h); the sums in float32. */
int assay_swiglu_bf16(const assay_swiglu_args *args, const uint16_t *x, const uint16_t *gate_up, const uint16_t *down,
                      uint16_t *y) {
    const int64_t H = args->hidden, I = args->intermediate;
    float *xs = widen(x, args->tokens * H), *wgu = widen(gate_up, 2 * I * H), *wd = widen(down, H * I);
    float *gu = scratch(2 * I), *out = scratch(H);
    int status = xs && wgu && wd && gu && out ? 0 : fail("swiglu_bf16: out of memory");
    for (int64_t t = 0; t < args->tokens && status == 0; t++) {
        matmul(gu, xs + t * H, wgu, NULL, H, 2 * I);
        for (int64_t i = 0; i < I; i++) gu[i] = B(B(silu(B(gu[i]))) * B(gu[I + i]));
        matmul(out, gu, wd, NULL, I, H);
        for (int64_t i = 0; i < H; i++) y[t * H + i] = bf16_bits(out[i]);
    }
    free(xs);
    free(wgu);
    free(wd);
    free(gu);
    free(out);
    return status;
}

/* x (T,H), weight (V,H) -> y (T,V) = B(x · Wᵀ), the sums in float32. */
int assay_lm_head_bf16(const assay_lm_head_args *args, const uint16_t *x, const uint16_t *weight, uint16_t *y) {
    const int64_t H = args->hidden, V = args->vocab;
    float *xs = widen(x, args->tokens * H), *w = widen(weight, V * H);
    int status = xs && w ? 0 : fail("lm_head_bf16: out of memory");
    for (int64_t t = 0; t < args->tokens && status == 0; t++)
        for (int64_t v = 0; v < V; v++) y[t * V + v] = bf16_bits(dot(w + v * H, xs + t * H, H));
    free(xs);
    free(w);
    return status;
}
