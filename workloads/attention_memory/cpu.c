/* cpu.c — attention_memory on the host, all cores through OpenMP, fp32 arithmetic on inputs
 * converted tile by tile (bf16 is exact in fp32). Kernels, from naive to fast:
 *   cpu_naive:   S = Q K^T stored whole (n x n fp32), row softmax in place, then P V.
 *   cpu_chunked: Rabe & Staats: per query chunk and key chunk, the chunk's scores, its row
 *                maxima, sums of exponentials and exp-weighted values; the key chunks' partial
 *                results are merged at the end with log-sum-exp rescaling.
 *   cpu_fused:   ops' flash kernel (ops/flash_cpu.c, the one transformer_block and gpt2 run):
 *                online softmax over query x key blocks; nothing n-sized is stored.
 *   cpu_decode:  one query per head over the KV cache, keys split across threads when B*Hkv
 *                is small, partial results merged as in the fused kernel; each K and V row is
 *                read once for all G query heads of its group, with one register accumulator
 *                per head.
 * naive and chunked run their Q.K^T and P.V through the flash kernel's tile kernels
 * (ops_attn_qk, ops_attn_pv) and its exponential, so their times against fused compare the
 * algorithms, not the code. Every scratch buffer goes through the case's tracker: its
 * high-water mark is the measured peak extra memory; inputs and the output are allocated in
 * setup and not counted. */
#include "attention_memory.h"
#include "ops.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* DECODE_SUB: the K or V rows a decode kernel call takes, few enough (16 x d fp32, 8 KB at
 * d = 128) to stay in L1 while the kernel passes over them once per 8 columns. */
/* TILE_Q: the query rows naive and chunked give one tile-kernel call. */
enum { TILE_Q = 32, DECODE_BK = 256, DECODE_SUB = 16 };

/* Row stride of a transposed K tile of ld keys: a power-of-two stride would send every row's
 * element c of the scatter in transpose_f32 to the same few L1 sets; one extra cache line per
 * row spreads them over all sets. */
static int kt_ld(int keys)
{
    return keys + AM_KT_PAD;
}

struct cpu_state {
    struct am_shape s;
    void *q, *k, *v;
    float *out;
    size_t q_bytes, kv_bytes, out_bytes;
    struct am_tracker tr;
    int threads;
    struct ops_attn *flash; /* prefill fused: ops' plan, its scratch from the tracker */
};

/* dst[i] = src[i] as fp32 for n elements of dtype dt. */
static void to_f32(float *restrict dst, const void *restrict src, size_t n, enum ab_dtype dt)
{
    if (dt == AB_DTYPE_FP32) {
        memcpy(dst, src, n * 4);
    } else if (dt == AB_DTYPE_BF16) { /* inline: a row of keys at a time in the timed loops */
        const uint16_t *h = src;
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            dst[i] = ab_bf16_to_f32(h[i]);
    } else {
        ab_dtype_to_f32(dt, dst, src, n);
    }
}

/* exp(x) for the softmax loops, in a form the compiler vectorizes (libm's expf is scalar
 * here): x = k ln2 + r with |r| <= ln2/2, exp(r) by its degree-6 Taylor polynomial (relative
 * error below 2e-7), 2^k put into the exponent bits; exp(-inf) and anything below the
 * smallest normal float is 0. */
static inline float softmax_exp(float x)
{
    float xc = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    float k = __builtin_rintf(xc * 1.44269504088896341f);
    float r = xc - k * 0.693145751953125f - k * 1.42860682030941723e-06f; /* ln2 hi + lo */
    float p =
        1.0f +
        r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return x < -87.0f ? 0.0f : p * scale;
}

/* q row i of head h in fp32, scaled by 1/sqrt(d). */
static void load_q(float *qr, const struct cpu_state *st, size_t off)
{
    const struct am_shape *s = &st->s;
    to_f32(qr, (const char *)st->q + off * ab_dtype_size(s->dtype), (size_t)s->d, s->dtype);
    float scale = 1.0f / sqrtf((float)s->d);
    for (int c = 0; c < s->d; c++)
        qr[c] *= scale;
}

