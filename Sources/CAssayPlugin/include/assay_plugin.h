/*
 * assay_plugin.h — the C ABI through which `assay diff --backend plugin:PATH.so` runs anyone's kernels against the
 * golden sets (spec/plugin-abi.md). Version 2: every spec op. A version-1 plugin (rms_norm, add, swiglu, embedding,
 * lm_head) still loads: version 2 only adds entry points — every spec op in f32, bf16 entry points for embedding,
 * rms_norm, add, swiglu and lm_head, and FP8 E4M3 ones for the ops whose linears the FP8 checkpoint quantizes.
 *
 * A plugin is a shared library exporting:
 *   - assay_plugin_get_info(): its name, the ABI version it was built against, and the spec ops it implements with
 *     the dtypes each supports;
 *   - one entry point per implemented op and dtype, named assay_<op>_<dtype> (assay_rms_norm_f32). An op the
 *     plugin lacks is simply not exported: Assay reports its taps NOT COVERED and never runs anything in its place.
 *
 * Buffers are host memory, row-major, densely packed, owned by Assay. Outputs are written only inside their
 * extent: Assay surrounds every output with sentinel values and fails the op when one changes. Every entry point
 * returns 0 on success; otherwise assay_plugin_last_error() says why (a static or thread-local string).
 */
#ifndef ASSAY_PLUGIN_H
#define ASSAY_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ASSAY_PLUGIN_ABI_VERSION 2u

/* dtypes an op supports, as bits of assay_op_info.dtypes: at least one, each with its entry point exported */
#define ASSAY_DTYPE_F32 (1u << 0)
#define ASSAY_DTYPE_BF16 (1u << 1)
#define ASSAY_DTYPE_F8_E4M3 (1u << 2)
#define ASSAY_DTYPE_NVFP4 (1u << 3)

typedef struct {
    const char *op;      /* a spec op name, as `assay coverage` prints it: "rms_norm", "add", "swiglu", … */
    uint32_t dtypes;     /* ASSAY_DTYPE_* bits */
} assay_op_info;

typedef struct {
    uint32_t abi_version;        /* ASSAY_PLUGIN_ABI_VERSION the plugin was built with */
    const char *name;            /* shown as plugin:NAME */
    uint32_t op_count;
    const assay_op_info *ops;
} assay_plugin_info;

const assay_plugin_info *assay_plugin_get_info(void);
const char *assay_plugin_last_error(void);

/* rms_norm — spec/rmsnorm.md: y[r, i] = weight[i] * x[r, i] / sqrt(mean_i x[r, i]^2 + epsilon) */
typedef struct {
    int64_t rows;
    int64_t width;
    float epsilon;
} assay_rms_norm_args;
int assay_rms_norm_f32(const assay_rms_norm_args *args, const float *x /* [rows, width] */,
                       const float *weight /* [width] */, float *y /* [rows, width] */);

/* add — spec/decoder.md eq. (2)–(3): y = a + b, elementwise */
typedef struct {
    int64_t count;
} assay_add_args;
int assay_add_f32(const assay_add_args *args, const float *a, const float *b, float *y);

/* swiglu — spec/experts.md eq. (1): y = down · (silu(gate · x) ⊙ (up · x)); gate_up holds the gate rows, then the
 * up rows (transformers' fused layout) */
typedef struct {
    int64_t tokens;
    int64_t hidden;
    int64_t intermediate;
} assay_swiglu_args;
int assay_swiglu_f32(const assay_swiglu_args *args, const float *x /* [tokens, hidden] */,
                     const float *gate_up /* [2 * intermediate, hidden] */, const float *down /* [hidden, intermediate] */,
                     float *y /* [tokens, hidden] */);

/* embedding — spec/decoder.md eq. (1): y[t, :] = table[ids[t], :]. Assay passes the rows the ids use (args->rows of
 * them, in ascending token id) and ids re-indexed into them, so the table it hands over stays small. */
typedef struct {
    int64_t tokens;
    int64_t rows;
    int64_t hidden;
} assay_embedding_args;
int assay_embedding_f32(const assay_embedding_args *args, const int64_t *ids /* [tokens], each in [0, rows) */,
                        const float *table /* [rows, hidden] */, float *y /* [tokens, hidden] */);

