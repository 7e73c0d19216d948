/* matmul.c — the oneDNN matmul builder: every CPU matmul of the suite is an ops_mm_desc planned
 * here (ops_matmul_plan), a oneDNN matmul primitive with bias, GELU (tanh), a residual add or an
 * accumulation fused as post-ops, fp32 accumulation, and FP8-style scales applied by a pass
 * over D. A packed_b plan (ops_matmul_create: out = inp . weight^T) reorders its weight once
 * into the layout the primitive asked for (format "any"), so a run is one primitive execution:
 * no packing, no allocation; other plans read A and B in place. For a few rows (decode) a
 * packed run is instead our GEMV over that same packed layout, which oneDNN (2.6) streams at a
 * fraction of the memory bandwidth: see gemv_* below. On an AVX2 CPU without AVX-512 an fp32
 * packed weight is kept (N,K) as given (oneDNN's gemm:jit takes it as a transposed B), and
 * many rows run ops_gemm_avx2 (gemm_avx2.c) over it. */
#include "gemm_avx2.h"
#include "ops.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "vmath.h"

#define DNNL_TRY(call, err)                                                                                  \
    do {                                                                                                     \
        dnnl_status_t s_ = (call);                                                                           \
        if (s_ != dnnl_success)                                                                              \
            return ab_fail((err),                                                                            \
                           s_ == dnnl_out_of_memory   ? AB_ENOMEM                                            \
                           : s_ == dnnl_unimplemented ? AB_EUNSUPPORTED                                      \
                                                      : AB_EFAIL,                                            \
                           "%s: oneDNN status %d (%s:%d)", #call, (int)s_, __FILE__, __LINE__);              \
    } while (0)

struct ops_matmul {
    struct ops_mm_desc d;
    int M, N, K;
    enum ab_dtype dt; /* the operands' */
    unsigned flags;   /* the epilogue's, with OPS_MM_OUT_F32 where a 16-bit plan writes fp32 */
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t src_md, wei_user_md, bias_md, dst_md, res_md;
    dnnl_memory_t src, wei, bias, dst, res;
    void *wei_buf; /* packed weight, owned */
    void *wei_ptr; /* the packed weight in use: wei_buf or another plan's */
    bool have_weight;
    /* GEMV path: weight blocks of KB (K) x 64 (N), block (kb, nb) at kb*s0 + nb*s1 elements */
    bool gemv;
    int KB, Kp;
    size_t s0, s1;
    void *xpad; /* (M, Kp) input rows padded with zeros */
    /* AVX2 GEMV path: the (N,K) weight (rowmajor_weight), in blocks of nb columns (weight rows) */
    bool gemv2;
    int nb;
    /* many rows on such a CPU: ops_gemm_avx2 over the same plain weight (gemm_avx2.c) */
    bool gemm2;
    char impl[128];
};

static dnnl_data_type_t dnnl_type(enum ab_dtype dt)
{
    return dt == AB_DTYPE_BF16 ? dnnl_bf16 : dnnl_f32;
}

/* A (rows, cols) matrix with row stride ld (trans: stored (cols, rows) with row stride ld):
 * plain row-major by tag, as a caller's own descriptor would be, else by strides. */
static dnnl_status_t plain_md(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, int64_t ld, bool trans,
                              dnnl_data_type_t t)
{
    dnnl_dims_t dims = { rows, cols };
    if (!trans && ld == cols)
        return dnnl_memory_desc_init_by_tag(md, 2, dims, t, dnnl_ab);
    dnnl_dims_t strides = { trans ? 1 : ld, trans ? ld : 1 };
    return dnnl_memory_desc_init_by_strides(md, 2, dims, t, strides);
}

/* ------------------------------------------------------------------ GEMV
 * For M <= OPS_GEMV_MAX_M rows the product is bound by reading the weight once. oneDNN's
 * brgemm layout for a (K,N) weight is already what a GEMV wants: blocks of 64 output columns,
 * contiguous over K, fp32 as (KB=16, 64) and bf16 as (KB/2=16, 64, 2) pairs for VDPBF16PS.
 * gemv_layout accepts exactly those layouts (anything else runs through oneDNN); a thread
 * takes whole 64-column strips and streams them for up to 4 rows at a time (16 accumulators),
 * then applies bias, GELU, residual or accumulation on the 64 x rows tile. */

static bool gemv_layout(struct ops_matmul *mm, const dnnl_memory_desc_t *md)
{
    if (ops_generic() || !ab_cpu_has("avx512f") || (mm->dt == AB_DTYPE_BF16 && !ab_cpu_has("avx512_bf16")))
        return false;
    if (md->format_kind != dnnl_blocked || md->ndims != 2)
        return false;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    bool bf = mm->dt == AB_DTYPE_BF16;
    if (bf ? !(b->inner_nblks == 3 && b->inner_blks[0] == 16 && b->inner_idxs[0] == 0 &&
               b->inner_blks[1] == 64 && b->inner_idxs[1] == 1 && b->inner_blks[2] == 2 &&
               b->inner_idxs[2] == 0)
           : !(b->inner_nblks == 2 && b->inner_blks[0] == 16 && b->inner_idxs[0] == 0 &&
               b->inner_blks[1] == 64 && b->inner_idxs[1] == 1))
        return false;
    mm->KB = bf ? 32 : 16;
    mm->Kp = (int)md->padded_dims[0];
    if (md->padded_dims[1] % 64 || mm->Kp % mm->KB || md->offset0 != 0)
        return false;
    mm->s0 = (size_t)b->strides[0], mm->s1 = (size_t)b->strides[1];
    return true;
}

/* 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), as ops_gelu */
static inline float gemv_gelu(float x)
{
    float u = 0.7978845608f * (x + 0.044715f * x * x * x);
    return x / (1.0f + expf(-2.0f * u));
}

#define T512  __attribute__((target("avx512f")))
#define TBF16 __attribute__((target("avx512f,avx512bf16")))

/* acc (R,64) = xpad rows r0.. (R of them, row stride Kp) . strip (Kp/KB blocks) */
TBF16 static void gemv_strip_bf16(float *acc, const uint16_t *x, int Kp, const uint16_t *strip, size_t s0,
                                  int R)
{
    __m512 a[4][4];
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 4; j++)
            a[r][j] = _mm512_setzero_ps();
    for (int kb = 0; kb < Kp / 32; kb++) {
        const uint16_t *w = strip + (size_t)kb * s0;
        for (int p = 0; p < 16; p++) {
            const uint16_t *wp = w + p * 128;
            __m512bh w0 = (__m512bh)_mm512_loadu_si512(wp), w1 = (__m512bh)_mm512_loadu_si512(wp + 32);
            __m512bh w2 = (__m512bh)_mm512_loadu_si512(wp + 64), w3 = (__m512bh)_mm512_loadu_si512(wp + 96);
            int k = kb * 32 + 2 * p;
            for (int r = 0; r < R; r++) { /* R is at most 4: unrolled by the compiler */
                uint32_t pair;
                memcpy(&pair, x + (size_t)r * Kp + k, 4);
                __m512bh xb = (__m512bh)_mm512_set1_epi32((int)pair);
                a[r][0] = _mm512_dpbf16_ps(a[r][0], w0, xb);
                a[r][1] = _mm512_dpbf16_ps(a[r][1], w1, xb);
                a[r][2] = _mm512_dpbf16_ps(a[r][2], w2, xb);
                a[r][3] = _mm512_dpbf16_ps(a[r][3], w3, xb);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int j = 0; j < 4; j++)
            _mm512_storeu_ps(acc + r * 64 + j * 16, a[r][j]);
}

T512 static void gemv_strip_f32(float *acc, const float *x, int Kp, const float *strip, size_t s0, int R)
{
    __m512 a[4][4];
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 4; j++)
            a[r][j] = _mm512_setzero_ps();
    for (int kb = 0; kb < Kp / 16; kb++) {
        const float *w = strip + (size_t)kb * s0;
        for (int kk = 0; kk < 16; kk++) {
            const float *wp = w + kk * 64;
            __m512 w0 = _mm512_loadu_ps(wp), w1 = _mm512_loadu_ps(wp + 16);
            __m512 w2 = _mm512_loadu_ps(wp + 32), w3 = _mm512_loadu_ps(wp + 48);
            int k = kb * 16 + kk;
            for (int r = 0; r < R; r++) {
                __m512 xb = _mm512_set1_ps(x[(size_t)r * Kp + k]);
                a[r][0] = _mm512_fmadd_ps(w0, xb, a[r][0]);
                a[r][1] = _mm512_fmadd_ps(w1, xb, a[r][1]);
                a[r][2] = _mm512_fmadd_ps(w2, xb, a[r][2]);
                a[r][3] = _mm512_fmadd_ps(w3, xb, a[r][3]);
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int j = 0; j < 4; j++)
            _mm512_storeu_ps(acc + r * 64 + j * 16, a[r][j]);
}

static void gemv_run(struct ops_matmul *mm, void *out, const void *inp, const float *bias, const void *res)
{
    int M = mm->M, N = mm->N, K = mm->K, Kp = mm->Kp, nstrips = (N + 63) / 64;
    bool bf = mm->dt == AB_DTYPE_BF16, of32 = (mm->flags & OPS_MM_OUT_F32) || !bf;
    size_t es = ab_dtype_size(mm->dt);
    for (int r = 0; r < M; r++) {
        char *row = (char *)mm->xpad + (size_t)r * Kp * es;
        memcpy(row, (const char *)inp + (size_t)r * K * es, (size_t)K * es);
        memset(row + (size_t)K * es, 0, (size_t)(Kp - K) * es);
    }
#pragma omp parallel for schedule(static)
    for (int nb = 0; nb < nstrips; nb++) {
        float acc[4 * 64];
        for (int r0 = 0; r0 < M; r0 += 4) {
            int R = M - r0 < 4 ? M - r0 : 4;
            if (bf)
                gemv_strip_bf16(acc, (const uint16_t *)mm->xpad + (size_t)r0 * Kp, Kp,
                                (const uint16_t *)mm->wei_ptr + nb * mm->s1, mm->s0, R);
            else
                gemv_strip_f32(acc, (const float *)mm->xpad + (size_t)r0 * Kp, Kp,
                               (const float *)mm->wei_ptr + nb * mm->s1, mm->s0, R);
            int nw = N - nb * 64 < 64 ? N - nb * 64 : 64;
            for (int r = 0; r < R; r++)
                for (int j = 0; j < nw; j++) {
                    size_t o = (size_t)(r0 + r) * N + (size_t)nb * 64 + j;
                    float v = acc[r * 64 + j];
                    if (mm->flags & OPS_MM_BIAS)
                        v += bias[nb * 64 + j];
                    if (mm->flags & OPS_MM_GELU)
                        v = gemv_gelu(v);
                    if (mm->flags & (OPS_MM_RESIDUAL | OPS_MM_ACCUM)) {
                        const void *src = (mm->flags & OPS_MM_ACCUM) ? out : res;
                        v += of32 ? ((const float *)src)[o] : ab_bf16_to_f32(((const uint16_t *)src)[o]);
                    }
                    if (of32)
                        ((float *)out)[o] = v;
                    else
                        ((uint16_t *)out)[o] = ab_bf16_from_f32(v);
                }
        }
    }
}

/* ------------------------------------------------------------------ GEMV, AVX2
 * Without AVX-512, the fp32 weight of a packed plan is kept as the caller gives it, (N,K) row
 * major: every output column is the dot product of one contiguous weight row with each input
 * row, so a column block's weight is one contiguous run of memory, read front to back. (oneDNN
 * 2.6's own layout there, the plain (K,N) matrix of gemm:jit, made a column block's weight a
 * run of nb*4 bytes per row of K, each in another page: the hardware prefetchers stop at every
 * one of them, and with several input rows the FMAs that wait on the loads fill the core's
 * window long before enough lines are in flight, so eight rows read the weight at half the
 * speed of one.) A kernel call takes R input rows and NW weight rows (R x NW <= 8 accumulators
 * of 8 lanes, the 8 a 4-cycle FMA latency on two pipes needs), loads each weight vector once
 * and each input vector once per call, and sums the lanes at the end; with more than two input
 * rows it also requests the weight 8 KB ahead, which keeps enough lines in flight. Each
 * column's sum runs over K in the same order for every row count. The epilogue (bias, GELU
 * with a vector exp, accumulation or residual) is applied 8 columns at a time on the way out.
 * A block of nb columns is the unit of work: ops_matmul_run spreads blocks over threads
 * dynamically (a preempted thread on a shared machine does not hold the others), and
 * ops_matmul_run_block lets a caller's own parallel region do the same (decode.c). */

#define TAVX2 __attribute__((target("avx2,fma")))
enum { GEMV2_MAX_NB = 256, GEMV2_PREFETCH = 2048 /* floats ahead in the weight */ };

/* The (N,K) weight layout of fp32 packed plans on this path and gemm:avx2's: the CPUs where
 * mm_pd asks oneDNN for it instead of choosing its own. */
static bool rowmajor_weight(const struct ops_mm_desc *d)
{
    return d->packed_b && d->a_dt == AB_DTYPE_FP32 && d->b_dt == AB_DTYPE_FP32 && !ab_cpu_has("avx512f") &&
           ops_gemm_avx2_usable();
}

/* Is md that (N,K) layout? (The md of a (K,N) weight stored transposed: K's stride 1, N's K.) */
static bool rowmajor_md(const struct ops_matmul *mm, const dnnl_memory_desc_t *md)
{
    if (mm->dt != AB_DTYPE_FP32 || md->format_kind != dnnl_blocked || md->ndims != 2 || md->offset0 != 0)
        return false;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    return b->inner_nblks == 0 && b->strides[0] == 1 && b->strides[1] == mm->K;
}

/* The column blocks of a GEMV plan: a multiple of the threads in blocks, at least 4 each
 * (dynamic scheduling then evens out a thread's late start), of at most GEMV2_MAX_NB columns,
 * a multiple of 8 */
static void gemv2_blocks(struct ops_matmul *mm)
{
    int threads = omp_get_max_threads(),
        per = (mm->N + threads * GEMV2_MAX_NB - 1) / (threads * GEMV2_MAX_NB);
    int blocks = threads * (per < 4 ? 4 : per), nv = (mm->N + 7) / 8;
    mm->nb = 8 * ((nv + blocks - 1) / blocks);
}

static inline __attribute__((always_inline)) TAVX2 float gemv2_hsum(__m256 v)
{
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_add_ss(a, _mm_movehdup_ps(a)));
}

/* t[r * 8 + w] = x row r (row stride ldx) . W row w (row stride K), r < R, w < NW: 8 lanes of
 * partial sums over K, the lanes added at the end, then the last K % 8 terms in order. */
static inline __attribute__((always_inline)) TAVX2 void
gemv2_dots(float *t, const float *x, size_t ldx, const float *W, int K, const int R, const int NW)
{
    __m256 acc[8][8];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int w = 0; w < NW; w++)
            acc[r][w] = _mm256_setzero_ps();
    int K8 = K / 8 * 8;
    for (int c = 0; c < K8; c += 8) {
        if (R > 2 && (c & 15) == 0)
#pragma GCC unroll 8
            for (int w = 0; w < NW; w++)
                _mm_prefetch((const char *)(W + (size_t)w * (size_t)K + c + GEMV2_PREFETCH), _MM_HINT_T0);
        __m256 wv[8];
#pragma GCC unroll 8
        for (int w = 0; w < NW; w++)
            wv[w] = _mm256_loadu_ps(W + (size_t)w * (size_t)K + c);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m256 xv = _mm256_loadu_ps(x + (size_t)r * ldx + c);
#pragma GCC unroll 8
            for (int w = 0; w < NW; w++)
                acc[r][w] = _mm256_fmadd_ps(wv[w], xv, acc[r][w]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int w = 0; w < NW; w++) {
            float s = gemv2_hsum(acc[r][w]);
            for (int c = K8; c < K; c++)
                s += x[(size_t)r * ldx + c] * W[(size_t)w * (size_t)K + c];
            t[r * 8 + w] = s;
        }
}

/* t (rows, 8) = the dot products of 8 consecutive weight rows from W: R x NW kernels, R and NW
 * constants: 1 x 8, 2 x 4, 3 or 4 rows x 2, then 5 to 8 rows x 1. */
TAVX2 static void gemv2_group(float *t, const float *x, size_t ldx, const float *W, int K, int rows)
{
    int nw = rows == 1 ? 8 : rows == 2 ? 4 : rows <= 4 ? 2 : 1;
    for (int w = 0; w < 8; w += nw) {
        float *tw = t + w;
        const float *ww = W + (size_t)w * K;
        switch (rows) {
        case 1: gemv2_dots(tw, x, ldx, ww, K, 1, 8); break;
        case 2: gemv2_dots(tw, x, ldx, ww, K, 2, 4); break;
        case 3: gemv2_dots(tw, x, ldx, ww, K, 3, 2); break;
        case 4: gemv2_dots(tw, x, ldx, ww, K, 4, 2); break;
        case 5: gemv2_dots(tw, x, ldx, ww, K, 5, 1); break;
        case 6: gemv2_dots(tw, x, ldx, ww, K, 6, 1); break;
        case 7: gemv2_dots(tw, x, ldx, ww, K, 7, 1); break;
        default: gemv2_dots(tw, x, ldx, ww, K, 8, 1); break;
        }
    }
}

/* One weight row's dot products with every input row (the last N % 8 columns) */
TAVX2 static void gemv2_single(float *t, const float *x, size_t ldx, const float *W, int K, int rows)
{
    for (int r0 = 0; r0 < rows; r0 += 4) {
        int R = rows - r0 < 4 ? rows - r0 : 4;
        float *tr = t + r0 * 8;
        const float *xr = x + (size_t)r0 * ldx;
        switch (R) {
        case 1: gemv2_dots(tr, xr, ldx, W, K, 1, 1); break;
        case 2: gemv2_dots(tr, xr, ldx, W, K, 2, 1); break;
        case 3: gemv2_dots(tr, xr, ldx, W, K, 3, 1); break;
        default: gemv2_dots(tr, xr, ldx, W, K, 4, 1); break;
        }
    }
}

/* Where a group's sums go: out (row stride ldo) at the group's first column, bias and res at
 * the same place */
struct gemv2_epi {
    float *out;
    const float *bias, *res;
    size_t ldo;
    unsigned flags;
};

/* out (rows, 8 columns) = t with the plan's epilogue: bias, GELU, accumulation into out or the
 * residual res, in the order of the oneDNN post-ops */
TAVX2 static void gemv2_out(const struct gemv2_epi *e, const float *t, int rows)
{
    for (int r = 0; r < rows; r++) {
        __m256 s = _mm256_loadu_ps(t + r * 8);
        float *o = e->out + (size_t)r * e->ldo;
        if (e->flags & OPS_MM_BIAS)
            s = _mm256_add_ps(s, _mm256_loadu_ps(e->bias));
        if (e->flags & OPS_MM_GELU)
            s = ops_gelu_avx2(s);
        if (e->flags & OPS_MM_ACCUM)
            s = _mm256_add_ps(s, _mm256_loadu_ps(o));
        else if (e->flags & OPS_MM_RESIDUAL)
            s = _mm256_add_ps(s, _mm256_loadu_ps(e->res + (size_t)r * e->ldo));
        _mm256_storeu_ps(o, s);
    }
}

/* Block blk of rows <= OPS_GEMV_MAX_M input rows inp (rows, K; row stride ldi): out's columns
 * n0 .. n0+nw with the plan's epilogue, 8 columns at a time; the last N % 8 columns (of the
 * last block) one at a time, their epilogue the same in scalar form. */
TAVX2 static void gemv2_block(const struct ops_matmul *mm, int blk, float *out, const float *inp, size_t ldi,
                              int rows, const float *bias, const float *res)
{
    _Alignas(32) float t[OPS_GEMV_MAX_M * 8];
    const float *W = mm->wei_ptr;
    int N = mm->N, K = mm->K, n0 = blk * mm->nb, nw = N - n0 < mm->nb ? N - n0 : mm->nb;
    int n = n0;
    for (; n + 8 <= n0 + nw; n += 8) {
        gemv2_group(t, inp, ldi, W + (size_t)n * K, K, rows);
        struct gemv2_epi e = { .out = out + n,
                               .bias = bias ? bias + n : NULL,
                               .res = res ? res + n : NULL,
                               .ldo = (size_t)N,
                               .flags = mm->flags };
        gemv2_out(&e, t, rows);
    }
    for (; n < n0 + nw; n++) { /* fewer than 8 tail columns */
        gemv2_single(t, inp, ldi, W + (size_t)n * K, K, rows);
        for (int r = 0; r < rows; r++) {
            float s = t[r * 8];
            size_t o = (size_t)r * N + (size_t)n;
            if (mm->flags & OPS_MM_BIAS)
                s += bias[n];
            if (mm->flags & OPS_MM_GELU)
                s = gemv_gelu(s);
            if (mm->flags & OPS_MM_ACCUM)
                s += out[o];
            else if (mm->flags & OPS_MM_RESIDUAL)
                s += res[o];
            out[o] = s;
        }
    }
}

static void gemv2_run(struct ops_matmul *mm, float *out, const float *inp, const float *bias,
                      const float *res)
{
    int nblk = (mm->N + mm->nb - 1) / mm->nb;
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < nblk; b++)
        gemv2_block(mm, b, out, inp, (size_t)mm->K, mm->M, bias, res);
}

/* The primitive descriptor of d (its memory descriptors in mm), or a oneDNN status. */
static dnnl_status_t mm_pd(struct ops_matmul *mm, dnnl_engine_t eng, dnnl_primitive_desc_t *pd)
{
    const struct ops_mm_desc *d = &mm->d;
    dnnl_data_type_t t = dnnl_type(d->a_dt), ot = dnnl_type(d->d_dt);
    dnnl_dims_t wd = { d->k, d->n }, bd = { 1, d->n };
    dnnl_memory_desc_t wei_md;
    *pd = NULL;
    dnnl_status_t s = plain_md(&mm->src_md, d->m, d->k, ops_mm_lda(d), d->trans_a, t);
    if (s == dnnl_success)
        s = plain_md(&mm->wei_user_md, d->k, d->n, ops_mm_ldb(d), d->trans_b, t);
    if (s == dnnl_success)
        s = !d->packed_b         ? plain_md(&wei_md, d->k, d->n, ops_mm_ldb(d), d->trans_b, t)
            : rowmajor_weight(d) ? dnnl_memory_desc_init_by_tag(&wei_md, 2, wd, t, dnnl_ba) /* (N,K) */
                                 : dnnl_memory_desc_init_by_tag(&wei_md, 2, wd, t, dnnl_format_tag_any);
    if (s == dnnl_success)
        s = dnnl_memory_desc_init_by_tag(&mm->bias_md, 2, bd, dnnl_f32, dnnl_ab);
    if (s == dnnl_success)
        s = plain_md(&mm->dst_md, d->m, d->n, ops_mm_ldd(d), false, ot);
    if (s == dnnl_success)
        s = plain_md(&mm->res_md, d->m, d->n, ops_mm_ldd(d), false, ot);
    dnnl_matmul_desc_t md;
    if (s == dnnl_success)
        s = dnnl_matmul_desc_init(&md, &mm->src_md, &wei_md,
                                  (d->epilogue & OPS_MM_BIAS) ? &mm->bias_md : NULL, &mm->dst_md);
    if (s != dnnl_success)
        return s;
    dnnl_primitive_attr_t attr = NULL;
    if (d->epilogue & (OPS_MM_ACCUM | OPS_MM_GELU | OPS_MM_RESIDUAL)) {
        if ((s = dnnl_primitive_attr_create(&attr)) != dnnl_success)
            return s;
        dnnl_post_ops_t po;
        s = dnnl_post_ops_create(&po);
        if (s == dnnl_success && (d->epilogue & OPS_MM_ACCUM))
            s = dnnl_post_ops_append_sum(po, 1.0f);
        if (s == dnnl_success && (d->epilogue & OPS_MM_GELU))
            s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_gelu_tanh, 0.0f, 0.0f);
        if (s == dnnl_success && (d->epilogue & OPS_MM_RESIDUAL))
            s = dnnl_post_ops_append_binary(po, dnnl_binary_add, &mm->res_md);
        if (s == dnnl_success)
            s = dnnl_primitive_attr_set_post_ops(attr, po);
        dnnl_post_ops_destroy(po);
    }
    if (s == dnnl_success)
        s = dnnl_primitive_desc_create(pd, &md, attr, eng, NULL);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return s;
}

