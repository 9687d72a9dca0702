/* panel_gemm.c — see include/panel_gemm.h.
 *
 * Loop order: k in chunks of KC; within a chunk, each panel (whose KC·32 weights stay in L1) meets every block of rows
 * (whose chunks, m·KC floats, stay in L2), so each weight is read from memory once per call. A product of one block
 * (a decode step, an expert with few tokens) takes k whole: its weights are used once, so chunks would buy nothing.
 * A tile loads its outputs from y, adds its chunk's terms one FMA at a time in k order, and stores them back: the
 * sums, and so the bits, are those of one unbroken FMA chain per output, whatever the chunking or the instruction
 * set. */

#include "panel_gemm.h"

#include <immintrin.h>
#include <string.h>
#include <unistd.h>


/* One tile: y[rows, width] (row stride n) += a[kc][group] (its first `rows` columns) · w[kc][32 (a panel's row)],
 * over the panel's 32 columns (AVX-512) or 16 of them (AVX2). `w` holds float32 values, or bfloat16 bits (uint16_t)
 * that the tile widens to the same float32 values in registers (a shift: bf16 is float32's upper half). */
typedef void (*tile_function)(const float *a, int64_t group, const void *w, int64_t kc, float *y, int64_t n,
                              int64_t width);

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* The most rows a tile of `isa` holds (its accumulators: 24 zmm, or 12 ymm). */
static int64_t tile_rows(assay_isa isa) { return isa == ASSAY_ISA_AVX512 ? 12 : 6; }

#if defined(__x86_64__)
/* 16 weights from `w` at element `offset` as float32: loaded, or (bf16) 16 bf16 bits widened by a shift. */
__attribute__((target("avx512f"), always_inline)) static inline __m512 weights512(const void *w, int64_t offset,
                                                                                  const int bf16) {
    if (!bf16) return _mm512_loadu_ps((const float *)w + offset);
    const __m256i bits = _mm256_loadu_si256((const __m256i *)((const uint16_t *)w + offset));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}

/* 8 weights from `w` at element `offset` as float32, loaded or widened from bf16. */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 weights256(const void *w, int64_t offset,
                                                                                   const int bf16) {
    if (!bf16) return _mm256_loadu_ps((const float *)w + offset);
    const __m128i bits = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + offset));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
}

/* AVX-512: two zmm per row, up to 12 rows = 24 accumulators. */
__attribute__((target("avx512f"), always_inline)) static inline void tile512(
    const float *a, int64_t group, const void *w, int64_t kc, float *y, int64_t n, int64_t width, const int rows,
    const int bf16) {
    const __mmask16 mask0 = width >= 16 ? 0xFFFF : (__mmask16)((1u << width) - 1);
    const __mmask16 mask1 = width >= 32 ? 0xFFFF : width <= 16 ? 0 : (__mmask16)((1u << (width - 16)) - 1);
    __m512 c[12][2];
    for (int i = 0; i < rows; i++) {
        c[i][0] = _mm512_maskz_loadu_ps(mask0, y + i * n);
        c[i][1] = _mm512_maskz_loadu_ps(mask1, y + i * n + 16);
    }
    for (int64_t kk = 0; kk < kc; kk++) {
        const __m512 w0 = weights512(w, kk * ASSAY_PANEL_COLUMNS, bf16);
        const __m512 w1 = weights512(w, kk * ASSAY_PANEL_COLUMNS + 16, bf16);
        const float *x = a + kk * group;
        for (int i = 0; i < rows; i++) {   /* unrolled: `rows` is a constant in each instance below */
            const __m512 xi = _mm512_set1_ps(x[i]);
            c[i][0] = _mm512_fmadd_ps(xi, w0, c[i][0]);
            c[i][1] = _mm512_fmadd_ps(xi, w1, c[i][1]);
        }
    }
    for (int i = 0; i < rows; i++) {
        _mm512_mask_storeu_ps(y + i * n, mask0, c[i][0]);
        _mm512_mask_storeu_ps(y + i * n + 16, mask1, c[i][1]);
    }
}

