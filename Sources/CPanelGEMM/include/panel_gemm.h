/*
 * panel_gemm.h — a float32 GEMM for the BLAS backend's linears, y[m, n] = x[m, k] · W[n, k]ᵀ, over weights packed
 * once into panels of 32 output columns. Written for the shapes sgemm serves poorly: the few rows per expert of a
 * MoE layer (16 at 512 tokens) and the one row per sequence of a decode step. Float32 products, float32 sums in
 * k order per output, fused (one FMA per term) — so every instruction set below gives the same bits
 * (spec/experts.md, "Precision" of the BLAS backend in spec/conformance.md §5). Panels hold float32 values, or, when
 * every weight is a bfloat16 value (synthetic and BF16 checkpoints' weights, FP8 and NVFP4 codes), their bfloat16
 * bits: half the bytes streamed and held, widened in registers to the same float32 values, so the same bits again.
 */
#ifndef ASSAY_PANEL_GEMM_H
#define ASSAY_PANEL_GEMM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Columns of a weight panel: a tile's whole width, so a tile streams one contiguous run of weights. */
#define ASSAY_PANEL_COLUMNS 32

/* The kernels, by instruction set. */
typedef enum {
    ASSAY_ISA_NONE = 0,   /* no kernel: callers fall back to sgemm */
    ASSAY_ISA_AVX2 = 1,   /* tiles of up to 6 rows × 16 columns (two ymm per row) */
    ASSAY_ISA_AVX512 = 2, /* tiles of up to 12 rows × 32 columns (two zmm per row) */
} assay_isa;

/* How panels store weights. */
typedef enum {
    ASSAY_STORAGE_F32 = 0,   /* float32 values */
    ASSAY_STORAGE_BF16 = 1,  /* bfloat16 bits, each weight a bfloat16 value */
} assay_storage;

/* k per chunk when several row blocks share a panel: as many k as fill this CPU's L1 data cache with one panel's
 * chunk (sysconf's L1d size, 32 KiB when it reports none; 256 for float32 panels on 32 KiB, 512 for bf16), a multiple
 * of 16 in 64 … 4096. Chunking never changes a result: each output stays one FMA chain in k order. */
int64_t assay_panel_chunk(assay_storage storage);

/* The best kernel this CPU runs (AVX-512F; else AVX2 with FMA; else none). */
assay_isa assay_panel_gemm_isa(void);

/* 1 when this CPU runs `isa`'s kernel. */
int assay_panel_gemm_supports(assay_isa isa);

/* Rows per activation block for an `m`-row product under `isa`: the blocks are as even as the tile allows
 * (16 rows under AVX-512 are two blocks of 8, not 12 + 4). */
int64_t assay_block_rows(assay_isa isa, int64_t m);

/* matrix [rows, k] row-major -> groups [ceil(rows/group)][k][group]: group g, row kk holds matrix[group·g + i, kk],
 * zero past `rows`. Weights are packed with group 32 (panels), activations with assay_block_rows (blocks). */
void assay_pack(const float *matrix, int64_t rows, int64_t k, int64_t group, float *packed);

/* assay_pack with group 32 into bfloat16 bits: the upper halves of the float32 values. Returns 0, or -1 when a value
 * is not a bfloat16 value (its lower half is not zero), leaving `packed` partly written: pack float32 panels then. */
int assay_pack_bf16(const float *matrix, int64_t rows, int64_t k, uint16_t *packed);

/* y[:, 32·first ..< min(32·end, n)] += x · Wᵀ over those columns, for y [m, n] row-major, from x packed in blocks of
 * `group` rows and W's panels first ..< end (`storage`: float32 or bf16 panels). y starts at zero for a plain product;
 * each output's terms are added in k order. Returns 0, or -1 (writing nothing) when this CPU lacks `isa` or `group`
 * exceeds its tile. */
int assay_panel_gemm(assay_isa isa, int64_t m, int64_t n, int64_t k, const float *blocks, int64_t group,
                     const void *panels, assay_storage storage, int64_t first, int64_t end, float *y);

#ifdef __cplusplus
}
#endif

#endif /* ASSAY_PANEL_GEMM_H */
