/*
 * panel_gemm.h — a float32 GEMM for the BLAS backend's linears, y[m, n] = x[m, k] · W[n, k]ᵀ, over weights packed
 * once into panels of 16 output columns. Written for the shapes sgemm serves poorly: the few rows per expert of a
 * MoE layer (16 at 512 tokens) and the one row per sequence of a decode step. Float32 products, float32 sums in
 * k order per output (spec/experts.md, "Precision" of the BLAS backend in spec/conformance.md §5).
 */
#ifndef ASSAY_PANEL_GEMM_H
#define ASSAY_PANEL_GEMM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Columns of a weight panel and rows of an activation block. */
#define ASSAY_PANEL_COLUMNS 16
#define ASSAY_BLOCK_ROWS 6

/* 1 when this CPU runs the kernel (AVX2 and FMA), 0 otherwise: callers fall back to sgemm. */
int assay_panel_gemm_available(void);

/* matrix [rows, k] row-major -> groups [ceil(rows/group)][k][group]: group g, row kk holds matrix[group·g + i, kk],
 * zero past `rows`. Weights are packed with group 16 (panels), activations with group 6 (blocks). */
void assay_pack(const float *matrix, int64_t rows, int64_t k, int64_t group, float *packed);

/* y[:, 16·first ..< min(16·end, n)] of y [m, n] row-major, from packed x blocks and W panels first ..< end. */
void assay_panel_gemm(int64_t m, int64_t n, int64_t k, const float *blocks, const float *panels, int64_t first,
                      int64_t end, float *y);

#ifdef __cplusplus
}
#endif

#endif /* ASSAY_PANEL_GEMM_H */
