/* panel_gemm.c — see include/panel_gemm.h.
 *
 * Loop order: k in chunks of KC; within a chunk, each tile of panels (whose KC·16 floats stay in L1) meets every
 * block of rows (whose chunks, m·KC floats, stay in L2), so each weight is read from memory once per call. A product
 * of one block (a decode step, an expert with few tokens) takes k whole: its weights are used once, and long runs
 * stream faster (41 → 46 GB/s for 1–4 rows here). A tile
 * loads its outputs from y, adds its chunk's terms one FMA at a time in k order, and stores them back: the sums, and
 * so the bits, are those of one unbroken FMA chain per output, whatever the chunking or the instruction set. */

#include "panel_gemm.h"

#include <immintrin.h>

#define KC 256 /* k per chunk: a two-panel tile's weights (32 KiB) fit L1 */

/* One tile: y[rows, width] (row stride n) += a[kc][group] (its first `rows` columns) · w[kc][16 · panels], where the
 * second panel starts `stride` floats after the first. */
typedef void (*tile_function)(const float *a, int64_t group, const float *w, int64_t stride, int64_t kc, float *y,
                              int64_t n, int64_t width);

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

#if defined(__x86_64__)
/* AVX-512: one zmm per row and panel, up to 12 rows × 2 panels = 24 accumulators. */
__attribute__((target("avx512f"), always_inline)) static inline void tile512(
    const float *a, int64_t group, const float *w, int64_t stride, int64_t kc, float *y, int64_t n, int64_t width,
    const int rows, const int panels) {
    const __mmask16 mask0 = width >= 16 ? 0xFFFF : (__mmask16)((1u << width) - 1);
    const __mmask16 mask1 = width >= 32 ? 0xFFFF : width <= 16 ? 0 : (__mmask16)((1u << (width - 16)) - 1);
    __m512 c[12][2];
    for (int i = 0; i < rows; i++) {
        c[i][0] = _mm512_maskz_loadu_ps(mask0, y + i * n);
        if (panels == 2) c[i][1] = _mm512_maskz_loadu_ps(mask1, y + i * n + 16);
    }
    for (int64_t kk = 0; kk < kc; kk++) {
        const __m512 w0 = _mm512_loadu_ps(w + kk * ASSAY_PANEL_COLUMNS);
        const __m512 w1 = panels == 2 ? _mm512_loadu_ps(w + stride + kk * ASSAY_PANEL_COLUMNS) : w0;
        const float *x = a + kk * group;
        for (int i = 0; i < rows; i++) {   /* unrolled: `rows` and `panels` are constants in each instance below */
            const __m512 xi = _mm512_set1_ps(x[i]);
            c[i][0] = _mm512_fmadd_ps(xi, w0, c[i][0]);
            if (panels == 2) c[i][1] = _mm512_fmadd_ps(xi, w1, c[i][1]);
        }
    }
    for (int i = 0; i < rows; i++) {
        _mm512_mask_storeu_ps(y + i * n, mask0, c[i][0]);
        if (panels == 2) _mm512_mask_storeu_ps(y + i * n + 16, mask1, c[i][1]);
    }
}

/* AVX2: two ymm per row of one panel, up to 6 rows = 12 accumulators. */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256i lanes_below(int64_t count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count < 0 ? 0 : count > 8 ? 8 : count)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

__attribute__((target("avx2,fma"), always_inline)) static inline void tile256(
    const float *a, int64_t group, const float *w, int64_t stride, int64_t kc, float *y, int64_t n, int64_t width,
    const int rows) {
    (void)stride;
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

#define TILE_ARGUMENTS const float *a, int64_t g, const float *w, int64_t s, int64_t kc, float *y, int64_t n, int64_t width
#define TILE512(R, P) \
    __attribute__((target("avx512f"))) static void tile512_##R##_##P(TILE_ARGUMENTS) { tile512(a, g, w, s, kc, y, n, width, R, P); }
#define TILE512_ROWS(R) TILE512(R, 1) TILE512(R, 2)
TILE512_ROWS(1) TILE512_ROWS(2) TILE512_ROWS(3) TILE512_ROWS(4) TILE512_ROWS(5) TILE512_ROWS(6)
TILE512_ROWS(7) TILE512_ROWS(8) TILE512_ROWS(9) TILE512_ROWS(10) TILE512_ROWS(11) TILE512_ROWS(12)
#define TILE256(R) \
    __attribute__((target("avx2,fma"))) static void tile256_##R(TILE_ARGUMENTS) { tile256(a, g, w, s, kc, y, n, width, R); }
TILE256(1) TILE256(2) TILE256(3) TILE256(4) TILE256(5) TILE256(6)
#undef TILE512_ROWS
#undef TILE512
#undef TILE256
#undef TILE_ARGUMENTS

/* [rows][panels] */
#define PAIR(R) {0, tile512_##R##_1, tile512_##R##_2}
static const tile_function tiles512[13][3] = {
    {0, 0, 0}, PAIR(1), PAIR(2), PAIR(3), PAIR(4), PAIR(5), PAIR(6), PAIR(7), PAIR(8), PAIR(9), PAIR(10), PAIR(11),
    PAIR(12)};
#undef PAIR
static const tile_function tiles256[7][2] = {
    {0, 0}, {0, tile256_1}, {0, tile256_2}, {0, tile256_3}, {0, tile256_4}, {0, tile256_5}, {0, tile256_6}};
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
    const int64_t most = isa == ASSAY_ISA_AVX512 ? 12 : 6;
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
    if (group < 1 || group > (isa == ASSAY_ISA_AVX512 ? 12 : 6)) return -1;
    const int tile_panels = isa == ASSAY_ISA_AVX512 ? 2 : 1;
    const int64_t chunk = m <= group ? k : KC;   /* one block reuses no weights: stream each panel whole */
    for (int64_t k0 = 0; k0 < k; k0 += chunk) {
        const int64_t kc = min64(chunk, k - k0);
        for (int64_t p = first; p < end; p += tile_panels) {
            const int64_t count = min64(tile_panels, end - p), column = p * ASSAY_PANEL_COLUMNS;
            const int64_t width = min64(n - column, count * ASSAY_PANEL_COLUMNS);
            const float *w = panels + (p * k + k0) * ASSAY_PANEL_COLUMNS;
            for (int64_t b = 0; b * group < m; b++) {
                const int64_t rows = min64(group, m - b * group);
                const tile_function tile = isa == ASSAY_ISA_AVX512 ? tiles512[rows][count] : tiles256[rows][count];
                tile(blocks + (b * k + k0) * group, group, w, k * ASSAY_PANEL_COLUMNS, kc, y + b * group * n + column,
                     n, width);
            }
        }
    }
    return 0;
#else
    (void)m; (void)n; (void)k; (void)blocks; (void)group; (void)panels; (void)first; (void)end; (void)y;
    (void)isa;
    return -1;
#endif
}
