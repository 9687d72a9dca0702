/*
 * machine_anchors.h — the machine's own limits, measured, that `assay bench` states its rates against
 * (spec/conformance.md §5, issue 24): the FMA peak of the vector units with no memory traffic at all, and the rate
 * at which the cores read memory. With sgemm's rate these bound every linear: compute-bound shapes by the FMA
 * peak, few-row shapes (decode, the routed experts at short prompts) by the bytes of weights they stream.
 */
#ifndef ASSAY_MACHINE_ANCHORS_H
#define ASSAY_MACHINE_ANCHORS_H

#ifdef __cplusplus
extern "C" {
#endif

/* GFLOP/s of `threads` threads each running independent fused multiply-adds in registers (AVX-512F, else AVX2 +
 * FMA, else scalar; 2 FLOPs per lane per FMA) for about `seconds`. */
double assay_fma_peak_gflops(int threads, double seconds);

/* GB/s (10⁹ bytes) of `threads` threads summing disjoint slices of a `megabytes` buffer (far larger than any
 * cache), the best of `repeats` passes after one warm-up. */
double assay_read_gbytes_per_second(int threads, int megabytes, int repeats);

/* "avx512f", "avx2+fma" or "scalar": the units assay_fma_peak_gflops measures. */
const char *assay_fma_peak_units(void);

#ifdef __cplusplus
}
#endif

#endif