/* lm_head — spec/decoder.md eq. (5): y = x · Wᵀ. Assay calls it once per block of at most 4096 vocabulary rows. */
typedef struct {
    int64_t tokens;
    int64_t hidden;
    int64_t vocab;
} assay_lm_head_args;
int assay_lm_head_f32(const assay_lm_head_args *args, const float *x /* [tokens, hidden] */,
                      const float *weight /* [vocab, hidden] */, float *y /* [tokens, vocab] */);


/* ---- Version 2 ------------------------------------------------------------------------------------------------ */

/* The shapes and constants of one MLA layer (spec/attention.md), shared by mla_attention and mla_decode. */
typedef struct {
    int64_t batch;               /* sequences */
    int64_t length;              /* tokens per sequence in this call (1 for mla_decode) */
    int64_t hidden;
    int64_t heads;
    int64_t q_lora_rank;         /* 0: no q_a/q_b; q_b then holds q_proj [heads·(nope+rope), hidden] */
    int64_t kv_lora_rank;        /* r_kv (256) */
    int64_t qk_nope_dim;         /* d_n (64) */
    int64_t qk_rope_dim;         /* d_r (64) */
    int64_t v_dim;               /* d_v (128) */
    int32_t rope_interleaved;    /* 1: RoPE pairs (x[2i], x[2i+1]); 0: (x[i], x[i + d_r/2]) — spec/rope.md eq. 9–10 */
    float latent_norm_epsilon;   /* ε of q_a_layernorm and kv_a_layernorm (1e-6) */
    double softmax_scale;        /* mscale² / sqrt(d_n + d_r), spec/attention.md eq. 6 */
    double rope_attention_factor;/* multiplies cos and sin (1 for this model), spec/rope.md eq. 8 */
    double temperature_beta;     /* τ(p) = 1 + beta · ln(1 + floor(p / temperature_period)) on the whole query after */
    int64_t temperature_period;  /*   RoPE (spec/rope.md §5); beta 0: τ = 1 */
    int64_t cache_capacity;      /* mla_decode: rows per sequence in `cache` (unused by mla_attention) */
} assay_mla_args;

/* The weights of one MLA layer, as the checkpoint stores them (row-major [out, in]). Angles p·ω_i are computed in
 * float64 (a float32 angle at p = 10⁶ is off by radians), then cos and sin rounded to float32. */
typedef struct {
    const float *q_a;            /* [q_lora_rank, hidden], NULL when q_lora_rank is 0 */
    const float *q_a_bias;       /* [q_lora_rank] or NULL (attention_bias) */
    const float *q_a_norm;       /* [q_lora_rank] */
    const float *q_b;            /* [heads·(d_n + d_r), q_lora_rank]: per head [nope | rope] */
    const float *kv_a;           /* [r_kv + d_r, hidden]: [latent c | shared rope key k_r] */
    const float *kv_a_bias;      /* [r_kv + d_r] or NULL */
    const float *kv_a_norm;      /* [r_kv] */
    const float *kv_b;           /* [heads·(d_n + d_v), r_kv]: per head [k_nope rows | v rows] */
    const float *o;              /* [hidden, heads·d_v] */
    const float *o_bias;         /* [hidden] or NULL */
    const double *inv_freq;      /* [d_r / 2]: ω_i of spec/rope.md with YaRN applied */
} assay_mla_weights;

/* mla_attention — spec/attention.md eq. 1–8: a prefill of `batch` sequences of `length` tokens, sequence after
 * sequence. Token t attends to the tokens s ≤ t of its own sequence whose mask is 1 (itself only if its own mask
 * is 1); a token that sees no key outputs o · 0 (+ o_bias), eq. 12. `latents` gets each token's cache row
 * [normed c | rotated k_r]. */
int assay_mla_attention_f32(const assay_mla_args *args, const assay_mla_weights *weights,
                            const float *x /* [batch·length, hidden], normed */,
                            const int64_t *positions /* [batch·length] */, const int64_t *mask /* [batch·length] 0/1 */,
                            float *y /* [batch·length, hidden] */, float *latents /* [batch·length, r_kv + d_r] */);

/* mla_decode — spec/attention.md eq. 9–10: one new token per sequence, attending to the cached rows of its
 * sequence whose cache_mask is 1, and to itself when its mask is 1. Rows at and past cached[b] are NaN: a kernel that reads past the
 * valid length fails. `latents` gets the new token's cache row (Assay appends it to its cache). */
