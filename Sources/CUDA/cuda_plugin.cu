// libassay_cuda.so: Assay's CUDA backend as a plugin of the C ABI (Sources/CAssayPlugin/include/assay_plugin.h,
// spec/plugin-abi.md). This file holds the info call, the error text, and the host side of every entry point: copy
// the host buffers to the device, launch, copy the result back, and turn any CUDA error into a non-zero return whose
// text names the call. The kernels live beside it (norms.cu, gemm.cu).
//
// Weights arrive as host pointers on every call; this version copies them each time (correctness first; caching by
// name comes with ABI version 2).

#include <cstdio>
#include <vector>

#include "assay_plugin.h"
#include "kernels.cuh"   // and, through cuda_compat.cuh, the CUDA runtime or its host emulation

namespace {

thread_local char last_error_text[512] = "";

// Records `what` failed with `status`; returns 1, the ABI's failure code.
int fail(const char *what, cudaError_t status) {
    std::snprintf(last_error_text, sizeof last_error_text, "%s: %s (%s)", what, cudaGetErrorString(status),
                  cudaGetErrorName(status));
    return 1;
}

// A device copy of `count` values, freed on scope exit; the two-argument form copies host data in.
template <typename T> struct Device {
    T *data = nullptr;
    cudaError_t status = cudaSuccess;

    explicit Device(size_t count) { status = cudaMalloc(&data, count * sizeof(T)); }
    Device(const T *host, size_t count) : Device(count) {
        if (status == cudaSuccess) status = cudaMemcpy(data, host, count * sizeof(T), cudaMemcpyHostToDevice);
    }
    ~Device() { cudaFree(data); }
    Device(const Device &) = delete;
    Device &operator=(const Device &) = delete;
};
using DeviceBuffer = Device<float>;

// The first failure among `buffers`, or cudaSuccess.
template <typename... Buffers> cudaError_t first_failure(const Buffers &...buffers) {
    cudaError_t statuses[] = {buffers.status...};
    for (cudaError_t status : statuses)
        if (status != cudaSuccess) return status;
    return cudaSuccess;
}

// Waits for the launched kernels and copies `count` values of `device` into `host`.
template <typename T> int finish(const char *op, const Device<T> &device, T *host, size_t count) {
    cudaError_t status = cudaGetLastError();
    if (status == cudaSuccess) status = cudaDeviceSynchronize();
    if (status != cudaSuccess) return fail(op, status);
    status = cudaMemcpy(host, device.data, count * sizeof(T), cudaMemcpyDeviceToHost);
    return status == cudaSuccess ? 0 : fail(op, status);
}

// As finish, then copies a second result (ops with two outputs).
template <typename T, typename U>
int finish(const char *op, const Device<T> &first, T *first_host, size_t first_count, const Device<U> &second,
           U *second_host, size_t second_count) {
    if (int status = finish(op, first, first_host, first_count)) return status;
    return finish(op, second, second_host, second_count);
}

// A device copy of an optional host buffer (a bias): empty when `host` is NULL; `or_null` gives its device pointer
// or NULL.
template <typename T> struct Optional : Device<T> {
    bool present;
    Optional(const T *host, size_t count) : Device<T>(host, host ? count : 0), present(host != nullptr) {}
    T *or_null() const { return present ? this->data : nullptr; }
};

// Records an argument error (no CUDA status) and returns 1.
int fail_arguments(const char *why) {
    std::snprintf(last_error_text, sizeof last_error_text, "%s", why);
    return 1;
}

// The images' patch grids [images, 2] cover exactly `patches` patches, each side a positive multiple of `multiple`.
bool grids_cover(const int64_t *grids, int64_t images, int64_t patches, int64_t multiple) {
    int64_t total = 0;
    for (int64_t n = 0; n < images; n++) {
        const int64_t rows = grids[2 * n], cols = grids[2 * n + 1];
        if (rows <= 0 || cols <= 0 || rows % multiple || cols % multiple) return false;
        total += rows * cols;
    }
    return total == patches;
}

const assay_op_info operations[] = {
    {"rms_norm", ASSAY_DTYPE_F32},
    {"add", ASSAY_DTYPE_F32},
    {"swiglu", ASSAY_DTYPE_F32},
    {"embedding", ASSAY_DTYPE_F32},
    {"lm_head", ASSAY_DTYPE_F32},
    {"router", ASSAY_DTYPE_F32},
    {"routed_experts", ASSAY_DTYPE_F32},
    {"patch_embedding", ASSAY_DTYPE_F32},
    {"patch_merger", ASSAY_DTYPE_F32},
    {"projector_mlp", ASSAY_DTYPE_F32},
    {"vision_attention", ASSAY_DTYPE_F32},
    {"mla_attention", ASSAY_DTYPE_F32},
    {"mla_decode", ASSAY_DTYPE_F32},
};

const assay_plugin_info info = {ASSAY_PLUGIN_ABI_VERSION, "cuda", sizeof operations / sizeof operations[0],
                                operations};

// The device copies of one MLA layer's weights (assay_mla_weights), absent ones (NULL) empty.
struct MlaDevice {
    Optional<float> q_a, q_a_bias, q_a_norm, q_b, kv_a, kv_a_bias, kv_a_norm, kv_b, o, o_bias;
    Optional<double> inv_freq;
    MlaDevice(const assay_mla_args *a, const assay_mla_weights *w)
        : q_a(w->q_a, size_t(a->q_lora_rank * a->hidden)), q_a_bias(w->q_a_bias, size_t(a->q_lora_rank)),
          q_a_norm(w->q_a_norm, size_t(a->q_lora_rank)),
          q_b(w->q_b, size_t(a->heads * (a->qk_nope_dim + a->qk_rope_dim)
                             * (a->q_lora_rank > 0 ? a->q_lora_rank : a->hidden))),
          kv_a(w->kv_a, size_t((a->kv_lora_rank + a->qk_rope_dim) * a->hidden)),
          kv_a_bias(w->kv_a_bias, size_t(a->kv_lora_rank + a->qk_rope_dim)), kv_a_norm(w->kv_a_norm, size_t(a->kv_lora_rank)),
          kv_b(w->kv_b, size_t(a->heads * (a->qk_nope_dim + a->v_dim) * a->kv_lora_rank)),
          o(w->o, size_t(a->hidden * a->heads * a->v_dim)), o_bias(w->o_bias, size_t(a->hidden)),
          inv_freq(w->inv_freq, size_t(a->qk_rope_dim / 2)) {}
    cudaError_t status() const {
        return first_failure(q_a, q_a_bias, q_a_norm, q_b, kv_a, kv_a_bias, kv_a_norm, kv_b, o, o_bias, inv_freq);
    }
};

// The arguments mla_attention and mla_decode both need (as the example plugin checks them), and the kernels' limits.
int mla_check(const char *op, const assay_mla_args *a, const assay_mla_weights *w) {
    if (a->batch < 0 || a->length < 0 || a->heads <= 0 || a->kv_lora_rank <= 0 || a->qk_rope_dim <= 0
        || a->qk_rope_dim % 2 != 0 || a->q_lora_rank < 0 || (a->q_lora_rank > 0 && (!w->q_a || !w->q_a_norm))
        || !w->q_b || !w->kv_a || !w->kv_a_norm || !w->kv_b || !w->o || !w->inv_freq) {
        std::snprintf(last_error_text, sizeof last_error_text,
                      "%s: needs heads, kv_lora_rank > 0, an even qk_rope_dim, every weight, and q_a and q_a_norm "
                      "with a q LoRA", op);
        return 1;
    }
    if (a->kv_lora_rank > max_latent_rank) {
        std::snprintf(last_error_text, sizeof last_error_text, "%s: kv_lora_rank %lld is over this plugin's %lld", op,
                      (long long)a->kv_lora_rank, (long long)max_latent_rank);
        return 1;
    }
    return 0;
}

// Every token's query and latent row, spec/attention.md eq. 1–4, for `tokens` rows of x [tokens, hidden]:
//   q = W_qb · RMSNorm_q(W_qa · x + b) (or q_proj · x);  [c | k_r] = W_kva · x + b;  normed = RMSNorm_kv(c);
//   queries = τ(p) · [q_n | RoPE(q_r)] per head;  latents = [normed | RoPE(k_r)].
// Scratch qa [tokens, q_lora_rank], q [tokens, heads·(d_n+d_r)], kv [tokens, r_kv+d_r].
void mla_project(const assay_mla_args *a, const MlaDevice &w, const float *x, const int64_t *positions, int64_t tokens,
                 float *qa, float *q, float *kv, float *normed, float *queries, float *latents) {
    const int64_t qr = a->q_lora_rank, hidden = a->hidden, rank = a->kv_lora_rank, dr = a->qk_rope_dim;
    const int64_t qk_all = a->heads * (a->qk_nope_dim + dr);
    if (qr > 0) {                                                                              // (1)
        launch_linear(x, w.q_a.data, qa, tokens, qr, hidden);
        if (w.q_a_bias.present) launch_bias_activation(qa, w.q_a_bias.data, tokens, qr, false);
        launch_rms_norm(qa, w.q_a_norm.data, qa, tokens, qr, a->latent_norm_epsilon);
        launch_linear(qa, w.q_b.data, q, tokens, qk_all, qr);
    } else {
        launch_linear(x, w.q_b.data, q, tokens, qk_all, hidden);                               // q_proj
    }
    launch_linear(x, w.kv_a.data, kv, tokens, rank + dr, hidden);                              // (2)
    if (w.kv_a_bias.present) launch_bias_activation(kv, w.kv_a_bias.data, tokens, rank + dr, false);
    launch_rms_norm_strided(kv, rank + dr, w.kv_a_norm.data, normed, rank, tokens, rank, a->latent_norm_epsilon);
    launch_mla_rope(q, queries, normed, kv, latents, positions, w.inv_freq.data, tokens, a->heads, a->qk_nope_dim, dr,
                    rank, a->rope_interleaved != 0, a->rope_attention_factor, a->temperature_beta,
                    a->temperature_period);                                                     // (3)–(4)
}

} // namespace

