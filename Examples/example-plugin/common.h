/*
 * The primitives every op of the example plugin is built from, in float32 with float32 sums (what the BLAS backend
 * computes, in a plainer loop order). Shapes are written (rows, cols); weights are row-major [out, in], as the
 * checkpoint stores them, so a linear layer is W (d,n) @ x (n,) -> (d,).
 */
#ifndef EXAMPLE_PLUGIN_COMMON_H
#define EXAMPLE_PLUGIN_COMMON_H

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "assay_plugin.h"

static const char *last_error = "";

/* Records why an entry point failed (assay_plugin_last_error) and returns its non-zero status. */
static int fail(const char *why) {
    last_error = why;
    return 1;
}

/* count floats of zeroed scratch, or NULL (then the caller fails with "out of memory"). */
static float *scratch(int64_t count) {
    return calloc((size_t)(count > 0 ? count : 1), sizeof(float));
}

/* x (n,) · y (n,) -> scalar */
static float dot(const float *x, const float *y, int64_t n) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += x[i] * y[i];
    return sum;
}

/* W (d,n) @ x (n,) (+ bias (d,) unless NULL) -> out (d,). The linear layer of every projection. */
static void matmul(float *out, const float *x, const float *w, const float *bias, int64_t n, int64_t d) {
    for (int64_t i = 0; i < d; i++) out[i] = dot(w + i * n, x, n) + (bias ? bias[i] : 0.0f);
}

/* x (n,) -> out (n,): out[i] = weight[i] · x[i] / sqrt(mean x² + eps). spec/rmsnorm.md eq. 1–2. out may be x. */
static void rmsnorm(float *out, const float *x, const float *weight, int64_t n, float eps) {
    float inverse = 1.0f / sqrtf(dot(x, x, n) / (float)n + eps);
    for (int64_t i = 0; i < n; i++) out[i] = weight[i] * (x[i] * inverse);
}

/* x (n,) in place -> softmax(x). Entries equal to -INFINITY are masked keys and get 0; when every entry is masked
 * the row is all 0 (a query that sees no key outputs nothing, spec/attention.md eq. 12). */
static void softmax(float *x, int64_t n) {
    float top = -INFINITY;
    for (int64_t i = 0; i < n; i++) top = fmaxf(top, x[i]);
    float total = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = top > -INFINITY && x[i] > -INFINITY ? expf(x[i] - top) : 0.0f;
        total += x[i];
    }
    if (total > 0.0f)
        for (int64_t i = 0; i < n; i++) x[i] /= total;
}

/* SiLU, spec/experts.md eq. 1: a / (1 + e^(−a)). */
static float silu(float a) { return a / (1.0f + expf(-a)); }

/* Exact (erf) GELU in torch's operation order, spec/projector.md eq. 5: (u · ½) · (1 + erf(u / √2)). */
static float gelu(float u) { return (u * 0.5f) * (1.0f + erff(u * 0.70710678118654752440f)); }

/* ---- FP8 E4M3 static W8A8, spec/quant.md ------------------------------------------------------------------------ */

/* E4M3FN code -> value: sign bit 7, exponent bits 6–3 (bias 7), mantissa bits 2–0; exponent 0 is subnormal
 * (m · 2⁻⁹), 0x7F and 0xFF are NaN, there is no infinity. */
static float e4m3_value(uint8_t code) {
    int exponent = (code >> 3) & 15, mantissa = code & 7;
    if (exponent == 15 && mantissa == 7) return NAN;
    float magnitude = exponent == 0 ? ldexpf((float)mantissa, -9) : ldexpf((float)(8 + mantissa), exponent - 10);
    return code & 0x80 ? -magnitude : magnitude;
}

/* v rounded to `bits` significant bits, nearest, ties to even (nearbyint in the default rounding mode), with
 * subnormals below 2^min_exponent. Exact in double for E4M3 (4 bits) and bfloat16 (8 bits). */
static double round_significand(double v, int bits, int min_exponent) {
    if (v == 0.0 || !isfinite(v)) return v;
    int e;
    frexp(fabs(v), &e);                                         /* |v| in [2^(e-1), 2^e) */
    int lead = e - 1 < min_exponent ? min_exponent : e - 1;
    double quantum = ldexp(1.0, lead - (bits - 1));
    return copysign(nearbyint(fabs(v) / quantum) * quantum, v);
}

