/* attn_decode_cpu.c — decode attention on the CPU: one new query per query head over a KV
 * cache, G query heads sharing each KV head (grouped-query attention). The one op that
 * attention_memory's decode and gpt2's decode step run. Not prefill: that is the flash kernel.
 * Keys go in tiles with an online softmax (base 2, log2 e folded into the query scale), so a
 * thread's scratch does not grow with the context; when the (sequence, KV head) pairs are too
 * few for the threads, each pair's keys are split and the splits merged by log-sum-exp.
 * Kernels, from simple to fast:
 *   generic:  scalar, any CPU (ops_set_generic forces it).
 *   dot:      G = 1, 2 (AVX2 + FMA): a vector spans the head dimension; four dot products at a
 *             time, bf16 widened in registers. Bound by reading the cache.
 *   headlane: G >= 3 (AVX2 + FMA, attn_decode_cpu_tmpl.h): a vector spans 4 or 8 query heads,
 *             so the scores of a key and P.V of a tile are vectors of the block's heads. Q.K^T
 *             (HS a multiple of 8) spans HS instead: each K vector, widened in the register,
 *             feeds every head of the block, the heads' queries read from L1 by the FMAs
 *             themselves, and a key's lane sums become its vector of scores; P.V takes one
 *             broadcast V element for all heads of the block per FMA, from the tile's V
 *             widened to fp32 once for all blocks. */
#include "ops.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include "vmath.h"
#define DEC_X86 1
#else
#define DEC_X86 0
#endif

/* DOT_TILE: keys per online-softmax step of the dot kernels (their scores live on the stack).
 * HL_TILE: keys per step of the head-lane kernels: the tile's fp32 K or V (HL_TILE x HS, 8 KB
 * at HS = 128), the queries and the accumulators of a block of 8 heads stay in a 32 KB L1 with
 * room for the next tile's prefetched lines; 16 keys read a bf16 cache at group 8 faster from
 * DRAM than 32 did (shorter bursts of loads between the tiles' compute).
 * HL_J, HL_C: keys of a Q.K^T register tile and columns of a P.V register tile (accumulators). */
enum { DOT_TILE = 64, HL_TILE = 16, HL_J = 12, HL_C = 12, MIN_SPLIT_KEYS = 512 };

#define LOG2E 1.44269504088896341f

/* What every kernel reads: the shape, the tensors, the query scale (with log2 e). */
struct dec {
    const struct ops_attn_decode_io *io;
    int G, HS, Hkv;
    enum ab_dtype q_dt, kv_dt;
    float qs;
};

