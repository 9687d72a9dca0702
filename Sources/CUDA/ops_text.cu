// The text decoder's entry points other than attention and the routed experts: rms_norm, add, swiglu, embedding,
// lm_head (f32 and bf16: one template each over the element type, the ABI's bf16 bits as __nv_bfloat16), swiglu in
// FP8 E4M3, and the router.

#include "plugin.cuh"

namespace {

template <typename T> int rms_norm(const char *op, const assay_rms_norm_args *args, const T *x, const T *weight, T *y) {
    const size_t count = size_t(args->rows) * size_t(args->width);
    Device<T> dx(x, count), dy(count);
    Weight<T> dw(weight, size_t(args->width));
    if (cudaError_t status = first_failure(dx, dw, dy)) return fail(op, "device buffers", status);
    launch_rms_norm(dx.data, dw.data, dy.data, args->rows, args->width, args->epsilon);
    return finish(op, dy, y, count);
}

template <typename T> int add(const char *op, const assay_add_args *args, const T *a, const T *b, T *y) {
    const size_t count = size_t(args->count);
    Device<T> da(a, count), db(b, count), dy(count);
    if (cudaError_t status = first_failure(da, db, dy)) return fail(op, "device buffers", status);
    launch_add(da.data, db.data, dy.data, args->count);
    return finish(op, dy, y, count);
}

// [T, 2I] = x · gate_upᵀ, [T, I] the gate, [T, H] = h · downᵀ (launch_swiglu).
template <typename T>
int swiglu(const char *op, const assay_swiglu_args *args, const T *x, const T *gate_up, const T *down, T *y) {
    const int64_t tokens = args->tokens, hidden = args->hidden, width = args->intermediate;
    Device<T> dx(x, size_t(tokens * hidden)), projected(size_t(tokens * 2 * width)), gated(size_t(tokens * width)),
        dy(size_t(tokens * hidden));
    Weight<T> dgu(gate_up, size_t(2 * width * hidden)), dd(down, size_t(hidden * width));
    if (cudaError_t status = first_failure(dx, dgu, dd, projected, gated, dy))
        return fail(op, "device buffers", status);
    launch_swiglu(Linear<T>{dgu.data}, Linear<T>{dd.data}, dx.data, projected.data, gated.data, dy.data, tokens, hidden,
                  width);
    return finish(op, dy, y, size_t(tokens * hidden));
}

template <typename T>
int embedding(const char *op, const assay_embedding_args *args, const int64_t *ids, const T *table, T *y) {
    const size_t count = size_t(args->tokens * args->hidden);
    for (int64_t t = 0; t < args->tokens; t++)
        if (ids[t] < 0 || ids[t] >= args->rows) return fail_arguments("%s: an id is outside [0, rows)", op);
    Device<int64_t> dids(ids, size_t(args->tokens));
    Device<T> dy(count);
    Weight<T> dtable(table, size_t(args->rows * args->hidden));
    if (cudaError_t status = first_failure(dids, dtable, dy)) return fail(op, "device buffers", status);
    launch_gather(dids.data, dtable.data, dy.data, args->tokens, args->hidden);
    return finish(op, dy, y, count);
}

template <typename T> int lm_head(const char *op, const assay_lm_head_args *args, const T *x, const T *weight, T *y) {
    const size_t count = size_t(args->tokens * args->vocab);
    Device<T> dx(x, size_t(args->tokens * args->hidden)), dy(count);
    Weight<T> dw(weight, size_t(args->vocab * args->hidden));
    if (cudaError_t status = first_failure(dx, dw, dy)) return fail(op, "device buffers", status);
    launch_linear(dx.data, dw.data, dy.data, args->tokens, args->vocab, args->hidden);   // [T, V] = x · Wᵀ
    return finish(op, dy, y, count);
}

} // namespace