extern "C" {

const assay_plugin_info *assay_plugin_get_info(void) { return &info; }

const char *assay_plugin_last_error(void) { return last_error_text; }

int assay_rms_norm_f32(const assay_rms_norm_args *args, const float *x, const float *weight, float *y) {
    const size_t count = size_t(args->rows) * size_t(args->width);
    DeviceBuffer dx(x, count), dw(weight, size_t(args->width)), dy(count);
    if (cudaError_t status = first_failure(dx, dw, dy)) return fail("rms_norm: device buffers", status);
    launch_rms_norm(dx.data, dw.data, dy.data, args->rows, args->width, args->epsilon);
    return finish("rms_norm", dy, y, count);
}

int assay_add_f32(const assay_add_args *args, const float *a, const float *b, float *y) {
    const size_t count = size_t(args->count);
    DeviceBuffer da(a, count), db(b, count), dy(count);
    if (cudaError_t status = first_failure(da, db, dy)) return fail("add: device buffers", status);
    launch_add(da.data, db.data, dy.data, args->count);
    return finish("add", dy, y, count);
}

int assay_swiglu_f32(const assay_swiglu_args *args, const float *x, const float *gate_up, const float *down, float *y) {
    const int64_t tokens = args->tokens, hidden = args->hidden, width = args->intermediate;
    DeviceBuffer dx(x, size_t(tokens * hidden)), dgu(gate_up, size_t(2 * width * hidden)),
        dd(down, size_t(hidden * width)), projected(size_t(tokens * 2 * width)), gated(size_t(tokens * width)),
        dy(size_t(tokens * hidden));
    if (cudaError_t status = first_failure(dx, dgu, dd, projected, gated, dy))
        return fail("swiglu: device buffers", status);
    launch_linear(dx.data, dgu.data, projected.data, tokens, 2 * width, hidden);   // [T, 2I] = x · gate_upᵀ
    launch_gated_silu(projected.data, gated.data, tokens, width);                    // [T, I]
    launch_linear(gated.data, dd.data, dy.data, tokens, hidden, width);              // [T, H] = h · downᵀ
    return finish("swiglu", dy, y, size_t(tokens * hidden));
}

int assay_embedding_f32(const assay_embedding_args *args, const int64_t *ids, const float *table, float *y) {
    const size_t count = size_t(args->tokens * args->hidden);
    Device<int64_t> dids(ids, size_t(args->tokens));
    DeviceBuffer dtable(table, size_t(args->rows * args->hidden)), dy(count);
    if (cudaError_t status = first_failure(dids, dtable, dy)) return fail("embedding: device buffers", status);
    launch_gather(dids.data, dtable.data, dy.data, args->tokens, args->hidden);
    return finish("embedding", dy, y, count);
}

int assay_lm_head_f32(const assay_lm_head_args *args, const float *x, const float *weight, float *y) {
    const size_t count = size_t(args->tokens * args->vocab);
    DeviceBuffer dx(x, size_t(args->tokens * args->hidden)), dw(weight, size_t(args->vocab * args->hidden)), dy(count);
    if (cudaError_t status = first_failure(dx, dw, dy)) return fail("lm_head: device buffers", status);
    launch_linear(dx.data, dw.data, dy.data, args->tokens, args->vocab, args->hidden);   // [T, V] = x · Wᵀ
    return finish("lm_head", dy, y, count);
}

// ---- ABI version 2 -----------------------------------------------------------------------------------------------

// router: logits = x · Wᵀ (launch_linear), then one block per token for the softmax and group-limited top-k.
int assay_router_f32(const assay_router_args *args, const float *x, const float *weight, float *logits, float *weights,
                     int64_t *indices) {
    const int64_t T = args->tokens, E = args->experts, k = args->top_k, G = args->groups;
    if (G < 1 || E % G != 0 || args->top_groups < 1 || args->top_groups > G || k < 1 || k > E)
        return fail_arguments("router: needs experts divisible by groups, 1 <= top_groups <= groups and "
                              "1 <= top_k <= experts");
    if (E > max_router_experts) return fail_arguments("router: more experts than this plugin's 1024");
    DeviceBuffer dx(x, size_t(T * args->hidden)), dw(weight, size_t(E * args->hidden)), dlogits(size_t(T * E)),
        dweights(size_t(T * k));
    Device<int64_t> dindices(size_t(T * k));
    if (cudaError_t status = first_failure(dx, dw, dlogits, dweights, dindices))
        return fail("router: device buffers", status);
    launch_linear(dx.data, dw.data, dlogits.data, T, E, args->hidden);                        // (1)
    launch_router_select(dlogits.data, dweights.data, dindices.data, T, E, k, G, args->top_groups,
                         args->norm_topk_prob != 0, args->routed_scaling_factor);             // (2)–(6)
    if (int status = finish("router", dlogits, logits, size_t(T * E), dweights, weights, size_t(T * k))) return status;
    return finish("router", dindices, indices, size_t(T * k));
}

// routed_experts, grouped by expert: the host sorts the (token, slot) assignments by expert (it holds the indices);
// one gather brings each assignment's x row together, expert by expert; per expert the SwiGLU runs as two
// launch_linear tiles on its rows with the gate between; one kernel then sums each token's weighted outputs in
// ascending expert order (deterministic, no atomics).
int assay_routed_experts_f32(const assay_routed_experts_args *args, const float *x, const int64_t *indices,
                             const float *weights, const float *gate_up, const float *down, float *y) {
    const int64_t T = args->tokens, H = args->hidden, I = args->intermediate, E = args->experts, k = args->top_k;
    const int64_t rows = T * k;
    for (int64_t j = 0; j < rows; j++)
        if (indices[j] < 0 || indices[j] >= E) return fail_arguments("routed_experts: an index is outside [0, experts)");
    std::vector<int64_t> counts(size_t(E), 0), offsets(size_t(E) + 1, 0), token_of(static_cast<size_t>(rows)),
        order(size_t(rows * 2)), filled(size_t(T), 0);
    for (int64_t j = 0; j < rows; j++) counts[size_t(indices[j])]++;
    for (int64_t e = 0; e < E; e++) offsets[size_t(e + 1)] = offsets[size_t(e)] + counts[size_t(e)];
    for (int64_t e = 0, r = 0; e < E; e++)            // rows grouped by expert, tokens ascending inside each group
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < k; j++)
                if (indices[t * k + j] == e) {
                    token_of[size_t(r)] = t;
                    const int64_t m = filled[size_t(t)]++;   // token t's assignments in ascending expert, then slot
                    order[size_t((t * k + m) * 2)] = r++;
                    order[size_t((t * k + m) * 2 + 1)] = j;
                }
    DeviceBuffer dx(x, size_t(T * H)), dweights(weights, size_t(rows)), dgu(gate_up, size_t(E * 2 * I * H)),
        ddown(down, size_t(E * H * I)), gathered(size_t(rows * H)), projected(size_t(rows * 2 * I)),
        gated(size_t(rows * I)), outputs(size_t(rows * H)), dy(size_t(T * H));
    Device<int64_t> dtoken_of(token_of.data(), size_t(rows)), dorder(order.data(), size_t(rows * 2));
    if (cudaError_t status = first_failure(dx, dweights, dgu, ddown, gathered, projected, gated, outputs, dy,
                                           dtoken_of, dorder))
        return fail("routed_experts: device buffers", status);
    launch_gather(dtoken_of.data, dx.data, gathered.data, rows, H);                            // x rows by expert
    for (int64_t e = 0; e < E; e++)                                                             // [n_e, 2I]
        if (counts[size_t(e)] > 0)
            launch_linear(gathered.data + offsets[size_t(e)] * H, dgu.data + e * 2 * I * H,
                          projected.data + offsets[size_t(e)] * 2 * I, counts[size_t(e)], 2 * I, H);
    launch_gated_silu(projected.data, gated.data, rows, I);                                    // [rows, I]
    for (int64_t e = 0; e < E; e++)                                                             // [n_e, H]
        if (counts[size_t(e)] > 0)
            launch_linear(gated.data + offsets[size_t(e)] * I, ddown.data + e * H * I,
                          outputs.data + offsets[size_t(e)] * H, counts[size_t(e)], H, I);
    launch_combine_experts(outputs.data, dorder.data, dweights.data, dy.data, T, H, k);          // eq. 2
    return finish("routed_experts", dy, y, size_t(T * H));
}

