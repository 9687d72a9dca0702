/* The measurements of machine_anchors.h: register-only FMA chains, and a multi-threaded read of a large buffer. */

#include "machine_anchors.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Twelve independent chains hide the FMA latency (4 cycles on two ports needs at least 8 in flight). */
#define CHAINS 12
#define ROUNDS 100000

/* FMAs run by one call, per lane: CHAINS × ROUNDS. The result is returned so the loop is not optimized away. */
__attribute__((target("avx512f"))) static float chains512(float seed) {
    __m512 acc[CHAINS];
    const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps(seed + (float)c);
    for (int r = 0; r < ROUNDS; r++)
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], m, a);
    __m512 sum = acc[0];
    for (int c = 1; c < CHAINS; c++) sum = _mm512_add_ps(sum, acc[c]);
    return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx2,fma"))) static float chains256(float seed) {
    __m256 acc[CHAINS];
    const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_ps(seed + (float)c);
    for (int r = 0; r < ROUNDS; r++)
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], m, a);
    __m256 sum = acc[0];
    for (int c = 1; c < CHAINS; c++) sum = _mm256_add_ps(sum, acc[c]);
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    return lanes[0] + lanes[7];
}

static float chains1(float seed) {
    float acc[CHAINS];
    for (int c = 0; c < CHAINS; c++) acc[c] = seed + (float)c;
    for (int r = 0; r < ROUNDS; r++)
        for (int c = 0; c < CHAINS; c++) acc[c] = __builtin_fmaf(acc[c], 0.999999f, 1e-7f);
    float sum = 0;
    for (int c = 0; c < CHAINS; c++) sum += acc[c];
    return sum;
}

static int lanes(void) {
    if (__builtin_cpu_supports("avx512f")) return 16;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 8;
    return 1;
}

const char *assay_fma_peak_units(void) {
    return lanes() == 16 ? "avx512f" : lanes() == 8 ? "avx2+fma" : "scalar";
}

typedef struct {
    double seconds;     /* in: how long to run */
    double fmas;        /* out: FMAs per lane run */
    float sink;
} fma_job;

static void *fma_thread(void *argument) {
    fma_job *job = argument;
    const int width = lanes();
    const double start = now();
    do {
        job->sink += width == 16 ? chains512(job->sink) : width == 8 ? chains256(job->sink) : chains1(job->sink);
        job->fmas += (double)CHAINS * ROUNDS;
    } while (now() - start < job->seconds);
    return NULL;
}

double assay_fma_peak_gflops(int threads, double seconds) {
    if (threads < 1) threads = 1;
    fma_job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    if (!jobs || !ids) { free(jobs); free(ids); return 0; }
    const double start = now();
    for (int t = 0; t < threads; t++) {
        jobs[t].seconds = seconds;
        pthread_create(&ids[t], NULL, fma_thread, &jobs[t]);
    }
    double fmas = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        fmas += jobs[t].fmas;
    }
    const double elapsed = now() - start;
    free(jobs);
    free(ids);
    return fmas * lanes() * 2 / elapsed / 1e9;
}

typedef struct {
    const float *data;
    size_t count;
    float sum;
} read_job;

static void *read_thread(void *argument) {
    read_job *job = argument;
    float sums[16] = {0};   /* 16 partial sums: a vectorizable reduction at -O3 */
    for (size_t i = 0; i + 16 <= job->count; i += 16)
        for (int j = 0; j < 16; j++) sums[j] += job->data[i + j];
    for (int j = 0; j < 16; j++) job->sum += sums[j];
    return NULL;
}

double assay_read_gbytes_per_second(int threads, int megabytes, int repeats) {
    if (threads < 1) threads = 1;
    const size_t bytes = (size_t)megabytes << 20, count = bytes / sizeof(float);
    float *data = aligned_alloc(64, bytes);
    read_job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    if (!data || !jobs || !ids) { free(data); free(jobs); free(ids); return 0; }
    memset(data, 0, bytes);
    double best = 0;
    for (int pass = 0; pass <= repeats; pass++) {   /* pass 0 warms up */
        const double start = now();
        for (int t = 0; t < threads; t++) {
            jobs[t] = (read_job){data + count / (size_t)threads * (size_t)t, count / (size_t)threads, 0};
            pthread_create(&ids[t], NULL, read_thread, &jobs[t]);
        }
        for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
        const double rate = (double)bytes / (now() - start) / 1e9;
        if (pass > 0 && rate > best) best = rate;
    }
    free(data);
    free(jobs);
    free(ids);
    return best;
}