extern "C" {

int assay_rms_norm_f32(const assay_rms_norm_args *args, const float *x, const float *weight, float *y) {
    return rms_norm("rms_norm", args, x, weight, y);
}
int assay_rms_norm_bf16(const assay_rms_norm_args *args, const uint16_t *x, const uint16_t *weight, uint16_t *y) {
    return rms_norm("rms_norm_bf16", args, as_bf16(x), as_bf16(weight), as_bf16(y));
}

int assay_add_f32(const assay_add_args *args, const float *a, const float *b, float *y) {
    return add("add", args, a, b, y);
}
int assay_add_bf16(const assay_add_args *args, const uint16_t *a, const uint16_t *b, uint16_t *y) {
    return add("add_bf16", args, as_bf16(a), as_bf16(b), as_bf16(y));
}

int assay_swiglu_f32(const assay_swiglu_args *args, const float *x, const float *gate_up, const float *down, float *y) {
    return swiglu("swiglu", args, x, gate_up, down, y);
}
int assay_swiglu_bf16(const assay_swiglu_args *args, const uint16_t *x, const uint16_t *gate_up, const uint16_t *down,
                      uint16_t *y) {
    return swiglu("swiglu_bf16", args, as_bf16(x), as_bf16(gate_up), as_bf16(down), as_bf16(y));
}

int assay_embedding_f32(const assay_embedding_args *args, const int64_t *ids, const float *table, float *y) {
    return embedding("embedding", args, ids, table, y);
}
int assay_embedding_bf16(const assay_embedding_args *args, const int64_t *ids, const uint16_t *table, uint16_t *y) {
    return embedding("embedding_bf16", args, ids, as_bf16(table), as_bf16(y));
}

int assay_lm_head_f32(const assay_lm_head_args *args, const float *x, const float *weight, float *y) {
    return lm_head("lm_head", args, x, weight, y);
}
int assay_lm_head_bf16(const assay_lm_head_args *args, const uint16_t *x, const uint16_t *weight, uint16_t *y) {
    return lm_head("lm_head_bf16", args, as_bf16(x), as_bf16(weight), as_bf16(y));
}

// swiglu in FP8, spec/quant.md eq. 2–5 for both products: gate_up's gate rows under gate_weight_scale, its up rows
// under up_weight_scale, one quantization of x; down under its own scales.
int assay_swiglu_f8e4m3(const assay_swiglu_f8_args *args, const float *x, const uint8_t *gate_up, const uint8_t *down,
                        float *y) {
    const int64_t tokens = args->tokens, hidden = args->hidden, width = args->intermediate;
    Device<float> dx(x, size_t(tokens * hidden)), projected(size_t(tokens * 2 * width)), gated(size_t(tokens * width)),
        dy(size_t(tokens * hidden));
    Device<e4m3> xq(size_t(tokens * (hidden > width ? hidden : width)));
    Weight<uint8_t> dgu(gate_up, size_t(2 * width * hidden)), dd(down, size_t(hidden * width));
    if (cudaError_t status = first_failure(dx, dgu, dd, projected, gated, dy, xq))
        return fail("swiglu_f8e4m3", "device buffers", status);
    const int convention = args->activation_convention;
    const Linear<float> gu{nullptr, f8_layer(dgu.data, args->gate_up_activation_scale, args->gate_weight_scale,
                                             args->up_weight_scale, width, convention), xq.data},
        d{nullptr, f8_layer(dd.data, args->down_activation_scale, args->down_weight_scale, args->down_weight_scale,
                            hidden, convention), xq.data};
    launch_swiglu(gu, d, dx.data, projected.data, gated.data, dy.data, tokens, hidden, width);
    return finish("swiglu_f8e4m3", dy, y, size_t(tokens * hidden));
}

// router: logits = x · Wᵀ (launch_linear), then a warp per token for the softmax and group-limited top-k.
int assay_router_f32(const assay_router_args *args, const float *x, const float *weight, float *logits, float *weights,
                     int64_t *indices) {
    const int64_t T = args->tokens, E = args->experts, k = args->top_k, G = args->groups;
    if (G < 1 || E % G != 0 || args->top_groups < 1 || args->top_groups > G || k < 1 || k > E)
        return fail_arguments("router: needs experts divisible by groups, 1 <= top_groups <= groups and "
                              "1 <= top_k <= experts");
    if (E > max_router_experts) return fail_arguments("router: more experts than this plugin's %lld",
                                                      (long long)max_router_experts);
    Device<float> dx(x, size_t(T * args->hidden)), dlogits(size_t(T * E)), dweights(size_t(T * k));
    Device<int64_t> dindices(size_t(T * k));
    Weight<float> dw(weight, size_t(E * args->hidden));
    if (cudaError_t status = first_failure(dx, dw, dlogits, dweights, dindices))
        return fail("router", "device buffers", status);
    launch_linear(dx.data, dw.data, dlogits.data, T, E, args->hidden);                        // (1)
    launch_router_select(dlogits.data, dweights.data, dindices.data, T, E, k, G, args->top_groups,
                         args->norm_topk_prob != 0, args->routed_scaling_factor);             // (2)–(6)
    return finish("router", dlogits, logits, size_t(T * E), dweights, weights, size_t(T * k), dindices, indices,
                  size_t(T * k));
}

} // extern "C"