int assay_mla_decode_f32(const assay_mla_args *args, const assay_mla_weights *weights,
                         const float *x /* [batch, hidden], normed */, const int64_t *positions /* [batch] */,
                         const int64_t *mask /* [batch] 0/1: the new token's */,
                         const float *cache /* [batch, cache_capacity, r_kv + d_r] */,
                         const int64_t *cache_mask /* [batch, cache_capacity] 0/1 */,
                         const int64_t *cached /* [batch]: rows in use */,
                         float *y /* [batch, hidden] */, float *latents /* [batch, r_kv + d_r] */);

/* router — spec/router.md eq. 1–6: logits = x · Wᵀ; softmax over all experts (float32 or better); keep the
 * top_groups groups (of experts/groups experts each) with the largest sum of their two best probabilities; the
 * top_k experts by probability, ties to the lower id, largest first; weights = p / (Σ p + 1e-20) when
 * norm_topk_prob, else p; then × routed_scaling_factor. */
typedef struct {
    int64_t tokens;
    int64_t hidden;
    int64_t experts;
    int64_t top_k;
    int64_t groups;              /* n_group (1: no group limit) */
    int64_t top_groups;          /* topk_group */
    int32_t norm_topk_prob;
    double routed_scaling_factor;
} assay_router_args;
int assay_router_f32(const assay_router_args *args, const float *x /* [tokens, hidden] */,
                     const float *weight /* [experts, hidden] */, float *logits /* [tokens, experts] */,
                     float *weights /* [tokens, top_k] */, int64_t *indices /* [tokens, top_k] */);

/* routed_experts — spec/experts.md eq. 2: y[t] = Σ_j weights[t, j] · Expert_{indices[t, j]}(x[t]), each expert a
 * SwiGLU (eq. 1). Assay passes only the experts some token uses (args->experts of them, in ascending expert id)
 * with the indices re-indexed into them, so the weights it hands over stay small. */
typedef struct {
    int64_t tokens;
    int64_t hidden;
    int64_t intermediate;
    int64_t experts;             /* experts passed */
    int64_t top_k;
} assay_routed_experts_args;
int assay_routed_experts_f32(const assay_routed_experts_args *args, const float *x /* [tokens, hidden] */,
                             const int64_t *indices /* [tokens, top_k], each in [0, experts) */,
                             const float *weights /* [tokens, top_k] */,
                             const float *gate_up /* [experts, 2·intermediate, hidden]: gate rows, then up rows */,
                             const float *down /* [experts, hidden, intermediate] */, float *y /* [tokens, hidden] */);

/* patch_embedding — spec/vision.md eq. 1: the convolution with kernel = stride = patch, no bias, over the whole
 * canvas (partial patches dropped). */
typedef struct {
    int64_t images;
    int64_t channels;
    int64_t height;
    int64_t width;
    int64_t hidden;
    int64_t patch;
} assay_patch_embedding_args;
int assay_patch_embedding_f32(const assay_patch_embedding_args *args,
                              const float *pixels /* [images, channels, height, width] */,
                              const float *weight /* [hidden, channels, patch, patch] */,
                              float *y /* [images, hidden, height / patch, width / patch] */);

/* vision_attention — spec/vision.md eq. 5–10: q, k, v = x·Wᵀ; 2D RoPE on q and k with interleaved pairs (pair j
 * < d/4 turns by row · frequencies[2j], pair j ≥ d/4 by col · frequencies[2(j − d/4) + 1]); softmax(q·kᵀ/sqrt(d))
 * within each image only (block-diagonal); y = o · (p·v). The images' patches are consecutive, each image
 * row-major over its grid. q and k rows are in native (interleaved-pair) order. */
typedef struct {
    int64_t patches;
    int64_t hidden;
    int64_t heads;
    int64_t images;
} assay_vision_attention_args;
int assay_vision_attention_f32(const assay_vision_attention_args *args, const float *x /* [patches, hidden] */,
                               const int64_t *grids /* [images, 2]: rows, cols in patches */,
                               const double *frequencies /* [head_dim / 2]: f_k = θ^(−2k/d) */,
                               const float *wq, const float *wk, const float *wv, const float *wo /* [hidden, hidden] */,
                               float *y /* [patches, hidden] */);

/* patch_merger — spec/projector.md eq. 2–3: each merge × merge block of an image's patch grid becomes one row
 * v[c·merge² + a·merge + b] = x[patch (merge·i + a, merge·j + b), c], blocks row-major per image, images in order;
 * y = v · Wᵀ. */
