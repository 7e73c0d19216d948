/* ops.h — shared tensor operations on the CPU (oneDNN for matmul, AVX-512 or portable loops for
 * the rest) used by transformer_block, gpt2 and attention_memory. CUDA launchers live in
 * ops_cuda.h. Layouts are row-major; each function names its shapes in its comment, llm.c
 * style: `inp is (B,T,C)`. Activations are fp32 or bf16 (uint16_t bit patterns) on the CPU;
 * norms' parameters and biases are always fp32; accumulation is always fp32 or wider.
 * Work that is repeated (matmul, attention) is planned once (`*_create`, which owns weights'
 * packed copies and scratch) and run many times without allocating. Parallel over the OpenMP
 * threads of the caller. Every op has an FP64 reference in ops_ref.h for tests and verify. */
#ifndef AB_OPS_H
#define AB_OPS_H

#include "accelbench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types are the harness's enum ab_dtype: AB_DTYPE_FP32 and AB_DTYPE_BF16 on the CPU,
 * AB_DTYPE_FP16 too on CUDA. FP8 (AB_DTYPE_FP8_E4M3, AB_DTYPE_FP8_E5M2) is a matmul operand
 * type only: no op but matmul takes it. */
/* Convert n elements between fp32 and bf16 (either direction, or a copy when equal). */
void ops_convert(void *dst, enum ab_dtype dst_dt, const void *src, enum ab_dtype src_dt, size_t n);

/* matmul: out (M,N) = inp (M,K) . weight (N,K)^T [+ bias (N)] [then GELU] [+ res (M,N)].
 * weight is (N,K) row-major (output-major, as llm.c's (OC,C)); out, inp, res and weight
 * share the dtype (unless OPS_MM_OUT_F32: out and res fp32); bias is fp32; accumulation fp32.
 * OPS_MM_ACCUM adds the product to what out holds (out += inp . weight^T + bias), the in-place
 * residual add; it takes neither GELU nor res. A plan is made once per shape (a oneDNN
 * primitive); ops_matmul_set_weight reorders the weight into the plan's own (blocked) layout,
 * once, so that runs neither allocate nor repack. res may alias nothing else.
 * With M <= OPS_GEMV_MAX_M on an AVX-512 CPU (BF16 for bf16) a run is a matrix-vector kernel
 * of ours over the same packed weight (oneDNN's small-M matmul is far from the memory bound):
 * each thread streams its own contiguous blocks of 64 output columns; fp32 on an AVX2 + FMA
 * CPU likewise (gemv:avx2), over blocks of columns taken dynamically by the threads, its weight
 * kept (N,K) as given so that a block is one contiguous run. More rows of fp32 on such a CPU
 * (no AVX-512: oneDNN 2.6 has only gemm:jit there) run our GEMM over that same (N,K) weight
 * (gemm:avx2: tiles taken dynamically, the epilogue in registers). */
enum { OPS_MM_BIAS = 1u, OPS_MM_GELU = 2u, OPS_MM_RESIDUAL = 4u, OPS_MM_ACCUM = 8u, OPS_MM_OUT_F32 = 16u };
#define OPS_GEMV_MAX_M 8
struct ops_matmul;
/* bf16 plans fail with AB_EUNSUPPORTED and this reason where oneDNN has no bf16 matmul. */
ab_status ops_matmul_create(struct ops_matmul **out, int M, int N, int K, enum ab_dtype dt, unsigned flags,
                            struct ab_error *err);
/* Copy (reorder) weight (N,K) into the plan; the caller's buffer may be freed afterwards. */
ab_status ops_matmul_set_weight(struct ops_matmul *mm, const void *weight, struct ab_error *err);
/* Take the weight of another plan of the same N, K and dtype (any M, any flags): the packed
 * buffer itself when the layouts agree (then from must outlive mm), else a reordered copy. */
