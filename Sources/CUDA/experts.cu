// The routed experts' weighted sum (spec/experts.md eq. 2), after each expert's SwiGLU has run on its gathered rows.

#include "kernels.cuh"

namespace {

constexpr int threads = 256;

// y [tokens, hidden]: y[t, i] = Σ_m weights[t, slot[t, m]] · outputs[row[t, m], i] for m in [0, top_k), in m
// order, from 0. outputs [tokens·top_k, hidden] holds every (token, slot) assignment's expert output, grouped by
// expert; order [tokens, top_k, 2] lists each token's assignments as (row in outputs, slot), ascending expert id
// then slot — the order of the example plugin and the BLAS backend, so the sum is the same on every run (no
// atomics: each output element is one thread's).
__global__ void combine_experts(const float *outputs, const int64_t *order, const float *weights, float *y,
                                int64_t tokens, int64_t hidden, int64_t top_k) {
    const int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (index >= tokens * hidden) return;
    const int64_t t = index / hidden, i = index % hidden;
    float sum = 0.0f;
    for (int64_t m = 0; m < top_k; m++) {
        const int64_t row = order[(t * top_k + m) * 2], slot = order[(t * top_k + m) * 2 + 1];
        sum += weights[t * top_k + slot] * outputs[row * hidden + i];
    }
    y[index] = sum;
}

} // namespace

void launch_combine_experts(const float *outputs, const int64_t *order, const float *weights, float *y, int64_t tokens,
                            int64_t hidden, int64_t top_k) {
    if (tokens * hidden > 0)
        ASSAY_LAUNCH(combine_experts, unsigned((tokens * hidden + threads - 1) / threads), threads, outputs, order,
                     weights, y, tokens, hidden, top_k);
}