typedef struct {
    int64_t patches;
    int64_t hidden;
    int64_t merge;
    int64_t images;
} assay_patch_merger_args;
int assay_patch_merger_f32(const assay_patch_merger_args *args, const float *x /* [patches, hidden] */,
                           const int64_t *grids /* [images, 2]: rows, cols in patches */,
                           const float *weight /* [hidden, hidden · merge²] */,
                           float *y /* [patches / merge², hidden] */);

/* projector_mlp — spec/projector.md eq. 4–5: y = W2 · GELU(W1 · x + b1) + b2, GELU exact (erf). */
typedef struct {
    int64_t rows;
    int64_t input;               /* vision hidden */
    int64_t hidden;              /* text hidden */
} assay_projector_mlp_args;
int assay_projector_mlp_f32(const assay_projector_mlp_args *args, const float *x /* [rows, input] */,
                            const float *w1 /* [hidden, input] */, const float *b1 /* [hidden] or NULL */,
                            const float *w2 /* [hidden, hidden] */, const float *b2 /* [hidden] or NULL */,
                            float *y /* [rows, hidden] */);

/* ---- bf16 (version 2) ------------------------------------------------------------------------------------------ */
/* The same ops and args structs as their f32 entry points, every float buffer in and out as bfloat16 bit patterns
 * (uint16_t: the top 16 bits of a float32). Assay rounds its inputs and weights to bf16 (nearest, ties to even) and
 * widens the outputs; a plugin's bf16 run is judged by the bf16 limits of spec/tolerances.json, in isolated mode
 * only, against goldens made in the hf-bf16 profile (spec/precision.md: where transformers rounds to bf16). How a
 * kernel computes inside (float32 sums, bf16 roundings) is its own; the example follows spec/precision.md. */
int assay_embedding_bf16(const assay_embedding_args *args, const int64_t *ids /* [tokens], each in [0, rows) */,
                         const uint16_t *table /* [rows, hidden] */, uint16_t *y /* [tokens, hidden] */);
int assay_rms_norm_bf16(const assay_rms_norm_args *args, const uint16_t *x /* [rows, width] */,
                        const uint16_t *weight /* [width] */, uint16_t *y /* [rows, width] */);
int assay_add_bf16(const assay_add_args *args, const uint16_t *a /* [count] */, const uint16_t *b /* [count] */,
                   uint16_t *y /* [count] */);
int assay_swiglu_bf16(const assay_swiglu_args *args, const uint16_t *x /* [tokens, hidden] */,
                      const uint16_t *gate_up /* [2 * intermediate, hidden] */,
                      const uint16_t *down /* [hidden, intermediate] */, uint16_t *y /* [tokens, hidden] */);
int assay_lm_head_bf16(const assay_lm_head_args *args, const uint16_t *x /* [tokens, hidden] */,
                       const uint16_t *weight /* [vocab, hidden] */, uint16_t *y /* [tokens, vocab] */);

/* ---- FP8 E4M3 static W8A8 (version 2): spec/quant.md ------------------------------------------------------------
 * The linears the FP8 checkpoint quantizes (attention's q_a, q_b, kv_a, kv_b, o; the dense, shared and routed
 * experts' gate_up and down) as the checkpoint stores them: E4M3FN codes (uint8_t: sign bit 7, exponent bits 6–3
 * with bias 7, mantissa bits 2–0; exponent 0 subnormal, 0x7F/0xFF NaN), a float32 weight scale s_w
 * (weight_scale_inv: W ≈ w_q · s_w, eq. 6) and a float32 activation scale s_a per linear. Each linear computes
 *   x_q = E(B(x / s_a))                  activation_convention 0, Hugging Face (eq. 2): x / s_a in float64 (or
 *                                        exactly), rounded to bfloat16, then to E4M3 — two roundings
 *   x_q = E(F(F(x) · F(1 / s_a)))        activation_convention 1, vLLM (eq. 3): the float32 reciprocal, one rounding
 *   y   = F(F(Σᵢ x_q,ᵢ · w_q,ᵢ) · F(s_a · s_w)) (+ b)                       eq. 5: E4M3 products are exact in float32
 * E(·) rounds to nearest E4M3, ties to even, saturating at ±448. Activations, norms, biases and everything between the
 * linears are float32, as in the f32 entry points; the golden set says which convention and which expert activation
 * scales (per expert, or the layer's maximum: eq. 8) it was made with, and Assay passes them as it says. */