/* E(v): the nearest E4M3 value, ties to even, saturating at ±448 (spec/number-formats.md). */
static double e4m3_round(double v) {
    if (isnan(v)) return v;
    double r = isinf(v) ? 448.0 : round_significand(v, 4, -6);
    return fabs(r) > 448.0 ? copysign(448.0, v) : r;
}

/* B(v): bfloat16, nearest, ties to even. */
static double bf16_round(double v) { return round_significand(v, 8, -126); }

/* x_q of one activation, eq. 2 (ASSAY_F8_HUGGING_FACE: E(B(x / s_a)), the quotient in double, which is exact
 * enough to round once) or eq. 3 (ASSAY_F8_VLLM: E(F(F(x) · F(1 / s_a)))). */
static float quantize_activation(float x, float scale, int32_t convention) {
    if (convention == ASSAY_F8_VLLM) return (float)e4m3_round((double)(x * (1.0f / scale)));
    return (float)e4m3_round(bf16_round((double)x / (double)scale));
}

/* count codes -> their E4M3 values in float (unscaled), malloc'd; NULL when out of memory. */
static float *e4m3_values(const uint8_t *codes, int64_t count) {
    float *values = malloc((size_t)(count > 0 ? count : 1) * sizeof(float));
    if (values)
        for (int64_t i = 0; i < count; i++) values[i] = e4m3_value(codes[i]);
    return values;
}

/* ---- NVFP4 W4A4, spec/quant.md §10 ------------------------------------------------------------------------------ */

