/*
 * assay_plugin.h — the C ABI through which `assay diff --backend plugin:PATH.so` runs anyone's kernels against the
 * golden sets (spec/plugin-abi.md). Version 1.
 *
 * A plugin is a shared library exporting:
 *   - assay_plugin_get_info(): its name, the ABI version it was built against, and the spec ops it implements with
 *     the dtypes each supports;
 *   - one entry point per implemented op and dtype, named assay_<op>_<dtype> (assay_rms_norm_f32). An op the
 *     plugin lacks is simply not exported: Assay reports its taps NOT COVERED and never runs anything in its place.
 *
 * Buffers are host memory, row-major, densely packed, owned by Assay. Outputs are written only inside their
 * extent: Assay surrounds every output with sentinel values and fails the op when one changes. Every entry point
 * returns 0 on success; otherwise assay_plugin_last_error() says why (a static or thread-local string).
 */
#ifndef ASSAY_PLUGIN_H
#define ASSAY_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ASSAY_PLUGIN_ABI_VERSION 1u

/* dtypes an op supports, as bits of assay_op_info.dtypes */
#define ASSAY_DTYPE_F32 (1u << 0)
#define ASSAY_DTYPE_BF16 (1u << 1)
#define ASSAY_DTYPE_F8_E4M3 (1u << 2)

typedef struct {
    const char *op;      /* a spec op name, as `assay coverage` prints it: "rms_norm", "add", "swiglu", … */
    uint32_t dtypes;     /* ASSAY_DTYPE_* bits */
} assay_op_info;

typedef struct {
    uint32_t abi_version;        /* ASSAY_PLUGIN_ABI_VERSION the plugin was built with */
    const char *name;            /* shown as plugin:NAME */
    uint32_t op_count;
    const assay_op_info *ops;
} assay_plugin_info;

const assay_plugin_info *assay_plugin_get_info(void);
const char *assay_plugin_last_error(void);

/* rms_norm — spec/rmsnorm.md: y[r, i] = weight[i] * x[r, i] / sqrt(mean_i x[r, i]^2 + epsilon) */
typedef struct {
    int64_t rows;
    int64_t width;
    float epsilon;
} assay_rms_norm_args;
int assay_rms_norm_f32(const assay_rms_norm_args *args, const float *x /* [rows, width] */,
                       const float *weight /* [width] */, float *y /* [rows, width] */);

/* add — spec/decoder.md eq. (2)–(3): y = a + b, elementwise */
typedef struct {
    int64_t count;
} assay_add_args;
int assay_add_f32(const assay_add_args *args, const float *a, const float *b, float *y);

/* swiglu — spec/experts.md eq. (1): y = down · (silu(gate · x) ⊙ (up · x)); gate_up holds the gate rows, then the
 * up rows (transformers' fused layout) */
typedef struct {
    int64_t tokens;
    int64_t hidden;
    int64_t intermediate;
} assay_swiglu_args;
int assay_swiglu_f32(const assay_swiglu_args *args, const float *x /* [tokens, hidden] */,
                     const float *gate_up /* [2 * intermediate, hidden] */, const float *down /* [hidden, intermediate] */,
                     float *y /* [tokens, hidden] */);

/* embedding — spec/decoder.md eq. (1): y[t, :] = table[ids[t], :]. Assay passes the rows the ids use (args->rows of
 * them, in ascending token id) and ids re-indexed into them, so the table it hands over stays small. */
typedef struct {
    int64_t tokens;
    int64_t rows;
    int64_t hidden;
} assay_embedding_args;
int assay_embedding_f32(const assay_embedding_args *args, const int64_t *ids /* [tokens], each in [0, rows) */,
                        const float *table /* [rows, hidden] */, float *y /* [tokens, hidden] */);

/* lm_head — spec/decoder.md eq. (5): y = x · Wᵀ. Assay calls it once per block of at most 4096 vocabulary rows. */
typedef struct {
    int64_t tokens;
    int64_t hidden;
    int64_t vocab;
} assay_lm_head_args;
int assay_lm_head_f32(const assay_lm_head_args *args, const float *x /* [tokens, hidden] */,
                      const float *weight /* [vocab, hidden] */, float *y /* [tokens, vocab] */);

#ifdef __cplusplus
}
#endif

#endif /* ASSAY_PLUGIN_H */