// patch_embedding: per image, im2col then W [hidden, C·p·p] · columnsᵀ, which is the image's [hidden, rows, cols].
int assay_patch_embedding_f32(const assay_patch_embedding_args *args, const float *pixels, const float *weight,
                              float *y) {
    const int64_t N = args->images, C = args->channels, H = args->height, W = args->width, p = args->patch;
    const int64_t hidden = args->hidden;
    if (p <= 0) return fail_arguments("patch_embedding: patch must be > 0");
    const int64_t patches = (H / p) * (W / p), K = C * p * p;
    DeviceBuffer dpixels(pixels, size_t(N * C * H * W)), dw(weight, size_t(hidden * K)), columns(size_t(patches * K)),
        dy(size_t(N * hidden * patches));
    if (cudaError_t status = first_failure(dpixels, dw, columns, dy)) return fail("patch_embedding: device buffers", status);
    for (int64_t n = 0; n < N; n++) {
        launch_im2col(dpixels.data + n * C * H * W, columns.data, C, H, W, p);
        launch_linear(dw.data, columns.data, dy.data + n * hidden * patches, hidden, patches, K);
    }
    return finish("patch_embedding", dy, y, size_t(N * hidden * patches));
}

// patch_merger: the unfold gather (block row m starts at source[m]), then v · Wᵀ.
int assay_patch_merger_f32(const assay_patch_merger_args *args, const float *x, const int64_t *grids,
                           const float *weight, float *y) {
    const int64_t hidden = args->hidden, s = args->merge, P = args->patches;
    if (s <= 0 || !grids_cover(grids, args->images, P, s))
        return fail_arguments("patch_merger: grids must cover the patches, each side a multiple of merge");
    const int64_t merged = P / (s * s), width = hidden * s * s;
    std::vector<int64_t> source;
    for (int64_t n = 0, start = 0; n < args->images; start += grids[2 * n] * grids[2 * n + 1], n++) {
        const int64_t cols = grids[2 * n + 1];
        for (int64_t i = 0; i < grids[2 * n] / s; i++)
            for (int64_t j = 0; j < cols / s; j++) {
                source.push_back(start + s * i * cols + s * j);
                source.push_back(cols);
            }
    }
    DeviceBuffer dx(x, size_t(P * hidden)), dw(weight, size_t(hidden * width)), v(size_t(merged * width)),
        dy(size_t(merged * hidden));
    Device<int64_t> dsource(source.data(), source.size());
    if (cudaError_t status = first_failure(dx, dw, v, dy, dsource)) return fail("patch_merger: device buffers", status);
    launch_unfold(dx.data, dsource.data, v.data, merged, hidden, s);                           // (2)
    launch_linear(v.data, dw.data, dy.data, merged, hidden, width);                            // (3)
    return finish("patch_merger", dy, y, size_t(merged * hidden));
}