#define TRACKED(ptr, bytes)                                                                                  \
    do {                                                                                                     \
        if (!((ptr) = am_alloc(&st->tr, (bytes)))) {                                                         \
            st_ = ab_fail(err, AB_ENOMEM, "cannot allocate %zu bytes of scratch for %s", (size_t)(bytes),    \
                          #ptr);                                                                             \
            goto done;                                                                                       \
        }                                                                                                    \
    } while (0)

/* Rows [i0, i0 + rows) of head h's queries, scaled, into qb (rows, d). */
static void load_q_rows(float *qb, const struct cpu_state *st, int h, int i0, int rows)
{
    size_t hs = (size_t)st->s.n * (size_t)st->s.d;
    for (int r = 0; r < rows; r++)
        load_q(qb + (size_t)r * (size_t)st->s.d, st, (size_t)h * hs + (size_t)(i0 + r) * (size_t)st->s.d);
}

static ab_status cpu_naive(struct cpu_state *st, struct ab_error *err)
{
    const struct am_shape *s = &st->s;
    int n = (int)s->n, d = s->d;
    size_t es = ab_dtype_size(s->dtype), hs = (size_t)n * (size_t)d;
    /* K packed for the tile kernels: ceil(n/16)*16 keys, within kt_ld(n) */
    size_t s_bytes = (size_t)n * (size_t)n * 4, kt_bytes = (size_t)kt_ld(n) * (size_t)d * 4,
           vf_bytes = hs * 4;
    float *S = NULL, *kt = NULL, *vf = NULL;
    ab_status st_ = AB_OK;
    TRACKED(S, s_bytes);
    TRACKED(kt, kt_bytes);
    TRACKED(vf, vf_bytes);
    for (int h = 0; h < s->heads; h++) {
        const char *kh = (const char *)st->k + (size_t)h * hs * es,
                   *vh = (const char *)st->v + (size_t)h * hs * es;
        ops_attn_pack_k(kt, kh, d, n, d, s->dtype);
        to_f32(vf, vh, hs, s->dtype);
        /* S = Q K^T / sqrt(d), the whole matrix, TILE_Q rows a call */
#pragma omp parallel for schedule(dynamic, 1)
        for (int i0 = 0; i0 < n; i0 += TILE_Q) {
            float qb[TILE_Q * 256];
            int rows = n - i0 < TILE_Q ? n - i0 : TILE_Q, nk = s->causal ? i0 + rows : n;
            load_q_rows(qb, st, h, i0, rows);
            ops_attn_qk(S + (size_t)i0 * (size_t)n, n, qb, d, kt, rows, nk, d);
            for (int r = 0; r < rows; r++) {
                float *row = S + (size_t)(i0 + r) * (size_t)n;
                for (int j = s->causal ? i0 + r + 1 : n; j < n; j++)
                    row[j] = -INFINITY;
            }
        }
        /* P = softmax(S), in place */
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++) {
            float *row = S + (size_t)i * (size_t)n;
            float sum = ops_attn_exp_sum(row, n, ops_attn_row_max(row, n)), inv = 1.0f / sum;
            for (int j = 0; j < n; j++)
                row[j] *= inv;
        }
        /* O = P V */
#pragma omp parallel for schedule(dynamic, 1)
        for (int i0 = 0; i0 < n; i0 += TILE_Q) {
            int rows = n - i0 < TILE_Q ? n - i0 : TILE_Q;
            ops_attn_pv(st->out + (size_t)h * hs + (size_t)i0 * (size_t)d, d, NULL,
                        S + (size_t)i0 * (size_t)n, n, vf, d, rows, s->causal ? i0 + rows : n, d);
        }
    }
done:
    am_free(&st->tr, vf, vf_bytes);
    am_free(&st->tr, kt, kt_bytes);
    am_free(&st->tr, S, s_bytes);
    return st_;
}

