/* fp8_gemm_cuda.h — the C-linkage launcher of the fp8_gemm kernels (kernels.cu). */
#ifndef FP8_GEMM_CUDA_H
#define FP8_GEMM_CUDA_H

#include "accelbench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Row-scaling epilogue: out (BF16 bits) = d (FP32) · sa[i] · sb[j] for d and out M x N
 * column-major (element (i, j) at i + j·M); sa has M scales, sb N. */
ab_status fp8g_cuda_scale_outer(const float *d, const float *sa, const float *sb, uint16_t *out, int64_t M,
                                int64_t N, void *stream, struct ab_error *err);

#ifdef __cplusplus
}
#endif
#endif
