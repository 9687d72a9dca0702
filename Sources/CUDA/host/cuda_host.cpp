// The host emulation of cuda_host.h: blocks in turn; each block's threads are fibers that run, in thread order, up to
// their next barrier, and are released from a warp barrier when every lane it waits for is there, from the block
// barrier when every unfinished thread is there.

#include "cuda_host.h"

#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace cuda_host {

ThreadIndex *current = nullptr;
dim3 block_dim, grid_dim;

namespace {

constexpr size_t stack_bytes = 256 * 1024;
constexpr unsigned full_warp = 0xffffffffu;

enum class State { runnable, at_block_barrier, at_warp_barrier, finished };

struct Fiber {
    ucontext_t context;
    std::vector<char> stack = std::vector<char>(stack_bytes);
    ThreadIndex index;
    State state = State::finished;
    unsigned warp_mask = 0;   // at a warp barrier: the lanes it waits for
};

ucontext_t scheduler;
std::vector<Fiber> fibers;
std::vector<uint64_t> slots;   // [threads]: each thread's shuffle slot
unsigned block_threads = 0;
Fiber *running = nullptr;
const std::function<void()> *body = nullptr;
cudaError_t pending = cudaSuccess;   // the launch failure cudaGetLastError reports

void start() {
    (*body)();
    running->state = State::finished;
    swapcontext(&running->context, &scheduler);
}

// Stops the running thread in `state` and returns to the scheduler, which resumes it when released.
void wait(State state) {
    running->state = state;
    swapcontext(&running->context, &scheduler);
}

// The mask of the lanes warp `w` has in a block of block_threads threads.
unsigned lanes_of(unsigned w) {
    const unsigned count = block_threads - w * 32 < 32 ? block_threads - w * 32 : 32;
    return count == 32 ? full_warp : (1u << count) - 1;
}

enum class Release { none, released, stuck };

// Releases warp w's lanes at its warp barrier when every lane they wait for is there; stuck when one has exited.
Release release_warp(unsigned w) {
    unsigned waiting = 0, wanted = 0, exited = 0;
    for (unsigned l = 0; l < 32 && w * 32 + l < block_threads; l++) {
        const Fiber &fiber = fibers[w * 32 + l];
        if (fiber.state == State::at_warp_barrier) waiting |= 1u << l, wanted |= fiber.warp_mask;
        if (fiber.state == State::finished) exited |= 1u << l;
    }
    wanted &= lanes_of(w);
    if (waiting == 0) return Release::none;
    if (wanted & exited) return Release::stuck;
    if ((waiting & wanted) != wanted) return Release::none;
    for (unsigned l = 0; l < 32; l++)
        if (waiting >> l & 1) fibers[w * 32 + l].state = State::runnable;
    return Release::released;
}

// Runs one block to its end: phases in which every runnable thread runs to its next barrier, then the barriers
// that are complete release their threads. False when the block cannot go on (a stuck or split barrier).
bool run_block() {
    for (;;) {
        for (unsigned t = 0; t < block_threads; t++) {
            if (fibers[t].state != State::runnable) continue;
            running = &fibers[t];
            current = &fibers[t].index;
            swapcontext(&scheduler, &fibers[t].context);
        }
        bool released = false, unfinished = false, all_at_block = true;
        for (unsigned w = 0; w * 32 < block_threads; w++) {
            const Release release = release_warp(w);
            if (release == Release::stuck) return false;
            released = released || release == Release::released;
        }
        for (unsigned t = 0; t < block_threads; t++) {
            unfinished = unfinished || fibers[t].state != State::finished;
            all_at_block = all_at_block && (fibers[t].state == State::finished
                                            || fibers[t].state == State::at_block_barrier);
        }
        if (!unfinished) return true;
        if (released) continue;
        if (!all_at_block) return false;   // threads at warp barriers that no lane will complete
        for (unsigned t = 0; t < block_threads; t++)
            if (fibers[t].state == State::at_block_barrier) fibers[t].state = State::runnable;
    }
}

} // namespace

void syncthreads() { wait(State::at_block_barrier); }

void syncwarp(unsigned mask) {
    running->warp_mask = mask;
    wait(State::at_warp_barrier);
}

uint64_t &slot(unsigned lane) { return slots[current->linear / 32 * 32 + lane]; }

unsigned lanes() { return lanes_of(current->linear / 32); }

unsigned ballot(unsigned mask, bool predicate) {
    slot(lane()) = predicate;
    syncwarp(mask);
    unsigned bits = 0;
    for (unsigned l = 0; l < 32; l++)
        if ((mask & lanes()) >> l & 1 && slot(l)) bits |= 1u << l;
    syncwarp(mask);
    return bits;
}

void launch(dim3 grid, dim3 block, const std::function<void()> &kernel) {
    block_threads = block.x * block.y * block.z;
    if (fibers.size() < block_threads) fibers.resize(block_threads);
    slots.assign((block_threads + 31) / 32 * 32, 0);
    block_dim = block;
    grid_dim = grid;
    body = &kernel;
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                for (unsigned t = 0; t < block_threads; t++) {
                    Fiber &fiber = fibers[t];
                    fiber.state = State::runnable;
                    fiber.index = {dim3(t % block.x, t / block.x % block.y, t / (block.x * block.y)), dim3(bx, by, bz), t};
                    getcontext(&fiber.context);
                    fiber.context.uc_stack.ss_sp = fiber.stack.data();
                    fiber.context.uc_stack.ss_size = fiber.stack.size();
                    fiber.context.uc_link = nullptr;
                    makecontext(&fiber.context, start, 0);
                }
                if (!run_block()) {
                    std::fprintf(stderr, "cuda_host: block (%u, %u, %u) stopped: a warp barrier no lane can complete "
                                         "(a lane of its mask exited, or waits at __syncthreads)\n", bx, by, bz);
                    pending = cudaErrorLaunchFailure;
                    return;
                }
            }
}

} // namespace cuda_host

// ---- The runtime API of cuda_runtime_api.h that the plugin calls ----------------------------------------------

cudaError_t cudaMalloc(void **pointer, size_t bytes) {
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

cudaError_t cudaGetLastError() {
    const cudaError_t error = cuda_host::pending;
    cuda_host::pending = cudaSuccess;
    return error;
}

cudaError_t cudaDeviceSynchronize() { return cuda_host::pending; }

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
    {cudaErrorLaunchFailure, "cudaErrorLaunchFailure", "unspecified launch failure"},
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