static ab_status cpu_chunked(struct cpu_state *st, struct ab_error *err)
{
    const struct am_shape *s = &st->s;
    int n = (int)s->n, d = s->d, qc = s->q_chunk, kc = s->k_chunk, nkc = (n + kc - 1) / kc;
    size_t es = ab_dtype_size(s->dtype), hs = (size_t)n * (size_t)d;
    size_t sc_bytes = (size_t)qc * (size_t)kc * 4, tile_bytes = (size_t)kt_ld(kc) * (size_t)d * 4;
    size_t vals_bytes = (size_t)nkc * (size_t)qc * (size_t)d * 4, stat_bytes = (size_t)nkc * (size_t)qc * 4;
    float *Sc = NULL, *kt = NULL, *vf = NULL, *vals = NULL, *sums = NULL, *maxs = NULL;
    ab_status st_ = AB_OK;
    TRACKED(Sc, sc_bytes);
    TRACKED(kt, tile_bytes);
    TRACKED(vf, tile_bytes);
    TRACKED(vals, vals_bytes);
    TRACKED(sums, stat_bytes);
    TRACKED(maxs, stat_bytes);
    for (int h = 0; h < s->heads; h++) {
        const char *kh = (const char *)st->k + (size_t)h * hs * es,
                   *vh = (const char *)st->v + (size_t)h * hs * es;
        for (int q0 = 0; q0 < n; q0 += qc) {
            int qn = n - q0 < qc ? n - q0 : qc;
            for (int kci = 0; kci < nkc; kci++) {
                int k0 = kci * kc, kn = n - k0 < kc ? n - k0 : kc;
                float *cv = vals + (size_t)kci * (size_t)qc * (size_t)d;
                float *cs = sums + (size_t)kci * (size_t)qc, *cm = maxs + (size_t)kci * (size_t)qc;
                if (s->causal && k0 > q0 + qn - 1) { /* the whole chunk is masked */
                    for (int r = 0; r < qn; r++)
                        cm[r] = -INFINITY, cs[r] = 0;
                    continue;
                }
                ops_attn_pack_k(kt, kh + (size_t)k0 * (size_t)d * es, d, kn, d, s->dtype);
                to_f32(vf, vh + (size_t)k0 * (size_t)d * es, (size_t)kn * (size_t)d, s->dtype);
#pragma omp parallel for schedule(dynamic, 1)
                for (int r0 = 0; r0 < qn; r0 += TILE_Q) {
                    int rows = qn - r0 < TILE_Q ? qn - r0 : TILE_Q;
                    /* keys of the tile's last row: the most any of its rows keeps */
                    int kmax = s->causal ? (q0 + r0 + rows - k0 < kn ? q0 + r0 + rows - k0 : kn) : kn;
                    float *o = cv + (size_t)r0 * (size_t)d, *S = Sc + (size_t)r0 * (size_t)kc;
                    if (kmax <= 0) {
                        memset(o, 0, (size_t)rows * (size_t)d * 4);
                        for (int r = 0; r < rows; r++)
                            cm[r0 + r] = -INFINITY, cs[r0 + r] = 0;
                        continue;
                    }
                    float qb[TILE_Q * 256];
                    load_q_rows(qb, st, h, q0 + r0, rows);
                    ops_attn_qk(S, kc, qb, d, kt, rows, kmax, d);
                    for (int r = 0; r < rows; r++) {
                        int i = q0 + r0 + r, nk = s->causal ? (i - k0 + 1 < kn ? i - k0 + 1 : kn) : kn;
                        float *row = S + (size_t)r * (size_t)kc;
                        if (nk <= 0) {
                            cm[r0 + r] = -INFINITY, cs[r0 + r] = 0;
                            nk = 0;
                        } else {
                            cm[r0 + r] = ops_attn_row_max(row, nk);
                            cs[r0 + r] = ops_attn_exp_sum(row, nk, cm[r0 + r]);
                        }
                        for (int j = nk; j < kmax; j++) /* masked keys weigh nothing */
                            row[j] = 0;
                    }
                    ops_attn_pv(o, d, NULL, S, kc, vf, d, rows, kmax, d);
                }
            }
            /* Merge the key chunks: rescale each by exp(chunk max - global max). */
#pragma omp parallel for schedule(static)
            for (int r = 0; r < qn; r++) {
                float gm = -INFINITY, den = 0;
                for (int kci = 0; kci < nkc; kci++)
                    gm = fmaxf(gm, maxs[(size_t)kci * (size_t)qc + (size_t)r]);
                float *o = st->out + (size_t)h * hs + (size_t)(q0 + r) * (size_t)d;
                for (int c = 0; c < d; c++)
                    o[c] = 0;
                for (int kci = 0; kci < nkc; kci++) {
                    float m = maxs[(size_t)kci * (size_t)qc + (size_t)r];
                    if (m == -INFINITY)
                        continue;
                    float w = expf(m - gm);
                    den += w * sums[(size_t)kci * (size_t)qc + (size_t)r];
                    const float *cv = vals + ((size_t)kci * (size_t)qc + (size_t)r) * (size_t)d;
                    for (int c = 0; c < d; c++)
                        o[c] += w * cv[c];
                }
                for (int c = 0; c < d; c++)
                    o[c] /= den;
            }
        }
    }
done:
    am_free(&st->tr, maxs, stat_bytes);
    am_free(&st->tr, sums, stat_bytes);
    am_free(&st->tr, vals, vals_bytes);
    am_free(&st->tr, vf, tile_bytes);
    am_free(&st->tr, kt, tile_bytes);
    am_free(&st->tr, Sc, sc_bytes);
    return st_;
}