static ab_status mm_build(struct ops_matmul *mm, struct ab_error *err)
{
    DNNL_TRY(dnnl_engine_create(&mm->eng, dnnl_cpu, 0), err);
    DNNL_TRY(dnnl_stream_create(&mm->strm, mm->eng, dnnl_stream_default_flags), err);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = mm_pd(mm, mm->eng, &pd);
    if (s == dnnl_unimplemented && mm->d.a_dt == AB_DTYPE_BF16)
        return ab_fail(err, AB_EUNSUPPORTED, "%s", OPS_NO_BF16_MATMUL);
    DNNL_TRY(s, err);
    const char *info = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info) == dnnl_success && info)
        snprintf(mm->impl, sizeof mm->impl, "%s", info);
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_memory_desc_t wei_md = *wmd;
    s = dnnl_primitive_create(&mm->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    DNNL_TRY(s, err);

    /* Data handles are set per run; DNNL_MEMORY_NONE makes no buffer of oneDNN's own. */
    if (!mm->d.packed_b) {
        DNNL_TRY(dnnl_memory_create(&mm->wei, &wei_md, mm->eng, DNNL_MEMORY_NONE), err);
    } else {
        size_t wbytes = dnnl_memory_desc_get_size(&wei_md);
        mm->wei_buf = ab_alloc(wbytes);
        if (!mm->wei_buf)
            return ab_fail(err, AB_ENOMEM, "matmul: cannot allocate %zu bytes of packed weight", wbytes);
        mm->wei_ptr = mm->wei_buf;
        DNNL_TRY(dnnl_memory_create(&mm->wei, &wei_md, mm->eng, mm->wei_buf), err);
    }
    bool plain = !mm->d.trans_a && ops_mm_lda(&mm->d) == mm->K && ops_mm_ldd(&mm->d) == mm->N;
    if (mm->d.packed_b && plain && mm->M <= OPS_GEMV_MAX_M && gemv_layout(mm, &wei_md)) {
        mm->xpad = ab_alloc((size_t)mm->M * mm->Kp * ab_dtype_size(mm->dt));
        if (!mm->xpad)
            return ab_fail(err, AB_ENOMEM, "matmul: out of memory");
        mm->gemv = true;
        snprintf(mm->impl, sizeof mm->impl, "gemv:%s", mm->dt == AB_DTYPE_BF16 ? "avx512_bf16" : "avx512f");
    } else if (plain && rowmajor_weight(&mm->d) && rowmajor_md(mm, &wei_md)) {
        /* the (N,K) weight mm_pd asked for (an AVX2 + FMA CPU without AVX-512): our GEMV for few
         * rows, ops_gemm_avx2 (which reads it as it lies) for more */
        if (mm->M <= OPS_GEMV_MAX_M) {
            gemv2_blocks(mm);
            mm->gemv2 = true;
        } else
            mm->gemm2 = true;
        snprintf(mm->impl, sizeof mm->impl, "%s", mm->gemv2 ? "gemv:avx2" : "gemm:avx2");
    }
    DNNL_TRY(dnnl_memory_create(&mm->src, &mm->src_md, mm->eng, DNNL_MEMORY_NONE), err);
    DNNL_TRY(dnnl_memory_create(&mm->dst, &mm->dst_md, mm->eng, DNNL_MEMORY_NONE), err);
    DNNL_TRY(dnnl_memory_create(&mm->bias, &mm->bias_md, mm->eng, DNNL_MEMORY_NONE), err);
    DNNL_TRY(dnnl_memory_create(&mm->res, &mm->res_md, mm->eng, DNNL_MEMORY_NONE), err);
    return AB_OK;
}