/* The first `count` of eight lanes set (count clamped to 0…8), for masked loads and stores. */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256i lanes_below(int64_t count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count < 0 ? 0 : count > 8 ? 8 : count)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* AVX2: 16 columns of a panel (`w`, `y` and `width` already moved to them), two ymm per row, up to 6 rows = 12
 * accumulators. */
__attribute__((target("avx2,fma"), always_inline)) static inline void tile256(
    const float *a, int64_t group, const void *w, int64_t kc, float *y, int64_t n, int64_t width, const int rows,
    const int bf16) {
    const __m256i mask0 = lanes_below(width), mask1 = lanes_below(width - 8);
    __m256 c[6][2];
    for (int i = 0; i < rows; i++) {
        c[i][0] = _mm256_maskload_ps(y + i * n, mask0);
        c[i][1] = _mm256_maskload_ps(y + i * n + 8, mask1);
    }
    for (int64_t kk = 0; kk < kc; kk++) {
        const __m256 w0 = weights256(w, kk * ASSAY_PANEL_COLUMNS, bf16);
        const __m256 w1 = weights256(w, kk * ASSAY_PANEL_COLUMNS + 8, bf16);
        const float *x = a + kk * group;
        for (int i = 0; i < rows; i++) {
            const __m256 xi = _mm256_broadcast_ss(x + i);
            c[i][0] = _mm256_fmadd_ps(xi, w0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(xi, w1, c[i][1]);
        }
    }
    for (int i = 0; i < rows; i++) {
        _mm256_maskstore_ps(y + i * n, mask0, c[i][0]);
        _mm256_maskstore_ps(y + i * n + 8, mask1, c[i][1]);
    }
}

#define TILE_ARGUMENTS const float *a, int64_t g, const void *w, int64_t kc, float *y, int64_t n, int64_t width
#define TILE512(R, B, NAME) \
    __attribute__((target("avx512f"))) static void NAME(TILE_ARGUMENTS) { tile512(a, g, w, kc, y, n, width, R, B); }
#define TILE256(R, B, NAME) \
    __attribute__((target("avx2,fma"))) static void NAME(TILE_ARGUMENTS) { tile256(a, g, w, kc, y, n, width, R, B); }
#define TILES512(R) TILE512(R, 0, tile512_##R) TILE512(R, 1, tile512_bf16_##R)
#define TILES256(R) TILE256(R, 0, tile256_##R) TILE256(R, 1, tile256_bf16_##R)
TILES512(1) TILES512(2) TILES512(3) TILES512(4) TILES512(5) TILES512(6)
TILES512(7) TILES512(8) TILES512(9) TILES512(10) TILES512(11) TILES512(12)
TILES256(1) TILES256(2) TILES256(3) TILES256(4) TILES256(5) TILES256(6)
#undef TILES512
#undef TILES256
#undef TILE512
#undef TILE256
#undef TILE_ARGUMENTS

/* by storage (float32, bf16), then rows */
static const tile_function tiles512[2][13] = {
    {0, tile512_1, tile512_2, tile512_3, tile512_4, tile512_5, tile512_6, tile512_7, tile512_8, tile512_9, tile512_10,
     tile512_11, tile512_12},
    {0, tile512_bf16_1, tile512_bf16_2, tile512_bf16_3, tile512_bf16_4, tile512_bf16_5, tile512_bf16_6, tile512_bf16_7,
     tile512_bf16_8, tile512_bf16_9, tile512_bf16_10, tile512_bf16_11, tile512_bf16_12}};
static const tile_function tiles256[2][7] = {
    {0, tile256_1, tile256_2, tile256_3, tile256_4, tile256_5, tile256_6},
    {0, tile256_bf16_1, tile256_bf16_2, tile256_bf16_3, tile256_bf16_4, tile256_bf16_5, tile256_bf16_6}};
#endif

int64_t assay_panel_chunk(assay_storage storage) {
    static int64_t l1 = 0;
    if (l1 == 0) {
        const long reported = sysconf(_SC_LEVEL1_DCACHE_SIZE);
        l1 = reported >= 16 * 1024 && reported <= 1024 * 1024 ? reported : 32 * 1024;
    }
    const int64_t chunk = l1 / (ASSAY_PANEL_COLUMNS * (storage == ASSAY_STORAGE_BF16 ? 2 : 4)) / 16 * 16;
    return chunk < 64 ? 64 : chunk > 4096 ? 4096 : chunk;
}

int assay_panel_gemm_supports(assay_isa isa) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    switch (isa) {
    case ASSAY_ISA_AVX512: return __builtin_cpu_supports("avx512f");
    case ASSAY_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case ASSAY_ISA_NONE: return 1;
    }
#endif
    return isa == ASSAY_ISA_NONE;
}