/* ops' flash plan on the (H, n, d) layout; its per-thread scratch is the tracked peak. */
static ab_status cpu_fused(struct cpu_state *st, struct ab_error *err)
{
    const struct am_shape *s = &st->s;
    int64_t hs = s->n * s->d;
    size_t bytes = ops_attn_scratch_bytes(st->flash);
    void *scratch = NULL;
    ab_status st_ = AB_OK;
    TRACKED(scratch, bytes);
    struct ops_attn_io io = { .q = st->q,
                              .k = st->k,
                              .v = st->v,
                              .out = st->out,
                              .q_h = hs,
                              .q_t = s->d,
                              .kv_h = hs,
                              .kv_t = s->d,
                              .o_h = hs,
                              .o_t = s->d };
    ops_attn_exec(st->flash, &io, scratch);
done:
    am_free(&st->tr, scratch, bytes);
    return st_;
}

/* Eight floats as one value: GCC's and clang's vector extension, lowered to one AVX register
 * in the x86-64-v3 build and to two SSE registers in the default one. The decode kernels
 * below keep one such accumulator per query head of the group in registers. */
typedef float am_v8 __attribute__((vector_size(32)));

static inline am_v8 v8_load(const float *p)
{
    am_v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void v8_store(float *p, am_v8 v)
{
    memcpy(p, &v, sizeof v);
}

typedef int32_t am_v8i __attribute__((vector_size(32)));

/* softmax_exp on 8 lanes, the same steps written on vectors: a scalar loop of softmax_exp is
 * not vectorized (its clamps and rounding stay scalar without -ffast-math), and decode takes
 * G exponentials per key. Rounding to nearest by adding and subtracting 1.5 * 2^23. */
static inline am_v8 v8_exp(am_v8 x)
{
    const am_v8 lo = (am_v8){ 0 } - 87.0f, hi = (am_v8){ 0 } + 88.0f;
    am_v8i under = x < lo;
    am_v8 xc = (am_v8)(((am_v8i)x & ~under) | ((am_v8i)lo & under));
    am_v8i over = xc > hi;
    xc = (am_v8)(((am_v8i)xc & ~over) | ((am_v8i)hi & over));
    am_v8 k = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    am_v8 r = xc - k * 0.693145751953125f - k * 1.42860682030941723e-06f;
    am_v8 p =
        1.0f +
        r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    am_v8i bits = (__builtin_convertvector(k, am_v8i) + 127) << 23;
    return (am_v8)((am_v8i)(p * (am_v8)bits) & ~under);
}

/* row_max and exp_sum for decode's score rows, 8 lanes at a time. */
static float decode_row_max(const float *s, int n)
{
    float m = -INFINITY;
    int j = 0;
    if (n >= 8) {
        am_v8 mv = v8_load(s);
        for (j = 8; j + 8 <= n; j += 8) {
            am_v8 x = v8_load(s + j);
            am_v8i gt = x > mv;
            mv = (am_v8)(((am_v8i)x & gt) | ((am_v8i)mv & ~gt));
        }
        for (int l = 0; l < 8; l++)
            m = mv[l] > m ? mv[l] : m;
    }
    for (; j < n; j++)
        m = s[j] > m ? s[j] : m;
    return m;
}

static float decode_exp_sum(float *s, int n, float m)
{
    am_v8 acc = { 0 };
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        am_v8 e = v8_exp(v8_load(s + j) - m);
        v8_store(s + j, e);
        acc += e;
    }
    float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; j < n; j++) {
        s[j] = softmax_exp(s[j] - m);
        sum += s[j];
    }
    return sum;
}

