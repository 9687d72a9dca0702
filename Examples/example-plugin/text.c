/*
 * The text decoder's ops other than attention (attention.c): embedding, RMSNorm, the residual add, the SwiGLU MLP,
 * the MoE router, the routed experts and the lm_head — spec/decoder.md, rmsnorm.md, router.md, experts.md.
 * Part of example_plugin.c, which #includes it.
 */
#include "common.h"

/* ---- embedding, rms_norm, add, lm_head: spec/decoder.md ------------------------------------------------------- */

/* ids (T,) into table (R,H) -> y (T,H). spec/decoder.md eq. 1: y[t] = table[ids[t]]. */
int assay_embedding_f32(const assay_embedding_args *args, const int64_t *ids, const float *table, float *y) {
    const int64_t hidden = args->hidden;
    for (int64_t t = 0; t < args->tokens; t++) {
        if (ids[t] < 0 || ids[t] >= args->rows) return fail("embedding: an id is outside [0, rows)");
        memcpy(y + t * hidden, table + ids[t] * hidden, (size_t)hidden * sizeof(float));
    }
    return 0;
}

/* x (R,W), weight (W,) -> y (R,W), each row normed. spec/rmsnorm.md eq. 1–2. */
int assay_rms_norm_f32(const assay_rms_norm_args *args, const float *x, const float *weight, float *y) {
    if (args->rows < 0 || args->width <= 0) return fail("rms_norm: rows must be >= 0 and width > 0");
    for (int64_t r = 0; r < args->rows; r++)
        rmsnorm(y + r * args->width, x + r * args->width, weight, args->width, args->epsilon);
    return 0;
}

/* a (N,) + b (N,) -> y (N,). spec/decoder.md eq. 2–3 (the residual stream) and experts.md eq. 3 (the MoE sum). */
int assay_add_f32(const assay_add_args *args, const float *a, const float *b, float *y) {
    for (int64_t i = 0; i < args->count; i++) y[i] = a[i] + b[i];
    return 0;
}

/* x (T,H), weight (V,H) -> y (T,V) = x · Wᵀ. spec/decoder.md eq. 5; V is one block of at most 4096 rows. */
int assay_lm_head_f32(const assay_lm_head_args *args, const float *x, const float *weight, float *y) {
    for (int64_t t = 0; t < args->tokens; t++)
        matmul(y + t * args->vocab, x + t * args->hidden, weight, NULL, args->hidden, args->vocab);
    return 0;
}

/* ---- swiglu and routed_experts: spec/experts.md --------------------------------------------------------------- */

/* x (T,H), gate_up (2I,H), down (H,I) -> y (T,H). spec/experts.md eq. 1: the dense MLP, the shared expert and the
 * vision feed-forward. */
int assay_swiglu_f32(const assay_swiglu_args *args, const float *x, const float *gate_up, const float *down,
                     float *y) {
    float *gu = scratch(2 * args->intermediate);
    if (!gu) return fail("swiglu: out of memory");
    for (int64_t t = 0; t < args->tokens; t++)
        swiglu(y + t * args->hidden, x + t * args->hidden, gate_up, down, args->hidden, args->intermediate, gu);
    free(gu);
    return 0;
}

/* x (T,H), indices (T,k), weights (T,k), gate_up (E,2I,H), down (E,H,I) -> y (T,H). spec/experts.md eq. 2:
 *   y[t] = Σ_j weights[t,j] · SwiGLU_{indices[t,j]}(x[t]), summed in ascending expert id as the BLAS backend does. */
int assay_routed_experts_f32(const assay_routed_experts_args *args, const float *x, const int64_t *indices,
                             const float *weights, const float *gate_up, const float *down, float *y) {
    const int64_t H = args->hidden, I = args->intermediate, k = args->top_k;
    for (int64_t j = 0; j < args->tokens * k; j++)
        if (indices[j] < 0 || indices[j] >= args->experts)
            return fail("routed_experts: an index is outside [0, experts)");
    float *gu = scratch(2 * I), *out = scratch(H);
    if (!gu || !out) { free(gu); free(out); return fail("routed_experts: out of memory"); }
    for (int64_t t = 0; t < args->tokens; t++) {
        float *yt = y + t * H;
        for (int64_t i = 0; i < H; i++) yt[i] = 0.0f;
        for (int64_t e = 0; e < args->experts; e++)             /* ascending expert id, eq. 2 */
            for (int64_t j = 0; j < k; j++) {
                if (indices[t * k + j] != e) continue;
                swiglu(out, x + t * H, gate_up + e * 2 * I * H, down + e * H * I, H, I, gu);
                for (int64_t i = 0; i < H; i++) yt[i] += weights[t * k + j] * out[i];
            }
    }
    free(gu);
    free(out);
    return 0;
}