/* A 1x16x16 bf16 matmul primitive descriptor: where oneDNN has no bf16 kernel for this CPU
 * (no AVX-512), creating it returns dnnl_unimplemented. */
static bool probe_bf16(void)
{
    dnnl_engine_t eng;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success)
        return false;
    dnnl_dims_t sd = { 1, 16 }, wd = { 16, 16 }, dd = { 1, 16 };
    dnnl_memory_desc_t src, wei, dst;
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&src, 2, sd, dnnl_bf16, dnnl_ab);
    if (s == dnnl_success)
        s = dnnl_memory_desc_init_by_tag(&wei, 2, wd, dnnl_bf16, dnnl_format_tag_any);
    if (s == dnnl_success)
        s = dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_bf16, dnnl_ab);
    if (s == dnnl_success)
        s = dnnl_matmul_desc_init(&md, &src, &wei, NULL, &dst);
    if (s == dnnl_success)
        s = dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    dnnl_engine_destroy(eng);
    return s == dnnl_success;
}

bool ops_matmul_bf16_supported(void)
{
    /* 0: not probed yet, 1: yes, 2: no. Racing first callers probe twice and agree. */
    static atomic_int known;
    int k = atomic_load(&known);
    if (k == 0) {
        k = probe_bf16() ? 1 : 2;
        atomic_store(&known, k);
    }
    return k == 1;
}