/* s (G, ld)[:, 0:nk] = q (G, d) . k (nk, d)^T for G <= 8: each k row is loaded once, 8 columns
 * at a time, and multiplied into G register accumulators, one per query head. Called with G
 * a constant, so that the accumulators are registers. */
static inline __attribute__((always_inline)) void decode_scores_g(float *restrict s, int ld,
                                                                  const float *restrict q,
                                                                  const float *restrict k, int nk, int d,
                                                                  int G)
{
    for (int j = 0; j < nk; j++) {
        const float *kj = k + (size_t)j * (size_t)d;
        am_v8 acc[8];
        for (int g = 0; g < G; g++)
            acc[g] = (am_v8){ 0 };
        int c = 0;
        for (; c + 8 <= d; c += 8) {
            am_v8 kv = v8_load(kj + c);
            for (int g = 0; g < G; g++)
                acc[g] += v8_load(q + (size_t)g * (size_t)d + (size_t)c) * kv;
        }
        for (int g = 0; g < G; g++) {
            am_v8 a = acc[g];
            float t = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
            for (int cc = c; cc < d; cc++)
                t += q[(size_t)g * (size_t)d + (size_t)cc] * kj[cc];
            s[(size_t)g * (size_t)ld + (size_t)j] = t;
        }
    }
}

/* acc (G, lda)[:, 0:d] += p (G, ld)[:, 0:nk] . v (nk, d) for G <= 8: per 8 columns, G register
 * accumulators over all nk keys, so that acc is loaded and stored once a call rather than once
 * a key. v's rows are re-read once per 8 columns: the caller passes few enough to sit in L1. */
static inline __attribute__((always_inline)) void decode_pv_g(float *restrict acc, int lda,
                                                              const float *restrict p, int ld,
                                                              const float *restrict v, int nk, int d, int G)
{
    int c = 0;
    for (; c + 8 <= d; c += 8) {
        am_v8 a[8];
        for (int g = 0; g < G; g++)
            a[g] = v8_load(acc + (size_t)g * (size_t)lda + (size_t)c);
        for (int j = 0; j < nk; j++) {
            am_v8 vv = v8_load(v + (size_t)j * (size_t)d + (size_t)c);
            for (int g = 0; g < G; g++)
                a[g] += p[(size_t)g * (size_t)ld + (size_t)j] * vv;
        }
        for (int g = 0; g < G; g++)
            v8_store(acc + (size_t)g * (size_t)lda + (size_t)c, a[g]);
    }
    for (; c < d; c++)
        for (int g = 0; g < G; g++)
            for (int j = 0; j < nk; j++)
                acc[(size_t)g * (size_t)lda + (size_t)c] +=
                    p[(size_t)g * (size_t)ld + (size_t)j] * v[(size_t)j * (size_t)d + (size_t)c];
}

/* The two kernels for any G: query heads in groups of 8 (K and V rows then come from L1 after
 * the first group), with the common group sizes as constants. */
static void decode_scores(float *s, int ld, const float *q, const float *k, int nk, int d, int G)
{
    for (int g0 = 0; g0 < G; g0 += 8) {
        int gn = G - g0 < 8 ? G - g0 : 8;
        float *sg = s + (size_t)g0 * (size_t)ld;
        const float *qg = q + (size_t)g0 * (size_t)d;
        switch (gn) {
        case 8: decode_scores_g(sg, ld, qg, k, nk, d, 8); break;
        case 4: decode_scores_g(sg, ld, qg, k, nk, d, 4); break;
        case 2: decode_scores_g(sg, ld, qg, k, nk, d, 2); break;
        case 1: decode_scores_g(sg, ld, qg, k, nk, d, 1); break;
        default: decode_scores_g(sg, ld, qg, k, nk, d, gn); break;
        }
    }
}