ab_status ops_matmul_share_weight(struct ops_matmul *mm, const struct ops_matmul *from, struct ab_error *err);
/* bias: NULL unless OPS_MM_BIAS; res: NULL unless OPS_MM_RESIDUAL. */
ab_status ops_matmul_run(struct ops_matmul *mm, void *out, const void *inp, const float *bias,
                         const void *res, struct ab_error *err);
/* The GEMV of an fp32 plan without AVX-512 (its weight (N,K) row-major) split in
 * column blocks, for a caller's own parallel region: ops_matmul_blocks says how many (0: the
 * plan has no such path, or has OPS_MM_RESIDUAL: run it with ops_matmul_run). A block runs on
 * the calling thread: out (rows,N) fp32 [+]= inp (rows,K) fp32 . weight^T with the plan's
 * epilogue, its columns only, for any rows <= OPS_GEMV_MAX_M (not only the plan's M). */
int ops_matmul_blocks(const struct ops_matmul *mm);
void ops_matmul_run_block(const struct ops_matmul *mm, int blk, float *out, const float *inp, int rows,
                          const float *bias);
/* The implementation that runs: oneDNN's choice ("brg:avx512_core_bf16" ...) or
 * "gemv:avx512_bf16" / "gemv:avx512f" / "gemv:avx2" / "gemm:avx2", for the record. */
const char *ops_matmul_impl(const struct ops_matmul *mm);
void ops_matmul_destroy(struct ops_matmul *mm);
/* Can oneDNN make a bf16 matmul on this CPU? (Debian 12's oneDNN cannot without AVX-512.)
 * Probed once, by creating a tiny bf16 matmul primitive descriptor; thread-safe. */
bool ops_matmul_bf16_supported(void);
#define OPS_NO_BF16_MATMUL "oneDNN has no bf16 matmul on this CPU (needs AVX-512)"

/* The one matmul plan of every backend: a descriptor says the whole GEMM, and each library's
 * builder (oneDNN here, cuBLASLt in ops_cuda.h) makes its plan from it. Row-major:
 *   D (m,n) = sA . sB . A (m,k) . B (k,n) [epilogue]
 * A is (m,k) with row stride lda (trans_a: stored (k,m), stride lda); B is (k,n) with row
 * stride ldb (trans_b: stored (n,k), a weight as llm.c's (OC,C)); D (m,n) with row stride ldd;
 * a leading dimension of 0 means packed. Scales (FP8): none; per tensor (sA, sB one value
 * each); outer vectors (sA[i] per row of A and D, sB[j] per column of B and D). Accumulation
 * is fp32; tf32 lets fp32 operands compute in TF32 (CUDA); fast_accum is FP8's fast
 * accumulation (CUDA). The epilogue is the OPS_MM_* flags (bias fp32 on the CPU, in D's type
 * on CUDA; OPS_MM_OUT_F32 is a d_dt of fp32 and is not taken here). packed_b (CPU): B is a
 * weight reordered once into the primitive's layout (ops_matmul_set_weight) rather than read
 * in place each run. workspace_bytes (CUDA): 0 means 32 MiB; workspace (CUDA): a device buffer
 * of that size the caller owns and may share between plans on one stream, NULL: the plan's own;
 * handle (CUDA): a cublasLtHandle_t the caller owns and shares, NULL: the plan's own (a plan
 * made during stream capture should share both: it then allocates nothing). */
enum ops_mm_scale { OPS_MM_SCALE_NONE = 0, OPS_MM_SCALE_TENSOR, OPS_MM_SCALE_OUTER };
/* How outer-vector scales are applied: AUTO (the library's where it has them, else ours),
 * LIBRARY (cuBLASLt's outer-vector mode, refused where absent), KERNEL (an fp32 product, then
 * our pass applies both vectors into D). The CPU always applies scales in its own pass. */