ab_status ops_matmul_plan(struct ops_matmul **out, const struct ops_mm_desc *d, struct ab_error *err)
{
    *out = NULL;
    ab_status st = ops_mm_desc_check(d, err);
    if (st)
        return st;
    if (d->a_dt == AB_DTYPE_FP16 || d->d_dt == AB_DTYPE_FP16)
        return ab_fail(err, AB_EUNSUPPORTED, "matmul: fp16 is CUDA only");
    if (d->a_dt == AB_DTYPE_FP8_E4M3 || d->a_dt == AB_DTYPE_FP8_E5M2)
        return ab_fail(err, AB_EUNSUPPORTED, "matmul: FP8 operands are CUDA only (emulate them in bf16)");
    if (d->tf32 || d->fast_accum)
        return ab_fail(err, AB_EUNSUPPORTED, "matmul: tf32 and fast accumulation are CUDA only");
    if (d->scale != OPS_MM_SCALE_NONE && d->d_dt != AB_DTYPE_FP32)
        return ab_fail(err, AB_EUNSUPPORTED, "matmul: scales on the CPU need an fp32 D");
    struct ops_matmul *mm = calloc(1, sizeof *mm);
    if (!mm)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    *mm =
        (struct ops_matmul){ .d = *d, .M = d->m, .N = d->n, .K = d->k, .dt = d->a_dt, .flags = d->epilogue };
    if (d->d_dt != d->a_dt && d->d_dt == AB_DTYPE_FP32)
        mm->flags |= OPS_MM_OUT_F32;
    st = mm_build(mm, err);
    if (st) {
        ops_matmul_destroy(mm);
        if (st == AB_EUNSUPPORTED && err && strcmp(err->msg, OPS_NO_BF16_MATMUL) == 0)
            return st;
        return ab_fail_prefix(err, st, "matmul %dx%dx%d %s", d->m, d->n, d->k, ab_dtype_name(d->a_dt));
    }
    *out = mm;
    return AB_OK;
}

