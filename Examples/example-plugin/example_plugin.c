/*
 * The example Assay plugin: every op of ABI version 2 in plain C (float32; FP8 E4M3 linears and bf16 entry points too) — the smallest complete port of Mistral
 * Small 4's layers, written to be read. Start here to diff your own kernels:
 *
 *   Tools/build-example-plugin .build/plugins            # cc -shared -fPIC … -o .build/plugins/libassay_example.so
 *   assay diff --backend plugin:.build/plugins/libassay_example.so --goldens goldens/tiny
 *
 * The contract of every entry point is Sources/CAssayPlugin/include/assay_plugin.h; the math is the spec's pages
 * (spec/attention.md, rope.md, …), cited by equation above each function. Layout, read in this order:
 *
 *   common.h       the primitives: dot, matmul (W (d,n) @ x (n,)), rmsnorm, softmax, silu, gelu, E4M3 and E2M1
 *                  decoding and rounding, the linear layer (float, FP8 static W8A8: spec/quant.md eq. 2–5, or NVFP4
 *                  W4A4: eq. 13–15), swiglu
 *   text.c         embedding, rms_norm, add, lm_head, swiglu, routed_experts, router; swiglu and routed_experts
 *                  in FP8 E4M3 and in NVFP4 (codes and scales as the checkpoint stores them)
 *   attention.c    mla_attention (expanded prefill) and mla_decode (absorbed, over the latent cache), YaRN RoPE, τ;
 *                  both with float, FP8 or NVFP4 projections
 *   vision.c       patch_embedding, vision_attention (2D RoPE), patch_merger, projector_mlp
 *   bf16.c         embedding, rms_norm, add, swiglu, lm_head on bfloat16 buffers (spec/precision.md's roundings)
 *
 * This file is the one translation unit: it #includes the others, so one `cc` line builds the plugin and Assay's
 * test can compile it by path. Everything is float32 with float32 sums, one token (row) at a time, no threads, no
 * BLAS: slow, but each loop is an equation. RoPE angles are the one float64 island (spec/rope.md §5).
 */
#include "assay_plugin.h"
#include "common.h"
#include "text.c"
#include "attention.c"
#include "vision.c"
#include "bf16.c"

#define F32_BF16 (ASSAY_DTYPE_F32 | ASSAY_DTYPE_BF16)
#define F32_F8 (ASSAY_DTYPE_F32 | ASSAY_DTYPE_F8_E4M3)

static const assay_op_info ops[] = {
    {"embedding", F32_BF16},
    {"rms_norm", F32_BF16},
    {"add", F32_BF16},
    {"mla_attention", F32_F8 | ASSAY_DTYPE_NVFP4},
    {"mla_decode", F32_F8 | ASSAY_DTYPE_NVFP4},
    {"router", ASSAY_DTYPE_F32},
    {"routed_experts", F32_F8 | ASSAY_DTYPE_NVFP4},
    {"swiglu", F32_BF16 | ASSAY_DTYPE_F8_E4M3 | ASSAY_DTYPE_NVFP4},
    {"lm_head", F32_BF16},
    {"patch_embedding", ASSAY_DTYPE_F32},
    {"vision_attention", ASSAY_DTYPE_F32},
    {"patch_merger", ASSAY_DTYPE_F32},
    {"projector_mlp", ASSAY_DTYPE_F32},
};

static const assay_plugin_info info = {ASSAY_PLUGIN_ABI_VERSION, "example", sizeof ops / sizeof ops[0], ops};

const assay_plugin_info *assay_plugin_get_info(void) { return &info; }
const char *assay_plugin_last_error(void) { return last_error; }
