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

/* One token through a SwiGLU MLP, spec/experts.md eq. 1 and 4:
 *   gate_up (2I,H) @ x (H,) -> gu (2I,) = [gate | up];  h (I,) = silu(gate) ⊙ up;  down (H,I) @ h -> y (H,)
 * gu is caller scratch of 2I floats (h reuses its first I). */
static void swiglu(float *y, const float *x, const float *gate_up, const float *down, int64_t hidden,
                   int64_t intermediate, float *gu) {
    matmul(gu, x, gate_up, NULL, hidden, 2 * intermediate);
    for (int64_t i = 0; i < intermediate; i++) gu[i] = silu(gu[i]) * gu[intermediate + i];
    matmul(y, gu, down, NULL, intermediate, hidden);
}

#endif
