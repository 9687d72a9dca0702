/*
 * Multi-head latent attention (MLA), spec/attention.md, with YaRN RoPE and the query temperature of spec/rope.md:
 * the expanded prefill (eq. 1–8, 11–12) and the absorbed decode over the latent cache (eq. 9–10).
 * Part of example_plugin.c, which #includes it.
 *
 * Per token x (H,) at position p, n heads, d_n + d_r query/key width, d_v value width, r_kv latent width:
 *   q (n·(d_n+d_r),) = W_qb · RMSNorm_q(W_qa · x)            per head [q_n | q_r]                          (1)
 *   [c | k_r] (r_kv+d_r,) = W_kva · x,  ĉ = RMSNorm_kv(c)                                                  (2)
 *   q_r, k_r ← RoPE(·, p);  q ← τ(p) · q                     the latent row [ĉ | k_r] is what the cache keeps (3)–(4)
 *
 * The five projections are linear_layers (common.h): float for the f32 entry points, FP8 E4M3 for the f8e4m3 ones
 * and NVFP4 for the nvfp4 ones (spec/quant.md), which share every other line.
 */
#include "common.h"

/* One MLA layer as the kernels use it: each projection a linear_layer, the latent norms, ω, and kv_b as the
 * absorbed decode folds it: float values (FP8: F(w_q · s_w)). */
typedef struct {
    linear_layer q_a, q_b, kv_a, kv_b, o;
    const float *q_a_norm, *kv_a_norm;
    const double *inv_freq;
    const float *kv_b_values;   /* [n·(d_n + d_v), r_kv] */
} mla_layer;

/* The scratch xq of a layer's FP8 activations: the widest input of its projections. */
static int64_t mla_widest(const assay_mla_args *a) {
    int64_t widest = a->hidden;
    if (a->q_lora_rank > widest) widest = a->q_lora_rank;
    if (a->kv_lora_rank > widest) widest = a->kv_lora_rank;
    if (a->heads * a->v_dim > widest) widest = a->heads * a->v_dim;
    return widest;
}

/* τ(p) = 1 + beta · ln(1 + floor(p / period)), spec/rope.md eq. 11 (beta 0: τ = 1). */
static float temperature(const assay_mla_args *a, int64_t position) {
    if (a->temperature_beta == 0.0 || a->temperature_period <= 0) return 1.0f;
    return (float)(1.0 + a->temperature_beta * log(1.0 + (double)(position / a->temperature_period)));
}

/* cos (d_r/2,), sin (d_r/2,) at position p: a · cos(p · ω_i), angles in float64, rounded to float32 at the end.
 * spec/rope.md eq. 8 (a float32 angle at p = 10⁶ is off by radians, §5). */
static void rope_angles(const assay_mla_args *a, const double *inv_freq, int64_t position, float *cos_, float *sin_) {
    for (int64_t i = 0; i < a->qk_rope_dim / 2; i++) {
        double angle = (double)position * inv_freq[i];
        cos_[i] = (float)(a->rope_attention_factor * cos(angle));
        sin_[i] = (float)(a->rope_attention_factor * sin(angle));
    }
}

/* x (d,) rotated in place, spec/rope.md eq. 9–10. Pairs (u, v) are (x[2i], x[2i+1]) when interleaved, else
 * (x[i], x[i + d/2]); the output is always [all u' | all v'] (the layout transformers returns and the cache keeps). */
static void rope_rotate(float *x, int64_t d, int interleaved, const float *cos_, const float *sin_) {
    const int64_t half = d / 2;
    float original[d];
    memcpy(original, x, (size_t)d * sizeof(float));
    for (int64_t i = 0; i < half; i++) {
        float u = interleaved ? original[2 * i] : original[i];
        float v = interleaved ? original[2 * i + 1] : original[i + half];
        x[i] = u * cos_[i] - v * sin_[i];
        x[i + half] = v * cos_[i] + u * sin_[i];
    }
}

/* One token's query and cache row, eq. 1–4: x (H,) at position p -> q (n·(d_n+d_r),), latent (r_kv+d_r,).
 * qa is scratch of q_lora_rank floats. */