bool ops_matmul_supported(const struct ops_mm_desc *d)
{
    struct ab_error err = { { 0 } };
    if (ops_mm_desc_check(d, &err) || d->a_dt == AB_DTYPE_FP16 || d->a_dt == AB_DTYPE_FP8_E4M3 ||
        d->a_dt == AB_DTYPE_FP8_E5M2)
        return false;
    dnnl_engine_t eng;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success)
        return false;
    struct ops_matmul mm = { .d = *d };
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = mm_pd(&mm, eng, &pd);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    dnnl_engine_destroy(eng);
    return s == dnnl_success;
}

ab_status ops_matmul_create(struct ops_matmul **out, int M, int N, int K, enum ab_dtype dt, unsigned flags,
                            struct ab_error *err)
{
    *out = NULL;
    if (M <= 0 || N <= 0 || K <= 0)
        return ab_fail(err, AB_EINVAL, "matmul: bad shape M=%d N=%d K=%d", M, N, K);
    if (dt == AB_DTYPE_FP16)
        return ab_fail(err, AB_EUNSUPPORTED, "matmul: fp16 is CUDA only");
    if (dt == AB_DTYPE_BF16 && !ops_matmul_bf16_supported())
        return ab_fail(err, AB_EUNSUPPORTED, "%s", OPS_NO_BF16_MATMUL);
    struct ops_mm_desc d = { .m = M,
                             .n = N,
                             .k = K,
                             .a_dt = dt,
                             .b_dt = dt,
                             .d_dt = (flags & OPS_MM_OUT_F32) ? AB_DTYPE_FP32 : dt,
                             .trans_b = true,
                             .epilogue = flags & ~(unsigned)OPS_MM_OUT_F32,
                             .packed_b = true };
    return ops_matmul_plan(out, &d, err);
}

