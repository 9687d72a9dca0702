// Tools/cuda-crosscheck.c — the CUDA plugin's host-emulation build against the example plugin (plain C, every ABI v2
// op) on paths goldens/tiny and tiny-vision do not reach: exact router ties (experts and groups), a token routed to
// the same expert twice, q_lora_rank 0, non-interleaved RoPE, attention biases, the temperature off, 1100-key
// prefill and decode (attend's second chunk), a sequence that sees no key, a 1056-patch image, projector biases,
// partial patches, two images in the merger. Each output must match to NMSE < 1e-9 and the router's indices exactly.
// Not part of CI (spec/plugin-abi.md §5). Usage:
//   Tools/build-cuda --host /tmp/cudahost
//   cc -O2 -shared -fPIC -ISources/CAssayPlugin/include Examples/example-plugin/example_plugin.c -o /tmp/example.so -lm
//   cc -O1 -ISources/CAssayPlugin/include Tools/cuda-crosscheck.c -o /tmp/crosscheck -ldl -lm
//   /tmp/crosscheck /tmp/cudahost/libassay_cuda_host.so /tmp/example.so      (exit 0: every line ok; ~20 s)
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "assay_plugin.h"

static void *A, *B;   // cuda, example
static unsigned seed = 1;
static float rnd(void) { seed = seed * 1103515245u + 12345u; return ((seed >> 8) & 0xffff) / 32768.0f - 1.0f; }
static float *rv(size_t n, float s) { float *p = malloc(n * 4); for (size_t i = 0; i < n; i++) p[i] = rnd() * s; return p; }
static int bad = 0;
static void cmp(const char *what, const float *a, const float *b, size_t n) {
    double num = 0, den = 0, worst = 0;
    for (size_t i = 0; i < n; i++) { double d = (double)a[i] - b[i]; num += d * d; den += (double)b[i] * b[i];
        if (isnan(a[i]) != isnan(b[i])) worst = INFINITY; if (fabs(d) > worst) worst = fabs(d); }
    double nmse = den > 0 ? num / den : num;
    printf("%-40s nmse %.2e max_abs %.2e %s\n", what, nmse, worst, nmse < 1e-9 && isfinite(worst) ? "ok" : "BAD");
    if (!(nmse < 1e-9 && isfinite(worst))) bad = 1;
}
#define SYM(lib, name) ((__typeof__(&name))dlsym(lib, #name))

static void mla(int qlora, int inter, int bias, int64_t batch, int64_t length, double beta) {
    assay_mla_args a = {batch, length, 16, 2, qlora ? 12 : 0, 8, 4, 4, 6, inter, 1e-6f, 0.3, 1.1, beta, 4, 0};
    int64_t H = a.hidden, n = a.heads, qk = 8, row = 12, T = batch * length;
    assay_mla_weights w = {0};
    if (qlora) { w.q_a = rv(12 * H, .3f); w.q_a_norm = rv(12, 1); if (bias) w.q_a_bias = rv(12, .1f); }
    w.q_b = rv(n * qk * (qlora ? 12 : H), .3f); w.kv_a = rv(row * H, .3f); w.kv_a_norm = rv(8, 1);
    if (bias) { w.kv_a_bias = rv(row, .1f); w.o_bias = rv(H, .1f); }
    w.kv_b = rv(n * (4 + 6) * 8, .3f); w.o = rv(H * n * 6, .3f);
    double inv[2] = {1.0, 0.01}; w.inv_freq = inv;
    float *x = rv(T * H, 1);
    int64_t *pos = malloc(T * 8), *mask = malloc(T * 8);
    for (int64_t t = 0; t < T; t++) { pos[t] = 1000000 + t * 3; mask[t] = (t % 7 != 0) && (t % length != 0); }
    float *y1 = calloc(T * H, 4), *y2 = calloc(T * H, 4), *l1 = calloc(T * row, 4), *l2 = calloc(T * row, 4);
    char label[100];
    if (SYM(A, assay_mla_attention_f32)(&a, &w, x, pos, mask, y1, l1)) printf("cuda: %s\n", SYM(A, assay_plugin_last_error)());
    SYM(B, assay_mla_attention_f32)(&a, &w, x, pos, mask, y2, l2);
    snprintf(label, sizeof label, "mla_attention q%d i%d b%d L%lld y", qlora, inter, bias, (long long)length);
    cmp(label, y1, y2, T * H);
    cmp("  latents", l1, l2, T * row);
    // decode against the prefill's latents as the cache
    int64_t cap = length + 3;
    a.length = 1; a.cache_capacity = cap;
    float *cache = malloc(batch * cap * row * 4); int64_t *cm = malloc(batch * cap * 8), cached[4], dmask[4];
    for (int64_t b = 0; b < batch; b++) {
        cached[b] = b == 0 ? length : length / 3; dmask[b] = b % 2 == 0;
        for (int64_t j = 0; j < cap; j++) {
            cm[b * cap + j] = (j % 5) != 2;
            for (int64_t c = 0; c < row; c++)
                cache[(b * cap + j) * row + c] = j < cached[b] ? l2[(b * length + (j < length ? j : 0)) * row + c] : NAN;
        }
    }
    if (batch > 1) for (int64_t j = 0; j < cap; j++) cm[1 * cap + j] = 0;   // sequence 1: nothing cached visible
    int64_t dpos[4] = {2000001, 77, 5, 9};
    if (SYM(A, assay_mla_decode_f32)(&a, &w, x, dpos, dmask, cache, cm, cached, y1, l1)) printf("cuda: %s\n", SYM(A, assay_plugin_last_error)());
    SYM(B, assay_mla_decode_f32)(&a, &w, x, dpos, dmask, cache, cm, cached, y2, l2);
    snprintf(label, sizeof label, "mla_decode  q%d i%d b%d L%lld y", qlora, inter, bias, (long long)length);
    cmp(label, y1, y2, batch * H);
    cmp("  latents", l1, l2, batch * row);
}