#define ASSAY_F8_HUGGING_FACE 0  /* eq. 2 */
#define ASSAY_F8_VLLM 1          /* eq. 3 */

/* swiglu_f8e4m3 — spec/experts.md eq. 1 with both products FP8: gate_up's gate rows under gate_weight_scale, its up
 * rows under up_weight_scale (one input quantization, gate_up_activation_scale, for both halves); down under its own
 * scales. A checkpoint with one scale for gate and up passes it twice. */
typedef struct {
    int64_t tokens;
    int64_t hidden;
    int64_t intermediate;
    int32_t activation_convention;   /* ASSAY_F8_HUGGING_FACE or ASSAY_F8_VLLM */
    float gate_weight_scale;         /* s_w of gate_up rows [0, intermediate) */
    float up_weight_scale;           /* s_w of gate_up rows [intermediate, 2·intermediate) */
    float gate_up_activation_scale;  /* s_a of x */
    float down_weight_scale;         /* s_w of down */
    float down_activation_scale;     /* s_a of silu(gate) ⊙ up */
} assay_swiglu_f8_args;
int assay_swiglu_f8e4m3(const assay_swiglu_f8_args *args, const float *x /* [tokens, hidden] */,
                        const uint8_t *gate_up /* [2 * intermediate, hidden] E4M3 codes */,
                        const uint8_t *down /* [hidden, intermediate] E4M3 codes */, float *y /* [tokens, hidden] */);

/* routed_experts_f8e4m3 — spec/experts.md eq. 2 with every expert's SwiGLU as swiglu_f8e4m3, each expert under its
 * own scales. The checkpoint's gate_up_proj_scale_inv is [E, 1, 1] (one s_w for both halves: Assay passes it twice)
 * or [E, 2, 1] (gate rows under [e, 0], up rows under [e, 1], spec/quant.md §4). The activation scales are what the
 * set's profile uses: each expert's own, or the layer's maximum repeated (eq. 8). Experts, indices as in
 * assay_routed_experts_f32 (only those used, ascending id, re-indexed). */
typedef struct {
    int64_t tokens;
    int64_t hidden;
    int64_t intermediate;
    int64_t experts;                 /* experts passed */
    int64_t top_k;
    int32_t activation_convention;   /* ASSAY_F8_HUGGING_FACE or ASSAY_F8_VLLM */
} assay_routed_experts_f8_args;
typedef struct {
    const float *gate_up_weight_scales;     /* [experts, 2]: s_w of expert e's gate rows, then of its up rows */
    const float *gate_up_activation_scales; /* [experts] */
    const float *down_weight_scales;        /* [experts] */
    const float *down_activation_scales;    /* [experts] */
} assay_expert_f8_scales;
int assay_routed_experts_f8e4m3(const assay_routed_experts_f8_args *args, const float *x /* [tokens, hidden] */,
                                const int64_t *indices /* [tokens, top_k], each in [0, experts) */,
                                const float *weights /* [tokens, top_k] */,
                                const uint8_t *gate_up /* [experts, 2·intermediate, hidden] E4M3 codes */,
                                const uint8_t *down /* [experts, hidden, intermediate] E4M3 codes */,
                                const assay_expert_f8_scales *scales, float *y /* [tokens, hidden] */);

/* One FP8 linear's scales. */
typedef struct {
    float weight;                    /* s_w: W ≈ w_q · s_w */
    float activation;                /* s_a: x ≈ x_q · s_a */
} assay_f8_scale;

typedef struct {
    assay_f8_scale q_a, q_b, kv_a, kv_b, o;   /* q_b: q_proj's when q_lora_rank is 0 (q_a then unused) */
    int32_t activation_convention;            /* ASSAY_F8_HUGGING_FACE or ASSAY_F8_VLLM */
} assay_mla_f8_scales;

/* The weights of one MLA layer with its five projections in FP8: assay_mla_weights with codes in place of the
 * projection weights (same shapes, uint8_t E4M3), then their scales. Norms, biases and ω stay as in float. */
