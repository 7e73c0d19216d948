/* gemm_avx2.h — the fp32 GEMM of many-row packed matmul plans on AVX2 + FMA CPUs (matmul.c's
 * path where oneDNN 2.6 has only gemm:jit); private to workloads/ops. */
#ifndef AB_OPS_GEMM_AVX2_H
#define AB_OPS_GEMM_AVX2_H

#include <stdbool.h>
#include <stddef.h>

/* out (M,N) fp32 = inp (M,K) fp32, row stride ldi . W^T, W (N,K) fp32 row-major, then the OPS_MM_*
 * epilogue of flags: + bias (N), GELU, + res (M,N) (OPS_MM_RESIDUAL), or added to what out
 * holds (OPS_MM_ACCUM). Parallel over the caller's OpenMP threads; allocates nothing. */
void ops_gemm_avx2(float *out, const float *inp, size_t ldi, const float *W, int M, int N, int K,
                   unsigned flags, const float *bias, const float *res);
/* Can this CPU run it (AVX2 and FMA, and not ops_set_generic)? */
bool ops_gemm_avx2_usable(void);

#endif /* AB_OPS_GEMM_AVX2_H */