enum ops_mm_scale_method { OPS_MM_SCALE_AUTO = 0, OPS_MM_SCALE_LIBRARY, OPS_MM_SCALE_KERNEL };
struct ops_mm_desc {
    int m, n, k;
    enum ab_dtype a_dt, b_dt, d_dt;
    bool trans_a, trans_b;
    int64_t lda, ldb, ldd;
    unsigned epilogue;
    enum ops_mm_scale scale;
    enum ops_mm_scale_method scale_method;
    bool tf32, fast_accum, packed_b;
    size_t workspace_bytes;
    void *workspace, *handle;
};
/* Checks every backend shares: shape, leading dimensions at least the packed ones, epilogue
 * combinations, FP8 only with both operands FP8 (scales go with any operands: the CPU
 * emulates FP8 with their values in bf16 or fp32), fast_accum only with FP8, tf32 only with
 * fp32 operands, no epilogue with scales. AB_EINVAL with the reason. */
ab_status ops_mm_desc_check(const struct ops_mm_desc *d, struct ab_error *err);
/* The leading dimensions a descriptor's 0s stand for: A's, B's and D's row strides. */
int64_t ops_mm_lda(const struct ops_mm_desc *d);
int64_t ops_mm_ldb(const struct ops_mm_desc *d);
int64_t ops_mm_ldd(const struct ops_mm_desc *d);

/* Plan d on the CPU (oneDNN matmul primitive; FP8 operands are not taken: emulate them with
 * their bf16 or fp32 values). AB_EUNSUPPORTED with OPS_NO_BF16_MATMUL where oneDNN has no
 * kernel for bf16 operands here. With packed_b the plan runs by ops_matmul_run after
 * ops_matmul_set_weight, else by ops_matmul_exec. */
ab_status ops_matmul_plan(struct ops_matmul **out, const struct ops_mm_desc *d, struct ab_error *err);
/* Would ops_matmul_plan make d here? Plans a primitive descriptor and drops it. */
bool ops_matmul_supported(const struct ops_mm_desc *d);
/* One GEMM of a plan without packed_b: D = sA sB A . B [epilogue]. a_scales, b_scales: one
 * value each (tensor), m and n values (outer), NULL without scales; applied in fp32 after the
 * product (D fp32). bias, res as for ops_matmul_run. */
ab_status ops_matmul_exec(struct ops_matmul *mm, void *D, const void *A, const void *B, const float *a_scales,
                          const float *b_scales, const float *bias, const void *res, struct ab_error *err);

/* layernorm: out (N,C) = (inp - mean) / sqrt(var + 1e-5) * gamma + beta, per row;
 * inp, out (N,C) in dt; gamma, beta (C) fp32; statistics in fp32 over fp32 values. */
#define OPS_LN_EPS 1e-5f
void ops_layernorm(void *out, const void *inp, const float *gamma, const float *beta, int N, int C,
                   enum ab_dtype dt);

/* gelu (tanh form, as GPT-2): out (n) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 * In place allowed. */
void ops_gelu(void *out, const void *inp, size_t n, enum ab_dtype dt);

/* softmax over the last axis: out, inp (rows, cols) fp32; in place allowed. */
void ops_softmax(float *out, const float *inp, int rows, int cols);

/* residual: out (n) = a + b; in place allowed. */
void ops_residual(void *out, const void *a, const void *b, size_t n, enum ab_dtype dt);

/* attention, multi-head, per batch b and query head h (KV head h / group):
 *   out[b, h, i] = softmax_j( q[b, h, i] . k[b, h/group, j] / sqrt(HS) ) v[b, h/group, j]
 * Query i sits at absolute position q_pos0 + i (q_pos0 = Tk - Tq for a continuation), key j
 * at position j; with causal, keys j > q_pos0 + i are masked (a query with no key gets 0).
 * One flash kernel (flash_cpu.c): per (batch x head, block of BQ queries) an online softmax
 * over blocks of BK keys, so nothing Tk-sized is stored; causal blocks past the diagonal are
 * skipped. Any HS (multiples of 16 run the vector tiles whole); inputs fp32 or bf16 (widened
 * exactly: the arithmetic is fp32), output fp32 or bf16. Tiles are sized from the L2 cache. */