typedef struct {
    const uint8_t *q_a;          /* [q_lora_rank, hidden] codes, NULL when q_lora_rank is 0 */
    const float *q_a_bias;       /* [q_lora_rank] or NULL */
    const float *q_a_norm;       /* [q_lora_rank] */
    const uint8_t *q_b;          /* [heads·(d_n + d_r), q_lora_rank] codes (q_proj [heads·(d_n + d_r), hidden]) */
    const uint8_t *kv_a;         /* [r_kv + d_r, hidden] codes */
    const float *kv_a_bias;      /* [r_kv + d_r] or NULL */
    const float *kv_a_norm;      /* [r_kv] */
    const uint8_t *kv_b;         /* [heads·(d_n + d_v), r_kv] codes */
    const uint8_t *o;            /* [hidden, heads·d_v] codes */
    const float *o_bias;         /* [hidden] or NULL */
    const double *inv_freq;      /* [d_r / 2] */
    assay_mla_f8_scales scales;
} assay_mla_f8_weights;

/* mla_attention_f8e4m3 — as assay_mla_attention_f32, each of the five projections an FP8 linear (eq. 2–5): kv_b
 * quantizes the normed latent ĉ (the cache row keeps ĉ itself, unquantized). */
int assay_mla_attention_f8e4m3(const assay_mla_args *args, const assay_mla_f8_weights *weights,
                               const float *x /* [batch·length, hidden], normed */,
                               const int64_t *positions /* [batch·length] */,
                               const int64_t *mask /* [batch·length] 0/1 */,
                               float *y /* [batch·length, hidden] */, float *latents /* [batch·length, r_kv + d_r] */);

/* mla_decode_f8e4m3 — as assay_mla_decode_f32 with FP8 projections. The absorbed form folds kv_b into the query, so
 * it takes kv_b's input as kv_b would see it: every cached ĉ (and the new one) quantized by kv_b's activation scale
 * and widened back, x_q · s_a, against kv_b's dequantized weight F(w_q · s_w) (spec/quant.md §6: equal to the
 * expanded form). cache, cache_mask, cached as in assay_mla_decode_f32; latents gets the unquantized row. */
int assay_mla_decode_f8e4m3(const assay_mla_args *args, const assay_mla_f8_weights *weights,
                            const float *x /* [batch, hidden], normed */, const int64_t *positions /* [batch] */,
                            const int64_t *mask /* [batch] 0/1 */,
                            const float *cache /* [batch, cache_capacity, r_kv + d_r] */,
                            const int64_t *cache_mask /* [batch, cache_capacity] 0/1 */,
                            const int64_t *cached /* [batch] */,
                            float *y /* [batch, hidden] */, float *latents /* [batch, r_kv + d_r] */);

/* ---- NVFP4 entry points (ASSAY_DTYPE_NVFP4), spec/quant.md §10–11 ---------------------------------------------
 * The ops whose linears an NVFP4 checkpoint quantizes (the SwiGLU ops and MLA), every linear in NVFP4 W4A4, weights as an NVFP4 checkpoint stores them (spec/checkpoints.md
 * §7): E2M1 codes two a byte (element 2k of a row in the low nibble; a nibble's bit 3 is the sign, bits 2–0 index
 * {0, 0.5, 1, 1.5, 2, 3, 4, 6}), one E4M3FN block scale s_w per 16 inputs of a row (a row's last block is shorter
 * when its width is not a multiple of 16), a float32 global weight scale g_w (a multiplier: W = e2m1 · s_w · g_w) and
 * a float32 global activation scale g_x (a divisor). Each linear computes, per row x of its input:
 *   s_x[b] = E(min(g_x · amax_b|x| / 6, 448)),  x_q = R(clamp(x · g_x / s_x[b], −6, 6))  (0 when s_x[b] = 0)  eq. 13
 *   y[o]   = F(g_w / g_x) · Σ_b s_x[b] · s_w[o, b] · Σ_{i ∈ b} x_q · w_q                                   eq. 15
 * E rounds to nearest E4M3, R to nearest E2M1, both ties to even; Assay's BLAS backend decides eq. 13 in float64 and
 * sums eq. 15 in float32. These entry points are optional additions to version 2: a plugin that does not list
 * ASSAY_DTYPE_NVFP4 leaves an NVFP4 set's quantized ops not covered. */
typedef struct {
    const uint8_t *codes;          /* [count, rows, cols / 2] packed E2M1 codes */
    const uint8_t *block_scales;   /* [count, rows, ⌈cols / 16⌉] E4M3FN codes */
    const float *weight_globals;   /* [count, 2]: g_w of rows [0, rows/2) and of rows [rows/2, rows) (a fused
                                      gate|up's gate and up halves; the same value twice for any other weight) */
    const float *input_globals;    /* [count]: g_x */
} assay_nvfp4_weights;