static void mla_project(const assay_mla_args *a, const mla_layer *w, const float *x, int64_t position,
                        float *q, float *latent, float *qa, float *xq) {
    const int64_t rank = a->kv_lora_rank, dr = a->qk_rope_dim, qk = a->qk_nope_dim + dr;
    float cos_[dr / 2], sin_[dr / 2];
    if (a->q_lora_rank > 0) {                                                           /* (1) */
        linear(qa, x, &w->q_a, a->hidden, a->q_lora_rank, xq);
        rmsnorm(qa, qa, w->q_a_norm, a->q_lora_rank, a->latent_norm_epsilon);
        linear(q, qa, &w->q_b, a->q_lora_rank, a->heads * qk, xq);
    } else {
        linear(q, x, &w->q_b, a->hidden, a->heads * qk, xq);                            /* q_proj */
    }
    linear(latent, x, &w->kv_a, a->hidden, rank + dr, xq);                             /* (2) */
    rmsnorm(latent, latent, w->kv_a_norm, rank, a->latent_norm_epsilon);               /*     ĉ; k_r is not normed */
    rope_angles(a, w->inv_freq, position, cos_, sin_);
    rope_rotate(latent + rank, dr, a->rope_interleaved, cos_, sin_);                   /* (3) the shared k_r */
    float tau = temperature(a, position);
    for (int64_t h = 0; h < a->heads; h++) {
        float *head = q + h * qk;
        rope_rotate(head + a->qk_nope_dim, dr, a->rope_interleaved, cos_, sin_);        /* (3) every head's q_r */
        for (int64_t i = 0; i < qk; i++) head[i] *= tau;                                /* (4) the whole query */
    }
}

/* The arguments both entry points check. */
static int mla_check(const assay_mla_args *a, const mla_layer *w) {
    if (a->batch < 0 || a->length < 0 || a->heads <= 0 || a->kv_lora_rank <= 0 || a->qk_rope_dim <= 0
        || a->qk_rope_dim % 2 != 0 || a->q_lora_rank < 0 || (a->q_lora_rank > 0 && (!w->q_a.w || !w->q_a_norm)))
        return fail("mla: needs heads, kv_lora_rank > 0, an even qk_rope_dim, and q_a and q_a_norm with a q LoRA");
    return 0;
}

/* ---- mla_attention: the expanded prefill, eq. 5–8 ------------------------------------------------------------- */

/* One sequence of S tokens: x (S,H) -> y (S,H), latents (S, r_kv+d_r). Scratch: q (S, n·(d_n+d_r)),
 * kv (S, n·(d_n+d_v)), heads (n·d_v,), scores (S,), qa (q_lora_rank,). */
static void mla_sequence(const assay_mla_args *a, const mla_layer *w, const float *x, const int64_t *positions,
                         const int64_t *mask, float *y, float *latents, float *q, float *kv, float *heads,
                         float *scores, float *qa, float *xq) {
    const int64_t S = a->length, n = a->heads, dn = a->qk_nope_dim, dr = a->qk_rope_dim, dv = a->v_dim;
    const int64_t rank = a->kv_lora_rank, qk = dn + dr, kvw = dn + dv, row = rank + dr;
    for (int64_t t = 0; t < S; t++) {
        mla_project(a, w, x + t * a->hidden, positions[t], q + t * n * qk, latents + t * row, qa, xq);
        linear(kv + t * n * kvw, latents + t * row, &w->kv_b, rank, n * kvw, xq);     /* (5) [k_n | v] per head */
    }
    for (int64_t i = 0; i < S; i++) {
        for (int64_t h = 0; h < n; h++) {
            const float *qh = q + (i * n + h) * qk;
            for (int64_t j = 0; j < S; j++) {                                          /* (6), (11): j ≤ i, mask 1 */
                const float *key = kv + (j * n + h) * kvw, *k_r = latents + j * row + rank;
                scores[j] = j <= i && mask[j] ? (dot(qh, key, dn) + dot(qh + dn, k_r, dr)) * (float)a->softmax_scale
                                              : -INFINITY;
            }
            softmax(scores, S);                                                        /* (7); none visible: all 0 */
            float *o = heads + h * dv;
            for (int64_t d = 0; d < dv; d++) o[d] = 0.0f;
            for (int64_t j = 0; j <= i; j++)                                           /* (8) Σ_j P_ij v_j */
                for (int64_t d = 0; d < dv; d++) o[d] += scores[j] * kv[(j * n + h) * kvw + dn + d];
        }
        linear(y + i * a->hidden, heads, &w->o, n * dv, a->hidden, xq);                /* (8), (12): W_o · 0 + bias */
    }
}

