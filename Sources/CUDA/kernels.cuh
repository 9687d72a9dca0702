// The CUDA kernels of libassay_cuda.so, launched on the default stream; float32 arithmetic on float, bf16 and FP8
// E4M3 elements (numeric.cuh). ABI v1: norms.cu, gemm.cu. ABI v2: router.cu, experts.cu, vision.cu, attention.cu
// (with block.cuh's helpers), quant.cu (FP8).
#pragma once

#include <cstdint>

#include "numeric.cuh"

// spec/rmsnorm.md eq. (1)–(2): y[r] = w ⊙ x[r] / sqrt(mean(x[r]²) + ε), one block per row (bf16: spec/precision.md).
void launch_rms_norm(const float *x, const float *weight, float *y, int64_t rows, int64_t width, float epsilon);
void launch_rms_norm(const bf16 *x, const bf16 *weight, bf16 *y, int64_t rows, int64_t width, float epsilon);
// y = a + b, elementwise (bf16: B(a + b)).
void launch_add(const float *a, const float *b, float *y, int64_t count);
void launch_add(const bf16 *a, const bf16 *b, bf16 *y, int64_t count);
// y [m, n] = x [m, k] · w [n, k]ᵀ: a linear layer with checkpoint-layout weights, 16 × 16 shared-memory tiles
// (bf16: float32 sums, y = B(Σ)).
void launch_linear(const float *x, const float *w, float *y, int64_t m, int64_t n, int64_t k);
void launch_linear(const bf16 *x, const bf16 *w, bf16 *y, int64_t m, int64_t n, int64_t k);
// h [t, i] = silu(g [t, i]) · u [t, i] over rows [gate (width) | up (width)] (spec/experts.md eq. 1; bf16:
// B(B(silu(g)) · u)).
void launch_gated_silu(const float *gate_up, float *h, int64_t tokens, int64_t width);
void launch_gated_silu(const bf16 *gate_up, bf16 *h, int64_t tokens, int64_t width);
// y [t, :] = table [ids[t], :] (spec/decoder.md eq. 1).
void launch_gather(const int64_t *ids, const float *table, float *y, int64_t tokens, int64_t hidden);
void launch_gather(const int64_t *ids, const bf16 *table, bf16 *y, int64_t tokens, int64_t hidden);
// As launch_rms_norm over the first `width` floats of rows `x_stride` apart, into rows `y_stride` apart (in place
// when x == y and the strides match): MLA's latent norm of [c | k_r] rows.
void launch_rms_norm_strided(const float *x, int64_t x_stride, const float *weight, float *y, int64_t y_stride,
                             int64_t rows, int64_t width, float epsilon);

// ---- FP8 E4M3 W8A8 (spec/quant.md), quant.cu and gemm.cu ----

// One FP8 linear layer: E4M3 codes w [n, k], rows [0, split) under weight_scale[0] and the rest under
// weight_scale[1] (gate and up rows; split 0: one scale), the activation scale s_a and convention of eq. 2 or 3.
struct F8Layer {
    const e4m3 *w;
    float activation_scale, weight_scale[2];
    int64_t split;
    int convention;
};
// y [m, n] = F(Σ x_q · w_q) · F(s_a · s_w), eq. 5, for activation codes xq [m, k].
void launch_linear_codes(const e4m3 *xq, const F8Layer &layer, float *y, int64_t m, int64_t n, int64_t k);
// The FP8 linear layer, eq. 2–5: x [m, k] quantized into xq [m, k] (scratch), then launch_linear_codes.
void launch_linear_f8(const float *x, e4m3 *xq, const F8Layer &layer, float *y, int64_t m, int64_t n, int64_t k);
// y[r, c] = Q(x[r, c]) · s_a for c < width of `rows` rows `stride` floats apart, the rest copied (x == y allowed):
// latent rows as kv_b sees them (spec/quant.md §6).
void launch_kv_b_view(const float *x, float *y, int64_t rows, int64_t stride, int64_t width, float scale,
                      int convention);