/* swiglu_nvfp4 — spec/experts.md eq. 1 with both products NVFP4: gate_up [2·intermediate, hidden] and down
 * [hidden, intermediate], count 1 each. */
int assay_swiglu_nvfp4(const assay_swiglu_args *args, const float *x /* [tokens, hidden] */,
                       const assay_nvfp4_weights *gate_up, const assay_nvfp4_weights *down,
                       float *y /* [tokens, hidden] */);

/* routed_experts_nvfp4 — spec/experts.md eq. 2 with every expert's SwiGLU as swiglu_nvfp4: gate_up and down with
 * count = experts. Experts, indices as in assay_routed_experts_f32 (only those used, ascending id, re-indexed). */
int assay_routed_experts_nvfp4(const assay_routed_experts_args *args, const float *x /* [tokens, hidden] */,
                               const int64_t *indices /* [tokens, top_k], each in [0, experts) */,
                               const float *weights /* [tokens, top_k] */, const assay_nvfp4_weights *gate_up,
                               const assay_nvfp4_weights *down, float *y /* [tokens, hidden] */);

/* The global scales of one NVFP4 projection. */
typedef struct {
    float weight;                    /* g_w, a multiplier */
    float input;                     /* g_x, a divisor */
} assay_nvfp4_globals;

/* The weights of one MLA layer with its five projections in NVFP4: each projection's packed E2M1 codes
 * [out, in/2] and E4M3 block scale codes [out, ⌈in/16⌉] in place of its float weight (shapes as in
 * assay_mla_weights), then the projections' global scales. Norms, biases and ω stay as in float. */
typedef struct {
    const uint8_t *q_a_codes, *q_a_block_scales;     /* NULL when q_lora_rank is 0 */
    const float *q_a_bias;                           /* [q_lora_rank] or NULL */
    const float *q_a_norm;                           /* [q_lora_rank] */
    const uint8_t *q_b_codes, *q_b_block_scales;     /* q_proj's when q_lora_rank is 0 */
    const uint8_t *kv_a_codes, *kv_a_block_scales;
    const float *kv_a_bias;                          /* [r_kv + d_r] or NULL */
    const float *kv_a_norm;                          /* [r_kv] */
    const uint8_t *kv_b_codes, *kv_b_block_scales;
    const uint8_t *o_codes, *o_block_scales;
    const float *o_bias;                             /* [hidden] or NULL */
    const double *inv_freq;                          /* [d_r / 2] */
    assay_nvfp4_globals q_a, q_b, kv_a, kv_b, o;
} assay_mla_nvfp4_weights;

/* mla_attention_nvfp4 and mla_decode_nvfp4 — as the f32 entry points, each of the five projections an NVFP4 linear
 * (eq. 13–15). The absorbed decode folds kv_b into the query, so it takes kv_b's input as kv_b would see it: every
 * cached ĉ (and the new one) quantized per block and widened back, x_q · s_x / g_x, against kv_b's dequantized
 * weight F(e2m1 · s_w · g_w) (spec/quant.md §11: equal to the expanded form); the cache keeps ĉ unquantized. */
int assay_mla_attention_nvfp4(const assay_mla_args *args, const assay_mla_nvfp4_weights *weights,
                              const float *x /* [batch·length, hidden], normed */,
                              const int64_t *positions /* [batch·length] */,
                              const int64_t *mask /* [batch·length] 0/1 */,
                              float *y /* [batch·length, hidden] */, float *latents /* [batch·length, r_kv + d_r] */);
int assay_mla_decode_nvfp4(const assay_mla_args *args, const assay_mla_nvfp4_weights *weights,
                           const float *x /* [batch, hidden], normed */, const int64_t *positions /* [batch] */,
                           const int64_t *mask /* [batch] 0/1 */,
                           const float *cache /* [batch, cache_capacity, r_kv + d_r] */,
                           const int64_t *cache_mask /* [batch, cache_capacity] 0/1 */,
                           const int64_t *cached /* [batch] */,
                           float *y /* [batch, hidden] */, float *latents /* [batch, r_kv + d_r] */);

#ifdef __cplusplus
}
#endif

#endif /* ASSAY_PLUGIN_H */