/* x (B·S,H), positions (B·S,), mask (B·S,) -> y (B·S,H), latents (B·S, r_kv+d_r); sequence after sequence. */
static int mla_attention(const assay_mla_args *args, const mla_layer *weights, const float *x,
                         const int64_t *positions, const int64_t *mask, float *y, float *latents) {
    if (mla_check(args, weights)) return 1;
    const int64_t S = args->length, n = args->heads, row = args->kv_lora_rank + args->qk_rope_dim;
    float *q = scratch(S * n * (args->qk_nope_dim + args->qk_rope_dim));
    float *kv = scratch(S * n * (args->qk_nope_dim + args->v_dim)), *heads = scratch(n * args->v_dim);
    float *scores = scratch(S), *qa = scratch(args->q_lora_rank), *xq = scratch(mla_widest(args));
    int status = q && kv && heads && scores && qa && xq ? 0 : fail("mla_attention: out of memory");
    for (int64_t b = 0; b < args->batch && status == 0; b++)
        mla_sequence(args, weights, x + b * S * args->hidden, positions + b * S, mask + b * S, y + b * S * args->hidden,
                     latents + b * S * row, q, kv, heads, scores, qa, xq);
    free(xq);
    free(q);
    free(kv);
    free(heads);
    free(scores);
    free(qa);
    return status;
}

/* ---- mla_decode: the absorbed form over the latent cache, eq. 9–10 -------------------------------------------- */

/* One head of one new token against L latent rows (keys (L, r_kv+d_r), the ones visible[j] == 1), eq. 9–10:
 *   q̃ (r_kv,) = W_UKᵀ q_n;  s_j = σ · (q̃ · ĉ_j + q_r · k_r,j);  P = softmax(s);  õ (r_kv,) = Σ_j P_j ĉ_j;
 *   o (d_v,) = W_UV õ.
 * q_h (d_n+d_r,); uk (d_n, r_kv) and uv (d_v, r_kv) are this head's kv_b rows. Scratch: absorbed, mixed (r_kv,),
 * scores (L,). */
static void absorbed_head(const assay_mla_args *a, const float *q_h, const float *uk, const float *uv,
                          const float *keys, const char *visible, int64_t L, float *o, float *absorbed, float *mixed,
                          float *scores) {
    const int64_t rank = a->kv_lora_rank, dn = a->qk_nope_dim, dr = a->qk_rope_dim, row = rank + dr;
    for (int64_t c = 0; c < rank; c++) absorbed[c] = mixed[c] = 0.0f;
    for (int64_t d = 0; d < dn; d++)                                                   /* (9) q̃ = W_UKᵀ q_n */
        for (int64_t c = 0; c < rank; c++) absorbed[c] += q_h[d] * uk[d * rank + c];
    for (int64_t j = 0; j < L; j++)
        scores[j] = visible[j] ? (dot(absorbed, keys + j * row, rank) + dot(q_h + dn, keys + j * row + rank, dr))
                                     * (float)a->softmax_scale
                               : -INFINITY;
    softmax(scores, L);
    for (int64_t j = 0; j < L; j++)                                                    /* (10) õ = Σ P ĉ (never a */
        if (visible[j])                                                                /*  masked, NaN-poisoned row) */
            for (int64_t c = 0; c < rank; c++) mixed[c] += scores[j] * keys[j * row + c];
    matmul(o, mixed, uv, NULL, rank, a->v_dim);
}

/* ĉ (r_kv,) in place as kv_b sees it: FP8 or NVFP4, its activations quantized and widened back (x_q · s_a; x_q · s_x
 * / g_x) (spec/quant.md §6, §11: the absorbed form then equals the expanded one); float: unchanged. */
static void kv_b_input(float *c, const mla_layer *w, int64_t rank) {
    const linear_layer *l = &w->kv_b;
    if (l->block_scales) { nvfp4_dequantized_input(c, c, l->input_global, rank); return; }
    if (l->activation_scale == 0.0f) return;
    for (int64_t i = 0; i < rank; i++)
        c[i] = quantize_activation(c[i], l->activation_scale, l->convention) * l->activation_scale;
}

