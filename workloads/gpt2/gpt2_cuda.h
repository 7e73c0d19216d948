/* gpt2_cuda.h — C-linkage launchers of the gpt2 CUDA kernels (kernels.cu), called by the
 * host logic in cuda.c (the matmuls and the attention are ops'). Activations and the KV cache
 * are fp32; `dt` names the type of a matmul input written by layernorm and convert (enum
 * ab_dtype: AB_DTYPE_FP32, _BF16, _FP16). Where a launcher takes `dpos`, the position of the
 * first new token is read from device memory when dpos is not NULL (so a captured decode step
 * can be replayed at every position), else pos0. */
#ifndef GPT2_CUDA_H
#define GPT2_CUDA_H

#include "accelbench.h"

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bits a kernel ORs into the case's device flags word; the host reads it after each run. */
enum { GPT2_CU_NAN_LOGITS = 1, GPT2_CU_BAD_TOKEN = 2 };

struct gpt2_config;
/* Host side (cuda.c): device bytes a case allocates, the ab_device_fits check and the
 * peak_mem_bytes metric: fp32 parameters, run-dtype block weights (dt, 16-bit only),
 * the output embedding padded to gpt2_cuda_logits_ld rows in the run dtype, fp32 KV cache of
 * B x max_T positions, activations of B x P rows, padded logits, tokens, flags, the decode
 * attention's partial results (ops_cuda_decode_parts_bound over max_T keys), workspace. */
uint64_t gpt2_cuda_device_bytes(const struct gpt2_config *cfg, int dt, int B, int P, int max_T);
/* The logits GEMM's N and leading dimension: the vocabulary padded to a multiple of 64
 * (50257 -> 50304) as on the CPU, so every row of every operand is aligned; the padded rows
 * of the output embedding are zero and argmax reads only the first V of each row. */
int gpt2_cuda_logits_ld(int V);

/* x (B*Tq, C) = wte[tok] + wpe[pos0 + i]; a token outside [0, V) reads row 0 and sets
 * GPT2_CU_BAD_TOKEN in *flags */
cudaError_t gpt2_cu_embed(float *x, const int *tok, const float *wte, const float *wpe, const int *dpos,
                          int pos0, int B, int Tq, int C, int V, int *flags, cudaStream_t s);
/* out row r (rows, C) in dt = layernorm(x row r*rstep + roff) * g + b */
cudaError_t gpt2_cu_layernorm(void *out, int dt, const float *x, const float *g, const float *b, int rows,
                              int rstep, int roff, int C, cudaStream_t s);
/* dst (n) in dt = src (n) fp32 */
cudaError_t gpt2_cu_convert(void *dst, int dt, const float *src, size_t n, cudaStream_t s);
/* f32 (n) -> dt on the device; used once to make the run-dtype weights */
cudaError_t gpt2_cu_convert_weights(void *dst, int dt, const float *src, size_t n);
/* kc, vc (B, maxT, C) at positions pos0.. += k, v columns of qkv (B*Tq, 3C) */
cudaError_t gpt2_cu_kv_append(float *kc, float *vc, const float *qkv, const int *dpos, int pos0, int B,
                              int Tq, int C, int maxT, cudaStream_t s);
/* tok[b] = gpt2_argmax of the V logits of row b (B rows, stride ld), always in [0, V); a NaN
 * row sets GPT2_CU_NAN_LOGITS in *flags; with dpos, also *dpos += 1 (the next step) */
cudaError_t gpt2_cu_argmax(int *tok, const float *logits, int B, int V, int ld, int *dpos, int *flags,
                           cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif /* GPT2_CUDA_H */
