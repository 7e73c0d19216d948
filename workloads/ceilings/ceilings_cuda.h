/* ceilings_cuda.h — C-linkage launchers of the ceilings workload's CUDA side (kernels.cu),
 * called by the C host logic in cuda.c. Every launcher returns a status and names the failing
 * CUDA or cuBLASLt call in err. */
#ifndef AB_CEILINGS_CUDA_H
#define AB_CEILINGS_CUDA_H

#include "accelbench.h"

#ifdef __cplusplus
extern "C" {
#endif

enum ceil_dtype { CEIL_FP32 = 0, CEIL_TF32, CEIL_BF16, CEIL_FP16, CEIL_FP8 };

/* FMA peak: `blocks` x 256 threads, each running CEIL_FMA_CHAINS chains for iters steps;
 * writes one float per thread to out (so nothing is optimized away). */
#define CEIL_FMA_CHAINS 8
ab_status ceil_cuda_fma(float *out, int blocks, int64_t iters, void *stream, struct ab_error *err);
/* Copy n floats (n multiple of 4) from src to dst with 16-byte accesses. */
ab_status ceil_cuda_copy(float *dst, const float *src, size_t n, void *stream, struct ab_error *err);

/* A square GEMM (n x n x n, TN layout: C = A^T B, column-major) through cuBLASLt with the
 * heuristic's first algorithm and a 32 MiB workspace. Inputs random normal, never zero. */
struct ceil_gemm;
ab_status ceil_gemm_open(struct ceil_gemm **out, int n, enum ceil_dtype dt, uint64_t seed,
                         struct ab_error *err);
ab_status ceil_gemm_run(struct ceil_gemm *g, int64_t reps, double *time_s, struct ab_error *err);
/* Compare `samples` random entries of C with an FP64 product of the (rounded) inputs; returns
 * the worst |C - ref| / sum|a||b| in *max_err. */
ab_status ceil_gemm_check(struct ceil_gemm *g, int samples, uint64_t seed, double *max_err,
                          struct ab_error *err);
/* The algorithm cuBLASLt's heuristic picked, as text. */
const char *ceil_gemm_algo(const struct ceil_gemm *g);
void ceil_gemm_close(struct ceil_gemm *g);

/* Host-side: the relative tolerance of the GEMM check for a dtype (output rounding dominates:
 * bf16 output 2^-8, fp16 2^-11, fp32 accumulation otherwise; tf32 inputs are rounded to
 * 10-bit mantissas inside the product, so its error is relative to the fp32 inputs). */
double ceil_gemm_tolerance(enum ceil_dtype dt);
bool ceil_dtype_parse(const char *name, enum ceil_dtype *out);

#ifdef __cplusplus
}
#endif
#endif
