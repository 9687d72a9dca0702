// libassay_cuda.so: Assay's CUDA backend as a plugin of the C ABI (Sources/CAssayPlugin/include/assay_plugin.h,
// spec/plugin-abi.md). This file holds the info call, the error text, the copy back, and the device cache of
// weights; the entry points are in ops_text.cu, ops_experts.cu, ops_vision.cu and ops_mla.cu (each: copy the
// activations to the device, take the weights from the cache, launch, copy the outputs back), the kernels beside them.
//
// The weight cache (spec/plugin-abi.md §5). Weights arrive as host pointers on every call, and the ABI promises
// nothing about how long one lives or whether its bytes change: Assay hands the same checkpoint tensors to every case
// of a diff run, but also per-call temporaries (the embedding rows a call uses, the routed experts it uses) that a
// later call may allocate at the same address with other content. So an entry is keyed by (host pointer, byte count)
// and holds a 64-bit hash of the bytes (content_hash); each call hashes the buffer again and re-uploads it when the
// hash differs, so a reused address is never served stale, while an unchanged weight costs a hash instead of a copy.
// Only weight arguments go through it (Weight<T> in plugin.cuh): activations, outputs and the decode cache are copied
// per call (Device<T>). Entries a call holds are pinned; when a cudaMalloc fails, every unpinned entry is freed and
// the allocation tried once more (device_allocate). Entries live until then or until the process ends: one diff run.

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "plugin.cuh"

namespace {

thread_local char last_error_text[512] = "";

const assay_op_info operations[] = {
    {"rms_norm", ASSAY_DTYPE_F32 | ASSAY_DTYPE_BF16},
    {"add", ASSAY_DTYPE_F32 | ASSAY_DTYPE_BF16},
    {"swiglu", ASSAY_DTYPE_F32 | ASSAY_DTYPE_BF16 | ASSAY_DTYPE_F8_E4M3},
    {"embedding", ASSAY_DTYPE_F32 | ASSAY_DTYPE_BF16},
    {"lm_head", ASSAY_DTYPE_F32 | ASSAY_DTYPE_BF16},
    {"router", ASSAY_DTYPE_F32},
    {"routed_experts", ASSAY_DTYPE_F32 | ASSAY_DTYPE_F8_E4M3},
    {"patch_embedding", ASSAY_DTYPE_F32},
    {"patch_merger", ASSAY_DTYPE_F32},
    {"projector_mlp", ASSAY_DTYPE_F32},
    {"vision_attention", ASSAY_DTYPE_F32},
    {"mla_attention", ASSAY_DTYPE_F32 | ASSAY_DTYPE_F8_E4M3},
    {"mla_decode", ASSAY_DTYPE_F32 | ASSAY_DTYPE_F8_E4M3},
};

const assay_plugin_info info = {ASSAY_PLUGIN_ABI_VERSION, "cuda", sizeof operations / sizeof operations[0],
                                operations};

// ---- the weight cache ----

// A 64-bit hash of `bytes` bytes, 8 at a time: each step a bijection of the state, so one changed word always
// changes the hash.
uint64_t content_hash(const void *data, size_t bytes) {
    const unsigned char *p = static_cast<const unsigned char *>(data);
    uint64_t h = 0x9E3779B97F4A7C15ull ^ bytes;
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t word;
        std::memcpy(&word, p + i, 8);
        h = (h ^ word) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
    }
    for (; i < bytes; i++) h = (h ^ p[i]) * 0x100000001B3ull;
    return h ^ (h >> 29);
}

struct Entry {
    void *device = nullptr;
    uint64_t hash = 0;
    int pins = 0;
};

std::mutex cache_lock;
std::map<std::pair<const void *, size_t>, Entry> cache;   // (host pointer, bytes) -> its device copy

// Frees every entry no live Weight holds. Called with cache_lock held.
void evict_unpinned() {
    for (auto entry = cache.begin(); entry != cache.end();) {
        if (entry->second.pins > 0) {
            ++entry;
            continue;
        }
        cudaFree(entry->second.device);
        entry = cache.erase(entry);
    }
}

cudaError_t allocate_locked(void **pointer, size_t bytes) {
    if (cudaMalloc(pointer, bytes) == cudaSuccess) return cudaSuccess;
    cudaGetLastError();   // a failed cudaMalloc leaves its error pending; the retry decides
    evict_unpinned();
    return cudaMalloc(pointer, bytes);
}

} // namespace

int fail(const char *op, const char *what, cudaError_t status) {
    std::snprintf(last_error_text, sizeof last_error_text, "%s: %s: %s (%s)", op, what, cudaGetErrorString(status),
                  cudaGetErrorName(status));
    return 1;
}

int fail_arguments(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    std::vsnprintf(last_error_text, sizeof last_error_text, format, arguments);
    va_end(arguments);
    return 1;
}

cudaError_t device_allocate(void **pointer, size_t bytes) {
    std::lock_guard<std::mutex> hold(cache_lock);
    return allocate_locked(pointer, bytes);
}

cudaError_t weight_acquire(const void *host, size_t bytes, const void **device) {
    std::lock_guard<std::mutex> hold(cache_lock);
    const uint64_t hash = content_hash(host, bytes);
    auto found = cache.find({host, bytes});
    if (found == cache.end()) {
        void *copy = nullptr;
        if (cudaError_t status = allocate_locked(&copy, bytes)) return status;
        found = cache.emplace(std::make_pair(host, bytes), Entry{copy, ~hash, 0}).first;
    }
    Entry &entry = found->second;
    if (entry.hash != hash) {   // new, or the same address with other bytes: (re-)upload
        if (cudaError_t status = cudaMemcpy(entry.device, host, bytes, cudaMemcpyHostToDevice)) return status;
        entry.hash = hash;
    }
    entry.pins++;
    *device = entry.device;
    return cudaSuccess;
}

void weight_release(const void *host, size_t bytes) {
    std::lock_guard<std::mutex> hold(cache_lock);
    cache[{host, bytes}].pins--;
}

int finish(const char *op, const void *device, void *host, size_t bytes) {
    cudaError_t status = cudaGetLastError();
    if (status == cudaSuccess) status = cudaDeviceSynchronize();
    if (status == cudaSuccess) status = cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost);
    return status == cudaSuccess ? 0 : fail(op, "kernels", status);
}

extern "C" {

const assay_plugin_info *assay_plugin_get_info(void) { return &info; }

const char *assay_plugin_last_error(void) { return last_error_text; }

} // extern "C"