// projector_mlp: y = W2 · GELU(W1 · x + b1) + b2: two launch_linear with a bias (+ GELU) kernel after each.
int assay_projector_mlp_f32(const assay_projector_mlp_args *args, const float *x, const float *w1, const float *b1,
                            const float *w2, const float *b2, float *y) {
    const int64_t rows = args->rows, in = args->input, hidden = args->hidden;
    DeviceBuffer dx(x, size_t(rows * in)), dw1(w1, size_t(hidden * in)), dw2(w2, size_t(hidden * hidden)),
        u(size_t(rows * hidden)), dy(size_t(rows * hidden));
    Optional<float> db1(b1, size_t(hidden)), db2(b2, size_t(hidden));
    if (cudaError_t status = first_failure(dx, dw1, dw2, u, dy, db1, db2))
        return fail("projector_mlp: device buffers", status);
    launch_linear(dx.data, dw1.data, u.data, rows, hidden, in);                                // (4)
    launch_bias_activation(u.data, db1.or_null(), rows, hidden, true);
    launch_linear(u.data, dw2.data, dy.data, rows, hidden, hidden);                            // (5)
    if (db2.present) launch_bias_activation(dy.data, db2.data, rows, hidden, false);
    return finish("projector_mlp", dy, y, size_t(rows * hidden));
}

