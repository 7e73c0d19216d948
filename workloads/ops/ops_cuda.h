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

/* Where an attention's queries sit among its keys: nq queries, query i at position q_pos0 + i,
 * keys 0 .. nk-1; causal masks key j > q_pos0 + i. Self-attention: q_pos0 = 0, nk = nq; a KV
 * cache: q_pos0 the first new token's position, nk = q_pos0 + nq. With d_pos (device memory)
 * the kernel reads q_pos0 = *d_pos when it runs and takes the keys 0 .. *d_pos + nq - 1, at
 * most nk (the cache's positions, which size the decode kernel's grid): a captured decode
 * step replays at any position. */
struct ops_cuda_attn_span {
    int nq, nk, q_pos0;
    const int *d_pos;
};
/* Self-attention over T positions: nq = nk = T, q_pos0 = 0. */
struct ops_cuda_attn_span ops_cuda_attn_self(int T);
/* AB_EINVAL unless nq >= 1, nk >= 1 and q_pos0 >= 0 (q_pos0 is not read with d_pos). */
ab_status ops_cuda_attn_span_check(struct ops_cuda_attn_span sp, struct ab_error *err);

/* The kernels' index arithmetic, one copy for the device and the host tests. */
#ifdef __CUDACC__
#define OPS_CUDA_HD __host__ __device__
#else
#define OPS_CUDA_HD
#endif
/* The offset of element (b, h, i, 0) of a strided attention tensor. */
static inline OPS_CUDA_HD size_t ops_cuda_attn_at(struct ops_cuda_attn_strides s, int b, int h, int i)
{
    return (size_t)b * (size_t)s.batch + (size_t)h * (size_t)s.head + (size_t)i * (size_t)s.row;
}
/* The keys of a span whose first query sits at pos: pos + nq, at most cap. */
static inline OPS_CUDA_HD int ops_cuda_span_keys(int cap, int nq, int pos)
{
    return pos + nq < cap ? pos + nq : cap;
}
/* One past the last key query i attends to: through its position q_pos0 + i when causal (at
 * most nk), else all nk. */
static inline OPS_CUDA_HD int ops_cuda_key_end(int causal, int nk, int q_pos0, int i)
{
    return causal && q_pos0 + i + 1 < nk ? q_pos0 + i + 1 : nk;
}
/* Split `split`'s keys [*j0, *j1) of n, spans of `span`: empty (*j0 >= *j1) past n. */
static inline OPS_CUDA_HD void ops_cuda_split_keys(int split, int span, int n, int *j0, int *j1)
{
    *j0 = split * span;
    *j1 = *j0 + span < n ? *j0 + span : n;
}

/* Decode attention: one query per head over a KV cache (ops_cuda_decode_attention). Block =
 * (split, batch b * KV heads + KV head); its 4 warps take every 4th key of the split's span, a
 * lane holds HS / 32 adjacent elements of a row (one vector load per row of K and of V), the G
 * query heads of the KV head share the loads; partial (max, sum, acc) per split, then a merge
 * kernel. */
enum { OPS_CUDA_DECODE_WARPS = 4, OPS_CUDA_DECODE_MIN_SPAN = 32 };
struct ops_cuda_decode_plan {
    int B, NH, HS, group, nk;  /* nk: the keys (with d_pos: at most) */
    enum ab_dtype dt, out_dt;  /* q, k, v in dt; out in out_dt (dt or fp32) */
    int per_lane;              /* HS / 32 */
    int splits, span;          /* ops_cuda_decode_split over nk */
    int grid_x, grid_y, block; /* splits, B * NH / group, 32 * OPS_CUDA_DECODE_WARPS */
    int merge_x, merge_y;      /* the merge's grid: B * NH / group, group; HS threads */
    size_t smem_bytes;         /* static shared memory of the split kernel */
    size_t parts_bytes;        /* the caller's fp32 buffer of partial results */
};
/* The keys of each of `seqs` (sequence, KV head) pairs in *splits spans of *span (the last may
 * be shorter, none is empty) so that the grid holds about 4 blocks per SM of a device with `sms`
 * SMs, and a span has at least OPS_CUDA_DECODE_MIN_SPAN keys unless there is one. */
void ops_cuda_decode_split(int64_t seqs, int64_t n, int sms, int *splits, int *span);
/* The decode kernel's plan for B sequences of NH query heads in groups of `group` over nk keys
 * on a device of `sms` SMs, q (B, NH, HS) and k, v (B, NH / group, nk, HS) seen through qs
 * and kvs (row unused in qs). AB_EUNSUPPORTED with the reason where the kernel has no
 * instance: HS other than 32, 64 or 128, group other than 1, 2, 4 or 8, more than 65535
 * (sequence, KV head) pairs, a stride not a multiple of HS / 32 (a lane's vector load);
 * AB_EINVAL for a bad shape, NH not in groups of `group`, an unknown dtype or out_dt. */
