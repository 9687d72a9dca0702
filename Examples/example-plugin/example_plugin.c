/*
 * The smallest Assay plugin: RMSNorm, elementwise add and the SwiGLU MLP in plain C, float32. Start here to diff your own kernels:
 *
 *   Tools/build-example-plugin .build/plugins            # cc -shared -fPIC … -o .build/plugins/libassay_example.so
 *   assay diff --backend plugin:.build/plugins/libassay_example.so --goldens goldens/tiny
 *
 * The rms_norm, add and swiglu taps are compared; every other tap is NOT COVERED (no entry point exported).
 */
#include <math.h>
#include "assay_plugin.h"

static const assay_op_info ops[] = {
    {"rms_norm", ASSAY_DTYPE_F32},
    {"add", ASSAY_DTYPE_F32},
    {"swiglu", ASSAY_DTYPE_F32},
};

static const assay_plugin_info info = {ASSAY_PLUGIN_ABI_VERSION, "example", 3, ops};
static const char *last_error = "";

const assay_plugin_info *assay_plugin_get_info(void) { return &info; }
const char *assay_plugin_last_error(void) { return last_error; }

int assay_rms_norm_f32(const assay_rms_norm_args *args, const float *x, const float *weight, float *y) {
    if (args->rows < 0 || args->width <= 0) {
        last_error = "rms_norm: rows must be >= 0 and width > 0";
        return 1;
    }
    for (int64_t r = 0; r < args->rows; r++) {
        const float *row = x + r * args->width;
        float sum = 0;
        for (int64_t i = 0; i < args->width; i++) sum += row[i] * row[i];
        float inverse = 1.0f / sqrtf(sum / (float)args->width + args->epsilon);
        for (int64_t i = 0; i < args->width; i++) y[r * args->width + i] = weight[i] * (row[i] * inverse);
    }
    return 0;
}

int assay_add_f32(const assay_add_args *args, const float *a, const float *b, float *y) {
    for (int64_t i = 0; i < args->count; i++) y[i] = a[i] + b[i];
    return 0;
}

int assay_swiglu_f32(const assay_swiglu_args *args, const float *x, const float *gate_up, const float *down, float *y) {
    const int64_t width = args->intermediate, hidden = args->hidden;
    for (int64_t t = 0; t < args->tokens; t++) {
        const float *row = x + t * hidden;
        float h[width];   /* silu(gate · x) * (up · x) */
        for (int64_t i = 0; i < width; i++) {
            float gate = 0, up = 0;
            for (int64_t j = 0; j < hidden; j++) {
                gate += gate_up[i * hidden + j] * row[j];
                up += gate_up[(width + i) * hidden + j] * row[j];
            }
            h[i] = gate / (1.0f + expf(-gate)) * up;
        }
        for (int64_t o = 0; o < hidden; o++) {
            float sum = 0;
            for (int64_t i = 0; i < width; i++) sum += down[o * width + i] * h[i];
            y[t * hidden + o] = sum;
        }
    }
    return 0;
}
