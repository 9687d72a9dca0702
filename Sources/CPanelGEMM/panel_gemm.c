/* panel_gemm.c — see include/panel_gemm.h. One 6 × 16 tile at a time: per k, two loads of the weight panel, six
 * broadcasts of the activation block, twelve FMAs into twelve accumulators; the panel (16·k floats) stays in L2
 * while every block of rows passes over it, so each weight is read from memory once per call. */

#include "panel_gemm.h"

#include <immintrin.h>
#include <string.h>

int assay_panel_gemm_available(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
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

#if defined(__x86_64__)
/* tile[rows][16] = block [k][6] (its first `rows` rows) · panel [k][16], summed over k in order. Inlined into one
 * function per row count, so a block cut short computes only its rows. */
__attribute__((target("avx2,fma"), always_inline)) static inline void tile(const float *block, const float *panel,
                                                                          int64_t k, float *tile, const int rows) {
    __m256 c[ASSAY_BLOCK_ROWS][2];
    for (int i = 0; i < rows; i++) c[i][0] = c[i][1] = _mm256_setzero_ps();
    for (int64_t kk = 0; kk < k; kk++) {
        const __m256 w0 = _mm256_loadu_ps(panel + kk * ASSAY_PANEL_COLUMNS);
        const __m256 w1 = _mm256_loadu_ps(panel + kk * ASSAY_PANEL_COLUMNS + 8);
        const float *a = block + kk * ASSAY_BLOCK_ROWS;
        for (int i = 0; i < rows; i++) {   /* unrolled: `rows` is a constant in each instance below */
            const __m256 x = _mm256_broadcast_ss(a + i);
            c[i][0] = _mm256_fmadd_ps(x, w0, c[i][0]);
            c[i][1] = _mm256_fmadd_ps(x, w1, c[i][1]);
        }
    }
    for (int i = 0; i < rows; i++) {
        _mm256_storeu_ps(tile + i * ASSAY_PANEL_COLUMNS, c[i][0]);
        _mm256_storeu_ps(tile + i * ASSAY_PANEL_COLUMNS + 8, c[i][1]);
    }
}

#define TILE_ROWS(R) \
    __attribute__((target("avx2,fma"))) static void tile##R(const float *b, const float *p, int64_t k, float *t) { \
        tile(b, p, k, t, R); \
    }
TILE_ROWS(1) TILE_ROWS(2) TILE_ROWS(3) TILE_ROWS(4) TILE_ROWS(5) TILE_ROWS(6)
#undef TILE_ROWS

typedef void (*tile_function)(const float *, const float *, int64_t, float *);
static const tile_function tiles[ASSAY_BLOCK_ROWS + 1] = {0, tile1, tile2, tile3, tile4, tile5, tile6};
#endif

void assay_panel_gemm(int64_t m, int64_t n, int64_t k, const float *blocks, const float *panels, int64_t first,
                      int64_t end, float *y) {
#if defined(__x86_64__)
    float out[ASSAY_BLOCK_ROWS * ASSAY_PANEL_COLUMNS];
    for (int64_t p = first; p < end; p++) {
        const int64_t column = p * ASSAY_PANEL_COLUMNS;
        const int64_t width = n - column < ASSAY_PANEL_COLUMNS ? n - column : ASSAY_PANEL_COLUMNS;
        for (int64_t b = 0; b * ASSAY_BLOCK_ROWS < m; b++) {
            const int64_t rows = m - b * ASSAY_BLOCK_ROWS < ASSAY_BLOCK_ROWS ? m - b * ASSAY_BLOCK_ROWS : ASSAY_BLOCK_ROWS;
            tiles[rows](blocks + b * k * ASSAY_BLOCK_ROWS, panels + p * k * ASSAY_PANEL_COLUMNS, k, out);
            for (int64_t i = 0; i < rows; i++) {
                memcpy(y + (b * ASSAY_BLOCK_ROWS + i) * n + column, out + i * ASSAY_PANEL_COLUMNS, sizeof(float) * width);
            }
        }
    }
#else
    (void)m; (void)n; (void)k; (void)blocks; (void)panels; (void)first; (void)end; (void)y;
#endif
}