/* ---- router: spec/router.md ----------------------------------------------------------------------------------- */

/* The index of the largest values[i] with taken[i] == 0, ties to the lower index (spec/router.md eq. 4–5); marks
 * it taken. values (n,), taken (n,). */
static int64_t take_largest(const double *values, char *taken, int64_t n) {
    int64_t best = -1;
    for (int64_t i = 0; i < n; i++)
        if (!taken[i] && (best < 0 || values[i] > values[best])) best = i;
    if (best >= 0) taken[best] = 1;
    return best;
}

/* One token's selection from its logits z (E,) -> weights (k,), indices (k,). spec/router.md eq. 2–6, in float64:
 *   π = softmax(z) over all E;  G_g = π₍₁₎ + π₍₂₎ of group g;  π̂ = π on the top_groups best groups, else 0;
 *   S = top-k of π̂ (ties to the lower id);  w = π_S / (Σ π_S + 1e-20) if norm_topk_prob;  w ← w · scaling.
 * Caller scratch: p, masked (E,), group (groups,), taken (E,). */
static void route_token(const assay_router_args *a, const float *z, float *weights, int64_t *indices, double *p,
                        double *masked, double *group, char *taken) {
    const int64_t E = a->experts, size = a->experts / a->groups;
    double top = -INFINITY, total = 0.0, sum = 0.0;
    for (int64_t e = 0; e < E; e++) top = fmax(top, z[e]);
    for (int64_t e = 0; e < E; e++) total += p[e] = exp(z[e] - top);                  /* (2) */
    for (int64_t e = 0; e < E; e++) p[e] /= total;
    for (int64_t g = 0; g < a->groups; g++) {                                          /* (3) top-2 sum per group */
        const double *pg = p + g * size;
        memset(taken, 0, (size_t)size);
        double first = pg[take_largest(pg, taken, size)];
        group[g] = first + (size > 1 ? pg[take_largest(pg, taken, size)] : 0.0);
    }
    memset(taken, 0, (size_t)E);                                                       /* (4) taken[g]: group g kept */
    for (int64_t r = 0; r < a->top_groups; r++) take_largest(group, taken, a->groups);
    for (int64_t e = 0; e < E; e++) masked[e] = taken[e / size] ? p[e] : 0.0;
    memset(taken, 0, (size_t)E);
    for (int64_t j = 0; j < a->top_k; j++) {                                           /* (5) */
        indices[j] = take_largest(masked, taken, E);
        sum += p[indices[j]];
    }
    for (int64_t j = 0; j < a->top_k; j++) {                                           /* (6) */
        double w = a->norm_topk_prob ? p[indices[j]] / (sum + 1e-20) : p[indices[j]];
        weights[j] = (float)(w * a->routed_scaling_factor);
    }
}

/* x (T,H), weight (E,H) -> logits (T,E) = x · Wᵀ (eq. 1, float32), weights (T,k), indices (T,k). */
int assay_router_f32(const assay_router_args *args, const float *x, const float *weight, float *logits,
                     float *weights, int64_t *indices) {
    const int64_t E = args->experts, k = args->top_k, G = args->groups;
    if (G < 1 || E % G != 0 || args->top_groups < 1 || args->top_groups > G || k < 1 || k > E)
        return fail("router: needs experts divisible by groups, 1 <= top_groups <= groups and 1 <= top_k <= experts");
    double *p = malloc((size_t)(2 * E + G) * sizeof(double));                         /* p | masked | group */
    char *taken = malloc((size_t)E);                                                   /* E >= G */
    if (!p || !taken) { free(p); free(taken); return fail("router: out of memory"); }
    for (int64_t t = 0; t < args->tokens; t++) {
        matmul(logits + t * E, x + t * args->hidden, weight, NULL, args->hidden, E);
        route_token(args, logits + t * E, weights + t * k, indices + t * k, p, p + E, p + 2 * E, taken);
    }
    free(p);
    free(taken);
    return 0;
}

/* ---- swiglu and routed_experts in FP8 E4M3: spec/quant.md eq. 2–5 -------------------------------------------- */