static inline float elem(const void *p, enum ab_dtype dt, size_t i)
{
    return dt == AB_DTYPE_BF16 ? ab_bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

/* Row j of (sequence b, KV head hk) of cache base (k or v). */
static inline const char *kv_row(const struct dec *x, const void *base, int b, int hk, int64_t j)
{
    const struct ops_attn_decode_io *io = x->io;
    int64_t e = (int64_t)b * io->kv_b + (int64_t)hk * io->kv_h + j * io->kv_t;
    return (const char *)base + (size_t)e * ab_dtype_size(x->kv_dt);
}

/* Query head g of KV head hk's group in sequence b, as stored. */
static inline const char *q_row(const struct dec *x, int b, int hk, int g)
{
    const struct ops_attn_decode_io *io = x->io;
    int64_t e = (int64_t)b * io->q_b + ((int64_t)hk * x->G + g) * io->q_h;
    return (const char *)io->q + (size_t)e * ab_dtype_size(x->q_dt);
}

/* That query scaled by qs, into dst[c * stride]. */
static void q_row_f32(const struct dec *x, int b, int hk, int g, float *dst, int stride)
{
    const char *q = q_row(x, b, hk, g);
    for (int c = 0; c < x->HS; c++)
        dst[(size_t)c * (size_t)stride] = elem(q, x->q_dt, (size_t)c) * x->qs;
}

/* After the keys of a range: normalize the G rows of o (stride ldo) by their sums, or, for a
 * split's partial result, leave them and put m and l in the two floats before each row. */
static void finish(float *o, int64_t ldo, int G, int HS, const float *m, const float *l, bool partial)
{
    for (int g = 0; g < G; g++) {
        float *og = o + (size_t)g * (size_t)ldo;
        if (partial) {
            og[-2] = m[g], og[-1] = l[g];
            continue;
        }
        float inv = 1.0f / l[g];
        for (int c = 0; c < HS; c++)
            og[c] *= inv;
    }
}

/* ------------------------------------------------------------------ generic */

/* Keys [j0, j1) for each of the G heads in turn: per tile of DOT_TILE keys the scores, the
 * online softmax step and the weighted sum of V, all scalar; o's rows accumulate in place. */
static void gen_range(const struct dec *x, int b, int hk, int j0, int j1, float *o, int64_t ldo, bool partial)
{
    int G = x->G, HS = x->HS;
    float m[64], l[64], s[DOT_TILE];
    for (int g = 0; g < G; g++) {
        const char *q = q_row(x, b, hk, g);
        float *og = o + (size_t)g * (size_t)ldo;
        memset(og, 0, (size_t)HS * 4);
        m[g] = -INFINITY, l[g] = 0;
        for (int k0 = j0; k0 < j1; k0 += DOT_TILE) {
            int kn = j1 - k0 < DOT_TILE ? j1 - k0 : DOT_TILE;
            float mx = -INFINITY;
            for (int j = 0; j < kn; j++) {
                const char *kr = kv_row(x, x->io->k, b, hk, k0 + j);
                float acc = 0;
                for (int c = 0; c < HS; c++)
                    acc += elem(q, x->q_dt, (size_t)c) * elem(kr, x->kv_dt, (size_t)c);
                s[j] = acc * x->qs;
                mx = s[j] > mx ? s[j] : mx;
            }
            float mn = m[g] > mx ? m[g] : mx, corr = exp2f(m[g] - mn), sum = 0;
            for (int j = 0; j < kn; j++)
                sum += (s[j] = exp2f(s[j] - mn));
            l[g] = l[g] * corr + sum, m[g] = mn;
            for (int c = 0; c < HS; c++)
                og[c] *= corr;
            for (int j = 0; j < kn; j++) {
                const char *vr = kv_row(x, x->io->v, b, hk, k0 + j);
                for (int c = 0; c < HS; c++)
                    og[c] += s[j] * elem(vr, x->kv_dt, (size_t)c);
            }
        }
    }
    finish(o, ldo, G, HS, m, l, partial);
}

/* ------------------------------------------------------------------ AVX2 + FMA */
#if DEC_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")

/* 8 elements from i of a row of dtype dt as fp32 (bf16 widened: its bits are fp32's top half). */
static inline __m256 ld8(const void *p, enum ab_dtype dt, size_t i)
{
    if (dt == AB_DTYPE_FP32)
        return _mm256_loadu_ps((const float *)p + i);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* --- dot: G = 1, 2 */

/* The four dot products q_i . k_i over HS (q fp32, k rows in dt): four chains of FMAs, reduced
 * together by three horizontal adds. */
static inline __m128 dot4(const float *q0, const float *q1, const float *q2, const float *q3, const char *k0,
                          const char *k1, const char *k2, const char *k3, enum ab_dtype dt, int HS)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int c = 0;
    for (; c + 8 <= HS; c += 8) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q0 + c), ld8(k0, dt, (size_t)c), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q1 + c), ld8(k1, dt, (size_t)c), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(q2 + c), ld8(k2, dt, (size_t)c), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(q3 + c), ld8(k3, dt, (size_t)c), a3);
    }
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
    if (c < HS) {
        float tail[4] = { 0, 0, 0, 0 };
        for (; c < HS; c++) {
            tail[0] += q0[c] * elem(k0, dt, (size_t)c);
            tail[1] += q1[c] * elem(k1, dt, (size_t)c);
            tail[2] += q2[c] * elem(k2, dt, (size_t)c);
            tail[3] += q3[c] * elem(k3, dt, (size_t)c);
        }
        r = _mm_add_ps(r, _mm_loadu_ps(tail));
    }
    return r;
}

