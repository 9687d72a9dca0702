// The CUDA kernels of libassay_cuda.so, launched on the default stream; float32 storage and accumulation.
#pragma once

#include <cstdint>

#include "cuda_compat.cuh"

// spec/rmsnorm.md eq. (1)–(2): y[r] = w ⊙ x[r] / sqrt(mean(x[r]²) + ε), one block per row.
void launch_rms_norm(const float *x, const float *weight, float *y, int64_t rows, int64_t width, float epsilon);
// y = a + b, elementwise.
void launch_add(const float *a, const float *b, float *y, int64_t count);
// y [m, n] = x [m, k] · w [n, k]ᵀ: a linear layer with checkpoint-layout weights, 16 × 16 shared-memory tiles.
void launch_linear(const float *x, const float *w, float *y, int64_t m, int64_t n, int64_t k);
// h [t, i] = silu(g [t, i]) · u [t, i] over rows [gate (width) | up (width)] (spec/experts.md eq. 1).
void launch_gated_silu(const float *gate_up, float *h, int64_t tokens, int64_t width);
// y [t, :] = table [ids[t], :] (spec/decoder.md eq. 1).
void launch_gather(const int64_t *ids, const float *table, float *y, int64_t tokens, int64_t hidden);