/* The FP8 layer of codes' values w with its scales: rows [0, split) under s_w0, the rest under s_w1. */
static linear_layer fp8_linear(const float *w, float s_a, float s_w0, float s_w1, int64_t split, int32_t convention) {
    return (linear_layer){w, NULL, s_a, {s_w0, s_w1}, split, convention};
}

/* x (T,H), gate_up codes (2I,H), down codes (H,I) -> y (T,H): spec/experts.md eq. 1 with both products FP8. */
int assay_swiglu_f8e4m3(const assay_swiglu_f8_args *args, const float *x, const uint8_t *gate_up, const uint8_t *down,
                        float *y) {
    const int64_t H = args->hidden, I = args->intermediate;
    float *gu = scratch(2 * I), *xq = scratch(H > I ? H : I);
    float *wgu = e4m3_values(gate_up, 2 * I * H), *wd = e4m3_values(down, H * I);
    int status = gu && xq && wgu && wd ? 0 : fail("swiglu_f8e4m3: out of memory");
    linear_layer g = fp8_linear(wgu, args->gate_up_activation_scale, args->gate_weight_scale, args->up_weight_scale, I,
                                args->activation_convention);
    linear_layer d = fp8_linear(wd, args->down_activation_scale, args->down_weight_scale, args->down_weight_scale, H,
                                args->activation_convention);
    for (int64_t t = 0; t < args->tokens && status == 0; t++)
        swiglu_layers(y + t * H, x + t * H, &g, &d, H, I, gu, xq);
    free(gu);
    free(xq);
    free(wgu);
    free(wd);
    return status;
}

/* x (T,H), indices (T,k), weights (T,k), gate_up codes (E,2I,H), down codes (E,H,I), scales per expert -> y (T,H):
 * spec/experts.md eq. 2, each expert e an FP8 SwiGLU under its own scales (gate rows s_w[e,0], up rows s_w[e,1]). */
int assay_routed_experts_f8e4m3(const assay_routed_experts_f8_args *args, const float *x, const int64_t *indices,
                                const float *weights, const uint8_t *gate_up, const uint8_t *down,
                                const assay_expert_f8_scales *scales, float *y) {
    const int64_t H = args->hidden, I = args->intermediate, k = args->top_k, E = args->experts;
    for (int64_t j = 0; j < args->tokens * k; j++)
        if (indices[j] < 0 || indices[j] >= E) return fail("routed_experts_f8e4m3: an index is outside [0, experts)");
    float *gu = scratch(2 * I), *out = scratch(H), *xq = scratch(H > I ? H : I);
    float *wgu = e4m3_values(gate_up, E * 2 * I * H), *wd = e4m3_values(down, E * H * I);
    int status = gu && out && xq && wgu && wd ? 0 : fail("routed_experts_f8e4m3: out of memory");
    for (int64_t t = 0; t < args->tokens && status == 0; t++) {
        float *yt = y + t * H;
        for (int64_t i = 0; i < H; i++) yt[i] = 0.0f;
        for (int64_t e = 0; e < E; e++)                         /* ascending expert id, eq. 2 */
            for (int64_t j = 0; j < k; j++) {
                if (indices[t * k + j] != e) continue;
                linear_layer g = fp8_linear(wgu + e * 2 * I * H, scales->gate_up_activation_scales[e],
                                            scales->gate_up_weight_scales[2 * e], scales->gate_up_weight_scales[2 * e + 1],
                                            I, args->activation_convention);
                linear_layer d = fp8_linear(wd + e * H * I, scales->down_activation_scales[e],
                                            scales->down_weight_scales[e], scales->down_weight_scales[e], H,
                                            args->activation_convention);
                swiglu_layers(out, x + t * H, &g, &d, H, I, gu, xq);
                for (int64_t i = 0; i < H; i++) yt[i] += weights[t * k + j] * out[i];
            }
    }
    free(gu);
    free(out);
    free(xq);
    free(wgu);
    free(wd);
    return status;
}

/* ---- swiglu and routed_experts in NVFP4: spec/quant.md eq. 11–15 ---------------------------------------------- */

/* Matrix `index` [rows, cols] of `w` as an NVFP4 layer: its E2M1 values and block scale values decoded into
 * values[rows·cols] and scales[rows·⌈cols/16⌉] (caller's), g_w of each half of the rows, g_x. */
