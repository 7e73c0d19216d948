/* ops_cuda.h — the shared ops on an NVIDIA GPU: C-linkage launchers of ops_cuda.cu (device
 * pointers, enqueued on a stream, returning the launch or cuBLASLt error as a status) and the
 * host-side planning in ops_cuda_plan.c, which needs no GPU and is unit-tested everywhere.
 * Layouts as in ops.h (row-major, weight (N,K)); dtypes fp32, bf16, fp16; matmul biases in the
 * output's dtype (ops_cuda_bias_dtype), LayerNorm parameters fp32. */
#ifndef AB_OPS_CUDA_H
#define AB_OPS_CUDA_H

#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- host-side planning */

/* Row-major out (M,N) = inp (M,K) . weight (N,K)^T seen by column-major cuBLASLt:
 * out^T (N,M) = op(A) (N,K) . B (K,M) with A = the weight stored column-major (K,N), used
 * transposed, and B = inp^T stored column-major (K,M). */
struct ops_cuda_mm_layout {
    int m, n, k;           /* cuBLASLt's dimensions: N, M, K */
    bool trans_a, trans_b; /* true, false */
    int64_t lda, ldb, ldc; /* K, K, N */
    int a_rows, a_cols;    /* the stored A: K x N */
    int b_rows, b_cols;    /* the stored B: K x M */
};
void ops_cuda_mm_plan(int M, int N, int K, struct ops_cuda_mm_layout *out);

/* Which attention kernel runs and its launch shape. */
enum ops_cuda_attn_kind {
    OPS_CUDA_ATTN_TC = 0,   /* fused, tensor cores (mma.sync m16n8k16), bf16/fp16, HS 64 or 128 */
    OPS_CUDA_ATTN_WARP = 1, /* fused, CUDA cores, one warp per query: fp32 or other head sizes */
};
struct ops_cuda_attn_plan {
    enum ops_cuda_attn_kind kind;
    int grid_x, grid_y, grid_z; /* query blocks (or warps' blocks), heads, batch */
    int block;                  /* threads per block */
    size_t smem_bytes;          /* static shared memory the kernel uses */
};
/* AB_EINVAL when HS is not a multiple of 16 or HS > 256, or the dtype is unknown. */
ab_status ops_cuda_attn_plan(int B, int NH, int T, int HS, enum ab_dtype dt, struct ops_cuda_attn_plan *out,
                             struct ab_error *err);

/* The dtype of a matmul's bias for cuBLASLt's BIAS and GELU_BIAS epilogues: D's own type.
 * cuBLASLt takes an fp32 bias with a 16-bit D only for IMMA and FP8-output kernels, not for
 * these bf16/fp16 GEMMs, so the bias of a bf16 (fp16) matmul is stored in bf16 (fp16). */
enum ab_dtype ops_cuda_bias_dtype(enum ab_dtype out_dt);

/* Capture a forward in a CUDA graph when launch overhead matters: below this many FLOPs per
 * forward (a layer's ~20 launches cost tens of microseconds, comparable to small cases). */
#define OPS_CUDA_GRAPH_MAX_FLOPS 2e11
bool ops_cuda_use_graph(double flops_per_forward);

/* ---------------------------------------------------------------- device ops (ops_cuda.cu) */

struct ops_cuda_matmul;
/* epilogue flags as OPS_MM_*: bias, GELU after bias, residual (out = ... + res, via C, beta 1;
 * not with GELU, which cuBLASLt would apply after the add).
 * fp32 computes in fp32 (no TF32); bf16/fp16 accumulate in fp32. A 32 MiB workspace. */
ab_status ops_cuda_matmul_create(struct ops_cuda_matmul **out, int M, int N, int K, enum ab_dtype dt,
                                 unsigned flags, struct ab_error *err);
/* bias (N) in ops_cuda_bias_dtype(dt); res (M,N) in dt. */
ab_status ops_cuda_matmul_run(struct ops_cuda_matmul *mm, void *out, const void *inp, const void *weight,
                              const void *bias, const void *res, void *stream, struct ab_error *err);
/* cuBLASLt's algorithm as text, for the record. */
const char *ops_cuda_matmul_algo(const struct ops_cuda_matmul *mm);
void ops_cuda_matmul_destroy(struct ops_cuda_matmul *mm);

ab_status ops_cuda_layernorm(void *out, const void *inp, const float *gamma, const float *beta, int N, int C,
                             enum ab_dtype dt, void *stream, struct ab_error *err);
/* Causal self-attention over a fused QKV buffer: qkv (B,T,3C) (q, k, v at columns 0, C, 2C;
 * head h at h*HS within each), out (B,T,C), all in dt. */
ab_status ops_cuda_attention(void *out, const void *qkv, int B, int NH, int T, int HS, enum ab_dtype dt,
                             void *stream, struct ab_error *err);
/* fp32 <-> dt conversion on the device (n elements). */
ab_status ops_cuda_convert(void *dst, enum ab_dtype dst_dt, const void *src, enum ab_dtype src_dt, size_t n,
                           void *stream, struct ab_error *err);

#ifdef __cplusplus
}
#endif
#endif /* AB_OPS_CUDA_H */
