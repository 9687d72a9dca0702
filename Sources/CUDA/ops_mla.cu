// mla_attention and mla_decode (spec/attention.md) in f32 and FP8 E4M3: one host path over both weight structs
// (assay_mla_weights, assay_mla_f8_weights: the same fields, the projections float or codes), the five projections
// as Linear<float> (FP8: spec/quant.md eq. 2–5), the attention kernels of attention.cu.

#include <type_traits>

#include "plugin.cuh"

namespace {

// The element type of a weights struct's projections: float, or uint8_t E4M3 codes.
template <typename Weights> using Code = std::remove_const_t<std::remove_pointer_t<decltype(Weights::q_a)>>;
template <typename Weights> constexpr bool is_f8 = std::is_same_v<Code<Weights>, uint8_t>;

// One MLA layer as the host launches it: the five projections, then norms, biases (NULL when absent) and ω, all on
// the device.
struct MlaLayer {
    Linear<float> q_a, q_b, kv_a, kv_b, o;
    const float *q_a_bias, *q_a_norm, *kv_a_bias, *kv_a_norm, *o_bias;
    const double *inv_freq;
};

// The float projection of weights w, or the FP8 one of codes w under `scale`, quantizing its input into xq.
Linear<float> projection(const float *w, const assay_mla_weights *, assay_f8_scale, e4m3 *) { return {w}; }
Linear<float> projection(const uint8_t *w, const assay_mla_f8_weights *weights, assay_f8_scale scale, e4m3 *xq) {
    return {nullptr, f8_layer(w, scale.activation, scale.weight, scale.weight, 0, weights->scales.activation_convention),
            xq};
}
template <typename Weights> assay_f8_scale scale_of(const Weights *w, assay_f8_scale assay_mla_f8_scales::*which) {
    if constexpr (is_f8<Weights>) return w->scales.*which;
    return {};
}

// One MLA layer's weights from the device cache (absent ones: NULL).
template <typename Weights> struct MlaDevice {
    Weight<Code<Weights>> q_a, q_b, kv_a, kv_b, o;
    Weight<float> q_a_bias, q_a_norm, kv_a_bias, kv_a_norm, o_bias;
    Weight<double> inv_freq;

    MlaDevice(const assay_mla_args *a, const Weights *w)
        : q_a(w->q_a, size_t(a->q_lora_rank * a->hidden)),
          q_b(w->q_b, size_t(a->heads * (a->qk_nope_dim + a->qk_rope_dim)
                             * (a->q_lora_rank > 0 ? a->q_lora_rank : a->hidden))),
          kv_a(w->kv_a, size_t((a->kv_lora_rank + a->qk_rope_dim) * a->hidden)),
          kv_b(w->kv_b, size_t(a->heads * (a->qk_nope_dim + a->v_dim) * a->kv_lora_rank)),
          o(w->o, size_t(a->hidden * a->heads * a->v_dim)), q_a_bias(w->q_a_bias, size_t(a->q_lora_rank)),
          q_a_norm(w->q_a_norm, size_t(a->q_lora_rank)), kv_a_bias(w->kv_a_bias, size_t(a->kv_lora_rank + a->qk_rope_dim)),
          kv_a_norm(w->kv_a_norm, size_t(a->kv_lora_rank)), o_bias(w->o_bias, size_t(a->hidden)),
          inv_freq(w->inv_freq, size_t(a->qk_rope_dim / 2)) {}

    cudaError_t status() const {
        return first_failure(q_a, q_b, kv_a, kv_b, o, q_a_bias, q_a_norm, kv_a_bias, kv_a_norm, o_bias, inv_freq);
    }

    MlaLayer layer(const Weights *w, e4m3 *xq) const {
        using S = assay_mla_f8_scales;
        return {projection(q_a.data, w, scale_of(w, &S::q_a), xq), projection(q_b.data, w, scale_of(w, &S::q_b), xq),
                projection(kv_a.data, w, scale_of(w, &S::kv_a), xq), projection(kv_b.data, w, scale_of(w, &S::kv_b), xq),
                projection(o.data, w, scale_of(w, &S::o), xq), q_a_bias.data, q_a_norm.data, kv_a_bias.data,
                kv_a_norm.data, o_bias.data, inv_freq.data};
    }
};

// The arguments mla_attention and mla_decode both need (as the example plugin checks them), and the kernels' limits.
template <typename Weights> int mla_check(const char *op, const assay_mla_args *a, const Weights *w) {
    if (a->batch < 0 || a->length < 0 || a->heads <= 0 || a->kv_lora_rank <= 0 || a->qk_rope_dim <= 0
        || a->qk_rope_dim % 2 != 0 || a->q_lora_rank < 0 || (a->q_lora_rank > 0 && (!w->q_a || !w->q_a_norm))
        || !w->q_b || !w->kv_a || !w->kv_a_norm || !w->kv_b || !w->o || !w->inv_freq)
        return fail_arguments("%s: needs heads, kv_lora_rank > 0, an even qk_rope_dim, every weight, and q_a and "
                              "q_a_norm with a q LoRA", op);
    if (a->kv_lora_rank > max_latent_rank)
        return fail_arguments("%s: kv_lora_rank %lld is over this plugin's %lld", op, (long long)a->kv_lora_rank,
                              (long long)max_latent_rank);
    return 0;
}

// The FP8 scratch of `tokens` rows: the widest input of the five projections (none for float weights).
template <typename Weights> size_t f8_scratch(const assay_mla_args *a, int64_t tokens) {
    int64_t widest = a->hidden > a->q_lora_rank ? a->hidden : a->q_lora_rank;
    if (a->kv_lora_rank > widest) widest = a->kv_lora_rank;
    if (a->heads * a->v_dim > widest) widest = a->heads * a->v_dim;
    return is_f8<Weights> ? size_t(tokens * widest) : 0;
}

// Every token's query and latent row, spec/attention.md eq. 1–4, for `tokens` rows of x [tokens, hidden]:
//   q = W_qb · RMSNorm_q(W_qa · x + b) (or q_proj · x);  [c | k_r] = W_kva · x + b;  normed = RMSNorm_kv(c);
//   queries = τ(p) · [q_n | RoPE(q_r)] per head;  latents = [normed | RoPE(k_r)].
// Scratch qa [tokens, q_lora_rank], q [tokens, heads·(d_n+d_r)], kv [tokens, r_kv+d_r].
void mla_project(const assay_mla_args *a, const MlaLayer &w, const float *x, const int64_t *positions, int64_t tokens,
                 float *qa, float *q, float *kv, float *normed, float *queries, float *latents) {
    const int64_t qr = a->q_lora_rank, hidden = a->hidden, rank = a->kv_lora_rank, dr = a->qk_rope_dim;
    const int64_t qk_all = a->heads * (a->qk_nope_dim + dr);
    if (qr > 0) {                                                                              // (1)
        w.q_a(x, qa, tokens, qr, hidden);
        if (w.q_a_bias) launch_bias_activation(qa, w.q_a_bias, tokens, qr, false);
        launch_rms_norm(qa, w.q_a_norm, qa, tokens, qr, a->latent_norm_epsilon);
        w.q_b(qa, q, tokens, qk_all, qr);
    } else {
        w.q_b(x, q, tokens, qk_all, hidden);                                                   // q_proj
    }
    w.kv_a(x, kv, tokens, rank + dr, hidden);                                                  // (2)
    if (w.kv_a_bias) launch_bias_activation(kv, w.kv_a_bias, tokens, rank + dr, false);
    launch_rms_norm_strided(kv, rank + dr, w.kv_a_norm, normed, rank, tokens, rank, a->latent_norm_epsilon);
    launch_mla_rope(q, queries, normed, kv, latents, positions, w.inv_freq, tokens, a->heads, a->qk_nope_dim, dr, rank,
                    a->rope_interleaved != 0, a->rope_attention_factor, a->temperature_beta,
                    a->temperature_period);                                                     // (3)–(4)
}

// y [tokens, hidden] = heads · W_oᵀ (+ bias), eq. 8.
void mla_output(const assay_mla_args *a, const MlaLayer &w, const float *heads, float *y, int64_t tokens) {
    w.o(heads, y, tokens, a->hidden, a->heads * a->v_dim);
    if (w.o_bias) launch_bias_activation(y, w.o_bias, tokens, a->hidden, false);
}

// mla_attention (prefill): the projections of mla_project for every token; k_n and v from ĉ (kv_b); a block per
// (token, head) attends causally within its sequence; then mla_output.
template <typename Weights>
int mla_attention(const char *op, const assay_mla_args *args, const Weights *weights, const float *x,
                  const int64_t *positions, const int64_t *mask, float *y, float *latents) {
    if (mla_check(op, args, weights)) return 1;
    const int64_t T = args->batch * args->length, n = args->heads, dn = args->qk_nope_dim, dr = args->qk_rope_dim;
    const int64_t dv = args->v_dim, rank = args->kv_lora_rank, row = rank + dr, H = args->hidden;
    MlaDevice<Weights> w(args, weights);
    Device<float> dx(x, size_t(T * H)), qa(size_t(T * args->q_lora_rank)), q(size_t(T * n * (dn + dr))),
        queries(size_t(T * n * (dn + dr))), kv(size_t(T * row)), normed(size_t(T * rank)), dlatents(size_t(T * row)),
        kvb(size_t(T * n * (dn + dv))), heads(size_t(T * n * dv)), dy(size_t(T * H));
    Device<int64_t> dpositions(positions, size_t(T)), dmask(mask, size_t(T));
    Device<e4m3> xq(f8_scratch<Weights>(args, T));
    cudaError_t status = w.status();
    if (status == cudaSuccess)
        status = first_failure(dx, qa, q, queries, kv, normed, dlatents, kvb, heads, dy, dpositions, dmask, xq);
    if (status != cudaSuccess) return fail(op, "device buffers", status);
    const MlaLayer layer = w.layer(weights, xq.data);
    mla_project(args, layer, dx.data, dpositions.data, T, qa.data, q.data, kv.data, normed.data, queries.data,
                dlatents.data);                                                                // (1)–(4)
    layer.kv_b(normed.data, kvb.data, T, n * (dn + dv), rank);                                 // (5) [k_n | v]
    launch_mla_prefill_attention(queries.data, kvb.data, dlatents.data, dmask.data, heads.data, args->batch,
                                 args->length, n, dn, dr, dv, rank, float(args->softmax_scale)); // (6)–(8)
    mla_output(args, layer, heads.data, dy.data, T);
    return finish(op, dy, y, size_t(T * H), dlatents, latents, size_t(T * row));
}

// What the absorbed decode reads of kv_b and of the latent rows: float weights as they are. FP8 (spec/quant.md §6):
// kv_b dequantized, F(w_q · s_w), into `values`, and every ĉ as kv_b sees it, x_q · s_a: the cache's in place (its
// NaN rows stay NaN) and the new rows' into `fresh`, whose pointer replaces `latents`.
const float *absorbed_kv_b(const assay_mla_args *, const assay_mla_weights *, const float *kv_b, float *, int64_t,
                           float *, const float *&, float *) {
    return kv_b;
}
const float *absorbed_kv_b(const assay_mla_args *a, const assay_mla_f8_weights *w, const uint8_t *kv_b, float *cache,
                           int64_t cache_rows, float *values, const float *&latents, float *fresh) {
    const int64_t rank = a->kv_lora_rank, row = rank + a->qk_rope_dim;
    const assay_f8_scale s = w->scales.kv_b;
    const int convention = w->scales.activation_convention;
    launch_dequantize(as_e4m3(kv_b), values, a->heads * (a->qk_nope_dim + a->v_dim) * rank, s.weight);
    launch_kv_b_view(cache, cache, cache_rows, row, rank, s.activation, convention);
    launch_kv_b_view(latents, fresh, a->batch, row, rank, s.activation, convention);
    latents = fresh;
    return values;
}

// mla_decode: the same projections for the new tokens; a block per (sequence, head) attends in the absorbed form over
// the rows [0, cached[b]) and the new token; then mla_output. The whole cache goes to the device as Assay passes it,
// NaN rows past cached[b] included, so a kernel that reads one still fails its taps.
template <typename Weights>
int mla_decode(const char *op, const assay_mla_args *args, const Weights *weights, const float *x,
               const int64_t *positions, const int64_t *mask, const float *cache, const int64_t *cache_mask,
               const int64_t *cached, float *y, float *latents) {
    if (mla_check(op, args, weights)) return 1;
    const int64_t B = args->batch, n = args->heads, dn = args->qk_nope_dim, dr = args->qk_rope_dim;
    const int64_t dv = args->v_dim, rank = args->kv_lora_rank, row = rank + dr, H = args->hidden;
    const int64_t capacity = args->cache_capacity;
    for (int64_t b = 0; b < B; b++)
        if (cached[b] < 0 || cached[b] > capacity)
            return fail_arguments("%s: cached[b] is outside [0, cache_capacity]", op);
    MlaDevice<Weights> w(args, weights);
    const size_t f8_only = is_f8<Weights> ? 1 : 0;
    Device<float> dx(x, size_t(B * H)), qa(size_t(B * args->q_lora_rank)), q(size_t(B * n * (dn + dr))),
        queries(size_t(B * n * (dn + dr))), kv(size_t(B * row)), normed(size_t(B * rank)), dlatents(size_t(B * row)),
        dcache(cache, size_t(B * capacity * row)), heads(size_t(B * n * dv)), dy(size_t(B * H)),
        kv_b_values(f8_only * size_t(n * (dn + dv) * rank)), fresh(f8_only * size_t(B * row));
    Device<int64_t> dpositions(positions, size_t(B)), dmask(mask, size_t(B)),
        dcache_mask(cache_mask, size_t(B * capacity)), dcached(cached, size_t(B));
    Device<e4m3> xq(f8_scratch<Weights>(args, B));
    cudaError_t status = w.status();
    if (status == cudaSuccess)
        status = first_failure(dx, qa, q, queries, kv, normed, dlatents, dcache, heads, dy, kv_b_values, fresh,
                               dpositions, dmask, dcache_mask, dcached, xq);
    if (status != cudaSuccess) return fail(op, "device buffers", status);
    const MlaLayer layer = w.layer(weights, xq.data);
    mla_project(args, layer, dx.data, dpositions.data, B, qa.data, q.data, kv.data, normed.data, queries.data,
                dlatents.data);                                                                // (1)–(4)
    const float *new_rows = dlatents.data;
    const float *uk = absorbed_kv_b(args, weights, w.kv_b.data, dcache.data, B * capacity, kv_b_values.data, new_rows,
                                    fresh.data);
    launch_mla_decode_attention(queries.data, uk, dcache.data, dcache_mask.data, dcached.data, new_rows, dmask.data,
                                heads.data, B, n, dn, dr, dv, rank, capacity, float(args->softmax_scale)); // (9)–(10)
    mla_output(args, layer, heads.data, dy.data, B);
    return finish(op, dy, y, size_t(B * H), dlatents, latents, size_t(B * row));
}

} // namespace

