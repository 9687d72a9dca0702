// The host emulation of cuda_host.h: blocks in turn, each block's threads as fibers that meet at every barrier.

#include "cuda_host.h"

#include <ucontext.h>

#include <cstdlib>
#include <cstring>
#include <vector>

namespace cuda_host {

ThreadIndex *current = nullptr;
dim3 block_dim, grid_dim;

namespace {

constexpr size_t stack_bytes = 256 * 1024;

struct Fiber {
    ucontext_t context;
    std::vector<char> stack = std::vector<char>(stack_bytes);
    ThreadIndex index;
    bool finished = false;
};

ucontext_t scheduler;
std::vector<Fiber> fibers;
Fiber *running = nullptr;
const std::function<void()> *body = nullptr;

void start() {
    (*body)();
    running->finished = true;
    swapcontext(&running->context, &scheduler);
}

} // namespace

void syncthreads() {
    swapcontext(&running->context, &scheduler);   // the scheduler resumes this thread after the others reach here
}

void launch(dim3 grid, dim3 block, const std::function<void()> &kernel) {
    const unsigned threads = block.x * block.y * block.z;
    if (fibers.size() < threads) fibers.resize(threads);
    block_dim = block;
    grid_dim = grid;
    body = &kernel;
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                for (unsigned t = 0; t < threads; t++) {
                    Fiber &fiber = fibers[t];
                    fiber.finished = false;
                    fiber.index = {dim3(t % block.x, t / block.x % block.y, t / (block.x * block.y)), dim3(bx, by, bz)};
                    getcontext(&fiber.context);
                    fiber.context.uc_stack.ss_sp = fiber.stack.data();
                    fiber.context.uc_stack.ss_size = fiber.stack.size();
                    fiber.context.uc_link = nullptr;
                    makecontext(&fiber.context, start, 0);
                }
                // One phase: every unfinished thread runs from where it stopped to its next barrier (or its end),
                // in thread order; phases repeat until every thread has finished.
                for (bool unfinished = true; unfinished;) {
                    unfinished = false;
                    for (unsigned t = 0; t < threads; t++) {
                        if (fibers[t].finished) continue;
                        running = &fibers[t];
                        current = &fibers[t].index;
                        swapcontext(&scheduler, &fibers[t].context);
                        unfinished = unfinished || !fibers[t].finished;
                    }
                }
            }
}

} // namespace cuda_host

cudaError_t cudaMallocBytes(void **pointer, size_t bytes) {
    *pointer = std::malloc(bytes > 0 ? bytes : 1);
    return *pointer ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFree(void *pointer) {
    std::free(pointer);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *to, const void *from, size_t bytes, cudaMemcpyKind) {
    if (bytes > 0 && (!to || !from)) return cudaErrorInvalidValue;
    if (bytes > 0) std::memcpy(to, from, bytes);
    return cudaSuccess;
}

cudaError_t cudaGetLastError() { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

namespace {

// Each error code the emulation returns: CUDA's name and text for it.
struct ErrorText {
    cudaError_t code;
    const char *name, *text;
};
constexpr ErrorText errors[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
};

const ErrorText &describe(cudaError_t error) {
    static constexpr ErrorText unknown = {cudaSuccess, "cudaErrorUnknown", "unknown error"};
    for (const ErrorText &entry : errors)
        if (entry.code == error) return entry;
    return unknown;
}

} // namespace

const char *cudaGetErrorString(cudaError_t error) { return describe(error).text; }
const char *cudaGetErrorName(cudaError_t error) { return describe(error).name; }
