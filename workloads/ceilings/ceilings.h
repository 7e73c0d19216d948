/* ceilings.h — shared between the ceilings workload's descriptor and its backends. */
#ifndef AB_CEILINGS_H
#define AB_CEILINGS_H

#include "accelbench.h"

extern const struct ab_impl ceilings_cpu_impl;
extern const struct ab_impl ceilings_cuda_impl;

/* The ceiling a (kind, dtype) case measures: "<dtype>_<kind>", or "mem_bw" for kind=stream. */
void ceilings_name(const struct ab_params *ps, char *buf, size_t len);

/* The CPU FMA loop, kind=fma: chain j of SIMD lane l on thread t starts at
 * ceilings_cpu_fma_x0 and runs x = fma(x, 1, 2^-24) (bf16: x += 2 x 0.25 x 0.125 per
 * VDPBF16PS) for `iters` steps. Start values are multiples of 2^-16 in [0.5, 0.76), so up to
 * 2^22 steps every value is exact in fp32 and the result x0 + iters*step tells exactly how
 * many steps ran. Each thread writes chains x lanes floats (at most CEILINGS_CPU_FMA_OUT). */
#define CEILINGS_CPU_FMA_STEP 0x1p-24f
#define CEILINGS_CPU_FMA_OUT  256 /* 16 chains x 16 lanes */
float ceilings_cpu_fma_x0(bool bf16, int thread, int chain, int lane);
/* Compare threads x chains x lanes outputs (thread-major, then chain, then lane) with the
 * closed form, exactly; returns the number that differ and names the first three in msg. */
int ceilings_cpu_fma_check(const float *out, int threads, int chains, int lanes, bool bf16, int64_t iters,
                           char *msg, size_t len);

/* The shapes a CPU gemm case at n = 0 tries (m x n x k, at most 6), from the last-level cache
 * (0: unknown, 32 MiB assumed) and the threads; returns how many. */
int ceilings_cpu_gemm_shapes(uint64_t llc_bytes, int threads, enum ab_suite suite, int *m, int *n, int *k);

#endif