struct ops_attn_desc {
    int B, NH, group; /* batches, query heads, query heads per KV head (NH % group == 0) */
    int Tq, Tk, HS;   /* queries, keys, head size */
    bool causal;
    enum ab_dtype in_dt, out_dt;
    bool external_scratch; /* the caller passes ops_attn_scratch_bytes to each ops_attn_exec */
    bool q_fp32;           /* q is fp32 whatever in_dt (k and v in in_dt): fp32 queries over a
                              bf16 KV cache, read as they lie (no VDPBF16PS Q.K^T then) */
};
/* Where the tensors lie: element strides of batch, head and token (row) for q (B,NH,Tq,HS),
 * k and v (B,NH/group,Tk,HS) and out (B,NH,Tq,HS); the HS elements of a row are contiguous. */
struct ops_attn_io {
    const void *q, *k, *v;
    void *out;
    int64_t q_b, q_h, q_t, kv_b, kv_h, kv_t, o_b, o_h, o_t;
    int q_pos0;
};
struct ops_attn;
ab_status ops_attn_plan(struct ops_attn **out, const struct ops_attn_desc *d, struct ab_error *err);
/* Scratch the plan's runs use, all threads together (the plan's own unless external_scratch). */
size_t ops_attn_scratch_bytes(const struct ops_attn *a);
/* Run the plan; scratch: ops_attn_scratch_bytes of 64-byte aligned memory (required with
 * external_scratch), or NULL for the plan's own. */
void ops_attn_exec(struct ops_attn *a, const struct ops_attn_io *io, void *scratch);
/* The plan's query and key block sizes. */
void ops_attn_tiles(const struct ops_attn *a, int *BQ, int *BK);
/* Which micro-kernels run: "avx512_bf16", "avx512f", "avx2_fma", "generic" (chosen at plan
 * time by cpuid). */
const char *ops_attn_impl(const struct ops_attn *a);
void ops_attn_destroy(struct ops_attn *a);

/* The layout of transformer_block and gpt2, in_dt = out_dt = dt, group 1, the plan's own
 * scratch: q is (B,Tq,*) with row stride ldq elements (head h at column h*HS); k and v are
 * (B,Tk,*) with row stride ldkv; out is (B,Tq,NH*HS). */
ab_status ops_attn_create(struct ops_attn **out, int B, int NH, int Tq, int Tk, int HS, bool causal,
                          enum ab_dtype dt, struct ab_error *err);
void ops_attn_run(struct ops_attn *a, void *out, const void *q, int ldq, const void *k, const void *v,
                  int ldkv, int q_pos0);

/* Tiles: BQ (<= 256, halved while B*NH*ceil(Tq/BQ) < 2 threads) and BK (a multiple of 16 in
 * [16, 512]) such that a thread's S (BQ x BK) and packed K and V (BK x HS each) fit half of L2. */
void ops_attn_tile_sizes(size_t l2_bytes, int HS, int64_t BH, int Tq, int Tk, int threads, int *BQ, int *BK);
/* The micro-kernel set the cpuid answers choose ("avx512f", "avx2_fma", "generic"), and
 * whether a plan's Q.K^T runs on VDPBF16PS (bf16 inputs, HS a multiple of 16, AVX-512 BF16):
 * its ops_attn_impl is then "avx512_bf16". generic: ops_set_generic's state. */
const char *ops_attn_isa_for(bool avx512f, bool avx2_fma, bool generic);
bool ops_attn_bf16_qk_for(bool avx512_bf16, enum ab_dtype in_dt, int HS, bool generic);

