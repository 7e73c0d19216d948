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

/* A row-major ops_mm_desc D (m,n) = A (m,k) . B (k,n) seen by column-major cuBLASLt:
 * D^T (n,m) = op(B^T) . op(A^T), so cuBLASLt's A is our B and its B our A. A row-major (r,c)
 * matrix is a column-major (c,r) one with the same leading dimension; a weight B stored (n,k)
 * (trans_b) is cuBLASLt's A stored (k,n) and used transposed: the TN layout FP8 requires.
 * For ops_cuda_mm_plan's out (M,N) = inp (M,K) . weight (N,K)^T: A = the weight, column-major
 * (K,N), transposed; B = inp^T, column-major (K,M); m, n, k = N, M, K; lda, ldb, ldc = K, K, N. */
struct ops_cuda_mm_layout {
    int m, n, k;                           /* cuBLASLt's dimensions: our n, m, k */
    bool trans_a, trans_b;                 /* cuBLASLt's ops on its A (our B) and B (our A) */
    int64_t lda, ldb, ldc;                 /* our ldb, lda, ldd */
    int a_rows, a_cols;                    /* the stored A (column-major) */
    int b_rows, b_cols;                    /* the stored B (column-major) */
    enum ab_dtype a_dt, b_dt, d_dt;        /* cuBLASLt's A (our B), B (our A), D */
    enum ops_mm_scale_method scale_method; /* resolved: LIBRARY or KERNEL; AUTO without scales */
    bool d_fp32_then_scale;                /* KERNEL: an fp32 product, our kernel scales into D */
    bool tf32, fast_accum;
    size_t workspace_bytes;
};
/* The layout of inp (M,N) . weight (N,K)^T in fp32 (the plain plan of ops_cuda_matmul_create). */
void ops_cuda_mm_plan(int M, int N, int K, struct ops_cuda_mm_layout *out);
/* cuBLASLt's plan of d on a device of compute capability cc_major.cc_minor with cuBLASLt
 * version cublas_version (CUBLAS_VERSION: major*10000 + minor*100 + patch): ops_mm_desc_check,
 * then AB_EUNSUPPORTED with the reason where FP8 needs sm_89+, BF16 and TF32 sm_80+, FP8 is
 * not TN, k or n (16-byte rows of FP8) is not a multiple of 16, or the scale method cannot be
 * had (ops_cuda_mm_scale_choose); AB_EINVAL for packed_b, which is the CPU's. */
ab_status ops_cuda_mm_layout_make(const struct ops_mm_desc *d, int cc_major, int cc_minor, int cublas_version,
                                  struct ops_cuda_mm_layout *out, struct ab_error *err);
/* How outer-vector scales are applied for a request: cuBLASLt's outer vectors
 * (CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F, cuBLASLt 12.9+) are an SM90 feature: only cc
 * 9.x has them, not Ada (8.9) nor Blackwell (10.x, 12.x). AUTO takes them where they exist,
 * else the KERNEL; KERNEL is always ours; LIBRARY where they do not exist is AB_EUNSUPPORTED
 * with the reason. */
ab_status ops_cuda_mm_scale_choose(enum ops_mm_scale_method req, int cc_major, int cc_minor,
                                   int cublas_version, enum ops_mm_scale_method *out, struct ab_error *err);
/* After cuBLASLt answered st for the planned method (its heuristic, or a first
 * cublasLtMatmul): fall back to our kernel? Only where outer vectors were planned, refused
 * (AB_EUNSUPPORTED), and the request left the choice to us (AUTO). */
bool ops_cuda_mm_scale_falls_back(enum ops_mm_scale_method req, enum ops_mm_scale_method planned,
                                  ab_status st);

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
/* Element strides of an attention tensor (B, heads, T, HS): element (b, h, i, c) sits at
 * b*batch + h*head + i*row + c. A fused QKV buffer (B,T,3C) has batch 3TC, head HS, row 3C;
 * attention_memory's (H,n,d) has head n*d, row d. */
struct ops_cuda_attn_strides {
    int64_t batch, head, row;
};
/* AB_EINVAL when HS is not a multiple of 16 or HS > 256, or the dtype is unknown. */
ab_status ops_cuda_attn_plan(int B, int NH, int T, int HS, enum ab_dtype dt, struct ops_cuda_attn_plan *out,
                             struct ab_error *err);

/* ops_cuda_attn_plan, and AB_EINVAL too when the NH query heads are not groups of `group`
 * (each group shares one KV head) or out_dt is neither dt nor fp32. */
ab_status ops_cuda_attn_plan_grouped(int B, int NH, int T, int HS, int group, enum ab_dtype dt,
                                     enum ab_dtype out_dt, struct ops_cuda_attn_plan *out,
                                     struct ab_error *err);
/* The strides of a fused QKV buffer (B,T,3C) (q at column 0; k and v at C and 2C, the caller
 * offsets those pointers) and of the (B,T,C) output, for T positions and head size HS. */
void ops_cuda_attn_qkv_strides(int T, int C, int HS, struct ops_cuda_attn_strides *in,
                               struct ops_cuda_attn_strides *out);

/* The dtype of a matmul's bias for cuBLASLt's BIAS and GELU_BIAS epilogues: D's own type.
 * cuBLASLt takes an fp32 bias with a 16-bit D only for IMMA and FP8-output kernels, not for
 * these bf16/fp16 GEMMs, so the bias of a bf16 (fp16) matmul is stored in bf16 (fp16). */
enum ab_dtype ops_cuda_bias_dtype(enum ab_dtype out_dt);

/* Capture a forward in a CUDA graph when launch overhead matters: below this many FLOPs per
 * forward (a layer's ~20 launches cost tens of microseconds, comparable to small cases). */