/* o (R rows, NV x 8 columns from c0) = corr o + S (R, DOT_TILE) . V (kn rows from vb). */
static inline __attribute__((always_inline)) void pv_dot_tile(float *o, int64_t ldo, const float *corr,
                                                              const float *S, const char *vb, size_t vstride,
                                                              enum ab_dtype dt, int kn, int c0, const int R,
                                                              const int NV)
{
    __m256 acc[2][8];
    for (int g = 0; g < R; g++)
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++)
            acc[g][v] = _mm256_mul_ps(_mm256_loadu_ps(o + (size_t)g * (size_t)ldo + c0 + 8 * v),
                                      _mm256_set1_ps(corr[g]));
    for (int j = 0; j < kn; j++) {
        const char *vr = vb + (size_t)j * vstride;
        __m256 vv[8];
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++)
            vv[v] = ld8(vr, dt, (size_t)(c0 + 8 * v));
        for (int g = 0; g < R; g++) {
            __m256 p = _mm256_broadcast_ss(S + (size_t)g * DOT_TILE + j);
#pragma GCC unroll 8
            for (int v = 0; v < NV; v++)
                acc[g][v] = _mm256_fmadd_ps(p, vv[v], acc[g][v]);
        }
    }
    for (int g = 0; g < R; g++)
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++)
            _mm256_storeu_ps(o + (size_t)g * (size_t)ldo + c0 + 8 * v, acc[g][v]);
}

/* o (R rows) = corr o + S . V over all HS columns: passes of 8 / R vectors (one pass over the
 * tile's V rows each, from L1 after the first), the last columns scalar. */
static inline __attribute__((always_inline)) void pv_dot(float *o, int64_t ldo, const float *corr,
                                                         const float *S, const char *vb, size_t vstride,
                                                         enum ab_dtype dt, int kn, int HS, const int R)
{
    int c0 = 0, full = HS / 8 * 8;
    for (; c0 < full;) {
        int nv = (full - c0) / 8, cap = 8 / R;
        nv = nv < cap ? nv : cap;
        switch (nv) { /* a constant vector count, so that the accumulators stay registers */
        case 8: pv_dot_tile(o, ldo, corr, S, vb, vstride, dt, kn, c0, R, 8); break;
        case 7: pv_dot_tile(o, ldo, corr, S, vb, vstride, dt, kn, c0, R, 7); break;
        case 6: pv_dot_tile(o, ldo, corr, S, vb, vstride, dt, kn, c0, R, 6); break;
        case 5: pv_dot_tile(o, ldo, corr, S, vb, vstride, dt, kn, c0, R, 5); break;
        case 4: pv_dot_tile(o, ldo, corr, S, vb, vstride, dt, kn, c0, R, 4); break;
        case 3: pv_dot_tile(o, ldo, corr, S, vb, vstride, dt, kn, c0, R, 3); break;
        case 2: pv_dot_tile(o, ldo, corr, S, vb, vstride, dt, kn, c0, R, 2); break;
        default: pv_dot_tile(o, ldo, corr, S, vb, vstride, dt, kn, c0, R, 1); break;
        }
        c0 += 8 * nv;
    }
    for (int g = 0; g < R; g++)
        for (int c = full; c < HS; c++) {
            float *oc = o + (size_t)g * (size_t)ldo + c, a = *oc * corr[g];
            for (int j = 0; j < kn; j++)
                a += S[(size_t)g * DOT_TILE + j] * elem(vb + (size_t)j * vstride, dt, (size_t)c);
            *oc = a;
        }
}

