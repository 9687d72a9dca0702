// Attention kernels: the vision tower's block-diagonal attention (spec/vision.md eq. 9) and multi-head latent
// attention (spec/attention.md, spec/rope.md): its RoPE and query temperature, the expanded prefill and the absorbed
// decode over the latent cache. The projections around them are launch_linear and launch_rms_norm_strided.

#include "block.cuh"
#include "kernels.cuh"

namespace {

constexpr int elementwise_threads = 256, attention_threads = 128;

unsigned blocks(int64_t count) { return unsigned((count + elementwise_threads - 1) / elementwise_threads); }

// ---- vision_attention ---------------------------------------------------------------------------------------------

// One block per (patch t, head h), grid (patches, heads): q, k, v [patches, hidden], hidden = heads·d, RoPE applied;
// span[t] = {first patch, patch count} of t's image. spec/vision.md eq. 9, within the image only, no causal mask:
//   mixed[t, h·d + i] = Σ_s softmax_s(q_t·k_s / √d) · v[s, h·d + i],   s over the image's patches
__global__ void vision_attention(const float *q, const float *k, const float *v, const int64_t *span, float *mixed,
                                 int64_t hidden, int64_t d) {
    __shared__ float chunk[attend_chunk], partial[attention_threads];
    const int64_t t = blockIdx.x, h = blockIdx.y, first = span[t * 2];
    const float scale = 1.0f / sqrtf(float(d));
    const float *query = q + t * hidden + h * d;
    auto score = [&](int64_t s) { return dot(query, k + (first + s) * hidden + h * d, d) * scale; };
    auto value = [&](int64_t s, int64_t i) { return v[(first + s) * hidden + h * d + i]; };
    attend(span[t * 2 + 1], score, value, d, mixed + t * hidden + h * d, chunk, partial);
}

// ---- MLA: RoPE and temperature ------------------------------------------------------------------------------------

// The rotated element o in [0, d_r) of a RoPE'd vector x [d_r] at `position`, spec/rope.md eq. 8–10: pair i is
// (x[2i], x[2i+1]) when interleaved, else (x[i], x[i + d_r/2]); the output is [all u' | all v'];
// cos, sin = factor · cos(p·ω_i), factor · sin(p·ω_i) with the angle in float64, rounded to float32.
__device__ float rope_element(const float *x, int64_t o, int64_t rope_dim, int interleaved, int64_t position,
                              const double *inv_freq, double factor) {
    const int64_t half = rope_dim / 2, i = o < half ? o : o - half;
    const double angle = double(position) * inv_freq[i];
    const float c = float(factor * cos(angle)), s = float(factor * sin(angle));
    const float u = interleaved ? x[2 * i] : x[i], v = interleaved ? x[2 * i + 1] : x[i + half];
    return o < half ? u * c - v * s : v * c + u * s;
}

// queries [tokens, heads·(d_n + d_r)] from projected q of the same shape, elementwise: per head [q_n | RoPE(q_r)],
// all times τ(p) = 1 + beta · ln(1 + floor(p / period)) (spec/rope.md eq. 11; beta 0: τ = 1), eq. (3)–(4).
__global__ void mla_rope_query(const float *q, float *queries, const int64_t *positions, const double *inv_freq,
                               int64_t tokens, int64_t heads, int64_t nope, int64_t rope_dim, int interleaved,
                               double factor, double beta, int64_t period) {
    const int64_t qk = nope + rope_dim, index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (index >= tokens * heads * qk) return;
    const int64_t t = index / (heads * qk), e = index % qk, p = positions[t];
    const float tau = beta == 0.0 || period <= 0 ? 1.0f : float(1.0 + beta * log(1.0 + double(p / period)));
    const float *head = q + (index - e);
    const float value = e < nope ? head[e] : rope_element(head + nope, e - nope, rope_dim, interleaved, p, inv_freq, factor);
    queries[index] = value * tau;
}

// latents [tokens, r_kv + d_r] = [ĉ | RoPE(k_r)] (eq. 2–3), elementwise: normed [tokens, r_kv] is RMSNorm(c),
// kv [tokens, r_kv + d_r] the kv_a projection whose last d_r columns are the shared rope key.
__global__ void mla_rope_latent(const float *normed, const float *kv, float *latents, const int64_t *positions,
                                const double *inv_freq, int64_t tokens, int64_t rank, int64_t rope_dim, int interleaved,
                                double factor) {
    const int64_t row = rank + rope_dim, index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (index >= tokens * row) return;
    const int64_t t = index / row, e = index % row;
    latents[index] = e < rank ? normed[t * rank + e]
                              : rope_element(kv + t * row + rank, e - rank, rope_dim, interleaved, positions[t],
                                             inv_freq, factor);
}

// ---- MLA prefill --------------------------------------------------------------------------------------------------

// One block per (token t, head h), grid (batch·length, heads); sequences of `length` tokens one after another.
// queries [T, heads·(d_n+d_r)] (RoPE'd, × τ); kv [T, heads·(d_n+d_v)] = ĉ · W_kv_bᵀ, per head [k_n | v];
// latents [T, r_kv+d_r] (k_r in the last d_r); mask [T] 0/1. spec/attention.md eq. 6–8, 11–12: token i of its
// sequence sees the tokens j ≤ i of that sequence whose mask is 1,
//   s_j = σ · (q_n·k_n,j + q_r·k_r,j);  heads[t, h·d_v + i] = Σ_j softmax(s)_j · v_j[i]   (0 when none is seen)
__global__ void mla_prefill_attention(const float *queries, const float *kv, const float *latents, const int64_t *mask,
                                      float *heads_out, int64_t length, int64_t heads, int64_t nope, int64_t rope_dim,
                                      int64_t v_dim, int64_t rank, float scale) {
    __shared__ float chunk[attend_chunk], partial[attention_threads];
    const int64_t t = blockIdx.x, h = blockIdx.y, first = t - t % length;   // the sequence's first token
    const int64_t qk = nope + rope_dim, kvw = nope + v_dim, row = rank + rope_dim;
    const float *query = queries + (t * heads + h) * qk;
    auto score = [&](int64_t j) {
        const int64_t key = first + j;
        if (!mask[key]) return -INFINITY;
        return (dot(query, kv + (key * heads + h) * kvw, nope) + dot(query + nope, latents + key * row + rank, rope_dim))
               * scale;
    };
    auto value = [&](int64_t j, int64_t i) { return kv[((first + j) * heads + h) * kvw + nope + i]; };
    attend(t - first + 1, score, value, v_dim, heads_out + (t * heads + h) * v_dim, chunk, partial);
}

// ---- MLA decode ---------------------------------------------------------------------------------------------------

// One block per (sequence b, head h), grid (batch, heads): the absorbed form over the latent cache, spec/attention.md
// eq. 9–10. queries [B, heads·(d_n+d_r)]; kv_b [heads·(d_n+d_v), r_kv] (per head W_UK [d_n, r_kv] then W_UV
// [d_v, r_kv]); cache [B, capacity, r_kv+d_r] of which rows j < cached[b] are valid (rows past it are never read);
// cache_mask [B, capacity]; latents [B, r_kv+d_r] the new tokens' rows, seen when mask[b] is 1.
//   q̃ = W_UKᵀ q_n;  s_j = σ · (q̃·ĉ_j + q_r·k_r,j);  õ = Σ_j softmax(s)_j ĉ_j;  heads[b, h·d_v + d] = (W_UV õ)[d]
__global__ void mla_decode_attention(const float *queries, const float *kv_b, const float *cache,
                                     const int64_t *cache_mask, const int64_t *cached, const float *latents,
                                     const int64_t *mask, float *heads_out, int64_t heads, int64_t nope,
                                     int64_t rope_dim, int64_t v_dim, int64_t rank, int64_t capacity, float scale) {
    __shared__ float chunk[attend_chunk], partial[attention_threads], absorbed[max_latent_rank], mixed[max_latent_rank];
    const int64_t b = blockIdx.x, h = blockIdx.y, row = rank + rope_dim, valid = cached[b];
    const float *query = queries + (b * heads + h) * (nope + rope_dim);
    const float *uk = kv_b + h * (nope + v_dim) * rank, *uv = uk + nope * rank;
    for (int64_t c = threadIdx.x; c < rank; c += blockDim.x) {                          // (9) q̃ = W_UKᵀ q_n
        float sum = 0.0f;
        for (int64_t d = 0; d < nope; d++) sum += query[d] * uk[d * rank + c];
        absorbed[c] = sum;
    }
    __syncthreads();
    auto key = [&](int64_t j) { return j < valid ? cache + (b * capacity + j) * row : latents + b * row; };
    auto score = [&](int64_t j) {
        const bool seen = j < valid ? cache_mask[b * capacity + j] == 1 : mask[b] == 1;
        if (!seen) return -INFINITY;
        return (dot(absorbed, key(j), rank) + dot(query + nope, key(j) + rank, rope_dim)) * scale;
    };
    auto value = [&](int64_t j, int64_t c) { return key(j)[c]; };
    attend(valid + 1, score, value, rank, mixed, chunk, partial);                         // (10) õ
    __syncthreads();
    for (int64_t d = threadIdx.x; d < v_dim; d += blockDim.x)                             //      W_UV õ
        heads_out[(b * heads + h) * v_dim + d] = dot(uv + d * rank, mixed, rank);
}

} // namespace

