/* panel_gemm.c — see include/panel_gemm.h.
 *
 * Loop order: k in chunks of KC; within a chunk, each panel (whose KC·32 floats stay in L1) meets every block of rows
 * (whose chunks, m·KC floats, stay in L2), so each weight is read from memory once per call. A product of one block
 * (a decode step, an expert with few tokens) takes k whole: its weights are used once, so chunks would buy nothing.
 * A tile loads its outputs from y, adds its chunk's terms one FMA at a time in k order, and stores them back: the
 * sums, and so the bits, are those of one unbroken FMA chain per output, whatever the chunking or the instruction
 * set. */

#include "panel_gemm.h"

#include <immintrin.h>

#define KC 256 /* k per chunk: a panel's chunk (32 KiB) fits L1 */

/* One tile: y[rows, width] (row stride n) += a[kc][group] (its first `rows` columns) · w[kc][32 (a panel's row)],
 * over the panel's 32 columns (AVX-512) or 16 of them (AVX2). */
typedef void (*tile_function)(const float *a, int64_t group, const float *w, int64_t kc, float *y, int64_t n,
                              int64_t width);

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* The most rows a tile of `isa` holds (its accumulators: 24 zmm, or 12 ymm). */
static int64_t tile_rows(assay_isa isa) { return isa == ASSAY_ISA_AVX512 ? 12 : 6; }

#if defined(__x86_64__)
/* AVX-512: two zmm per row, up to 12 rows = 24 accumulators. */
__attribute__((target("avx512f"), always_inline)) static inline void tile512(
    const float *a, int64_t group, const float *w, int64_t kc, float *y, int64_t n, int64_t width, const int rows) {
    const __mmask16 mask0 = width >= 16 ? 0xFFFF : (__mmask16)((1u << width) - 1);
    const __mmask16 mask1 = width >= 32 ? 0xFFFF : width <= 16 ? 0 : (__mmask16)((1u << (width - 16)) - 1);
    __m512 c[12][2];
    for (int i = 0; i < rows; i++) {
        c[i][0] = _mm512_maskz_loadu_ps(mask0, y + i * n);
        c[i][1] = _mm512_maskz_loadu_ps(mask1, y + i * n + 16);
    }
    for (int64_t kk = 0; kk < kc; kk++) {
        const __m512 w0 = _mm512_loadu_ps(w + kk * ASSAY_PANEL_COLUMNS);
        const __m512 w1 = _mm512_loadu_ps(w + kk * ASSAY_PANEL_COLUMNS + 16);
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
    const float *a, int64_t group, const float *w, int64_t kc, float *y, int64_t n, int64_t width, const int rows) {
    const __m256i mask0 = lanes_below(width), mask1 = lanes_below(width - 8);
    __m256 c[6][2];
    for (int i = 0; i < rows; i++) {
        c[i][0] = _mm256_maskload_ps(y + i * n, mask0);
        c[i][1] = _mm256_maskload_ps(y + i * n + 8, mask1);
    }
    for (int64_t kk = 0; kk < kc; kk++) {
        const __m256 w0 = _mm256_loadu_ps(w + kk * ASSAY_PANEL_COLUMNS);
        const __m256 w1 = _mm256_loadu_ps(w + kk * ASSAY_PANEL_COLUMNS + 8);
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

#define TILE_ARGUMENTS const float *a, int64_t g, const float *w, int64_t kc, float *y, int64_t n, int64_t width
#define TILE512(R) \
    __attribute__((target("avx512f"))) static void tile512_##R(TILE_ARGUMENTS) { tile512(a, g, w, kc, y, n, width, R); }
#define TILE256(R) \
    __attribute__((target("avx2,fma"))) static void tile256_##R(TILE_ARGUMENTS) { tile256(a, g, w, kc, y, n, width, R); }
TILE512(1) TILE512(2) TILE512(3) TILE512(4) TILE512(5) TILE512(6)
TILE512(7) TILE512(8) TILE512(9) TILE512(10) TILE512(11) TILE512(12)
TILE256(1) TILE256(2) TILE256(3) TILE256(4) TILE256(5) TILE256(6)
#undef TILE512
#undef TILE256
#undef TILE_ARGUMENTS

/* by rows */
static const tile_function tiles512[13] = {0, tile512_1, tile512_2, tile512_3, tile512_4, tile512_5, tile512_6,
                                           tile512_7, tile512_8, tile512_9, tile512_10, tile512_11, tile512_12};
static const tile_function tiles256[7] = {0, tile256_1, tile256_2, tile256_3, tile256_4, tile256_5, tile256_6};
#endif

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

int assay_panel_gemm(assay_isa isa, int64_t m, int64_t n, int64_t k, const float *blocks, int64_t group,
                     const float *panels, int64_t first, int64_t end, float *y) {
#if defined(__x86_64__)
    if (isa == ASSAY_ISA_NONE || !assay_panel_gemm_supports(isa)) return -1;
    if (group < 1 || group > tile_rows(isa)) return -1;
    const int64_t chunk = m <= group ? k : KC;   /* one block reuses no weights: stream each panel whole */
    for (int64_t k0 = 0; k0 < k; k0 += chunk) {
        const int64_t kc = min64(chunk, k - k0);
        for (int64_t p = first; p < end; p++) {
            const int64_t column = p * ASSAY_PANEL_COLUMNS, width = min64(n - column, ASSAY_PANEL_COLUMNS);
            const float *w = panels + (p * k + k0) * ASSAY_PANEL_COLUMNS;
            for (int64_t b = 0; b * group < m; b++) {
                const int64_t rows = min64(group, m - b * group);
                const float *x = blocks + (b * k + k0) * group;
                float *out = y + b * group * n + column;
                if (isa == ASSAY_ISA_AVX512) {
                    tiles512[rows](x, group, w, kc, out, n, width);
                } else {
                    tiles256[rows](x, group, w, kc, out, n, width);
                    if (width > 16) tiles256[rows](x, group, w + 16, kc, out + 16, n, width - 16);
                }
            }
        }
    }
    return 0;
#else
    (void)isa; (void)m; (void)n; (void)k; (void)blocks; (void)group; (void)panels; (void)first; (void)end; (void)y;
    return -1;
#endif
}