// vision_attention: q, k, v by launch_linear; 2D RoPE in place; a block per (patch, head) attends within the
// patch's image; y = mixed · W_oᵀ.
int assay_vision_attention_f32(const assay_vision_attention_args *args, const float *x, const int64_t *grids,
                               const double *frequencies, const float *wq, const float *wk, const float *wv,
                               const float *wo, float *y) {
    const int64_t P = args->patches, hidden = args->hidden, heads = args->heads, d = heads > 0 ? hidden / heads : 0;
    if (heads <= 0 || hidden % heads || d % 4 || !grids_cover(grids, args->images, P, 1))
        return fail_arguments("vision_attention: needs head_dim = hidden / heads divisible by 4 and grids covering "
                              "the patches");
    std::vector<int64_t> at(size_t(P * 2)), span(size_t(P * 2));   // per patch: {row, col}; {first, count}
    for (int64_t n = 0, start = 0; n < args->images; start += grids[2 * n] * grids[2 * n + 1], n++) {
        const int64_t cols = grids[2 * n + 1], count = grids[2 * n] * cols;
        for (int64_t t = 0; t < count; t++) {
            at[size_t((start + t) * 2)] = t / cols;
            at[size_t((start + t) * 2 + 1)] = t % cols;
            span[size_t((start + t) * 2)] = start;
            span[size_t((start + t) * 2 + 1)] = count;
        }
    }
    const size_t count = size_t(P * hidden), square = size_t(hidden * hidden);
    DeviceBuffer dx(x, count), dwq(wq, square), dwk(wk, square), dwv(wv, square), dwo(wo, square), q(count), k(count),
        v(count), mixed(count), dy(count);
    Device<int64_t> dat(at.data(), at.size()), dspan(span.data(), span.size());
    Device<double> dfreq(frequencies, size_t(d / 2));
    if (cudaError_t status = first_failure(dx, dwq, dwk, dwv, dwo, q, k, v, mixed, dy, dat, dspan, dfreq))
        return fail("vision_attention: device buffers", status);
    launch_linear(dx.data, dwq.data, q.data, P, hidden, hidden);                               // (8)
    launch_linear(dx.data, dwk.data, k.data, P, hidden, hidden);
    launch_linear(dx.data, dwv.data, v.data, P, hidden, hidden);
    launch_rope_2d(q.data, k.data, dat.data, dfreq.data, P, heads, d);                         // (6)–(7)
    launch_vision_attention(q.data, k.data, v.data, dspan.data, mixed.data, P, heads, d);      // (9)
    launch_linear(mixed.data, dwo.data, dy.data, P, hidden, hidden);                           // (10)
    return finish("vision_attention", dy, y, count);
}