static void decode_pv(float *acc, int lda, const float *p, int ld, const float *v, int nk, int d, int G)
{
    for (int g0 = 0; g0 < G; g0 += 8) {
        int gn = G - g0 < 8 ? G - g0 : 8;
        float *ag = acc + (size_t)g0 * (size_t)lda;
        const float *pg = p + (size_t)g0 * (size_t)ld;
        switch (gn) {
        case 8: decode_pv_g(ag, lda, pg, ld, v, nk, d, 8); break;
        case 4: decode_pv_g(ag, lda, pg, ld, v, nk, d, 4); break;
        case 2: decode_pv_g(ag, lda, pg, ld, v, nk, d, 2); break;
        case 1: decode_pv_g(ag, lda, pg, ld, v, nk, d, 1); break;
        default: decode_pv_g(ag, lda, pg, ld, v, nk, d, gn); break;
        }
    }
}

/* Rows [k0, k0 + kn) of a (n, d) cache as fp32: the rows themselves when the cache is fp32,
 * else converted into buf (kn, d). */
static const float *decode_rows_f32(float *buf, const void *cache, int k0, int kn, int d, enum ab_dtype dt)
{
    size_t es = ab_dtype_size(dt), off = (size_t)k0 * (size_t)d;
    if (dt == AB_DTYPE_FP32)
        return (const float *)cache + off;
    to_f32(buf, (const char *)cache + off * es, (size_t)kn * (size_t)d, dt);
    return buf;
}

static ab_status cpu_decode(struct cpu_state *st, struct ab_error *err)
{
    const struct am_shape *s = &st->s;
    int d = s->d, G = s->group, n = (int)s->n, hq = s->heads * G;
    int64_t seqs = (int64_t)s->batch * s->heads;
    size_t es = ab_dtype_size(s->dtype), cache = (size_t)n * (size_t)d;
    /* Split each (sequence, KV head)'s keys so that every thread has work: ~4 items a thread,
     * no split shorter than two blocks. */
    int64_t splits = (4 * st->threads + seqs - 1) / seqs;
    int64_t max_splits = (n + 2 * DECODE_BK - 1) / (2 * DECODE_BK);
    if (splits > max_splits)
        splits = max_splits;
    if (splits < 1)
        splits = 1;
    int64_t span = (n + splits - 1) / splits;
    /* per thread: a block's scores (G, DECODE_BK), the queries (G, d), DECODE_SUB rows of K or
     * V converted to fp32 */
    size_t part = (size_t)G * ((size_t)d + 2), parts_bytes = (size_t)(seqs * splits) * part * 4;
    size_t per = (size_t)G * DECODE_BK + (size_t)G * (size_t)d + (size_t)DECODE_SUB * (size_t)d;
    size_t scratch_bytes = per * 4 * (size_t)st->threads;
    float *parts = NULL, *scratch = NULL;
    ab_status st_ = AB_OK;
    TRACKED(parts, parts_bytes);
    TRACKED(scratch, scratch_bytes);
#pragma omp parallel for schedule(dynamic, 1) num_threads(st->threads)
    for (int64_t t = 0; t < seqs * splits; t++) {
        int64_t sq = t / splits, sp = t % splits;
        int b = (int)(sq / s->heads), hk = (int)(sq % s->heads);
        int j0 = (int)(sp * span), j1 = (int)((sp + 1) * span < n ? (sp + 1) * span : n);
        float *sc = scratch + per * (size_t)omp_get_thread_num(), *qt = sc + (size_t)G * DECODE_BK;
        float *rows = qt + (size_t)G * (size_t)d;
        float *pm = parts + (size_t)t * part; /* G x (m, l, acc[d]) */
        for (int g = 0; g < G; g++) {
            load_q(qt + (size_t)g * (size_t)d, st,
                   ((size_t)b * (size_t)hq + (size_t)hk * (size_t)G + (size_t)g) * (size_t)d);
            float *pg = pm + (size_t)g * ((size_t)d + 2);
            pg[0] = -INFINITY, pg[1] = 0;
            memset(pg + 2, 0, (size_t)d * 4);
        }
        const char *kh = (const char *)st->k + (size_t)sq * cache * es,
                   *vh = (const char *)st->v + (size_t)sq * cache * es;
        for (int k0 = j0; k0 < j1; k0 += DECODE_BK) {
            int kn = j1 - k0 < DECODE_BK ? j1 - k0 : DECODE_BK;
            /* Grouped-query attention: every K and V row is read from memory once and serves
             * all G query heads of its group. */
            for (int j = 0; j < kn; j += DECODE_SUB) {
                int jn = kn - j < DECODE_SUB ? kn - j : DECODE_SUB;
                decode_scores(sc + j, DECODE_BK, qt, decode_rows_f32(rows, kh, k0 + j, jn, d, s->dtype), jn,
                              d, G);
            }
            for (int g = 0; g < G; g++) {
                float *pg = pm + (size_t)g * ((size_t)d + 2), *row = sc + (size_t)g * DECODE_BK;
                float mn = fmaxf(pg[0], decode_row_max(row, kn));
                float corr = expf(pg[0] - mn); /* 0 on the first block, where m = -inf */
                pg[1] = pg[1] * corr + decode_exp_sum(row, kn, mn);
                pg[0] = mn;
                for (int c = 0; c < d; c++)
                    pg[2 + c] *= corr;
            }
            for (int j = 0; j < kn; j += DECODE_SUB) {
                int jn = kn - j < DECODE_SUB ? kn - j : DECODE_SUB;
                decode_pv(pm + 2, d + 2, sc + j, DECODE_BK,
                          decode_rows_f32(rows, vh, k0 + j, jn, d, s->dtype), jn, d, G);
            }
        }
    }
    /* Merge the splits of each (sequence, query head): little work, done serially, because
     * another parallel region costs more than it saves when the cores are shared. */
    for (int64_t x = 0; x < seqs * G; x++) {
        int64_t sq = x / G;
        int g = (int)(x % G), b = (int)(sq / s->heads), hk = (int)(sq % s->heads);
        float gm = -INFINITY, den = 0;
        for (int64_t sp = 0; sp < splits; sp++)
            gm = fmaxf(gm, parts[(size_t)(sq * splits + sp) * part + (size_t)g * ((size_t)d + 2)]);
        float *o = st->out + ((size_t)b * (size_t)hq + (size_t)hk * (size_t)G + (size_t)g) * (size_t)d;
        for (int c = 0; c < d; c++)
            o[c] = 0;
        for (int64_t sp = 0; sp < splits; sp++) {
            const float *pg = parts + (size_t)(sq * splits + sp) * part + (size_t)g * ((size_t)d + 2);
            if (pg[0] == -INFINITY)
                continue;
            float w = expf(pg[0] - gm);
            den += w * pg[1];
            for (int c = 0; c < d; c++)
                o[c] += w * pg[2 + c];
        }
        for (int c = 0; c < d; c++)
            o[c] /= den;
    }
done:
    am_free(&st->tr, scratch, scratch_bytes);
    am_free(&st->tr, parts, parts_bytes);
    return st_;
}

