/* attention_memory_cuda.h — C-linkage launchers of kernels.cu, called by cuda.c. Layouts as in
 * attention_memory.h; dtype is enum ab_dtype; all pointers are device memory; every launcher
 * enqueues on `stream` and returns the launch error. */
#ifndef ATTENTION_MEMORY_CUDA_H
#define ATTENTION_MEMORY_CUDA_H

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Grid y holds at most this many blocks: the scores kernel puts qn/16 there. */
#define AM_CUDA_MAX_GRID_Y 65535

/* S (qn, ldS) = scale * q (qn, d) . k (kn, d)^T; with causal, S[i][j] = -inf where
 * j > i + diag (diag = first query position - first key position). qn <= 16 * 65535. */
cudaError_t am_cuda_scores(float *S, int ldS, const void *q, const void *k, int qn, int kn, int d, int dtype,
                           int causal, int diag, float scale, cudaStream_t stream);
/* Per row of S (qn, ldS) over kn keys: m[i] = max, S = exp(S - m) in place, l[i] = sum. */
cudaError_t am_cuda_row_exp(float *S, int ldS, int qn, int kn, float *m, float *l, cudaStream_t stream);
/* out (qn, d) = P (qn, ldP)[:, 0:kn] . v (kn, d), overwriting out. */
cudaError_t am_cuda_pv(float *out, const float *P, int ldP, const void *v, int qn, int kn, int d, int dtype,
                       cudaStream_t stream);
/* out (qn, d) = sum_c w_c vals_c / sum_c w_c l_c with w_c = exp(m_c - max_c m_c), over nc
 * chunks: vals_c at vals + c*qn*d, m_c and l_c at m + c*qn, l + c*qn. */
cudaError_t am_cuda_merge(float *out, const float *vals, const float *m, const float *l, int nc, int qn,
                          int d, cudaStream_t stream);
/* Fused and decode attention are ops' (ops_cuda_attention_strided, ops_cuda_decode_attention in
 * ops_cuda.h), not launchers here. */

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_MEMORY_CUDA_H */