/* One online-softmax step over n scores s (base 2): s becomes 2^(s - m_new), *l and *m are
 * updated, and the factor for what was accumulated before, 2^(m_old - m_new), returned. */
static float softmax_step(float *s, int n, float *m, float *l)
{
    float mx = -INFINITY;
    for (int j = 0; j < n; j++)
        mx = s[j] > mx ? s[j] : mx;
    float mn = *m > mx ? *m : mx, corr = exp2f(*m - mn);
    __m256 acc = _mm256_setzero_ps(), mv = _mm256_set1_ps(mn);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 e = ops_exp2_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv));
        _mm256_storeu_ps(s + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    float t[8], sum = 0;
    _mm256_storeu_ps(t, acc);
    for (int i = 0; i < 8; i++)
        sum += t[i];
    for (; j < n; j++)
        sum += (s[j] = exp2f(s[j] - mn));
    *l = *l * corr + sum, *m = mn;
    return corr;
}

/* Keys [j0, j1) for G = 1 or 2 heads: per tile of DOT_TILE keys, four dot products at a time
 * (four keys of one head, or two keys of two heads), the softmax step, then P.V into o's rows.
 * qbuf: G x HS floats where the query is not fp32 (else unused). */
static void dot_range(const struct dec *x, int b, int hk, int j0, int j1, float *qbuf, float *o, int64_t ldo,
                      bool partial)
{
    int G = x->G, HS = x->HS;
    enum ab_dtype dt = x->kv_dt;
    const float *q0, *q1;
    if (x->q_dt == AB_DTYPE_FP32) {
        q0 = (const float *)q_row(x, b, hk, 0), q1 = (const float *)q_row(x, b, hk, G - 1);
    } else {
        for (int g = 0; g < G; g++) {
            const char *q = q_row(x, b, hk, g);
            for (int c = 0; c < HS; c++)
                qbuf[(size_t)g * (size_t)HS + (size_t)c] = elem(q, x->q_dt, (size_t)c);
        }
        q0 = qbuf, q1 = qbuf + (size_t)(G - 1) * (size_t)HS;
    }
    size_t rs = (size_t)x->io->kv_t * ab_dtype_size(dt);
    const char *kb = kv_row(x, x->io->k, b, hk, 0), *vb = kv_row(x, x->io->v, b, hk, 0);
    float S[2 * DOT_TILE], m[2] = { -INFINITY, -INFINITY }, l[2] = { 0, 0 }, corr[2];
    __m128 qs = _mm_set1_ps(x->qs);
    for (int g = 0; g < G; g++)
        memset(o + (size_t)g * (size_t)ldo, 0, (size_t)HS * 4);
    for (int k0 = j0; k0 < j1; k0 += DOT_TILE) {
        int kn = j1 - k0 < DOT_TILE ? j1 - k0 : DOT_TILE, j = 0;
        const char *kt = kb + (size_t)k0 * rs;
        if (G == 1) {
            for (; j + 4 <= kn; j += 4) {
                const char *k = kt + (size_t)j * rs;
                _mm_storeu_ps(
                    S + j, _mm_mul_ps(qs, dot4(q0, q0, q0, q0, k, k + rs, k + 2 * rs, k + 3 * rs, dt, HS)));
            }
            for (; j < kn; j++) { /* the last keys: duplicates of one in the four lanes */
                const char *k = kt + (size_t)j * rs;
                S[j] = _mm_cvtss_f32(_mm_mul_ps(qs, dot4(q0, q0, q0, q0, k, k, k, k, dt, HS)));
            }
        } else {
            for (; j < kn; j += 2) {
                const char *k = kt + (size_t)j * rs, *k1 = j + 1 < kn ? k + rs : k;
                float r[4];
                _mm_storeu_ps(r, _mm_mul_ps(qs, dot4(q0, q1, q0, q1, k, k, k1, k1, dt, HS)));
                S[j] = r[0], S[DOT_TILE + j] = r[1];
                if (j + 1 < kn)
                    S[j + 1] = r[2], S[DOT_TILE + j + 1] = r[3];
            }
        }
        for (int g = 0; g < G; g++)
            corr[g] = softmax_step(S + (size_t)g * DOT_TILE, kn, &m[g], &l[g]);
        const char *vt = vb + (size_t)k0 * rs;
        if (G == 1)
            pv_dot(o, ldo, corr, S, vt, rs, dt, kn, HS, 1);
        else
            pv_dot(o, ldo, corr, S, vt, rs, dt, kn, HS, 2);
    }
    finish(o, ldo, G, HS, m, l, partial);
}