/* E2M1 nibble -> value: bit 3 the sign, bits 2–0 index {0, 0.5, 1, 1.5, 2, 3, 4, 6}. */
static float e2m1_value(uint8_t nibble) {
    static const float magnitude[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
    return nibble & 8 ? -magnitude[nibble & 7] : magnitude[nibble & 7];
}

/* R(v): the nearest E2M1 value to v in [−6, 6], ties to the even code (0.25 → 0, 0.75 → 1, 1.25 → 1, 2.5 → 2, …). */
static double e2m1_round(double v) {
    double a = fabs(v);
    double m = a <= 0.25 ? 0.0 : a < 0.75 ? 0.5 : a <= 1.25 ? 1.0 : a < 1.75 ? 1.5 : a <= 2.5 ? 2.0 : a < 3.5 ? 3.0
             : a <= 5.0 ? 4.0 : 6.0;
    return copysign(m, v);
}

/* A linear layer as an op runs it: float, FP8 (activation_scale > 0) or NVFP4 (block_scales set). */
typedef struct {
    const float *w;             /* [d, n]: the weights, or the E4M3 (FP8) or E2M1 (NVFP4) values of the codes, unscaled */
    const float *bias;          /* [d] or NULL */
    float activation_scale;     /* FP8 s_a; 0: not FP8 */
    float weight_scale[2];      /* FP8 s_w, or NVFP4 g_w, of rows [0, split) and of rows [split, d) */
    int64_t split;
    int32_t convention;         /* ASSAY_F8_HUGGING_FACE or ASSAY_F8_VLLM */
    const float *block_scales;  /* NVFP4: s_w values [d, ⌈n/16⌉]; NULL otherwise */
    float input_global;         /* NVFP4: g_x */
} linear_layer;

/* Eq. 13 on the n activations x under g: xq[j] their E2M1 values (xq may be x), sx[b] the E4M3 scale of block b
 * (blocks of 16, the last shorter), decided in double; a NaN in a block makes its scale NaN. */
static void nvfp4_quantize(const float *x, double g, int64_t n, float *xq, float *sx) {
    for (int64_t b = 0; b < n; b += 16) {
        const int64_t end = b + 16 < n ? b + 16 : n;
        double amax = 0.0;
        for (int64_t j = b; j < end; j++) amax = isnan(x[j]) || isnan(amax) ? NAN : fmax(amax, fabs((double)x[j]));
        const double s = isnan(amax) ? NAN : e4m3_round(fmin(g * amax / 6.0, 448.0));
        sx[b / 16] = (float)s;
        for (int64_t j = b; j < end; j++)
            xq[j] = s == 0.0 ? 0.0f : (float)e2m1_round(fmin(fmax((double)x[j] * g / s, -6.0), 6.0));
    }
}

/* x_q · s_x / g of the n activations x into out (which may be x): what an NVFP4 linear multiplies. */
static void nvfp4_dequantized_input(float *out, const float *x, double g, int64_t n) {
    float sx[(n + 15) / 16];
    nvfp4_quantize(x, g, n, out, sx);
    for (int64_t j = 0; j < n; j++) out[j] = (float)((double)out[j] * sx[j / 16] / g);
}

/* NVFP4, eq. 13 and 15: each block b of 16 inputs (the last one shorter when n is not a multiple of 16) gets
 * s_x[b] = E(min(g_x · amax_b / 6, 448)) and x_q = R(clamp(x · g_x / s_x[b], −6, 6)), decided in double; then
 * out[i] = Σ_b s_x[b] · s_w[i, b] · Σ_{j ∈ b} x_q[j] · w_q[i, j] (float sums) · F(g_w / g_x) + bias[i]. A NaN in a
 * block makes its scale, and so every output, NaN. xq is scratch of n floats. */
static void nvfp4_linear(float *out, const float *x, const linear_layer *l, int64_t n, int64_t d, float *xq) {
    const int64_t blocks = (n + 15) / 16;
    float sx[blocks];
    const double g = l->input_global;
    nvfp4_quantize(x, g, n, xq, sx);
    for (int64_t i = 0; i < d; i++) {
        float sum = 0.0f;
        for (int64_t b = 0; b < blocks; b++) {
            const int64_t end = b * 16 + 16 < n ? b * 16 + 16 : n;
            float block = 0.0f;
            for (int64_t j = b * 16; j < end; j++) block += xq[j] * l->w[i * n + j];
            sum += sx[b] * l->block_scales[i * blocks + b] * block;
        }
        const float scale = (float)((double)l->weight_scale[i < l->split ? 0 : 1] / g);
        out[i] = sum * scale + (l->bias ? l->bias[i] : 0.0f);
    }
}

static linear_layer float_linear(const float *w, const float *bias) { return (linear_layer){w, bias, 0.0f, {1, 1}, 0, 0}; }

/* W (d,n) @ x (n,) -> out (d,) through l; FP8, spec/quant.md eq. 2–5: x_q = Q(x); out[i] = F(F(x_q · w_q[i]) ·
 * F(s_a · s_w)) + bias[i] (E4M3 products are exact in float32; the sums are dot's). xq is scratch of n floats. */
static void linear(float *out, const float *x, const linear_layer *l, int64_t n, int64_t d, float *xq) {
    if (l->block_scales) { nvfp4_linear(out, x, l, n, d, xq); return; }
    if (l->activation_scale == 0.0f) { matmul(out, x, l->w, l->bias, n, d); return; }
    for (int64_t j = 0; j < n; j++) xq[j] = quantize_activation(x[j], l->activation_scale, l->convention);
    for (int64_t i = 0; i < d; i++) {
        float scale = l->activation_scale * l->weight_scale[i < l->split ? 0 : 1];
        out[i] = dot(l->w + i * n, xq, n) * scale + (l->bias ? l->bias[i] : 0.0f);
    }
}

/* One token through a SwiGLU MLP, spec/experts.md eq. 1 and 4:
 *   gate_up (2I,H) @ x (H,) -> gu (2I,) = [gate | up];  h (I,) = silu(gate) ⊙ up;  down (H,I) @ h -> y (H,)
 * gu is caller scratch of 2I floats (h reuses its first I), xq of max(H, I) (FP8 and NVFP4 only). */
static void swiglu_layers(float *y, const float *x, const linear_layer *gate_up, const linear_layer *down,
                          int64_t hidden, int64_t intermediate, float *gu, float *xq) {
    linear(gu, x, gate_up, hidden, 2 * intermediate, xq);
    for (int64_t i = 0; i < intermediate; i++) gu[i] = silu(gu[i]) * gu[intermediate + i];
    linear(y, gu, down, intermediate, hidden, xq);
}

/* The float SwiGLU. */
static void swiglu(float *y, const float *x, const float *gate_up, const float *down, int64_t hidden,
                   int64_t intermediate, float *gu) {
    linear_layer g = float_linear(gate_up, NULL), d = float_linear(down, NULL);
    swiglu_layers(y, x, &g, &d, hidden, intermediate, gu, NULL);
}

#endif