// mla_attention (prefill): the projections of mla_project for every token; k_n and v from ĉ (launch_linear); a
// block per (token, head) attends causally within its sequence; y = heads · W_oᵀ (+ bias).
int assay_mla_attention_f32(const assay_mla_args *args, const assay_mla_weights *weights, const float *x,
                            const int64_t *positions, const int64_t *mask, float *y, float *latents) {
    if (mla_check("mla_attention", args, weights)) return 1;
    const int64_t T = args->batch * args->length, n = args->heads, dn = args->qk_nope_dim, dr = args->qk_rope_dim;
    const int64_t dv = args->v_dim, rank = args->kv_lora_rank, row = rank + dr, H = args->hidden;
    MlaDevice w(args, weights);
    DeviceBuffer dx(x, size_t(T * H)), qa(size_t(T * args->q_lora_rank)), q(size_t(T * n * (dn + dr))),
        queries(size_t(T * n * (dn + dr))), kv(size_t(T * row)), normed(size_t(T * rank)), dlatents(size_t(T * row)),
        kvb(size_t(T * n * (dn + dv))), heads(size_t(T * n * dv)), dy(size_t(T * H));
    Device<int64_t> dpositions(positions, size_t(T)), dmask(mask, size_t(T));
    cudaError_t status = w.status();
    if (status == cudaSuccess)
        status = first_failure(dx, qa, q, queries, kv, normed, dlatents, kvb, heads, dy, dpositions, dmask);
    if (status != cudaSuccess) return fail("mla_attention: device buffers", status);
    mla_project(args, w, dx.data, dpositions.data, T, qa.data, q.data, kv.data, normed.data, queries.data,
                dlatents.data);                                                                // (1)–(4)
    launch_linear(normed.data, w.kv_b.data, kvb.data, T, n * (dn + dv), rank);                 // (5) [k_n | v]
    launch_mla_prefill_attention(queries.data, kvb.data, dlatents.data, dmask.data, heads.data, args->batch,
                                 args->length, n, dn, dr, dv, rank, float(args->softmax_scale)); // (6)–(8)
    launch_linear(heads.data, w.o.data, dy.data, T, H, n * dv);                                // (8) W_o
    if (w.o_bias.present) launch_bias_activation(dy.data, w.o_bias.data, T, H, false);
    return finish("mla_attention", dy, y, size_t(T * H), dlatents, latents, size_t(T * row));
}