static linear_layer nvfp4_layer(const assay_nvfp4_weights *w, int64_t index, int64_t rows, int64_t cols, float *values,
                                float *scales) {
    const int64_t blocks = (cols + 15) / 16;
    const uint8_t *codes = w->codes + index * rows * cols / 2, *scale_codes = w->block_scales + index * rows * blocks;
    for (int64_t k = 0; k < rows * cols / 2; k++) {
        values[2 * k] = e2m1_value(codes[k] & 15);
        values[2 * k + 1] = e2m1_value(codes[k] >> 4);
    }
    for (int64_t k = 0; k < rows * blocks; k++) scales[k] = e4m3_value(scale_codes[k]);
    return (linear_layer){values, NULL, 0.0f, {w->weight_globals[2 * index], w->weight_globals[2 * index + 1]},
                          rows / 2, 0, scales, w->input_globals[index]};
}

/* The scratch of one NVFP4 SwiGLU of hidden H and width I, in one allocation (`all`; NULL when out of memory):
 * gu (2I), xq (max(H, I)), gate_up's and down's E2M1 values and block scale values. */
typedef struct {
    float *all, *gu, *xq, *wgu, *sgu, *wd, *sd;
} nvfp4_swiglu_scratch;

static nvfp4_swiglu_scratch nvfp4_scratch(int64_t H, int64_t I) {
    const int64_t sizes[6] = {2 * I, H > I ? H : I, 2 * I * H, 2 * I * ((H + 15) / 16), H * I, H * ((I + 15) / 16)};
    nvfp4_swiglu_scratch s = {scratch(sizes[0] + sizes[1] + sizes[2] + sizes[3] + sizes[4] + sizes[5])};
    if (s.all) {
        float **parts[6] = {&s.gu, &s.xq, &s.wgu, &s.sgu, &s.wd, &s.sd};
        float *next = s.all;
        for (int i = 0; i < 6; i++) { *parts[i] = next; next += sizes[i]; }
    }
    return s;
}

/* x (T,H), gate_up (2I,H), down (H,I) in NVFP4 -> y (T,H): spec/experts.md eq. 1 with both products NVFP4. */
int assay_swiglu_nvfp4(const assay_swiglu_args *args, const float *x, const assay_nvfp4_weights *gate_up,
                       const assay_nvfp4_weights *down, float *y) {
    const int64_t H = args->hidden, I = args->intermediate;
    nvfp4_swiglu_scratch s = nvfp4_scratch(H, I);
    if (!s.all) return fail("swiglu_nvfp4: out of memory");
    linear_layer g = nvfp4_layer(gate_up, 0, 2 * I, H, s.wgu, s.sgu), d = nvfp4_layer(down, 0, H, I, s.wd, s.sd);
    for (int64_t t = 0; t < args->tokens; t++) swiglu_layers(y + t * H, x + t * H, &g, &d, H, I, s.gu, s.xq);
    free(s.all);
    return 0;
}

/* x (T,H), indices (T,k), weights (T,k), gate_up (E,2I,H) and down (E,H,I) in NVFP4 -> y (T,H): spec/experts.md
 * eq. 2, each expert e an NVFP4 SwiGLU under its own scales. */
int assay_routed_experts_nvfp4(const assay_routed_experts_args *args, const float *x, const int64_t *indices,
                               const float *weights, const assay_nvfp4_weights *gate_up,
                               const assay_nvfp4_weights *down, float *y) {
    const int64_t H = args->hidden, I = args->intermediate, k = args->top_k, E = args->experts;
    for (int64_t j = 0; j < args->tokens * k; j++)
        if (indices[j] < 0 || indices[j] >= E) return fail("routed_experts_nvfp4: an index is outside [0, experts)");
    nvfp4_swiglu_scratch s = nvfp4_scratch(H, I);
    float *out = scratch(H);
    if (!s.all || !out) {
        free(s.all);
        free(out);
        return fail("routed_experts_nvfp4: out of memory");
    }
    for (int64_t i = 0; i < args->tokens * H; i++) y[i] = 0.0f;
    for (int64_t e = 0; e < E; e++) {                            /* ascending expert id, eq. 2 */
        linear_layer g = nvfp4_layer(gate_up, e, 2 * I, H, s.wgu, s.sgu), d = nvfp4_layer(down, e, H, I, s.wd, s.sd);
        for (int64_t t = 0; t < args->tokens; t++)
            for (int64_t j = 0; j < k; j++) {
                if (indices[t * k + j] != e) continue;
                swiglu_layers(out, x + t * H, &g, &d, H, I, s.gu, s.xq);
                for (int64_t i = 0; i < H; i++) y[t * H + i] += weights[t * k + j] * out[i];
            }
    }
    free(s.all);
    free(out);
    return 0;
}
