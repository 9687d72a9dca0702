// routed_experts (spec/experts.md eq. 2) in f32 and FP8 E4M3, grouped by expert as fused-MoE kernels do: the host
// sorts the (token, slot) assignments by expert (it holds the indices); one gather brings each assignment's x row
// together, expert by expert; per expert its SwiGLU runs on its rows (launch_swiglu: two tiled products, the gate
// between); one kernel then sums each token's weighted outputs in ascending expert order (no atomics: the same sum
// on every run).

#include <utility>
#include <vector>

#include "plugin.cuh"

namespace {

// The assignments of indices [tokens, top_k] grouped by expert: expert e's rows are [offsets[e], offsets[e + 1]),
// tokens ascending; row r is token token_of[r]; order [tokens, top_k, 2] lists each token's assignments as (row,
// slot) in ascending expert id, then slot — the order of the example plugin and the BLAS backend.
struct Grouping {
    std::vector<int64_t> offsets, token_of, order;

    Grouping(const int64_t *indices, int64_t tokens, int64_t top_k, int64_t experts)
        : offsets(size_t(experts) + 1, 0), token_of(size_t(tokens * top_k)), order(size_t(tokens * top_k * 2)) {
        std::vector<int64_t> filled(size_t(tokens), 0);
        for (int64_t j = 0; j < tokens * top_k; j++) offsets[size_t(indices[j] + 1)]++;
        for (int64_t e = 0; e < experts; e++) offsets[size_t(e + 1)] += offsets[size_t(e)];
        for (int64_t e = 0, r = 0; e < experts; e++)
            for (int64_t t = 0; t < tokens; t++)
                for (int64_t j = 0; j < top_k; j++)
                    if (indices[t * top_k + j] == e) {
                        token_of[size_t(r)] = t;
                        const int64_t m = filled[size_t(t)]++;
                        order[size_t((t * top_k + m) * 2)] = r++;
                        order[size_t((t * top_k + m) * 2 + 1)] = j;
                    }
    }
};

// The routed experts with weights of element type W (float, or E4M3 codes): layers(e, gate_up_e, down_e, xq) gives
// expert e's two Linear<float> (xq: scratch for FP8 activations, rows · max(H, I) codes).
template <typename W, typename Layers>
int routed_experts(const char *op, int64_t T, int64_t H, int64_t I, int64_t E, int64_t k, const float *x,
                   const int64_t *indices, const float *weights, const W *gate_up, const W *down, float *y,
                   const Layers &layers) {
    const int64_t rows = T * k;
    for (int64_t j = 0; j < rows; j++)
        if (indices[j] < 0 || indices[j] >= E) return fail_arguments("%s: an index is outside [0, experts)", op);
    const Grouping grouping(indices, T, k, E);
    Device<float> dx(x, size_t(T * H)), dweights(weights, size_t(rows)), gathered(size_t(rows * H)),
        projected(size_t(rows * 2 * I)), gated(size_t(rows * I)), outputs(size_t(rows * H)), dy(size_t(T * H));
    Device<int64_t> dtoken_of(grouping.token_of.data(), size_t(rows)), dorder(grouping.order.data(), size_t(rows * 2));
    Device<e4m3> xq(size_t(rows * (H > I ? H : I)));
    Weight<W> dgu(gate_up, size_t(E * 2 * I * H)), ddown(down, size_t(E * H * I));
    if (cudaError_t status = first_failure(dx, dweights, dgu, ddown, gathered, projected, gated, outputs, dy,
                                           dtoken_of, dorder, xq))
        return fail(op, "device buffers", status);
    launch_gather(dtoken_of.data, dx.data, gathered.data, rows, H);                             // x rows by expert
    for (int64_t e = 0; e < E; e++) {
        const int64_t first = grouping.offsets[size_t(e)], count = grouping.offsets[size_t(e + 1)] - first;
        if (count == 0) continue;
        const auto [gu, d] = layers(e, dgu.data + e * 2 * I * H, ddown.data + e * H * I, xq.data);
        launch_swiglu(gu, d, gathered.data + first * H, projected.data + first * 2 * I, gated.data + first * I,
                      outputs.data + first * H, count, H, I);                                   // eq. 1 per expert
    }
    launch_combine_experts(outputs.data, dorder.data, dweights.data, dy.data, T, H, k);          // eq. 2
    return finish(op, dy, y, size_t(T * H));
}

} // namespace

extern "C" {

int assay_routed_experts_f32(const assay_routed_experts_args *args, const float *x, const int64_t *indices,
                             const float *weights, const float *gate_up, const float *down, float *y) {
    const auto layers = [](int64_t, const float *gu, const float *d, e4m3 *) {
        return std::make_pair(Linear<float>{gu}, Linear<float>{d});
    };
    return routed_experts("routed_experts", args->tokens, args->hidden, args->intermediate, args->experts, args->top_k,
                          x, indices, weights, gate_up, down, y, layers);
}

// Each expert e an FP8 SwiGLU under its own scales: gate rows s_w[e, 0], up rows s_w[e, 1] (spec/quant.md §4).
int assay_routed_experts_f8e4m3(const assay_routed_experts_f8_args *args, const float *x, const int64_t *indices,
                                const float *weights, const uint8_t *gate_up, const uint8_t *down,
                                const assay_expert_f8_scales *scales, float *y) {
    const int64_t H = args->hidden, I = args->intermediate;
    const int convention = args->activation_convention;
    const auto layers = [&](int64_t e, const uint8_t *gu, const uint8_t *d, e4m3 *xq) {
        const float *s_w = scales->gate_up_weight_scales + 2 * e;
        return std::make_pair(
            Linear<float>{nullptr, f8_layer(gu, scales->gate_up_activation_scales[e], s_w[0], s_w[1], I, convention), xq},
            Linear<float>{nullptr, f8_layer(d, scales->down_activation_scales[e], scales->down_weight_scales[e],
                                            scales->down_weight_scales[e], H, convention), xq});
    };
    return routed_experts("routed_experts_f8e4m3", args->tokens, H, I, args->experts, args->top_k, x, indices, weights,
                          gate_up, down, y, layers);
}

} // extern "C"