/* x (B,H), positions (B,), mask (B,), cache (B, capacity, r_kv+d_r), cache_mask (B, capacity), cached (B,)
 *   -> y (B,H), latents (B, r_kv+d_r). Sequence b attends to its rows [0, cached[b]) with cache_mask 1, and to the
 * new token when mask[b] is 1; rows at and past cached[b] are NaN and never read. Scratch keys holds the visible
 * cache rows followed by the new token's row, their ĉ as kv_b sees it. */
static int mla_decode(const assay_mla_args *args, const mla_layer *weights, const float *x,
                      const int64_t *positions, const int64_t *mask, const float *cache, const int64_t *cache_mask,
                      const int64_t *cached, float *y, float *latents) {
    if (mla_check(args, weights)) return 1;
    const int64_t n = args->heads, dn = args->qk_nope_dim, dr = args->qk_rope_dim, dv = args->v_dim;
    const int64_t rank = args->kv_lora_rank, row = rank + dr, capacity = args->cache_capacity;
    for (int64_t b = 0; b < args->batch; b++)
        if (cached[b] < 0 || cached[b] > capacity) return fail("mla_decode: cached[b] is outside [0, cache_capacity]");
    float *q = scratch(n * (dn + dr)), *keys = scratch((capacity + 1) * row), *heads = scratch(n * dv);
    float *absorbed = scratch(rank), *mixed = scratch(rank), *scores = scratch(capacity + 1);
    float *qa = scratch(args->q_lora_rank), *xq = scratch(mla_widest(args));
    char *visible = malloc((size_t)capacity + 1);
    int ready = q && keys && heads && absorbed && mixed && scores && qa && xq && visible;
    int status = ready ? 0 : fail("mla_decode: out of memory");
    for (int64_t b = 0; b < args->batch && status == 0; b++) {
        const int64_t L = cached[b];
        for (int64_t j = 0; j < L; j++) {                                              /* the valid rows only */
            visible[j] = cache_mask[b * capacity + j] == 1;
            if (visible[j]) {
                memcpy(keys + j * row, cache + (b * capacity + j) * row, (size_t)row * sizeof(float));
                kv_b_input(keys + j * row, weights, rank);
            }
        }
        mla_project(args, weights, x + b * args->hidden, positions[b], q, latents + b * row, qa, xq);
        memcpy(keys + L * row, latents + b * row, (size_t)row * sizeof(float));       /* the new token, eq. 11 */
        kv_b_input(keys + L * row, weights, rank);
        visible[L] = mask[b] == 1;
        for (int64_t h = 0; h < n; h++) {
            const float *uk = weights->kv_b_values + h * (dn + dv) * rank, *uv = uk + dn * rank;
            absorbed_head(args, q + h * (dn + dr), uk, uv, keys, visible, L + 1, heads + h * dv, absorbed, mixed,
                          scores);
        }
        linear(y + b * args->hidden, heads, &weights->o, n * dv, args->hidden, xq);
    }
    free(xq);
    free(q);
    free(keys);
    free(heads);
    free(absorbed);
    free(mixed);
    free(scores);
    free(qa);
    free(visible);
    return status;
}

/* ---- the entry points: f32, FP8 E4M3 and NVFP4 over the same kernels ------------------------------------------------- */

/* The float layer of assay_mla_weights. */
static mla_layer float_layer(const assay_mla_weights *w) {
    return (mla_layer){float_linear(w->q_a, w->q_a_bias), float_linear(w->q_b, NULL), float_linear(w->kv_a, w->kv_a_bias),
                       float_linear(w->kv_b, NULL), float_linear(w->o, w->o_bias), w->q_a_norm, w->kv_a_norm,
                       w->inv_freq, w->kv_b};
}

int assay_mla_attention_f32(const assay_mla_args *args, const assay_mla_weights *weights, const float *x,
                            const int64_t *positions, const int64_t *mask, float *y, float *latents) {
    mla_layer layer = float_layer(weights);
    return mla_attention(args, &layer, x, positions, mask, y, latents);
}

int assay_mla_decode_f32(const assay_mla_args *args, const assay_mla_weights *weights, const float *x,
                         const int64_t *positions, const int64_t *mask, const float *cache, const int64_t *cache_mask,
                         const int64_t *cached, float *y, float *latents) {
    mla_layer layer = float_layer(weights);
    return mla_decode(args, &layer, x, positions, mask, cache, cache_mask, cached, y, latents);
}