void launch_vision_attention(const float *q, const float *k, const float *v, const int64_t *span, float *mixed,
                             int64_t patches, int64_t heads, int64_t d) {
    if (patches > 0 && heads > 0)
        ASSAY_LAUNCH(vision_attention, dim3(unsigned(patches), unsigned(heads)), attention_threads, q, k, v, span, mixed,
                     heads * d, d);
}

void launch_mla_rope(const float *q, float *queries, const float *normed, const float *kv, float *latents,
                     const int64_t *positions, const double *inv_freq, int64_t tokens, int64_t heads, int64_t nope,
                     int64_t rope_dim, int64_t rank, bool interleaved, double factor, double beta, int64_t period) {
    if (tokens <= 0) return;
    ASSAY_LAUNCH(mla_rope_query, blocks(tokens * heads * (nope + rope_dim)), elementwise_threads, q, queries, positions,
                 inv_freq, tokens, heads, nope, rope_dim, int(interleaved), factor, beta, period);
    ASSAY_LAUNCH(mla_rope_latent, blocks(tokens * (rank + rope_dim)), elementwise_threads, normed, kv, latents,
                 positions, inv_freq, tokens, rank, rope_dim, int(interleaved), factor);
}

void launch_mla_prefill_attention(const float *queries, const float *kv, const float *latents, const int64_t *mask,
                                  float *heads_out, int64_t batch, int64_t length, int64_t heads, int64_t nope,
                                  int64_t rope_dim, int64_t v_dim, int64_t rank, float scale) {
    if (batch * length > 0)
        ASSAY_LAUNCH(mla_prefill_attention, dim3(unsigned(batch * length), unsigned(heads)), attention_threads, queries,
                     kv, latents, mask, heads_out, length, heads, nope, rope_dim, v_dim, rank, scale);
}

void launch_mla_decode_attention(const float *queries, const float *kv_b, const float *cache, const int64_t *cache_mask,
                                 const int64_t *cached, const float *latents, const int64_t *mask, float *heads_out,
                                 int64_t batch, int64_t heads, int64_t nope, int64_t rope_dim, int64_t v_dim,
                                 int64_t rank, int64_t capacity, float scale) {
    if (batch > 0)
        ASSAY_LAUNCH(mla_decode_attention, dim3(unsigned(batch), unsigned(heads)), attention_threads, queries, kv_b,
                     cache, cache_mask, cached, latents, mask, heads_out, heads, nope, rope_dim, v_dim, rank, capacity,
                     scale);
}