/* The flash kernel's tile kernels, for algorithms that arrange tiles themselves (attention_memory's
 * naive and chunked), so that their time ratios to the flash kernel compare algorithms. Each
 * dispatches by cpuid (and ops_set_generic) per call; single-threaded.
 * pack_k: kp (ceil(nk/16), HS, 16) fp32 = k (nk, HS) rows of stride ldk, in dt; ops_attn_packed_k_floats
 * floats. qk: S (nq, nk) stride ldS = q (nq, HS) stride ldq . k^T. pv: O (nq, HS) stride ldo =
 * diag(corr) O + P (nq, nk) stride ldp . v (nk, HS) stride ldv; corr NULL: O = P . v.
 * row_max: the largest of s[0..n). exp_sum: s[j] = e^(s[j] - m) in place, returns their sum.
 * exp2: out = 2^x by the kernels' polynomial (max relative error 3e-7 on [-126, 127], 0 below). */
size_t ops_attn_packed_k_floats(int nk, int HS);
void ops_attn_pack_k(float *kp, const void *k, int64_t ldk, int nk, int HS, enum ab_dtype dt);
void ops_attn_qk(float *S, int ldS, const float *q, int ldq, const float *kp, int nq, int nk, int HS);
void ops_attn_pv(float *O, int ldo, const float *corr, const float *P, int ldp, const float *v, int64_t ldv,
                 int nq, int nk, int HS);
float ops_attn_row_max(const float *s, int n);
float ops_attn_exp_sum(float *s, int n, float m);
void ops_attn_exp2(float *out, const float *x, size_t n);
/* The tile kernels' set now. */
const char *ops_attn_tile_impl(void);

/* Decode attention (attn_decode_cpu.c): one new query per query head over a KV cache, query
 * head h = hk*G + g reading KV head hk (grouped-query attention, G = 1..OPS_ATTN_DECODE_MAX_G):
 *   out[b, h] (HS) = softmax_j(q[b, h] . K[b, hk, j] scale) V[b, hk, j] over the n cached keys;
 *   q (B, Hkv*G, HS) in q_dt, K and V (B, Hkv, n, HS) in kv_dt (fp32 or bf16 each, bf16 widened
 *   exactly: the arithmetic is fp32), out fp32. scale 0: 1/sqrt(HS).
 * Each K and V row is read once for all G heads of its group. Keys in tiles with an online
 * softmax; when B*Hkv cannot keep `threads` threads busy, each pair's keys are split
 * (ops_attn_decode_split) and merged. */
#define OPS_ATTN_DECODE_MAX_G 64
struct ops_attn_decode_desc {
    int B, Hkv, G; /* sequences, KV heads, query heads per KV head */
    int n, HS;     /* cached keys (>= 1), head size */
    enum ab_dtype q_dt, kv_dt;
    float scale;
    int threads; /* OpenMP threads of one call (1: none started) */
};
/* Element strides: q and out of batch (q_b, o_b) and query head (q_h, o_h); K and V of batch,
 * KV head and row (kv_b, kv_h, kv_t); the HS elements of a row are contiguous. */
struct ops_attn_decode_io {
    const void *q, *k, *v;
    float *out;
    int64_t q_b, q_h, kv_b, kv_h, kv_t, o_b, o_h;
};
/* AB_OK when the op takes the shape, else the reason in err. */
ab_status ops_attn_decode_check(const struct ops_attn_decode_desc *d, struct ab_error *err);
/* Scratch bytes of ops_attn_decode: per thread a fixed amount (no n-sized buffer) plus the
 * splits' partial results (B*Hkv*splits*G*(HS+2) floats, splits only where B*Hkv is small). */
size_t ops_attn_decode_scratch_bytes(const struct ops_attn_decode_desc *d);
/* Run it (a checked desc); scratch: ops_attn_decode_scratch_bytes of memory, 4-byte aligned. */
void ops_attn_decode(const struct ops_attn_decode_desc *d, const struct ops_attn_decode_io *io,
                     void *scratch);
