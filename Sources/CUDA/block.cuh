// Block-wide building blocks the ABI v2 kernels share: a dot product, tree reductions through shared memory, and
// `attend`, the softmax-weighted sum over keys of every attention kernel (mla_attention, mla_decode,
// vision_attention). Each assumes blockDim.x is a power of two, one-dimensional blocks, and that every thread of
// the block calls it (it holds barriers).
#pragma once

#include <cstdint>

#include "cuda_compat.cuh"

// Scores held in shared memory at a time by `attend`; keys beyond are processed chunk after chunk.
constexpr int attend_chunk = 1024;

// Σ_i x[i]·y[i] in i order, float32: the order of the example plugin's dot (Examples/example-plugin/common.h).
__device__ __forceinline__ float dot(const float *x, const float *y, int64_t n) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += x[i] * y[i];
    return sum;
}

// The block's sum (maximum) of every thread's `value`, returned to all threads. partial: [blockDim.x] shared.
__device__ __forceinline__ float block_reduce(float value, float *partial, bool maximum) {
    partial[threadIdx.x] = value;
    __syncthreads();
    for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {   // a fixed tree: deterministic
        if (threadIdx.x < stride) {
            const float other = partial[threadIdx.x + stride];
            partial[threadIdx.x] = maximum ? fmaxf(partial[threadIdx.x], other) : partial[threadIdx.x] + other;
        }
        __syncthreads();
    }
    const float result = partial[0];
    __syncthreads();   // partial is free again for the caller's next reduction
    return result;
}

// out[i] = Σ_j P_j · value(j, i) for i in [0, width), P = softmax over j in [0, count) of score(j), where a score of
// −∞ marks a key the query does not see (P_j = 0, and value(j, ·) is never read: a masked row may be NaN). No
// visible key: out = 0 (spec/attention.md eq. 12). Two passes over the scores: their maximum, then per chunk of
// attend_chunk keys e_j = exp(s_j − max) in shared memory, accumulated as Σ_j e_j · value(j, i) in ascending j;
// divided by Σ_j e_j at the end. out[i] is owned by thread i mod blockDim.x (global or shared memory).
// chunk: [attend_chunk] shared; partial: [blockDim.x] shared.
template <typename Score, typename Value>
__device__ void attend(int64_t count, const Score &score, const Value &value, int64_t width, float *out, float *chunk,
                       float *partial) {
    float top = -INFINITY;
    for (int64_t j = threadIdx.x; j < count; j += blockDim.x) top = fmaxf(top, score(j));
    top = block_reduce(top, partial, true);
    for (int64_t i = threadIdx.x; i < width; i += blockDim.x) out[i] = 0.0f;
    float total = 0.0f;
    for (int64_t j0 = 0; j0 < count; j0 += attend_chunk) {
        const int64_t n = count - j0 < attend_chunk ? count - j0 : attend_chunk;
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
            const float s = score(j0 + j);
            chunk[j] = top > -INFINITY && s > -INFINITY ? expf(s - top) : 0.0f;
            total += chunk[j];
        }
        __syncthreads();
        for (int64_t i = threadIdx.x; i < width; i += blockDim.x) {
            float sum = out[i];
            for (int64_t j = 0; j < n; j++)
                if (chunk[j] != 0.0f) sum += chunk[j] * value(j0 + j, i);   // never touches a masked row
            out[i] = sum;
        }
        __syncthreads();   // before the next chunk overwrites `chunk`
    }
    total = block_reduce(total, partial, false);
    for (int64_t i = threadIdx.x; i < width; i += blockDim.x) out[i] = total > 0.0f ? out[i] / total : 0.0f;
}
