/* cpu.c — attention_memory on the host, all cores through OpenMP, fp32 arithmetic on inputs
 * converted tile by tile (bf16 is exact in fp32). Kernels, from naive to fast:
 *   cpu_naive:   S = Q K^T stored whole (n x n fp32), row softmax in place, then P V.
 *   cpu_chunked: Rabe & Staats: per query chunk and key chunk, the chunk's scores, its row
 *                maxima, sums of exponentials and exp-weighted values; the key chunks' partial
 *                results are merged at the end with log-sum-exp rescaling.
 *   cpu_fused:   ops' flash kernel (ops/flash_cpu.c, the one transformer_block and gpt2 run):
 *                online softmax over query x key blocks; nothing n-sized is stored.
 *   cpu_decode:  ops' decode-attention op (ops/attn_decode_cpu.c, the one gpt2's decode runs):
 *                one query per head over the KV cache, each K and V row read once for all G
 *                query heads of its group, keys split across threads when B*Hkv is small.
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

/* TILE_Q: the query rows naive and chunked give one tile-kernel call. */
enum { TILE_Q = 32 };

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
    struct ops_attn *flash;          /* prefill fused: ops' plan, its scratch from the tracker */
    struct ops_attn_decode_desc dec; /* decode: ops' op, its scratch from the tracker */
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

/* ops' decode-attention op on the (B,Hkv*G,d) queries and (B,Hkv,n,d) cache; its scratch (per
 * thread, and the splits' partial results) is the tracked peak. */
static ab_status cpu_decode(struct cpu_state *st, struct ab_error *err)
{
    const struct am_shape *s = &st->s;
    int64_t hq = (int64_t)s->heads * s->group, cache = s->n * s->d;
    size_t bytes = ops_attn_decode_scratch_bytes(&st->dec);
    void *scratch = NULL;
    ab_status st_ = AB_OK;
    TRACKED(scratch, bytes);
    struct ops_attn_decode_io io = { .q = st->q,
                                     .k = st->k,
                                     .v = st->v,
                                     .out = st->out,
                                     .q_b = hq * s->d,
                                     .q_h = s->d,
                                     .kv_b = s->heads * cache,
                                     .kv_h = cache,
                                     .kv_t = s->d,
                                     .o_b = hq * s->d,
                                     .o_h = s->d };
    ops_attn_decode(&st->dec, &io, scratch);
done:
    am_free(&st->tr, scratch, bytes);
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
    if (s.mode == AM_DECODE && s.n > INT32_MAX)
        return ab_fail(err, AB_EUNSUPPORTED, "n=%lld is beyond the CPU decode kernel's int indexing",
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
    if (s.mode == AM_DECODE) {
        st->dec = (struct ops_attn_decode_desc){ .B = s.batch,
                                                 .Hkv = s.heads,
                                                 .G = s.group,
                                                 .n = (int)s.n,
                                                 .HS = s.d,
                                                 .q_dt = s.dtype,
                                                 .kv_dt = s.dtype,
                                                 .threads = st->threads };
        ab_case_metric_text(c, "attn_impl", "%s", ops_attn_decode_impl(s.group));
        return ops_attn_decode_check(&st->dec, err);
    }
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