static ab_status cpu_once(struct cpu_state *st, struct ab_error *err)
{
    if (st->s.mode == AM_DECODE)
        return cpu_decode(st, err);
    switch (st->s.algo) {
    case AM_NAIVE: return cpu_naive(st, err);
    case AM_CHUNKED: return cpu_chunked(st, err);
    default: return cpu_fused(st, err);
    }
}

static ab_status cpu_setup(struct ab_case *c, struct ab_error *err)
{
    struct am_shape s;
    ab_status rc = attention_memory_shape(&c->params, &s, err);
    if (rc)
        return rc;
    if (s.dtype == AB_DTYPE_FP16)
        return ab_fail(err, AB_EUNSUPPORTED,
                       "fp16 attention is CUDA-only (no fp16 arithmetic on the CPU path)");
    if (s.group > 64)
        return ab_fail(err, AB_EUNSUPPORTED, "group %d: the CPU decode kernel handles G <= 64", s.group);
    if (s.mode == AM_PREFILL && s.n > (1 << 30) / 2)
        return ab_fail(err, AB_EUNSUPPORTED, "n=%lld is beyond the CPU kernels' int indexing",
                       (long long)s.n);
    struct cpu_state *st = calloc(1, sizeof *st);
    if (!st)
        return ab_fail(err, AB_ENOMEM, "out of memory for the case state");
    c->state = st;
    st->s = s;
    st->threads = omp_get_max_threads();
    int64_t hq = (int64_t)s.heads * s.group;
    size_t es = ab_dtype_size(s.dtype), d = (size_t)s.d, n = (size_t)s.n;
    if (s.mode == AM_DECODE) {
        st->q_bytes = (size_t)s.batch * (size_t)hq * d * es;
        st->kv_bytes = (size_t)s.batch * (size_t)s.heads * n * d * es;
        st->out_bytes = (size_t)s.batch * (size_t)hq * d * 4;
    } else {
        st->q_bytes = st->kv_bytes = (size_t)s.heads * n * d * es;
        st->out_bytes = (size_t)s.heads * n * d * 4;
    }
    /* Naive's scores also carry fp32 copies of K and V; the rest is small. */
    uint64_t extra = attention_memory_analytic_extra(&s, st->threads) + 2 * n * d * 4;
    uint64_t need = attention_memory_io_bytes(&s) + extra;
    if (!ab_device_fits(c->device, need))
        return ab_fail(err, AB_ENOMEM,
                       "needs %.3g GB (inputs %.3g GB + extra %.3g GB): more than fits in host memory",
                       (double)need / 1e9, (double)attention_memory_io_bytes(&s) / 1e9, (double)extra / 1e9);
    st->q = ab_alloc(st->q_bytes);
    st->k = ab_alloc(st->kv_bytes);
    st->v = ab_alloc(st->kv_bytes);
    st->out = ab_alloc(st->out_bytes);
    if (!st->q || !st->k || !st->v || !st->out)
        return ab_fail(err, AB_ENOMEM, "cannot allocate %.3g GB of inputs and output",
                       (double)(st->q_bytes + 2 * st->kv_bytes + st->out_bytes) / 1e9);
    attention_memory_fill(st->q, st->q_bytes / es, s.dtype, c->seed);
    attention_memory_fill(st->k, st->kv_bytes / es, s.dtype, c->seed + 1);
    attention_memory_fill(st->v, st->kv_bytes / es, s.dtype, c->seed + 2);
    memset(st->out, 0xff, st->out_bytes); /* NaN: a row left unwritten cannot pass */
    attention_memory_work(&s, AB_BACKEND_CPU, &c->work);
    if (s.mode == AM_PREFILL) {
        ab_case_metric_text(c, "attn_impl", "%s", ops_attn_tile_impl());
        if (s.algo == AM_FUSED) {
            struct ops_attn_desc fd = { .B = 1,
                                        .NH = s.heads,
                                        .group = 1,
                                        .Tq = (int)s.n,
                                        .Tk = (int)s.n,
                                        .HS = s.d,
                                        .causal = s.causal,
                                        .in_dt = s.dtype,
                                        .out_dt = AB_DTYPE_FP32,
                                        .external_scratch = true };
            return ops_attn_plan(&st->flash, &fd, err);
        }
    }
    return AB_OK;
}