// values [count] = F(w_q · s_w): a weight dequantized.
void launch_dequantize(const e4m3 *w, float *values, int64_t count, float scale);

// ---- ABI version 2 ----

// The most experts router_select holds in shared memory, and the largest latent rank mla_decode_attention does.
constexpr int64_t max_router_experts = 1024, max_latent_rank = 1024;

// spec/router.md eq. 2–6 on logits [tokens, experts] (eq. 1 is launch_linear): softmax, group-limited top_k with
// ties to the lower id -> weights [tokens, top_k], indices [tokens, top_k]. One warp per token, warp shuffles.
void launch_router_select(const float *logits, float *weights, int64_t *indices, int64_t tokens, int64_t experts,
                          int64_t top_k, int64_t groups, int64_t top_groups, bool norm_topk_prob, double scaling);
// spec/experts.md eq. 2: y[t] = Σ_m weights[t, order[t,m,1]] · outputs[order[t,m,0]], m in ascending expert order.
void launch_combine_experts(const float *outputs, const int64_t *order, const float *weights, float *y, int64_t tokens,
                            int64_t hidden, int64_t top_k);
// One image's pixels [C, H, W] -> columns [(H/p)·(W/p), C·p·p] (spec/vision.md eq. 1 as a product).
void launch_im2col(const float *pixels, float *columns, int64_t channels, int64_t height, int64_t width, int64_t patch);
// The patch merger's gather, spec/projector.md eq. 2: x [patches, hidden] -> v [merged, hidden·merge²];
// source [merged, 2] = {top-left patch, the image's patch columns}.
void launch_unfold(const float *x, const int64_t *source, float *v, int64_t merged, int64_t hidden, int64_t merge);
// spec/vision.md eq. 6–7 in place on q, k [patches, heads·d]; at [patches, 2] = each patch's {row, col}.
void launch_rope_2d(float *q, float *k, const int64_t *at, const double *frequencies, int64_t patches, int64_t heads,
                    int64_t d);
// y [rows, width] += bias (unless NULL), then exact GELU when `gelu` (spec/projector.md eq. 4–5).
void launch_bias_activation(float *y, const float *bias, int64_t rows, int64_t width, bool gelu);
// spec/vision.md eq. 9: mixed [patches, heads·d] from RoPE'd q, k and v, softmax within each patch's image;
// span [patches, 2] = {first patch, patch count} of its image.
void launch_vision_attention(const float *q, const float *k, const float *v, const int64_t *span, float *mixed,
                             int64_t patches, int64_t heads, int64_t d);
// spec/attention.md eq. 3–4: queries = τ(p) · [q_n | RoPE(q_r)] per head from q [tokens, heads·(d_n+d_r)];
// latents [tokens, r_kv+d_r] = [normed | RoPE(k_r of kv)].
void launch_mla_rope(const float *q, float *queries, const float *normed, const float *kv, float *latents,
                     const int64_t *positions, const double *inv_freq, int64_t tokens, int64_t heads, int64_t nope,
                     int64_t rope_dim, int64_t rank, bool interleaved, double factor, double beta, int64_t period);
// spec/attention.md eq. 6–8, 11–12: heads_out [batch·length, heads·d_v], causal within each sequence, masked keys.
void launch_mla_prefill_attention(const float *queries, const float *kv, const float *latents, const int64_t *mask,
                                  float *heads_out, int64_t batch, int64_t length, int64_t heads, int64_t nope,
                                  int64_t rope_dim, int64_t v_dim, int64_t rank, float scale);
// spec/attention.md eq. 9–10: heads_out [batch, heads·d_v], absorbed attention over the valid cache rows and the
// new token.
void launch_mla_decode_attention(const float *queries, const float *kv_b, const float *cache, const int64_t *cache_mask,
                                 const int64_t *cached, const float *latents, const int64_t *mask, float *heads_out,
                                 int64_t batch, int64_t heads, int64_t nope, int64_t rope_dim, int64_t v_dim,
                                 int64_t rank, int64_t capacity, float scale);