ab_status ops_cuda_decode_plan(int B, int NH, int nk, int HS, int group, enum ab_dtype dt,
                               enum ab_dtype out_dt, struct ops_cuda_attn_strides qs,
                               struct ops_cuda_attn_strides kvs, int sms, struct ops_cuda_decode_plan *out,
                               struct ab_error *err);
/* AB_EINVAL unless the span is one query (nq = 1) over 1 .. p->nk keys. */
ab_status ops_cuda_decode_check(const struct ops_cuda_decode_plan *p, struct ops_cuda_attn_span sp,
                                struct ab_error *err);
/* Bytes of parts that any decode plan of B x NH query heads over at most nk keys needs, on
 * any device (splits <= nk / 32, or 1): B * NH * splits * (HS + 2) floats. */
size_t ops_cuda_decode_parts_bound(int B, int NH, int nk, int HS);

/* Attention over a KV cache in GPT-2's layout: q in a fused QKV buffer (B,Tq,3C) (column 0,
 * head h at h*HS), the cache k, v (B,max_T,C), out (B,Tq,C), all in dt; query i at position
 * pos0 + i, causal over the cache's positions 0 .. pos0+Tq-1. One query takes the decode
 * kernel where it has the head size (decode, planned over max_T keys so that a captured step
 * runs at any position), else the fused kernels with the span's q_pos0. */
struct ops_cuda_cache_plan {
    int B, NH, HS, max_Tq, max_T;
    enum ab_dtype dt;
    bool decode;                     /* one query: the decode kernel (dec); else the fused */
    struct ops_cuda_decode_plan dec; /* with decode */
    struct ops_cuda_attn_strides kv; /* (B,max_T,C): batch max_T*C, head HS, row C */
};
/* AB_EUNSUPPORTED where no kernel takes the shape (the fused kernels' head sizes). */
ab_status ops_cuda_cache_attn_plan(int B, int NH, int HS, int max_Tq, int max_T, enum ab_dtype dt, int sms,
                                   struct ops_cuda_cache_plan *out, struct ab_error *err);
/* The strides of q (in the (B,Tq,3C) buffer) and out (B,Tq,C) for Tq queries. */
void ops_cuda_cache_attn_strides(const struct ops_cuda_cache_plan *p, int Tq, struct ops_cuda_attn_strides *q,
                                 struct ops_cuda_attn_strides *out);
/* The span of Tq queries at pos0 (or *d_pos): keys through the last query, at most max_T.
 * AB_EINVAL when Tq is not 1 .. max_Tq or, without d_pos, the positions leave the cache. */
ab_status ops_cuda_cache_attn_span(const struct ops_cuda_cache_plan *p, int Tq, int pos0, const int *d_pos,
                                   struct ops_cuda_attn_span *out, struct ab_error *err);

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
/* ops_cuda_attention_strided with queries and keys apart (ops_cuda_attn_span): nq queries
 * per (b, h), the grid's; keys 0 .. nk-1 (or through *d_pos + nq - 1), causal masking key j >
 * q_pos0 + i. */
ab_status ops_cuda_attention_span(void *out, enum ab_dtype out_dt, struct ops_cuda_attn_strides os,
                                  const void *q, struct ops_cuda_attn_strides qs, const void *k,
                                  const void *v, struct ops_cuda_attn_strides kvs, int B, int NH,
                                  struct ops_cuda_attn_span sp, int HS, int group, bool causal,
                                  enum ab_dtype dt, void *stream, struct ab_error *err);
/* One query per head over a cache, the plan's shape: out (b, h) = softmax(q (b, h) . k (b,
 * h / group, j) / sqrt(HS)) v (b, h / group, j) over every key of the span (nq = 1): j < sp.nk
 * (at most p->nk), or with sp.d_pos j <= *d_pos (at most sp.nk - 1); q_pos0 is not read. q,
 * out element (b, h, c) at b*batch + h*head + c of qs, os. parts: p->parts_bytes of device
 * memory; q, k, v aligned to a lane's HS / 32 elements. */
ab_status ops_cuda_decode_attention(const struct ops_cuda_decode_plan *p, void *out,
                                    struct ops_cuda_attn_strides os, const void *q,
                                    struct ops_cuda_attn_strides qs, const void *k, const void *v,
                                    struct ops_cuda_attn_strides kvs, struct ops_cuda_attn_span sp,
                                    float *parts, void *stream, struct ab_error *err);
/* The plan's attention of Tq queries at pos0 (or *d_pos) over the cache kc, vc (see
 * ops_cuda_cache_plan); parts: p->dec.parts_bytes when p->decode. */
ab_status ops_cuda_cache_attention(const struct ops_cuda_cache_plan *p, void *out, const void *qkv,
                                   const void *kc, const void *vc, int Tq, int pos0, const int *d_pos,
                                   float *parts, void *stream, struct ab_error *err);
/* fp32 <-> dt conversion on the device (n elements). */
ab_status ops_cuda_convert(void *dst, enum ab_dtype dst_dt, const void *src, enum ab_dtype src_dt, size_t n,
                           void *stream, struct ab_error *err);

#ifdef __cplusplus
}
#endif
#endif /* AB_OPS_CUDA_H */
