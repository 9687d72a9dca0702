// cuda_host.h — the CUDA execution model on the CPU, so the kernels of Sources/CUDA run unchanged under a host
// compiler and are diffed against the goldens on every CI run (spec/plugin-abi.md §5). A test harness, not a
// backend: it emulates what the kernels' correctness depends on, not their speed.
//
// The types come from CUDA's own headers (the PyPI wheels' include folder, Tools/build-cuda --print-include):
// cuda_runtime.h declares dim3, cudaError_t and the runtime calls this emulation defines (cuda_host.cpp);
// cuda_bf16.h and cuda_fp8.h convert __nv_bfloat16 and __nv_fp8_e4m3 on the host exactly as on the device.
//
// What it emulates:
//   - a launch (ASSAY_LAUNCH in cuda_compat.cuh) runs the grid's blocks one after another; the threads of a block
//     are fibers (ucontext) on one OS thread, each with its own threadIdx; lane = linear thread index mod 32;
//   - __syncthreads() is a barrier: a thread waiting there resumes only when every unfinished thread of the block
//     waits there. Between barriers threads run one after another, in thread order, so a thread that reads shared
//     memory another has not written yet (a missing barrier) reads what was there before: deterministically wrong;
//   - __syncwarp(mask) is a barrier of the lanes in `mask` (those the block has): a lane waiting there resumes only
//     when all of them wait there. Shuffles (__shfl_sync, __shfl_xor_sync, __shfl_down_sync) and votes
//     (__ballot_sync, __any_sync, __all_sync) are built on it: each lane writes its value to its slot, a warp
//     barrier, each reads its source lane's slot, a warp barrier. A lane of the mask that has exited, or a warp
//     barrier that can never complete (lanes split between __syncwarp and __syncthreads), fails the launch
//     (cudaErrorLaunchFailure), as it would hang or be undefined on a GPU;
//   - atomics (atomicAdd, atomicMax, atomicMin, atomicExch, atomicCAS) are std::atomic_ref operations;
//   - __shared__ storage is one per kernel (static), reused by each block in turn, as uninitialised as on a GPU;
//   - cudaMalloc / cudaMemcpy / cudaFree are host memory and memcpy; errors are CUDA's codes and names.
// What it cannot: timing, occupancy, warp divergence within a phase (lanes between barriers run one after another,
// never in lockstep), memory-model effects beyond barriers (a race that happens to read the right value here may
// not on a GPU: compute-sanitizer racecheck covers that where a GPU is lent), and the order of atomics across
// blocks on a GPU (here blocks run in order, so a kernel whose result depends on that order is deterministic here
// and not there: the kernels only count with atomics).
#pragma once

#include <cuda_runtime.h>   // dim3, cudaError_t, the runtime API (declared; defined in cuda_host.cpp)
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <type_traits>

namespace cuda_host {

// The index of the thread (fiber) running now, and the shape of the launch.
struct ThreadIndex {
    dim3 thread, block;
    unsigned linear;   // threadIdx.x + blockDim.x · (threadIdx.y + blockDim.y · threadIdx.z)
};
extern ThreadIndex *current;
extern dim3 block_dim, grid_dim;

// Runs `kernel` on every thread of every block of the grid; a failed launch is reported by cudaGetLastError.
void launch(dim3 grid, dim3 block, const std::function<void()> &kernel);
// The block-wide barrier.
void syncthreads();
// The barrier of the lanes in `mask` of the running thread's warp.
void syncwarp(unsigned mask);
// The running thread's warp's slot of `lane`: what a shuffle or vote exchanges.
uint64_t &slot(unsigned lane);

inline unsigned lane() { return current->linear % 32; }

// The value of `value` in lane `source` of the running warp: write, barrier, read, barrier.
template <typename T> T exchange(unsigned mask, T value, unsigned source) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(uint64_t), "a shuffle moves up to 8 bytes");
    std::memcpy(&slot(lane()), &value, sizeof value);
    syncwarp(mask);
    T result;
    std::memcpy(&result, &slot(source), sizeof result);
    syncwarp(mask);
    return result;
}

// Bit l set for each lane l in `mask` (that the block has) whose `predicate` is true.
unsigned ballot(unsigned mask, bool predicate);
// The lanes of the running thread's warp that the block has, as a mask.
unsigned lanes();

} // namespace cuda_host

#undef __shared__
#define __shared__ static
#define threadIdx (cuda_host::current->thread)
#define blockIdx (cuda_host::current->block)
#define blockDim (cuda_host::block_dim)
#define gridDim (cuda_host::grid_dim)
#define warpSize 32
#define __syncthreads() cuda_host::syncthreads()

inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { cuda_host::syncwarp(mask); }

// Warp shuffles (CUDA's rules for `width`: a lane reads within its segment of `width` lanes; a source past the
// segment gives the lane's own value).
template <typename T> T __shfl_sync(unsigned mask, T value, int source, int width = 32) {
    return cuda_host::exchange(mask, value, cuda_host::lane() / width * width + unsigned(source) % width);
}
template <typename T> T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = 32) {
    const unsigned lane = cuda_host::lane(), source = lane ^ unsigned(lane_mask);
    return cuda_host::exchange(mask, value, source / width > lane / width ? lane : source);
}
template <typename T> T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = 32) {
    const unsigned lane = cuda_host::lane();
    return cuda_host::exchange(mask, value, lane % width + delta < unsigned(width) ? lane + delta : lane);
}

// Votes.
inline unsigned __ballot_sync(unsigned mask, int predicate) { return cuda_host::ballot(mask, predicate != 0); }
inline int __any_sync(unsigned mask, int predicate) { return cuda_host::ballot(mask, predicate != 0) != 0; }
inline int __all_sync(unsigned mask, int predicate) {
    return cuda_host::ballot(mask, predicate != 0) == (mask & cuda_host::lanes());
}

// Atomics: each returns the old value. (atomic_operand: the operand converts to the pointee's type, as CUDA's overloads do.)
template <typename T> using atomic_operand = std::type_identity_t<T>;
template <typename T> T atomicAdd(T *address, atomic_operand<T> value) { return std::atomic_ref<T>(*address).fetch_add(value); }
template <typename T> T atomicExch(T *address, atomic_operand<T> value) { return std::atomic_ref<T>(*address).exchange(value); }
template <typename T> T atomicCAS(T *address, atomic_operand<T> compare, atomic_operand<T> value) {
    std::atomic_ref<T>(*address).compare_exchange_strong(compare, value);
    return compare;
}
template <typename T> T atomicMax(T *address, atomic_operand<T> value) {
    std::atomic_ref<T> target(*address);
    T old = target.load();
    while (old < value && !target.compare_exchange_weak(old, value)) {}
    return old;
}
template <typename T> T atomicMin(T *address, atomic_operand<T> value) {
    std::atomic_ref<T> target(*address);
    T old = target.load();
    while (value < old && !target.compare_exchange_weak(old, value)) {}
    return old;
}