ab_status ops_matmul_set_weight(struct ops_matmul *mm, const void *weight, struct ab_error *err)
{
    if (!mm->d.packed_b)
        return ab_fail(err, AB_EINVAL, "matmul: set_weight on a plan that reads B in place");
    dnnl_memory_t user;
    DNNL_TRY(dnnl_memory_set_data_handle(mm->wei, mm->wei_buf), err); /* no longer shared */
    mm->wei_ptr = mm->wei_buf;
    DNNL_TRY(dnnl_memory_create(&user, &mm->wei_user_md, mm->eng, (void *)weight), err);
    dnnl_primitive_desc_t rpd;
    const dnnl_memory_desc_t *wmd;
    dnnl_status_t s = dnnl_memory_get_memory_desc(mm->wei, &wmd);
    if (s == dnnl_success)
        s = dnnl_reorder_primitive_desc_create(&rpd, &mm->wei_user_md, mm->eng, wmd, mm->eng, NULL);
    dnnl_primitive_t r = NULL;
    if (s == dnnl_success) {
        s = dnnl_primitive_create(&r, rpd);
        dnnl_primitive_desc_destroy(rpd);
    }
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[2] = { { DNNL_ARG_FROM, user }, { DNNL_ARG_TO, mm->wei } };
        s = dnnl_primitive_execute(r, mm->strm, 2, args);
        if (s == dnnl_success)
            s = dnnl_stream_wait(mm->strm);
    }
    if (r)
        dnnl_primitive_destroy(r);
    dnnl_memory_destroy(user);
    DNNL_TRY(s, err);
    mm->have_weight = true;
    return AB_OK;
}

