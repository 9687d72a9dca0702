// cuda_host.h — the CUDA execution model on the CPU, so the kernels of Sources/CUDA run unchanged under a host
// compiler and are diffed against the goldens on every CI run (spec/plugin-abi.md §5). A test harness, not a
// backend: it emulates what the kernels' correctness depends on, not their speed.
//
// What it emulates:
//   - a launch (ASSAY_LAUNCH in cuda_compat.cuh) runs the grid's blocks one after another; the threads of a block
//     are fibers (ucontext) on one OS thread, each with its own threadIdx;
//   - __syncthreads() is a barrier: every thread of the block runs up to it, in thread order, before any runs on.
//     So a thread that reads shared memory another thread has not written yet, because a barrier is missing,
//     reads what was there before: a missing barrier gives wrong results, deterministically;
//   - __shared__ storage is one per kernel (static), reused by each block in turn, as uninitialised as on a GPU;
//   - cudaMalloc / cudaMemcpy / cudaFree are host memory and memcpy; errors are CUDA's codes and names.
// What it cannot: timing, occupancy, warp divergence, memory-model effects beyond barriers (a race that happens
// to read the right value here may not on a GPU: compute-sanitizer racecheck covers that where a GPU is lent),
// and, for now, warp shuffles, votes and atomics (no kernel uses them yet).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x = 1, unsigned y = 1, unsigned z = 1) : x(x), y(y), z(z) {}
};

namespace cuda_host {

// The index of the thread (fiber) running now, and the shape of the launch.
struct ThreadIndex {
    dim3 thread, block;
};
extern ThreadIndex *current;
extern dim3 block_dim, grid_dim;

// Runs `kernel` on every thread of every block of the grid.
void launch(dim3 grid, dim3 block, const std::function<void()> &kernel);
// The block-wide barrier.
void syncthreads();

} // namespace cuda_host

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define threadIdx (cuda_host::current->thread)
#define blockIdx (cuda_host::current->block)
#define blockDim (cuda_host::block_dim)
#define gridDim (cuda_host::grid_dim)
#define __syncthreads() cuda_host::syncthreads()

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }

// The runtime API the plugin's host code calls.
enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2 };
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };

cudaError_t cudaMallocBytes(void **pointer, size_t bytes);
template <typename T> cudaError_t cudaMalloc(T **pointer, size_t bytes) {
    return cudaMallocBytes(reinterpret_cast<void **>(pointer), bytes);
}
cudaError_t cudaFree(void *pointer);
cudaError_t cudaMemcpy(void *to, const void *from, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaGetLastError();
cudaError_t cudaDeviceSynchronize();
const char *cudaGetErrorString(cudaError_t error);
const char *cudaGetErrorName(cudaError_t error);