static ab_status cpu_verify(struct ab_case *c, struct ab_error *err)
{
    struct cpu_state *st = c->state;
    int64_t rss0;
    am_tracker_reset(&st->tr);
    am_rss_begin(&rss0);
    ab_status rc = cpu_once(st, err);
    int64_t rss = am_rss_peak_growth(rss0);
    if (rc)
        return rc;
    attention_memory_record_memory(c, &st->s, st->tr.peak_bytes, st->threads);
    if (rss >= 0)
        ab_case_metric(c, "peak_rss_growth_bytes", (double)rss);
    double atol, rtol;
    attention_memory_tolerance(st->s.dtype, AB_BACKEND_CPU, &atol, &rtol);
    return attention_memory_check(c, &st->s, st->q, st->k, st->v, st->out, atol, rtol, err);
}

static ab_status cpu_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    return cpu_once(c->state, err);
}

static void cpu_teardown(struct ab_case *c)
{
    struct cpu_state *st = c->state;
    if (!st)
        return;
    ab_free(st->q);
    ab_free(st->k);
    ab_free(st->v);
    ab_free(st->out);
    ops_attn_destroy(st->flash);
    free(st);
    c->state = NULL;
}

/* This file is built once per target (meson.build): AM_CPU_IMPL names this build's descriptor. */
const struct ab_impl AM_CPU_IMPL = {
    .setup = cpu_setup, .verify = cpu_verify, .launch = cpu_launch, .teardown = cpu_teardown
};