// mla_decode: the same projections for the new tokens; a block per (sequence, head) attends in the absorbed form over
// the rows [0, cached[b]) and the new token; y = heads · W_oᵀ (+ bias). The whole cache goes to the device as
// Assay passes it, NaN rows past cached[b] included, so a kernel that reads one still fails its taps.
int assay_mla_decode_f32(const assay_mla_args *args, const assay_mla_weights *weights, const float *x,
                         const int64_t *positions, const int64_t *mask, const float *cache, const int64_t *cache_mask,
                         const int64_t *cached, float *y, float *latents) {
    if (mla_check("mla_decode", args, weights)) return 1;
    const int64_t B = args->batch, n = args->heads, dn = args->qk_nope_dim, dr = args->qk_rope_dim;
    const int64_t dv = args->v_dim, rank = args->kv_lora_rank, row = rank + dr, H = args->hidden;
    const int64_t capacity = args->cache_capacity;
    for (int64_t b = 0; b < B; b++)
        if (cached[b] < 0 || cached[b] > capacity)
            return fail_arguments("mla_decode: cached[b] is outside [0, cache_capacity]");
    MlaDevice w(args, weights);
    DeviceBuffer dx(x, size_t(B * H)), qa(size_t(B * args->q_lora_rank)), q(size_t(B * n * (dn + dr))),
        queries(size_t(B * n * (dn + dr))), kv(size_t(B * row)), normed(size_t(B * rank)), dlatents(size_t(B * row)),
        dcache(cache, size_t(B * capacity * row)), heads(size_t(B * n * dv)), dy(size_t(B * H));
    Device<int64_t> dpositions(positions, size_t(B)), dmask(mask, size_t(B)),
        dcache_mask(cache_mask, size_t(B * capacity)), dcached(cached, size_t(B));
    cudaError_t status = w.status();
    if (status == cudaSuccess)
        status = first_failure(dx, qa, q, queries, kv, normed, dlatents, dcache, heads, dy, dpositions, dmask,
                               dcache_mask, dcached);
    if (status != cudaSuccess) return fail("mla_decode: device buffers", status);
    mla_project(args, w, dx.data, dpositions.data, B, qa.data, q.data, kv.data, normed.data, queries.data,
                dlatents.data);                                                                // (1)–(4)
    launch_mla_decode_attention(queries.data, w.kv_b.data, dcache.data, dcache_mask.data, dcached.data, dlatents.data,
                                dmask.data, heads.data, B, n, dn, dr, dv, rank, capacity,
                                float(args->softmax_scale));                                   // (9)–(10)
    launch_linear(heads.data, w.o.data, dy.data, B, H, n * dv);
    if (w.o_bias.present) launch_bias_activation(dy.data, w.o_bias.data, B, H, false);
    return finish("mla_decode", dy, y, size_t(B * H), dlatents, latents, size_t(B * row));
}

} // extern "C"