/* The splits of each (sequence, KV head)'s n keys: *splits spans of *span keys (the last may
 * be shorter, none empty): about 4 items a thread over all seqs pairs, at most ceil(n / 512)
 * splits (so none below 256 keys), and 1 with one thread. */
void ops_attn_decode_split(int64_t seqs, int n, int threads, int *splits, int *span);
/* One query of one head over n rows of stride ld, on the calling thread, no scratch: the op's
 * G = 1 kernel (ops_cache_attend runs it). */
void ops_attn_decode_one(float *out, const float *q, const void *K, const void *V, enum ab_dtype kv_dt,
                         int64_t ld, int n, int HS, float scale);
/* The kernel the op runs for group G on this CPU: "avx2_fma_dot" (G <= 2),
 * "avx2_fma_headlane4" (G <= 4), "avx2_fma_headlane8", or "generic". */
const char *ops_attn_decode_impl(int G);

/* Attention of one query over n cached rows (decode.c): out (HS) = softmax_j(q . K_j scale) V_j,
 * K and V (n, HS) with row stride ld elements, fp32 or bf16 (kv_dt; bf16 widened as read);
 * each K and each V row read once, nothing n-sized stored (ops_attn_decode_one). */
void ops_cache_attend(float *out, const float *q, const void *K, const void *V, enum ab_dtype kv_dt,
                      size_t ld, int n, int HS, float scale);
/* cache[at .. at+n) (kv_dt) = src (n) fp32, rounded to bf16 (nearest even) for a bf16 cache */
void ops_cache_store(void *cache, enum ab_dtype kv_dt, size_t at, const float *src, int n);

/* One decode step of a pre-LN GPT-2 stack (decode.c) for B <= OPS_GEMV_MAX_M sequences, one new
 * token each at position pos, in one parallel region of `threads` threads:
 *   x (B,C), the embedded tokens, becomes the residual stream after L layers;
 *   per layer x += proj(attn(qkv(LN1 x))) then x += fcp(GELU fc(LN2 x)); kc, vc (B, max_T, C)
 *   in kv_dt hold positions 0..pos-1 and get pos;
 *   logits (B, N of head) = LN_f(x) . head^T.
 * Plans: qkv (3C,C) OPS_MM_BIAS; proj (C,C) and fcp (C,4C) OPS_MM_BIAS | OPS_MM_ACCUM; fc
 * (4C,C) OPS_MM_BIAS | OPS_MM_GELU; head no epilogue; all fp32 with ops_matmul_blocks > 0
 * (ops_decode_fusable; L <= OPS_DECODE_MAX_LAYERS). scratch: ops_decode_scratch_floats floats.
 * One OpenMP region per step; inside, phases wait on counters of items done, not on barriers. */
#define OPS_DECODE_MAX_LAYERS 256
struct ops_decode_layer {
    const struct ops_matmul *qkv, *proj, *fc, *fcp;
    const float *ln1_g, *ln1_b, *qkv_b, *proj_b, *ln2_g, *ln2_b, *fc_b, *fcp_b;
    void *kc, *vc;
};
bool ops_decode_fusable(const struct ops_decode_layer *ly, int L, const struct ops_matmul *head);
size_t ops_decode_scratch_floats(int B, int C, int threads);
void ops_decode_step(const struct ops_decode_layer *ly, int L, const struct ops_matmul *head,
                     const float *lnf_g, const float *lnf_b, float *logits, float *x, int B, int C, int NH,
                     int max_T, int pos, enum ab_dtype kv_dt, float *scratch, int threads);

/* Make later ops_attn_create, ops_matmul_create and ops_layernorm calls choose the portable code (tests check
 * both); ops_generic says whether that is on. */
void ops_set_generic(bool on);
bool ops_generic(void);

#ifdef __cplusplus
}
#endif

#endif /* AB_OPS_H */
