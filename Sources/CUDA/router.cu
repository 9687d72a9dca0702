// The MoE router's selection (spec/router.md eq. 2–6) on logits already computed by launch_linear (eq. 1): one warp
// per token, every reduction a butterfly of warp shuffles whose result all 32 lanes hold, bit for bit the same.

#include "kernels.cuh"

namespace {

constexpr int lanes = 32;
constexpr unsigned full_warp = 0xffffffffu;

// The warp's maximum (sum) of every lane's value, in every lane: a butterfly over offsets 16, 8, 4, 2, 1. Each step
// combines two lanes' partials with a commutative operation, so both get the same bits: a fixed order, the same
// result on every run and in every lane.
__device__ float warp_max(float value) {
    for (int offset = lanes / 2; offset > 0; offset /= 2) value = fmaxf(value, __shfl_xor_sync(full_warp, value, offset));
    return value;
}
__device__ float warp_sum(float value) {
    for (int offset = lanes / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(full_warp, value, offset);
    return value;
}

// A candidate of an arg-max: index −1 is none.
struct Best {
    float value;
    int index;
};

// The better of a and b in spec/router.md's order (eq. 4–5): the larger value, ties to the lower index; none last.
// A total order, so a butterfly of it gives every lane the same winner.
__device__ Best better(Best a, Best b) {
    if (a.index < 0 || b.index < 0) return a.index < 0 ? b : a;
    return b.value > a.value || (b.value == a.value && b.index < a.index) ? b : a;
}

// The best i in [0, n) with eligible(i), by value(i): each lane scans i = lane, lane + 32, … then a butterfly of
// shuffles (value and index from the same lane); every lane returns the winner ({0, −1} when none is eligible).
template <typename Value, typename Eligible>
__device__ Best warp_argmax(int n, const Value &value, const Eligible &eligible) {
    Best best = {0.0f, -1};
    for (int i = threadIdx.x; i < n; i += lanes)
        if (eligible(i)) best = better(best, {value(i), i});
    for (int offset = lanes / 2; offset > 0; offset /= 2)
        best = better(best, {__shfl_xor_sync(full_warp, best.value, offset), __shfl_xor_sync(full_warp, best.index, offset)});
    return best;
}

// One warp (block) per token t: logits [tokens, experts] -> weights [tokens, top_k], indices [tokens, top_k].
//   π = softmax(z) over all E (eq. 2: warp maximum and sum);
//   G_g = π₍₁₎ + π₍₂₎ of group g's E/groups experts (eq. 3: two arg-maxes over the group);
//   the top_groups best groups kept, π̂ = π there, else 0 (eq. 4: repeated arg-max, ties to the lower group);
//   S = top_k of π̂, largest first, ties to the lower id (eq. 5: repeated arg-max);
//   w_j = π_Sj / (Σ π_S + 1e-20) when norm_topk_prob, else π_Sj; × routed_scaling_factor (eq. 6).
// Lane 0 records each choice in shared memory, a __syncwarp before anyone reads it. Float32 throughout (the example
// plugin uses float64: near-ties may resolve differently, which the diff accepts).
__global__ void router_select(const float *logits, float *weights, int64_t *indices, int experts, int top_k,
                              int groups, int top_groups, int norm_topk_prob, double scaling) {
    __shared__ float p[max_router_experts], group[max_router_experts];
    __shared__ unsigned char kept[max_router_experts], taken[max_router_experts];
    __shared__ int chosen[max_router_experts];
    const int lane = threadIdx.x, size = experts / groups;
    const float *z = logits + int64_t(blockIdx.x) * experts;

    float top = -INFINITY, total = 0.0f;
    for (int e = lane; e < experts; e += lanes) top = fmaxf(top, z[e]);
    top = warp_max(top);
    for (int e = lane; e < experts; e += lanes) total += p[e] = expf(z[e] - top);
    total = warp_sum(total);
    for (int e = lane; e < experts; e += lanes) {                                                   // (2)
        p[e] /= total;
        taken[e] = 0;
    }
    for (int g = lane; g < groups; g += lanes) kept[g] = 0;
    __syncwarp();

    for (int g = 0; g < groups; g++) {                                                               // (3)
        const float *pg = p + g * size;
        const auto probability = [&](int i) { return pg[i]; };
        const Best first = warp_argmax(size, probability, [](int) { return true; });
        const Best second = warp_argmax(size, probability, [&](int i) { return i != first.index; });
        if (lane == 0) group[g] = first.value + (second.index >= 0 ? second.value : 0.0f);
    }
    __syncwarp();
    for (int r = 0; r < top_groups; r++) {                                                           // (4)
        const Best best = warp_argmax(groups, [&](int g) { return group[g]; }, [&](int g) { return !kept[g]; });
        if (lane == 0) kept[best.index] = 1;
        __syncwarp();
    }
    float sum = 0.0f;                                                                // every lane, in the same order
    for (int j = 0; j < top_k; j++) {                                                                // (5)
        const Best best = warp_argmax(experts, [&](int e) { return kept[e / size] ? p[e] : 0.0f; },
                                      [&](int e) { return !taken[e]; });
        sum += p[best.index];
        if (lane == 0) taken[best.index] = 1, chosen[j] = best.index;
        __syncwarp();
    }
    for (int j = lane; j < top_k; j += lanes) {                                                      // (6)
        const float w = norm_topk_prob ? p[chosen[j]] / (sum + 1e-20f) : p[chosen[j]];
        weights[int64_t(blockIdx.x) * top_k + j] = float(double(w) * scaling);
        indices[int64_t(blockIdx.x) * top_k + j] = chosen[j];
    }
}

} // namespace

void launch_router_select(const float *logits, float *weights, int64_t *indices, int64_t tokens, int64_t experts,
                          int64_t top_k, int64_t groups, int64_t top_groups, bool norm_topk_prob, double scaling) {
    if (tokens > 0)
        ASSAY_LAUNCH(router_select, unsigned(tokens), lanes, logits, weights, indices, int(experts), int(top_k),
                     int(groups), int(top_groups), int(norm_topk_prob), scaling);
}
