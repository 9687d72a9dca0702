// The MoE router's selection (spec/router.md eq. 2–6) on logits already computed by launch_linear (eq. 1).

#include "block.cuh"
#include "kernels.cuh"

namespace {

constexpr int router_threads = 256;

// The index of the largest values[i] over i in [0, n) with taken[i] == 0, ties to the lower index (spec/router.md
// eq. 4–5), or −1 when every one is taken; marks it taken. Every thread scans a stride of the entries in
// ascending order, then a tree keeps the better of two (larger value, or equal and lower index).
// vals, slots: [blockDim.x] shared; values, taken: shared.
__device__ int block_argmax(const float *values, unsigned char *taken, int n, float *vals, int *slots) {
    float best = 0.0f;
    int slot = -1;
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        if (!taken[i] && (slot < 0 || values[i] > best)) best = values[i], slot = i;
    vals[threadIdx.x] = best;
    slots[threadIdx.x] = slot;
    __syncthreads();
    for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) {
            const int other = slots[threadIdx.x + stride], mine = slots[threadIdx.x];
            const float ov = vals[threadIdx.x + stride], mv = vals[threadIdx.x];
            if (other >= 0 && (mine < 0 || ov > mv || (ov == mv && other < mine))) {
                vals[threadIdx.x] = ov;
                slots[threadIdx.x] = other;
            }
        }
        __syncthreads();
    }
    const int chosen = slots[0];
    __syncthreads();
    if (threadIdx.x == 0 && chosen >= 0) taken[chosen] = 1;
    __syncthreads();
    return chosen;
}

// One block per token t: logits [tokens, experts] -> weights [tokens, top_k], indices [tokens, top_k].
//   π = softmax(z) over all E (eq. 2; a shared-memory max and sum);
//   G_g = π₍₁₎ + π₍₂₎ of group g's E/groups experts (eq. 3; a thread per group);
//   the top_groups best groups kept, π̂ = π there, else 0 (eq. 4; repeated block arg-max);
//   S = top_k of π̂, largest first, ties to the lower id (eq. 5);
//   w_j = π_Sj / (Σ π_S + 1e-20) when norm_topk_prob, else π_Sj; × routed_scaling_factor (eq. 6).
// Float32 throughout (the example plugin uses float64: near-ties may resolve differently, which the diff accepts).
__global__ void router_select(const float *logits, float *weights, int64_t *indices, int experts, int top_k,
                              int groups, int top_groups, int norm_topk_prob, double scaling) {
    __shared__ float p[max_router_experts], masked[max_router_experts], group[max_router_experts];
    __shared__ unsigned char taken[max_router_experts];
    __shared__ int chosen[max_router_experts], slots[router_threads];
    __shared__ float partial[router_threads];
    const float *z = logits + int64_t(blockIdx.x) * experts;
    const int size = experts / groups;

    float top = -INFINITY;
    for (int e = threadIdx.x; e < experts; e += blockDim.x) top = fmaxf(top, z[e]);
    top = block_reduce(top, partial, true);
    float total = 0.0f;
    for (int e = threadIdx.x; e < experts; e += blockDim.x) total += p[e] = expf(z[e] - top);
    total = block_reduce(total, partial, false);
    for (int e = threadIdx.x; e < experts; e += blockDim.x) p[e] /= total;                        // (2)
    for (int g = threadIdx.x; g < groups; g += blockDim.x) taken[g] = 0;
    __syncthreads();

    for (int g = threadIdx.x; g < groups; g += blockDim.x) {                                        // (3)
        const float *pg = p + g * size;
        int first = 0, second = -1;
        for (int i = 1; i < size; i++)
            if (pg[i] > pg[first]) first = i;
        for (int i = 0; i < size; i++)
            if (i != first && (second < 0 || pg[i] > pg[second])) second = i;
        group[g] = pg[first] + (second >= 0 ? pg[second] : 0.0f);
    }
    __syncthreads();
    for (int r = 0; r < top_groups; r++) block_argmax(group, taken, groups, partial, slots);        // (4)
    for (int e = threadIdx.x; e < experts; e += blockDim.x) masked[e] = taken[e / size] ? p[e] : 0.0f;
    __syncthreads();
    for (int e = threadIdx.x; e < experts; e += blockDim.x) taken[e] = 0;
    __syncthreads();
    for (int j = 0; j < top_k; j++) {                                                               // (5)
        const int e = block_argmax(masked, taken, experts, partial, slots);
        if (threadIdx.x == 0) chosen[j] = e;
    }
    __syncthreads();
    float sum = 0.0f;                                                                                // the same order
    for (int j = 0; j < top_k; j++) sum += p[chosen[j]];                                           // in every thread
    for (int j = threadIdx.x; j < top_k; j += blockDim.x) {                                        // (6)
        const float w = norm_topk_prob ? p[chosen[j]] / (sum + 1e-20f) : p[chosen[j]];
        weights[int64_t(blockIdx.x) * top_k + j] = float(double(w) * scaling);
        indices[int64_t(blockIdx.x) * top_k + j] = chosen[j];
    }
}

} // namespace

void launch_router_select(const float *logits, float *weights, int64_t *indices, int64_t tokens, int64_t experts,
                          int64_t top_k, int64_t groups, int64_t top_groups, bool norm_topk_prob, double scaling) {
    if (tokens > 0)
        ASSAY_LAUNCH(router_select, unsigned(tokens), router_threads, logits, weights, indices, int(experts), int(top_k),
                     int(groups), int(top_groups), int(norm_topk_prob), scaling);
}