extern "C" {

int assay_mla_attention_f32(const assay_mla_args *args, const assay_mla_weights *weights, const float *x,
                            const int64_t *positions, const int64_t *mask, float *y, float *latents) {
    return mla_attention("mla_attention", args, weights, x, positions, mask, y, latents);
}
int assay_mla_attention_f8e4m3(const assay_mla_args *args, const assay_mla_f8_weights *weights, const float *x,
                               const int64_t *positions, const int64_t *mask, float *y, float *latents) {
    return mla_attention("mla_attention_f8e4m3", args, weights, x, positions, mask, y, latents);
}

int assay_mla_decode_f32(const assay_mla_args *args, const assay_mla_weights *weights, const float *x,
                         const int64_t *positions, const int64_t *mask, const float *cache, const int64_t *cache_mask,
                         const int64_t *cached, float *y, float *latents) {
    return mla_decode("mla_decode", args, weights, x, positions, mask, cache, cache_mask, cached, y, latents);
}
int assay_mla_decode_f8e4m3(const assay_mla_args *args, const assay_mla_f8_weights *weights, const float *x,
                            const int64_t *positions, const int64_t *mask, const float *cache,
                            const int64_t *cache_mask, const int64_t *cached, float *y, float *latents) {
    return mla_decode("mla_decode_f8e4m3", args, weights, x, positions, mask, cache, cache_mask, cached, y, latents);
}

} // extern "C"