/* --- head-lane: G >= 3 */

/* Rows [k0, k0 + kn) of a (sequence, KV head)'s cache from row 0 at base as fp32 with row
 * stride *ld: the cache itself when fp32, else widened into T (kn, HS). */
static const float *rows_f32(const struct dec *x, const char *base, int k0, int kn, float *T, int64_t *ld)
{
    int64_t kv_t = x->io->kv_t;
    if (x->kv_dt == AB_DTYPE_FP32) {
        *ld = kv_t;
        return (const float *)base + (size_t)k0 * (size_t)kv_t;
    }
    int HS = x->HS;
    for (int r = 0; r < kn; r++) {
        const uint16_t *src = (const uint16_t *)base + (size_t)(k0 + r) * (size_t)kv_t;
        float *dst = T + (size_t)r * (size_t)HS;
        int c = 0;
        for (; c + 8 <= HS; c += 8)
            _mm256_storeu_ps(dst + c, ld8(src, AB_DTYPE_BF16, (size_t)c));
        for (; c < HS; c++)
            dst[c] = ab_bf16_to_f32(src[c]);
    }
    *ld = HS;
    return T;
}

/* Rows [k0, k0 + kn) of a cache from row 0 at base into L2, while the tile before is computed:
 * a tile's compute is long enough that the hardware's stream prefetch, which runs little ahead
 * of the widening loop's bursts, leaves DRAM idle between them. */
static void prefetch_rows(const struct dec *x, const char *base, int k0, int kn)
{
    size_t es = ab_dtype_size(x->kv_dt), row = (size_t)x->HS * es, rs = (size_t)x->io->kv_t * es;
    for (int r = 0; r < kn; r++) {
        const char *p = base + (size_t)(k0 + r) * rs;
        for (size_t o = 0; o < row; o += 64)
            _mm_prefetch(p + o, _MM_HINT_T1);
    }
}

#define W        8
#define V        __m256
#define VLOAD    _mm256_loadu_ps
#define VSTORE   _mm256_storeu_ps
#define VSET1    _mm256_set1_ps
#define VBCAST   _mm256_broadcast_ss
#define VFMA     _mm256_fmadd_ps
#define VMUL     _mm256_mul_ps
#define VADD     _mm256_add_ps
#define VSUB     _mm256_sub_ps
#define VMAX     _mm256_max_ps
#define VZERO    _mm256_setzero_ps
#define VEXP2    ops_exp2_avx2
#define FN(name) name##_w8
#include "attn_decode_cpu_tmpl.h" /* undefines its parameters */

#define W        4
#define V        __m128
#define VLOAD    _mm_loadu_ps
#define VSTORE   _mm_storeu_ps
#define VSET1    _mm_set1_ps
#define VBCAST   _mm_broadcast_ss
#define VFMA     _mm_fmadd_ps
#define VMUL     _mm_mul_ps
#define VADD     _mm_add_ps
#define VSUB     _mm_sub_ps
#define VMAX     _mm_max_ps
#define VZERO    _mm_setzero_ps
#define VEXP2    ops_exp2_sse_fma
#define FN(name) name##_w4
#include "attn_decode_cpu_tmpl.h"

#pragma GCC pop_options
#endif /* DEC_X86 */

/* ------------------------------------------------------------------ the op */