/* The FP8 projection of `count` codes under `scale` (its E4M3 values malloc'd into *values). */
static linear_layer f8_projection(const uint8_t *codes, int64_t count, const float *bias, assay_f8_scale scale,
                                  int32_t convention, float **values) {
    *values = codes ? e4m3_values(codes, count) : NULL;
    return (linear_layer){*values, bias, scale.activation, {scale.weight, scale.weight}, 0, convention};
}

/* The FP8 layer of assay_mla_f8_weights: each projection's codes widened to their E4M3 values (5 buffers, and kv_b
 * dequantized, F(w_q · s_w), for the absorbed decode: 6, in owned[]); 0, or fail()'s 1 when out of memory. */
static int f8_layer(const assay_mla_args *a, const assay_mla_f8_weights *w, mla_layer *layer, float *owned[6]) {
    const int64_t H = a->hidden, n = a->heads, rank = a->kv_lora_rank, dr = a->qk_rope_dim;
    const int64_t qk = a->qk_nope_dim + dr, q_in = a->q_lora_rank > 0 ? a->q_lora_rank : H;
    const assay_mla_f8_scales *s = &w->scales;
    const int32_t c = s->activation_convention;
    layer->q_a = f8_projection(a->q_lora_rank > 0 ? w->q_a : NULL, a->q_lora_rank * H, w->q_a_bias, s->q_a, c, &owned[0]);
    layer->q_b = f8_projection(w->q_b, n * qk * q_in, NULL, s->q_b, c, &owned[1]);
    layer->kv_a = f8_projection(w->kv_a, (rank + dr) * H, w->kv_a_bias, s->kv_a, c, &owned[2]);
    layer->kv_b = f8_projection(w->kv_b, n * (a->qk_nope_dim + a->v_dim) * rank, NULL, s->kv_b, c, &owned[3]);
    layer->o = f8_projection(w->o, H * n * a->v_dim, w->o_bias, s->o, c, &owned[4]);
    layer->q_a_norm = w->q_a_norm;
    layer->kv_a_norm = w->kv_a_norm;
    layer->inv_freq = w->inv_freq;
    const int64_t kv_b_count = n * (a->qk_nope_dim + a->v_dim) * rank;
    owned[5] = owned[3] ? malloc((size_t)(kv_b_count > 0 ? kv_b_count : 1) * sizeof(float)) : NULL;
    if (owned[5])
        for (int64_t i = 0; i < kv_b_count; i++) owned[5][i] = owned[3][i] * s->kv_b.weight;
    layer->kv_b_values = owned[5];
    if ((a->q_lora_rank > 0 && !owned[0]) || !owned[1] || !owned[2] || !owned[3] || !owned[4] || !owned[5])
        return fail("mla f8e4m3: out of memory");
    return 0;
}

int assay_mla_attention_f8e4m3(const assay_mla_args *args, const assay_mla_f8_weights *weights, const float *x,
                               const int64_t *positions, const int64_t *mask, float *y, float *latents) {
    mla_layer layer;
    float *owned[6] = {0};
    int status = f8_layer(args, weights, &layer, owned);
    if (status == 0) status = mla_attention(args, &layer, x, positions, mask, y, latents);
    for (int i = 0; i < 6; i++) free(owned[i]);
    return status;
}

int assay_mla_decode_f8e4m3(const assay_mla_args *args, const assay_mla_f8_weights *weights, const float *x,
                            const int64_t *positions, const int64_t *mask, const float *cache,
                            const int64_t *cache_mask, const int64_t *cached, float *y, float *latents) {
    mla_layer layer;
    float *owned[6] = {0};
    int status = f8_layer(args, weights, &layer, owned);
    if (status == 0) status = mla_decode(args, &layer, x, positions, mask, cache, cache_mask, cached, y, latents);
    for (int i = 0; i < 6; i++) free(owned[i]);
    return status;
}

/* The NVFP4 projection [rows, cols] of packed `codes` and `block_scales` under `globals` (its E2M1 and block scale
 * values malloc'd into *values and *scales). */
