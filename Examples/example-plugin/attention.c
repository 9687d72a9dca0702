/*
 * Multi-head latent attention (MLA), spec/attention.md, with YaRN RoPE and the query temperature of spec/rope.md:
 * the expanded prefill (eq. 1–8, 11–12) and the absorbed decode over the latent cache (eq. 9–10).
 * Part of example_plugin.c, which #includes it.
 *
 * Per token x (H,) at position p, n heads, d_n + d_r query/key width, d_v value width, r_kv latent width:
 *   q (n·(d_n+d_r),) = W_qb · RMSNorm_q(W_qa · x)            per head [q_n | q_r]                          (1)
 *   [c | k_r] (r_kv+d_r,) = W_kva · x,  ĉ = RMSNorm_kv(c)                                                  (2)
 *   q_r, k_r ← RoPE(·, p);  q ← τ(p) · q                     the latent row [ĉ | k_r] is what the cache keeps (3)–(4)
 */
#include "common.h"

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
static void mla_project(const assay_mla_args *a, const assay_mla_weights *w, const float *x, int64_t position,
                        float *q, float *latent, float *qa) {
    const int64_t rank = a->kv_lora_rank, dr = a->qk_rope_dim, qk = a->qk_nope_dim + dr;
    float cos_[dr / 2], sin_[dr / 2];
    if (a->q_lora_rank > 0) {                                                           /* (1) */
        matmul(qa, x, w->q_a, w->q_a_bias, a->hidden, a->q_lora_rank);
        rmsnorm(qa, qa, w->q_a_norm, a->q_lora_rank, a->latent_norm_epsilon);
        matmul(q, qa, w->q_b, NULL, a->q_lora_rank, a->heads * qk);
    } else {
        matmul(q, x, w->q_b, NULL, a->hidden, a->heads * qk);                           /* q_proj */
    }
    matmul(latent, x, w->kv_a, w->kv_a_bias, a->hidden, rank + dr);                    /* (2) */
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
static int mla_check(const assay_mla_args *a, const assay_mla_weights *w) {
    if (a->batch < 0 || a->length < 0 || a->heads <= 0 || a->kv_lora_rank <= 0 || a->qk_rope_dim <= 0
        || a->qk_rope_dim % 2 != 0 || a->q_lora_rank < 0 || (a->q_lora_rank > 0 && (!w->q_a || !w->q_a_norm)))
        return fail("mla: needs heads, kv_lora_rank > 0, an even qk_rope_dim, and q_a and q_a_norm with a q LoRA");
    return 0;
}

/* ---- mla_attention: the expanded prefill, eq. 5–8 ------------------------------------------------------------- */

/* One sequence of S tokens: x (S,H) -> y (S,H), latents (S, r_kv+d_r). Scratch: q (S, n·(d_n+d_r)),
 * kv (S, n·(d_n+d_v)), heads (n·d_v,), scores (S,), qa (q_lora_rank,). */
static void mla_sequence(const assay_mla_args *a, const assay_mla_weights *w, const float *x, const int64_t *positions,
                         const int64_t *mask, float *y, float *latents, float *q, float *kv, float *heads,
                         float *scores, float *qa) {
    const int64_t S = a->length, n = a->heads, dn = a->qk_nope_dim, dr = a->qk_rope_dim, dv = a->v_dim;
    const int64_t rank = a->kv_lora_rank, qk = dn + dr, kvw = dn + dv, row = rank + dr;
    for (int64_t t = 0; t < S; t++) {
        mla_project(a, w, x + t * a->hidden, positions[t], q + t * n * qk, latents + t * row, qa);
        matmul(kv + t * n * kvw, latents + t * row, w->kv_b, NULL, rank, n * kvw);    /* (5) [k_n | v] per head */
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
        matmul(y + i * a->hidden, heads, w->o, w->o_bias, n * dv, a->hidden);          /* (8), (12): W_o · 0 + bias */
    }
}

/* x (B·S,H), positions (B·S,), mask (B·S,) -> y (B·S,H), latents (B·S, r_kv+d_r); sequence after sequence. */
int assay_mla_attention_f32(const assay_mla_args *args, const assay_mla_weights *weights, const float *x,
                            const int64_t *positions, const int64_t *mask, float *y, float *latents) {
    if (mla_check(args, weights)) return 1;
    const int64_t S = args->length, n = args->heads, row = args->kv_lora_rank + args->qk_rope_dim;
    float *q = scratch(S * n * (args->qk_nope_dim + args->qk_rope_dim));
    float *kv = scratch(S * n * (args->qk_nope_dim + args->v_dim)), *heads = scratch(n * args->v_dim);
    float *scores = scratch(S), *qa = scratch(args->q_lora_rank);
    int status = q && kv && heads && scores && qa ? 0 : fail("mla_attention: out of memory");
    for (int64_t b = 0; b < args->batch && status == 0; b++)
        mla_sequence(args, weights, x + b * S * args->hidden, positions + b * S, mask + b * S, y + b * S * args->hidden,
                     latents + b * S * row, q, kv, heads, scores, qa);
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

/* x (B,H), positions (B,), mask (B,), cache (B, capacity, r_kv+d_r), cache_mask (B, capacity), cached (B,)
 *   -> y (B,H), latents (B, r_kv+d_r). Sequence b attends to its rows [0, cached[b]) with cache_mask 1, and to the
 * new token when mask[b] is 1; rows at and past cached[b] are NaN and never read. Scratch keys holds the visible
 * cache rows followed by the new token's row. */
int assay_mla_decode_f32(const assay_mla_args *args, const assay_mla_weights *weights, const float *x,
                         const int64_t *positions, const int64_t *mask, const float *cache, const int64_t *cache_mask,
                         const int64_t *cached, float *y, float *latents) {
    if (mla_check(args, weights)) return 1;
    const int64_t n = args->heads, dn = args->qk_nope_dim, dr = args->qk_rope_dim, dv = args->v_dim;
    const int64_t rank = args->kv_lora_rank, row = rank + dr, capacity = args->cache_capacity;
    for (int64_t b = 0; b < args->batch; b++)
        if (cached[b] < 0 || cached[b] > capacity) return fail("mla_decode: cached[b] is outside [0, cache_capacity]");
    float *q = scratch(n * (dn + dr)), *keys = scratch((capacity + 1) * row), *heads = scratch(n * dv);
    float *absorbed = scratch(rank), *mixed = scratch(rank), *scores = scratch(capacity + 1);
    float *qa = scratch(args->q_lora_rank);
    char *visible = malloc((size_t)capacity + 1);
    int ready = q && keys && heads && absorbed && mixed && scores && qa && visible;
    int status = ready ? 0 : fail("mla_decode: out of memory");
    for (int64_t b = 0; b < args->batch && status == 0; b++) {
        const int64_t L = cached[b];
        for (int64_t j = 0; j < L; j++) {                                              /* the valid rows only */
            visible[j] = cache_mask[b * capacity + j] == 1;
            if (visible[j]) memcpy(keys + j * row, cache + (b * capacity + j) * row, (size_t)row * sizeof(float));
        }
        mla_project(args, weights, x + b * args->hidden, positions[b], q, latents + b * row, qa);
        memcpy(keys + L * row, latents + b * row, (size_t)row * sizeof(float));       /* the new token, eq. 11 */
        visible[L] = mask[b] == 1;
        for (int64_t h = 0; h < n; h++) {
            const float *uk = weights->kv_b + h * (dn + dv) * rank, *uv = uk + dn * rank;
            absorbed_head(args, q + h * (dn + dr), uk, uv, keys, visible, L + 1, heads + h * dv, absorbed, mixed,
                          scores);
        }
        matmul(y + b * args->hidden, heads, weights->o, weights->o_bias, n * dv, args->hidden);
    }
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