static bool use_vec(void)
{
#if DEC_X86
    return !ops_generic() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

const char *ops_attn_decode_impl(int G)
{
    if (!use_vec())
        return "generic";
    return G <= 2 ? "avx2_fma_dot" : G <= 4 ? "avx2_fma_headlane4" : "avx2_fma_headlane8";
}

/* Floats of one thread's scratch: the head-lane kernels' queries, accumulators, maxima, sums,
 * scores and fp32 tile; the dot kernels' fp32 query rows. 64-byte multiples. */
static size_t thread_floats(int G, int HS)
{
    size_t w = G <= 4 ? 4 : 8, gp = ((size_t)G + w - 1) / w * w, hs = (size_t)HS;
    size_t hl = gp * hs * 2 + gp * 2 + (size_t)HL_TILE * gp + (size_t)HL_TILE * hs, dot = (size_t)G * hs;
    size_t f = G <= 2 ? dot : hl;
    return (f + 15) / 16 * 16;
}

void ops_attn_decode_split(int64_t seqs, int n, int threads, int *splits, int *span)
{
    int64_t s = threads > 1 ? (4 * (int64_t)threads + seqs - 1) / seqs : 1;
    int64_t cap = ((int64_t)n + MIN_SPLIT_KEYS - 1) / MIN_SPLIT_KEYS;
    if (s > cap)
        s = cap;
    if (s < 1)
        s = 1;
    int64_t sp = ((int64_t)n + s - 1) / s;
    *span = (int)sp;
    *splits = (int)((n + sp - 1) / sp); /* none empty */
}

ab_status ops_attn_decode_check(const struct ops_attn_decode_desc *d, struct ab_error *err)
{
    if (d->B < 1 || d->Hkv < 1 || d->n < 1 || d->HS < 1 || d->threads < 1)
        return ab_fail(err, AB_EINVAL, "decode attention: B=%d, Hkv=%d, n=%d, HS=%d, threads=%d must be >= 1",
                       d->B, d->Hkv, d->n, d->HS, d->threads);
    if (d->G < 1 || d->G > OPS_ATTN_DECODE_MAX_G)
        return ab_fail(err, AB_EINVAL, "decode attention: group %d is outside 1..%d", d->G,
                       OPS_ATTN_DECODE_MAX_G);
    if ((d->q_dt != AB_DTYPE_FP32 && d->q_dt != AB_DTYPE_BF16) ||
        (d->kv_dt != AB_DTYPE_FP32 && d->kv_dt != AB_DTYPE_BF16))
        return ab_fail(err, AB_EUNSUPPORTED, "decode attention: q %s, cache %s: fp32 or bf16 only",
                       ab_dtype_name(d->q_dt), ab_dtype_name(d->kv_dt));
    return AB_OK;
}

size_t ops_attn_decode_scratch_bytes(const struct ops_attn_decode_desc *d)
{
    int splits, span;
    ops_attn_decode_split((int64_t)d->B * d->Hkv, d->n, d->threads, &splits, &span);
    size_t parts =
        splits > 1 ? (size_t)d->B * (size_t)d->Hkv * (size_t)splits * (size_t)d->G * ((size_t)d->HS + 2) : 0;
    parts = (parts + 15) / 16 * 16;
    return (parts + (size_t)d->threads * thread_floats(d->G, d->HS)) * 4;
}

/* Keys [j0, j1) of (b, hk) for its G heads, by the kernel for this G and CPU. */
static void range(const struct dec *x, bool vec, int b, int hk, int j0, int j1, float *scr, float *o,
                  int64_t ldo, bool partial)
{
#if DEC_X86
    if (vec) {
        if (x->G <= 2)
            dot_range(x, b, hk, j0, j1, scr, o, ldo, partial);
        else if (x->G <= 4)
            hl_range_w4(x, b, hk, j0, j1, scr, o, ldo, partial);
        else
            hl_range_w8(x, b, hk, j0, j1, scr, o, ldo, partial);
        return;
    }
#endif
    (void)vec, (void)scr;
    gen_range(x, b, hk, j0, j1, o, ldo, partial);
}

void ops_attn_decode(const struct ops_attn_decode_desc *d, const struct ops_attn_decode_io *io, void *scratch)
{
    struct dec x = { .io = io,
                     .G = d->G,
                     .HS = d->HS,
                     .Hkv = d->Hkv,
                     .q_dt = d->q_dt,
                     .kv_dt = d->kv_dt,
                     .qs = (d->scale > 0 ? d->scale : 1.0f / sqrtf((float)d->HS)) * LOG2E };
    int G = d->G, HS = d->HS, splits, span;
    int64_t seqs = (int64_t)d->B * d->Hkv;
    ops_attn_decode_split(seqs, d->n, d->threads, &splits, &span);
    size_t part = (size_t)G * ((size_t)HS + 2), per = thread_floats(G, HS);
    size_t parts_f = splits > 1 ? ((size_t)seqs * (size_t)splits * part + 15) / 16 * 16 : 0;
    float *parts = scratch, *thr = parts + parts_f;
    int64_t items = seqs * splits;
    bool vec = use_vec();
#pragma omp parallel for schedule(dynamic, 1) num_threads(d->threads) if (d->threads > 1 && items > 1)
    for (int64_t t = 0; t < items; t++) {
        int64_t sq = t / splits;
        int sp = (int)(t % splits), b = (int)(sq / d->Hkv), hk = (int)(sq % d->Hkv);
        int j0 = sp * span, j1 = j0 + span < d->n ? j0 + span : d->n;
        float *scr = thr + per * (size_t)omp_get_thread_num();
        if (splits == 1)
            range(&x, vec, b, hk, j0, j1, scr,
                  io->out + (size_t)b * (size_t)io->o_b + (size_t)hk * (size_t)G * (size_t)io->o_h, io->o_h,
                  false);
        else
            range(&x, vec, b, hk, j0, j1, scr, parts + (size_t)t * part + 2, (int64_t)HS + 2, true);
    }
    if (splits == 1)
        return;
    /* Merge each (sequence, query head)'s splits: little work, done serially, because another
     * parallel region costs more than it saves when the cores are shared. */
    for (int64_t sq = 0; sq < seqs; sq++) {
        int b = (int)(sq / d->Hkv), hk = (int)(sq % d->Hkv);
        for (int g = 0; g < G; g++) {
            const float *p0 = parts + (size_t)sq * (size_t)splits * part + (size_t)g * ((size_t)HS + 2);
            float gm = -INFINITY, den = 0;
            for (int s = 0; s < splits; s++)
                gm = fmaxf(gm, p0[(size_t)s * part]);
            float *o = io->out + (size_t)b * (size_t)io->o_b +
                       ((size_t)hk * (size_t)G + (size_t)g) * (size_t)io->o_h;
            for (int c = 0; c < HS; c++)
                o[c] = 0;
            for (int s = 0; s < splits; s++) {
                const float *ps = p0 + (size_t)s * part;
                float w = exp2f(ps[0] - gm);
                den += w * ps[1];
                for (int c = 0; c < HS; c++)
                    o[c] += w * ps[2 + c];
            }
            float inv = 1.0f / den;
            for (int c = 0; c < HS; c++)
                o[c] *= inv;
        }
    }
}

void ops_attn_decode_one(float *out, const float *q, const void *K, const void *V, enum ab_dtype kv_dt,
                         int64_t ld, int n, int HS, float scale)
{
    struct ops_attn_decode_io io = { .q = q, .k = K, .v = V, .out = out, .kv_t = ld };
    struct dec x = {
        .io = &io, .G = 1, .HS = HS, .Hkv = 1, .q_dt = AB_DTYPE_FP32, .kv_dt = kv_dt, .qs = scale * LOG2E
    };
    range(&x, use_vec(), 0, 0, 0, n, NULL, out, HS, false);
}