static linear_layer nvfp4_projection(const uint8_t *codes, const uint8_t *block_scales, int64_t rows, int64_t cols,
                                     const float *bias, assay_nvfp4_globals globals, float **values, float **scales) {
    const int64_t blocks = (cols + 15) / 16;
    *values = codes ? malloc((size_t)(rows * cols > 0 ? rows * cols : 1) * sizeof(float)) : NULL;
    *scales = codes ? malloc((size_t)(rows * blocks > 0 ? rows * blocks : 1) * sizeof(float)) : NULL;
    if (*values && *scales) {
        for (int64_t k = 0; k < rows * cols / 2; k++) {
            (*values)[2 * k] = e2m1_value(codes[k] & 15);
            (*values)[2 * k + 1] = e2m1_value(codes[k] >> 4);
        }
        for (int64_t k = 0; k < rows * blocks; k++) (*scales)[k] = e4m3_value(block_scales[k]);
    }
    return (linear_layer){*values, bias, 0.0f, {globals.weight, globals.weight}, 0, 0, *scales, globals.input};
}

/* The NVFP4 layer of assay_mla_nvfp4_weights: each projection's E2M1 and block scale values (10 buffers, and kv_b
 * dequantized, F(e2m1 · s_w · g_w), for the absorbed decode: 11, in owned[]); 0, or fail()'s 1 when out of memory. */
static int nvfp4_mla_layer(const assay_mla_args *a, const assay_mla_nvfp4_weights *w, mla_layer *layer,
                           float *owned[11]) {
    const int64_t H = a->hidden, n = a->heads, rank = a->kv_lora_rank, dr = a->qk_rope_dim;
    const int64_t qk = a->qk_nope_dim + dr, q_in = a->q_lora_rank > 0 ? a->q_lora_rank : H;
    const int64_t kv_b_rows = n * (a->qk_nope_dim + a->v_dim);
    layer->q_a = nvfp4_projection(a->q_lora_rank > 0 ? w->q_a_codes : NULL, w->q_a_block_scales, a->q_lora_rank, H,
                                  w->q_a_bias, w->q_a, &owned[0], &owned[1]);
    layer->q_b = nvfp4_projection(w->q_b_codes, w->q_b_block_scales, n * qk, q_in, NULL, w->q_b, &owned[2], &owned[3]);
    layer->kv_a = nvfp4_projection(w->kv_a_codes, w->kv_a_block_scales, rank + dr, H, w->kv_a_bias, w->kv_a, &owned[4],
                                   &owned[5]);
    layer->kv_b = nvfp4_projection(w->kv_b_codes, w->kv_b_block_scales, kv_b_rows, rank, NULL, w->kv_b, &owned[6],
                                   &owned[7]);
    layer->o = nvfp4_projection(w->o_codes, w->o_block_scales, H, n * a->v_dim, w->o_bias, w->o, &owned[8], &owned[9]);
    layer->q_a_norm = w->q_a_norm;
    layer->kv_a_norm = w->kv_a_norm;
    layer->inv_freq = w->inv_freq;
    owned[10] = owned[6] && owned[7] ? scratch(kv_b_rows * rank) : NULL;
    const int64_t blocks = (rank + 15) / 16;
    if (owned[10])
        for (int64_t i = 0; i < kv_b_rows * rank; i++)
            owned[10][i] = owned[6][i] * owned[7][(i / rank) * blocks + (i % rank) / 16] * w->kv_b.weight;
    layer->kv_b_values = owned[10];
    for (int i = a->q_lora_rank > 0 ? 0 : 2; i < 11; i++)
        if (!owned[i]) return fail("mla nvfp4: out of memory");
    return 0;
}

int assay_mla_attention_nvfp4(const assay_mla_args *args, const assay_mla_nvfp4_weights *weights, const float *x,
                              const int64_t *positions, const int64_t *mask, float *y, float *latents) {
    mla_layer layer;
    float *owned[11] = {0};
    int status = nvfp4_mla_layer(args, weights, &layer, owned);
    if (status == 0) status = mla_attention(args, &layer, x, positions, mask, y, latents);
    for (int i = 0; i < 11; i++) free(owned[i]);
    return status;
}

int assay_mla_decode_nvfp4(const assay_mla_args *args, const assay_mla_nvfp4_weights *weights, const float *x,
                           const int64_t *positions, const int64_t *mask, const float *cache,
                           const int64_t *cache_mask, const int64_t *cached, float *y, float *latents) {
    mla_layer layer;
    float *owned[11] = {0};
    int status = nvfp4_mla_layer(args, weights, &layer, owned);
    if (status == 0) status = mla_decode(args, &layer, x, positions, mask, cache, cache_mask, cached, y, latents);
    for (int i = 0; i < 11; i++) free(owned[i]);
    return status;
}