ab_status ops_matmul_share_weight(struct ops_matmul *mm, const struct ops_matmul *from, struct ab_error *err)
{
    if (!mm->d.packed_b || !from->have_weight || from->N != mm->N || from->K != mm->K || from->dt != mm->dt)
        return ab_fail(err, AB_EINVAL,
                       "matmul: cannot share the weight of a %dx%d %s plan with a %dx%d %s one", from->N,
                       from->K, ab_dtype_name(from->dt), mm->N, mm->K, ab_dtype_name(mm->dt));
    const dnnl_memory_desc_t *mine, *theirs;
    DNNL_TRY(dnnl_memory_get_memory_desc(mm->wei, &mine), err);
    DNNL_TRY(dnnl_memory_get_memory_desc(from->wei, &theirs), err);
    if (dnnl_memory_desc_equal(mine, theirs)) {
        DNNL_TRY(dnnl_memory_set_data_handle(mm->wei, from->wei_ptr), err);
        mm->wei_ptr = from->wei_ptr;
        mm->have_weight = true;
        return AB_OK;
    }
    dnnl_primitive_desc_t rpd;
    DNNL_TRY(dnnl_reorder_primitive_desc_create(&rpd, theirs, from->eng, mine, mm->eng, NULL), err);
    dnnl_primitive_t r = NULL;
    dnnl_status_t s = dnnl_primitive_create(&r, rpd);
    dnnl_primitive_desc_destroy(rpd);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[2] = { { DNNL_ARG_FROM, from->wei }, { DNNL_ARG_TO, mm->wei } };
        s = dnnl_primitive_execute(r, mm->strm, 2, args);
        if (s == dnnl_success)
            s = dnnl_stream_wait(mm->strm);
    }
    if (r)
        dnnl_primitive_destroy(r);
    DNNL_TRY(s, err);
    mm->have_weight = true;
    return AB_OK;
}