assay_isa assay_panel_gemm_isa(void) {
    if (assay_panel_gemm_supports(ASSAY_ISA_AVX512)) return ASSAY_ISA_AVX512;
    if (assay_panel_gemm_supports(ASSAY_ISA_AVX2)) return ASSAY_ISA_AVX2;
    return ASSAY_ISA_NONE;
}

int64_t assay_block_rows(assay_isa isa, int64_t m) {
    const int64_t most = tile_rows(isa);
    if (m <= 0) return 1;
    const int64_t blocks = (m + most - 1) / most;
    return (m + blocks - 1) / blocks;
}

void assay_pack(const float *matrix, int64_t rows, int64_t k, int64_t group, float *packed) {
    const int64_t count = (rows + group - 1) / group;
    for (int64_t g = 0; g < count; g++) {
        float *out = packed + g * k * group;
        for (int64_t kk = 0; kk < k; kk++) {
            for (int64_t i = 0; i < group; i++) {
                const int64_t row = g * group + i;
                out[kk * group + i] = row < rows ? matrix[row * k + kk] : 0.0f;
            }
        }
    }
}

int assay_pack_bf16(const float *matrix, int64_t rows, int64_t k, uint16_t *packed) {
    const int64_t group = ASSAY_PANEL_COLUMNS, count = (rows + group - 1) / group;
    for (int64_t g = 0; g < count; g++) {
        uint16_t *out = packed + g * k * group;
        for (int64_t kk = 0; kk < k; kk++) {
            for (int64_t i = 0; i < group; i++) {
                const int64_t row = g * group + i;
                uint32_t bits = 0;
                if (row < rows) memcpy(&bits, &matrix[row * k + kk], sizeof bits);
                if (bits & 0xFFFFu) return -1;                 /* not a bfloat16 value: it would change */
                out[kk * group + i] = (uint16_t)(bits >> 16);
            }
        }
    }
    return 0;
}

int assay_panel_gemm(assay_isa isa, int64_t m, int64_t n, int64_t k, const float *blocks, int64_t group,
                     const void *panels, assay_storage storage, int64_t first, int64_t end, float *y) {
#if defined(__x86_64__)
    if (isa == ASSAY_ISA_NONE || !assay_panel_gemm_supports(isa)) return -1;
    const int bf16 = storage == ASSAY_STORAGE_BF16;
    const int64_t bytes = bf16 ? 2 : 4;
    if (group < 1 || group > tile_rows(isa)) return -1;
    const int64_t chunk = m <= group ? k : assay_panel_chunk(storage);   /* one block reuses no weights: whole */
    for (int64_t k0 = 0; k0 < k; k0 += chunk) {
        const int64_t kc = min64(chunk, k - k0);
        for (int64_t p = first; p < end; p++) {
            const int64_t column = p * ASSAY_PANEL_COLUMNS, width = min64(n - column, ASSAY_PANEL_COLUMNS);
            const char *w = (const char *)panels + (p * k + k0) * ASSAY_PANEL_COLUMNS * bytes;
            for (int64_t b = 0; b * group < m; b++) {
                const int64_t rows = min64(group, m - b * group);
                const float *x = blocks + (b * k + k0) * group;
                float *out = y + b * group * n + column;
                if (isa == ASSAY_ISA_AVX512) {
                    tiles512[bf16][rows](x, group, w, kc, out, n, width);
                } else {
                    tiles256[bf16][rows](x, group, w, kc, out, n, width);
                    if (width > 16) tiles256[bf16][rows](x, group, w + 16 * bytes, kc, out + 16, n, width - 16);
                }
            }
        }
    }
    return 0;
#else
    (void)isa; (void)m; (void)n; (void)k; (void)blocks; (void)group; (void)panels; (void)storage; (void)first;
    (void)end; (void)y;
    return -1;
#endif
}