static void router(int norm, int ties) {
    assay_router_args a = {37, 8, 16, 4, 4, 2, norm, 2.5};
    float *x = rv(37 * 8, 1), *w = rv(16 * 8, 1);
    if (ties) { for (int i = 0; i < 16 * 8; i++) w[i] = (i / 8) % 3 == 0 ? 0.5f : 0.25f; }
    float l1[37 * 16], l2[37 * 16], w1[37 * 4], w2[37 * 4]; int64_t i1[37 * 4], i2[37 * 4];
    SYM(A, assay_router_f32)(&a, x, w, l1, w1, i1);
    SYM(B, assay_router_f32)(&a, x, w, l2, w2, i2);
    int same = memcmp(i1, i2, sizeof i1) == 0;
    printf("router norm%d ties%d indices %s\n", norm, ties, same ? "ok" : "BAD"); if (!same) bad = 1;
    cmp("  weights", w1, w2, 37 * 4);
}

static void vision(void) {
    int64_t grids[4] = {33, 32, 2, 3}, P = 33 * 32 + 6;
    assay_vision_attention_args a = {P, 8, 2, 2};
    double f[2] = {1.0, 0.1};
    float *x = rv(P * 8, 1), *q = rv(64, .5f), *k = rv(64, .5f), *v = rv(64, .5f), *o = rv(64, .5f);
    float *y1 = calloc(P * 8, 4), *y2 = calloc(P * 8, 4);
    if (SYM(A, assay_vision_attention_f32)(&a, x, grids, f, q, k, v, o, y1)) printf("cuda: %s\n", SYM(A, assay_plugin_last_error)());
    SYM(B, assay_vision_attention_f32)(&a, x, grids, f, q, k, v, o, y2);
    cmp("vision_attention 1056+6 patches", y1, y2, P * 8);
    assay_projector_mlp_args p = {5, 7, 9};
    float *px = rv(35, 1), *w1 = rv(63, 1), *b1 = rv(9, 1), *w2 = rv(81, 1), *b2 = rv(9, 1), py1[45], py2[45];
    SYM(A, assay_projector_mlp_f32)(&p, px, w1, b1, w2, b2, py1);
    SYM(B, assay_projector_mlp_f32)(&p, px, w1, b1, w2, b2, py2);
    cmp("projector_mlp with biases", py1, py2, 45);
    assay_patch_embedding_args e = {2, 3, 30, 17, 5, 4};
    float *pix = rv(2 * 3 * 30 * 17, 1), *ew = rv(5 * 3 * 16, 1), *ey1 = calloc(2 * 5 * 7 * 4, 4), *ey2 = calloc(2 * 5 * 7 * 4, 4);
    SYM(A, assay_patch_embedding_f32)(&e, pix, ew, ey1);
    SYM(B, assay_patch_embedding_f32)(&e, pix, ew, ey2);
    cmp("patch_embedding partial patches", ey1, ey2, 2 * 5 * 7 * 4);
    int64_t mg[4] = {4, 6, 2, 2}; assay_patch_merger_args m = {28, 3, 2, 2};
    float *mx = rv(28 * 3, 1), *mw = rv(3 * 12, 1), my1[21], my2[21];
    SYM(A, assay_patch_merger_f32)(&m, mx, mg, mw, my1);
    SYM(B, assay_patch_merger_f32)(&m, mx, mg, mw, my2);
    cmp("patch_merger two images", my1, my2, 21);
}

static void experts(void) {
    assay_routed_experts_args a = {9, 6, 5, 4, 3};
    int64_t idx[27]; float *wt = rv(27, 1);
    for (int i = 0; i < 27; i++) idx[i] = (i * 7 + i / 3) % 4;
    idx[4] = idx[3];   // a token with the same expert twice
    float *x = rv(54, 1), *gu = rv(4 * 10 * 6, 1), *dn = rv(4 * 6 * 5, 1), y1[54], y2[54];
    SYM(A, assay_routed_experts_f32)(&a, x, idx, wt, gu, dn, y1);
    SYM(B, assay_routed_experts_f32)(&a, x, idx, wt, gu, dn, y2);
    cmp("routed_experts (a repeated expert)", y1, y2, 54);
}

int main(int argc, char **argv) {
    A = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL); B = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (!A || !B) { printf("dlopen: %s\n", dlerror()); return 2; }
    router(1, 0); router(0, 0); router(1, 1); router(0, 1);
    experts();
    vision();
    mla(1, 1, 0, 2, 9, 0.1); mla(0, 0, 1, 2, 9, 0.1); mla(1, 0, 1, 2, 9, 0.0);
    mla(0, 1, 1, 2, 1100, 0.1);
    return bad;
}