ab_status ops_matmul_run(struct ops_matmul *mm, void *out, const void *inp, const float *bias,
                         const void *res, struct ab_error *err)
{
    if (!mm->have_weight)
        return ab_fail(err, AB_EINVAL, "matmul: run before set_weight");
    if (((mm->flags & OPS_MM_BIAS) && !bias) || ((mm->flags & OPS_MM_RESIDUAL) && !res))
        return ab_fail(err, AB_EINVAL, "matmul: bias or residual missing for the plan's flags");
    if (mm->gemv) {
        gemv_run(mm, out, inp, bias, res);
        return AB_OK;
    }
    if (mm->gemv2) {
        gemv2_run(mm, out, inp, bias, res);
        return AB_OK;
    }
    if (mm->gemm2) {
        ops_gemm_avx2(out, inp, (size_t)mm->K, mm->wei_ptr, mm->M, mm->N, mm->K, mm->flags, bias, res);
        return AB_OK;
    }
    DNNL_TRY(dnnl_memory_set_data_handle(mm->src, (void *)inp), err);
    DNNL_TRY(dnnl_memory_set_data_handle(mm->dst, out), err);
    dnnl_exec_arg_t args[5] = { { DNNL_ARG_SRC, mm->src },
                                { DNNL_ARG_WEIGHTS, mm->wei },
                                { DNNL_ARG_DST, mm->dst } };
    int n = 3;
    if (mm->flags & OPS_MM_BIAS) {
        DNNL_TRY(dnnl_memory_set_data_handle(mm->bias, (void *)bias), err);
        args[n++] = (dnnl_exec_arg_t){ DNNL_ARG_BIAS, mm->bias };
    }
    if (mm->flags & OPS_MM_RESIDUAL) {
        DNNL_TRY(dnnl_memory_set_data_handle(mm->res, (void *)res), err);
        int idx = (mm->flags & OPS_MM_GELU) ? 1 : 0; /* index of the binary post-op */
        args[n++] = (dnnl_exec_arg_t){ DNNL_ARG_ATTR_MULTIPLE_POST_OP(idx) | DNNL_ARG_SRC_1, mm->res };
    }
    DNNL_TRY(dnnl_primitive_execute(mm->prim, mm->strm, n, args), err);
    DNNL_TRY(dnnl_stream_wait(mm->strm), err);
    return AB_OK;
}

/* D *= sA sB in fp32: one value each (tensor) or a vector over D's rows and one over its columns
 * (outer), as FP8 hardware applies them after an unscaled fp32 product. */
static void apply_scales(const struct ops_mm_desc *d, float *D, const float *sA, const float *sB)
{
    int64_t m = d->m, n = d->n, ld = ops_mm_ldd(d);
    if (d->scale == OPS_MM_SCALE_OUTER) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                D[i * ld + j] *= sA[i] * sB[j];
    } else if (ld == n) {
        float sc = sA[0] * sB[0];
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < m * n; i++)
            D[i] *= sc;
    } else {
        float sc = sA[0] * sB[0];
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                D[i * ld + j] *= sc;
    }
}

ab_status ops_matmul_exec(struct ops_matmul *mm, void *D, const void *A, const void *B, const float *a_scales,
                          const float *b_scales, const float *bias, const void *res, struct ab_error *err)
{
    if (mm->d.packed_b)
        return ab_fail(err, AB_EINVAL, "matmul: exec on a packed plan (use ops_matmul_run)");
    if (mm->d.scale != OPS_MM_SCALE_NONE && (!a_scales || !b_scales))
        return ab_fail(err, AB_EINVAL, "matmul: scales missing for the plan's scale mode");
    DNNL_TRY(dnnl_memory_set_data_handle(mm->wei, (void *)B), err);
    mm->have_weight = true;
    ab_status st = ops_matmul_run(mm, D, A, bias, res, err);
    mm->have_weight = false;
    if (st || mm->d.scale == OPS_MM_SCALE_NONE)
        return st;
    apply_scales(&mm->d, D, a_scales, b_scales);
    return AB_OK;
}

int ops_matmul_blocks(const struct ops_matmul *mm)
{
    return mm->gemv2 && mm->have_weight && !(mm->flags & OPS_MM_RESIDUAL) ? (mm->N + mm->nb - 1) / mm->nb : 0;
}

void ops_matmul_run_block(const struct ops_matmul *mm, int blk, float *out, const float *inp, int rows,
                          const float *bias)
{
    gemv2_block(mm, blk, out, inp, (size_t)mm->K, rows, bias, NULL);
}

const char *ops_matmul_impl(const struct ops_matmul *mm)
{
    return mm->impl;
}

void ops_matmul_destroy(struct ops_matmul *mm)
{
    if (!mm)
        return;
    dnnl_memory_t mems[] = { mm->src, mm->wei, mm->bias, mm->dst, mm->res };
    for (int i = 0; i < 5; i++)
        if (mems[i])
            dnnl_memory_destroy(mems[i]);
    if (mm->prim)
        dnnl_primitive_destroy(mm->prim);
    if (mm->strm)
        dnnl_stream_destroy(mm->strm);
    if (mm->eng)
        dnnl_engine_destroy(mm->eng);
    ab_free(mm->wei_buf);
    ab_free(mm->xpad);
    free(mm);
}