#define OPS_CUDA_GRAPH_MAX_FLOPS 2e11
bool ops_cuda_use_graph(double flops_per_forward);

/* ---------------------------------------------------------------- device ops (ops_cuda.cu) */

/* The cuBLASLt builder: every CUDA matmul of the suite is an ops_mm_desc planned here, on the
 * calling thread's device, with the heuristic's first algorithm under the workspace
 * (d->workspace_bytes, 0: 32 MiB; allocated by the plan). Epilogue flags as OPS_MM_*: bias,
 * GELU after bias, residual (D = ... + res, via C, beta 1; not with GELU, which cuBLASLt would
 * apply after the add). Scales: per tensor by cuBLASLt's scale pointers; outer vectors by its
 * outer-vector mode or by our kernel over an fp32 product (the plan owns that buffer), as
 * ops_cuda_mm_scale_choose says; under AUTO a refusal by the heuristic falls back to the
 * kernel (ops_cuda_matmul_fallback says so). */
struct ops_cuda_matmul;
ab_status ops_cuda_matmul_plan(struct ops_cuda_matmul **out, const struct ops_mm_desc *d,
                               struct ab_error *err);
/* out (M,N) = inp (M,K) . weight (N,K)^T [epilogue] in dt: fp32 computes in fp32 (no TF32),
 * bf16/fp16 accumulate in fp32. */
ab_status ops_cuda_matmul_create(struct ops_cuda_matmul **out, int M, int N, int K, enum ab_dtype dt,
                                 unsigned flags, struct ab_error *err);
/* bias (N) in ops_cuda_bias_dtype(dt); res (M,N) in dt. */
ab_status ops_cuda_matmul_run(struct ops_cuda_matmul *mm, void *out, const void *inp, const void *weight,
                              const void *bias, const void *res, void *stream, struct ab_error *err);
/* One GEMM of any plan, enqueued: D = sA sB A . B [epilogue], device pointers; a_scales m (or
 * one) fp32 values, b_scales n (or one), NULL without scales. */
ab_status ops_cuda_matmul_exec(struct ops_cuda_matmul *mm, void *D, const void *A, const void *B,
                               const float *a_scales, const float *b_scales, const void *bias,
                               const void *res, void *stream, struct ab_error *err);
/* After cublasLtMatmul itself refused outer-vector scales (AB_EUNSUPPORTED from a first exec
 * under AUTO): replan with our kernel. `who` names the refuser for ops_cuda_matmul_fallback. */
ab_status ops_cuda_matmul_fall_back(struct ops_cuda_matmul *mm, const char *who, struct ab_error *err);
/* Who refused outer vectors ("the heuristic", "cublasLtMatmul"), or NULL when none did. */
const char *ops_cuda_matmul_fallback(const struct ops_cuda_matmul *mm);
/* The plan's layout (its scale method after any fall-back). */
const struct ops_cuda_mm_layout *ops_cuda_matmul_layout(const struct ops_cuda_matmul *mm);
/* cuBLASLt's algorithm: its id, tile and stages ids, the workspace it asked for. */
struct ops_cuda_algo {
    int id;
    uint32_t tile, stages;
    size_t workspace_bytes;
};
void ops_cuda_matmul_algo_info(const struct ops_cuda_matmul *mm, struct ops_cuda_algo *out);
/* cuBLASLt's algorithm as text ("algo=ID tile=TILE"), for the record. */
const char *ops_cuda_matmul_algo(const struct ops_cuda_matmul *mm);
void ops_cuda_matmul_destroy(struct ops_cuda_matmul *mm);

ab_status ops_cuda_layernorm(void *out, const void *inp, const float *gamma, const float *beta, int N, int C,
                             enum ab_dtype dt, void *stream, struct ab_error *err);
/* Causal self-attention over a fused QKV buffer: qkv (B,T,3C) (q, k, v at columns 0, C, 2C;
 * head h at h*HS within each), out (B,T,C), all in dt. ops_cuda_attention_strided's layout. */
ab_status ops_cuda_attention(void *out, const void *qkv, int B, int NH, int T, int HS, enum ab_dtype dt,
                             void *stream, struct ab_error *err);
/* Fused attention over strided tensors, the one attention of the CUDA ops: per batch b and
 * query head h (KV head h / group), query i and key j both at position i, j of 0..T-1:
 *   out[b,h,i,:] = softmax_j( q[b,h,i,:] . k[b,h/group,j,:] / sqrt(HS) ) v[b,h/group,j,:]
 * with causal, keys j > i masked. q, k, v are (B, heads, T, HS) seen through their strides,
 * in dt; out likewise in out_dt (dt, or fp32). The kernel is ops_cuda_attn_plan's: tensor
 * cores for bf16/fp16 with HS 64 or 128, else the warp kernel. Strides are multiples of 16
 * elements and pointers 4-byte aligned (the tensor-core kernel loads pairs). */
ab_status ops_cuda_attention_strided(void *out, enum ab_dtype out_dt, struct ops_cuda_attn_strides os,
                                     const void *q, struct ops_cuda_attn_strides qs, const void *k,
                                     const void *v, struct ops_cuda_attn_strides kvs, int B, int NH, int T,
                                     int HS, int group, bool causal, enum ab_dtype dt, void *stream,
                                     struct ab_error *err);
/* fp32 <-> dt conversion on the device (n elements). */
ab_status ops_cuda_convert(void *dst, enum ab_dtype dst_dt, const void *src, enum ab_dtype src_dt, size_t n,
                           void *stream, struct ab_error *err);

#ifdef __cplusplus
}
#endif
#endif /* AB_OPS_CUDA_H */
