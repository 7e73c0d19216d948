/* attention_memory.c — the `attention_memory` workload: two studies in one.
 * mode=prefill: naive attention (n x n scores stored) against Rabe & Staats' chunked
 * attention and a fused online-softmax kernel; the peak extra memory of each is measured by a
 * tracking allocator (and on the CPU cross-checked by the process's RSS high-water mark).
 * mode=decode: one new query per sequence over a KV cache (grouped-query attention), a
 * memory-bound read of the cache held against the device's mem_bw ceiling (Lamina).
 * This file: axes, shapes, work model, FP64 reference, tolerances, the memory tracker. */
#include "attention_memory.h"
#include "ops_cuda.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct ab_axis am_axes[] = {
    { .name = "mode",
      .type = AB_AXIS_STR,
      .help = "prefill (n x n attention) or decode (one query over a KV cache)",
      .choices = "prefill,decode",
      .sweep = { "prefill,decode", "prefill,decode", "prefill,decode", "prefill,decode" } },
    { .name = "algo",
      .type = AB_AXIS_STR,
      .help = "prefill: naive (scores stored), chunked (Rabe & Staats), fused (online softmax); decode runs "
              "fused",
      .choices = "naive,chunked,fused",
      .sweep = { "naive,chunked,fused", "naive,chunked,fused", "naive,chunked,fused",
                 "naive,chunked,fused" } },
    { .name = "n",
      .type = AB_AXIS_INT,
      .help = "prefill: sequence length; decode: KV context length",
      .min = 1,
      .max = 1 << 24,
      .sweep = { "2^10,2^12", "2^8:2^14:x4,2^13,2^15,2^17", "2^8:2^20:x2", "1,70,300,1500" } },
    { .name = "heads",
      .type = AB_AXIS_INT,
      .help = "prefill: attention heads; decode: KV heads",
      .min = 1,
      .max = 1024,
      .sweep = { "1", "1", "1,8", "1,2" } },
    { .name = "d",
      .type = AB_AXIS_INT,
      .help = "head dimension (decode runs d=128; prefill d=128 from the default suite on)",
      .min = 8,
      .max = 256,
      .sweep = { "64,128", "64,128", "64,128", "64,128" } },
    { .name = "dtype",
      .type = AB_AXIS_STR,
      .help = "input dtype (q, k, v; output is fp32); fp16 on CUDA only",
      .choices = "bf16,fp16,fp32",
      .sweep = { "bf16", "bf16,fp16,fp32", "bf16,fp16,fp32", "bf16,fp16,fp32" } },
    { .name = "causal",
      .type = AB_AXIS_INT,
      .help = "prefill: causal mask (0/1); decode has none",
      .min = 0,
      .max = 1,
      .sweep = { "0", "0,1", "0,1", "0,1" } },
    { .name = "q_chunk",
      .type = AB_AXIS_INT,
      .help = "chunked: query chunk (Rabe & Staats: 1024)",
      .min = 1,
      .max = 1 << 20,
      .sweep = { "1024", "1024", "1024", "77,1024" } },
    { .name = "k_chunk",
      .type = AB_AXIS_INT,
      .help = "chunked: key chunk (Rabe & Staats: 4096)",
      .min = 1,
      .max = 1 << 20,
      .sweep = { "4096", "4096", "4096", "129,4096" } },
    { .name = "batch",
      .type = AB_AXIS_INT,
      .help = "decode: sequences B (prefill runs B=1)",
      .min = 1,
      .max = 4096,
      .sweep = { "1,8", "1,8,32", "1,8,32,64,128", "1,3" } },
    { .name = "group",
      .type = AB_AXIS_INT,
      .help = "decode: query heads per KV head G (prefill runs G=1)",
      .min = 1,
      .max = 64,
      .sweep = { "1,8", "1,8", "1,8", "1,2,4,8" } },
};
enum { AM_N_AXES = sizeof am_axes / sizeof am_axes[0] };

/* The check suite: every kernel, dtype, mask and grouping at small, awkward sizes: n = 1; 70
 * (two 64-row query tiles, one partial key tile); 300 (several 64-key CUDA and 128-key CPU
 * tiles, more than one 256-key decode block); 1500 (long rows, many decode splits); chunks of
 * 77 x 129 and 1024 x 129 keys, which divide none of them. qc, kc: the chunks as given. */
static bool am_applies_check(const struct am_shape *s, bool cpu, int64_t qc, int64_t kc)
{
    bool default_chunks = qc == 1024 && kc == 4096;
    if (s->dtype == (cpu ? AB_DTYPE_FP16 : AB_DTYPE_FP32) &&
        (cpu || s->mode == AM_DECODE || s->algo == AM_FUSED))
        return false; /* no kernel: fp16 on the CPU, fp32 in CUDA's decode and fused kernels */
    if (s->mode == AM_DECODE) {
        if (s->algo != AM_FUSED || s->causal || s->d != 128 || !default_chunks || s->n == 70)
            return false;
        /* one sequence of one KV head (the most splits), or three sequences of two */
        return (s->batch == 1 && s->heads == 1) || (s->batch == 3 && s->heads == 2);
    }
    if (s->batch != 1 || s->group != 1)
        return false;
    bool odd = (qc == 77 && kc == 129) || (qc == 1024 && kc == 129);
    if (!default_chunks && (s->algo != AM_CHUNKED || !odd || s->n < 300))
        return false; /* below 300 the chunks clamp to n: the defaults' case again */
    if (s->heads != (s->n == 70 ? 2 : 1))
        return false; /* the heads' offsets, at one size */
    if (s->n == 1)
        return s->d == 64 && !s->causal;
    if (s->n == 70 || s->n == 300) /* d = 128 in 16-bit only; 1024 x 129 chunks once */
        return (s->d == 64 || s->dtype != AB_DTYPE_FP32) &&
               (!(qc == 1024 && kc == 129) || (s->d == 64 && s->dtype == AB_DTYPE_BF16));
    /* 1500: 16-bit, d = 64 (and 128 for the fused kernel on CUDA); on the CPU, where the FP64
     * reference of each case takes most of a second, naive, odd chunks under the mask and fused */
    if (s->dtype == AB_DTYPE_FP32 || (qc == 1024 && kc == 129) ||
        (s->d != 64 && (cpu || s->algo != AM_FUSED)))
        return false;
    if (!cpu)
        return true;
    return s->algo == AM_FUSED || (s->algo == AM_NAIVE && !s->causal) ||
           (s->algo == AM_CHUNKED && s->causal && !default_chunks);
}

static bool am_applies(const struct ab_params *ps, enum ab_backend_kind backend, enum ab_suite suite)
{
    struct am_shape s;
    struct ab_error err;
    if (attention_memory_shape(ps, &s, &err) != AB_OK)
        return true; /* let setup report the error as a row */
    if (s.dtype == AB_DTYPE_FP16 && backend == AB_BACKEND_CPU)
        return false; /* no fp16 arithmetic on the CPU path */
    bool cpu = backend == AB_BACKEND_CPU;
    /* chunk sizes as given, before attention_memory_shape clamps them to n */
    bool default_chunks =
        ab_param_int(ps, "q_chunk", 1024) == 1024 && ab_param_int(ps, "k_chunk", 4096) == 4096;
    if (suite == AB_SUITE_CHECK)
        return am_applies_check(&s, cpu, ab_param_int(ps, "q_chunk", 1024),
                                ab_param_int(ps, "k_chunk", 4096));
    if (s.mode == AM_DECODE) {
        if (s.algo != AM_FUSED || s.causal || s.d != 128 || s.dtype == AB_DTYPE_FP32)
            return false;
        if (s.n < 1024 || s.n > (1 << 17) || !default_chunks)
            return false;
        if (suite == AB_SUITE_QUICK)
            return s.n == (1 << 12);
        if (suite == AB_SUITE_DEFAULT && cpu)
            return s.n >= (1 << 13) && s.n <= (1 << 15) && !(s.n == (1 << 15) && s.batch > 8);
        return true;
    }
    if (s.batch != 1 || s.group != 1)
        return false;
    if (s.algo != AM_CHUNKED && !default_chunks)
        return false; /* chunk sizes mean nothing to naive and fused: keep one case */
    if (suite == AB_SUITE_QUICK)
        return s.d == 64 && (!cpu || s.n <= (1 << 12));
    if (suite == AB_SUITE_DEFAULT && cpu) {
        /* Rabe & Staats' points (2^10, 2^12, 2^14, d=64, bf16) plus a bounded spread; the
         * 2^17 naive point is there to show the oom row. */
        if (s.n == (1 << 17))
            return s.algo == AM_NAIVE && s.d == 64 && s.dtype == AB_DTYPE_BF16 && !s.causal;
        if (s.n == (1 << 13) || s.n == (1 << 15))
            return false;
        if (s.d != 64 || s.dtype != AB_DTYPE_BF16)
            return s.n <= (1 << 12) && !s.causal;
        return true;
    }
    if (suite == AB_SUITE_DEFAULT && (s.n == (1 << 13) || s.n == (1 << 15)))
        return false;
    return true;
}

ab_status attention_memory_shape(const struct ab_params *ps, struct am_shape *s, struct ab_error *err)
{
    memset(s, 0, sizeof *s);
    const char *mode = ab_param_str(ps, "mode", "prefill");
    const char *algo = ab_param_str(ps, "algo", "fused");
    const char *dt = ab_param_str(ps, "dtype", "bf16");
    s->mode = strcmp(mode, "decode") == 0 ? AM_DECODE : AM_PREFILL;
    s->algo = strcmp(algo, "naive") == 0 ? AM_NAIVE : strcmp(algo, "chunked") == 0 ? AM_CHUNKED : AM_FUSED;
    if (strcmp(dt, "fp32") == 0)
        s->dtype = AB_DTYPE_FP32;
    else if (strcmp(dt, "bf16") == 0)
        s->dtype = AB_DTYPE_BF16;
    else if (strcmp(dt, "fp16") == 0)
        s->dtype = AB_DTYPE_FP16;
    else
        return ab_fail(err, AB_EINVAL, "dtype '%s' is not one of bf16, fp16, fp32", dt);
    s->n = ab_param_int(ps, "n", 1024);
    s->heads = (int)ab_param_int(ps, "heads", 1);
    s->d = (int)ab_param_int(ps, "d", 64);
    s->causal = ab_param_int(ps, "causal", 0) != 0;
    s->q_chunk = (int)ab_param_int(ps, "q_chunk", 1024);
    s->k_chunk = (int)ab_param_int(ps, "k_chunk", 4096);
    s->batch = (int)ab_param_int(ps, "batch", 1);
    s->group = (int)ab_param_int(ps, "group", 1);
    if (s->n < 1 || s->heads < 1 || s->d < 1 || s->d > 256 || s->q_chunk < 1 || s->k_chunk < 1 ||
        s->batch < 1 || s->group < 1)
        return ab_fail(err, AB_EINVAL, "bad shape n=%lld heads=%d d=%d (d at most 256)", (long long)s->n,
                       s->heads, s->d);
    if (s->q_chunk > s->n)
        s->q_chunk = (int)s->n;
    if (s->k_chunk > s->n)
        s->k_chunk = (int)s->n;
    return AB_OK;
}

uint64_t attention_memory_io_bytes(const struct am_shape *s)
{
    uint64_t es = ab_dtype_size(s->dtype), n = (uint64_t)s->n, d = (uint64_t)s->d;
    if (s->mode == AM_DECODE) {
        uint64_t hq = (uint64_t)s->heads * (uint64_t)s->group, b = (uint64_t)s->batch;
        return 2 * b * (uint64_t)s->heads * n * d * es + b * hq * d * (es + 4);
    }
    return (uint64_t)s->heads * n * d * (3 * es + 4);
}

void attention_memory_work(const struct am_shape *s, enum ab_backend_kind backend, struct ab_work *w)
{
    memset(w, 0, sizeof *w);
    double n = (double)s->n, d = (double)s->d;
    if (s->mode == AM_DECODE) {
        double hq = (double)s->heads * s->group;
        /* q.k and p.v: 2 FLOPs per multiply-add each, for every key of every query head. */
        w->flops = 4.0 * s->batch * hq * n * d;
        w->bytes = (double)attention_memory_io_bytes(s);
        w->tokens = s->batch;
        w->ceiling = "mem_bw";
        w->rate = "bytes";
        return;
    }
    /* Pairs (i, j) attended: n^2, or n(n+1)/2 under the causal mask. */
    double pairs = s->causal ? n * (n + 1) / 2 : n * n;
    w->flops = 4.0 * s->heads * pairs * d;
    w->bytes = (double)attention_memory_io_bytes(s);
    w->tokens = n;
    w->ceiling = s->dtype == AB_DTYPE_FP32   ? (backend == AB_BACKEND_CUDA ? "tf32_gemm" : "fp32_gemm")
                 : s->dtype == AB_DTYPE_BF16 ? "bf16_gemm"
                                             : "fp16_gemm";
    w->rate = "flops";
}

uint64_t attention_memory_analytic_extra(const struct am_shape *s, int workers)
{
    uint64_t n = (uint64_t)s->n, d = (uint64_t)s->d;
    if (workers < 1)
        workers = 1;
    if (s->mode == AM_DECODE) /* one score per key of one block and the partial results */
        return (uint64_t)workers * (256 * (uint64_t)s->group + (uint64_t)s->group * (d + 2)) * 4;
    switch (s->algo) {
    case AM_NAIVE: return n * n * 4;
    case AM_CHUNKED: {
        uint64_t qc = (uint64_t)s->q_chunk, kc = (uint64_t)s->k_chunk, nk = (n + kc - 1) / kc;
        /* one chunk's scores + per key chunk: weighted values, sums, maxima */
        return qc * kc * 4 + nk * qc * (d + 2) * 4;
    }
    default:
        /* per worker: a 64 x 128 score tile, its accumulator, running max and sum */
        return (uint64_t)workers * (64 * 128 + 64 * (d + 2)) * 4;
    }
}

void attention_memory_tolerance(enum ab_dtype dt, enum ab_backend_kind backend, double *atol, double *rtol)
{
    if (backend == AB_BACKEND_CPU || dt == AB_DTYPE_FP32) {
        /* fp32 arithmetic on exactly converted inputs: rounding of long fp32 sums only */
        *atol = 2e-5;
        *rtol = 1e-4;
    } else if (dt == AB_DTYPE_FP16) { /* P rounded to fp16 (2^-11) before the tensor-core P.V */
        *atol = 2e-3;
        *rtol = 1e-2;
    } else { /* P rounded to bf16 (2^-8) */
        *atol = 1e-2;
        *rtol = 3e-2;
    }
}

/* ------------------------------------------------------------------ inputs */

void attention_memory_fill(void *x, size_t n, enum ab_dtype dt, uint64_t seed)
{
    struct ab_rng r;
    ab_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        float v = (float)ab_rng_normal(&r);
        if (dt == AB_DTYPE_FP32)
            ((float *)x)[i] = v;
        else if (dt == AB_DTYPE_BF16)
            ((uint16_t *)x)[i] = ab_bf16_from_f32(v);
        else
            ((uint16_t *)x)[i] = ab_fp16_from_f32(v);
    }
}

/* ------------------------------------------------------------------ FP64 reference */

/* x[0, d) = the d elements of dtype dt from element off of p, as doubles. */
static void load_row(double *x, const void *p, size_t off, int d, enum ab_dtype dt)
{
    for (int c = 0; c < d; c++)
        x[c] = ab_dtype_get(dt, p, off + (size_t)c);
}

/* softmax_j(q . k_j / sqrt(d)) v_j over keys [0, nk) of rows k + j*ld, v + j*ld (in elements),
 * by an online softmax over blocks of 64 keys, so that no n-sized buffer is needed; in FP64 its
 * rescalings cost nothing of the accuracy a reference needs. */
static void ref_row(const void *q, size_t q_off, const void *k, const void *v, size_t kv_off, int64_t nk,
                    int d, enum ab_dtype dt, double *out)
{
    enum { BLK = 64 };
    double scale = 1.0 / sqrt((double)d), mx = -INFINITY, sum = 0, qd[256], x[256], s[BLK];
    load_row(qd, q, q_off, d, dt);
    for (int c = 0; c < d; c++) {
        qd[c] *= scale;
        out[c] = 0;
    }
    for (int64_t j0 = 0; j0 < nk; j0 += BLK) {
        int m = nk - j0 < BLK ? (int)(nk - j0) : BLK;
        double bm = -INFINITY;
        for (int j = 0; j < m; j++) {
            load_row(x, k, kv_off + (size_t)(j0 + j) * (size_t)d, d, dt);
            double dot = 0;
            for (int c = 0; c < d; c++)
                dot += qd[c] * x[c];
            s[j] = dot;
            bm = fmax(bm, dot);
        }
        if (bm > mx) { /* exp(-inf) = 0 on the first block */
            double corr = exp(mx - bm);
            sum *= corr;
            for (int c = 0; c < d; c++)
                out[c] *= corr;
            mx = bm;
        }
        for (int j = 0; j < m; j++) {
            double p = exp(s[j] - mx);
            sum += p;
            load_row(x, v, kv_off + (size_t)(j0 + j) * (size_t)d, d, dt);
            for (int c = 0; c < d; c++)
                out[c] += p * x[c];
        }
    }
    for (int c = 0; c < d; c++)
        out[c] /= sum;
}

void attention_memory_ref_prefill_row(const struct am_shape *s, const void *q, const void *k, const void *v,
                                      int h, int64_t i, double *out_row)
{
    size_t head = (size_t)h * (size_t)s->n * (size_t)s->d;
    int64_t nk = s->causal ? i + 1 : s->n;
    ref_row(q, head + (size_t)i * (size_t)s->d, k, v, head, nk, s->d, s->dtype, out_row);
}

void attention_memory_ref_decode_row(const struct am_shape *s, const void *q, const void *k, const void *v,
                                     int b, int hq, double *out_row)
{
    int hkv = hq / s->group, hqs = s->heads * s->group;
    size_t q_off = ((size_t)b * (size_t)hqs + (size_t)hq) * (size_t)s->d;
    size_t kv_off = ((size_t)b * (size_t)s->heads + (size_t)hkv) * (size_t)s->n * (size_t)s->d;
    ref_row(q, q_off, k, v, kv_off, s->n, s->d, s->dtype, out_row);
}

ab_status attention_memory_check(struct ab_case *c, const struct am_shape *s, const void *q, const void *k,
                                 const void *v, const float *out, double atol, double rtol,
                                 struct ab_error *err)
{
    bool dec = s->mode == AM_DECODE;
    int64_t per = dec ? s->heads * s->group : s->n; /* rows per outer index */
    int64_t outer = dec ? s->batch : s->heads;
    int64_t rows = per * outer;
    /* Each reference row costs ~4 n d double operations: check all rows when that is cheap,
     * else an even sample (first and last rows included) within ~2e9 operations. */
    double row_cost = 4.0 * (double)s->n * s->d * 2;
    int64_t budget = (int64_t)fmax(8.0, fmin(512.0, 2e9 / row_cost));
    int64_t m = rows <= budget ? rows : budget;
    double out_ref[256];
    double max_abs = 0, max_rel = 0;
    int bad = 0;
    char msg[AB_ERR_LEN] = "";
    size_t used = 0;
    for (int64_t r = 0; r < m; r++) {
        int64_t idx = m == rows ? r : (m > 1 ? r * (rows - 1) / (m - 1) : 0);
        int64_t o = idx / per, i = idx % per;
        if (dec)
            attention_memory_ref_decode_row(s, q, k, v, (int)o, (int)i, out_ref);
        else
            attention_memory_ref_prefill_row(s, q, k, v, (int)o, i, out_ref);
        const float *got = out + (size_t)idx * (size_t)s->d;
        for (int cc = 0; cc < s->d; cc++) {
            double e = fabs((double)got[cc] - out_ref[cc]);
            if (!(e <= max_abs) && !isnan(e))
                max_abs = e;
            double rel = e / (atol + fabs(out_ref[cc]));
            if (rel > max_rel)
                max_rel = rel;
            if (!(e <= atol + rtol * fabs(out_ref[cc]))) { /* NaN fails too */
                if (bad < 4 && used < sizeof msg)
                    used += (size_t)snprintf(msg + used, sizeof msg - used,
                                             "%s[%s %lld, row %lld, col %d] got %.6g want %.6g",
                                             bad ? "; " : "", dec ? "b" : "h", (long long)o, (long long)i, cc,
                                             (double)got[cc], out_ref[cc]);
                bad++;
            }
        }
    }
    ab_case_metric(c, "max_abs_err", max_abs);
    ab_case_metric(c, "max_rel_err", max_rel);
    ab_case_metric(c, "checked_rows", (double)m);
    if (bad)
        return ab_fail(err, AB_EMISMATCH,
                       "%d values out of tolerance (atol %g, rtol %g) in %lld checked rows: %s", bad, atol,
                       rtol, (long long)m, msg);
    return AB_OK;
}

/* ------------------------------------------------------------------ memory */

void am_tracker_reset(struct am_tracker *t)
{
    t->cur_bytes = t->peak_bytes = 0;
}

void *am_alloc(struct am_tracker *t, size_t bytes)
{
    void *p = ab_alloc(bytes);
    if (p)
        am_tracker_add(t, (int64_t)bytes);
    return p;
}

void am_free(struct am_tracker *t, void *p, size_t bytes)
{
    if (!p)
        return;
    ab_free(p);
    am_tracker_add(t, -(int64_t)bytes);
}

void am_tracker_add(struct am_tracker *t, int64_t bytes)
{
    if (bytes < 0 && (uint64_t)(-bytes) > t->cur_bytes)
        t->cur_bytes = 0;
    else
        t->cur_bytes = (uint64_t)((int64_t)t->cur_bytes + bytes);
    if (t->cur_bytes > t->peak_bytes)
        t->peak_bytes = t->cur_bytes;
}

/* A "Vm...:  123 kB" line of /proc/self/status in bytes, or -1. */
static int64_t proc_status_bytes(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    int64_t v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtoll(line + kl + 1, NULL, 10) * 1024;
            break;
        }
    fclose(f);
    return v;
}

void am_rss_begin(int64_t *rss0_bytes)
{
    *rss0_bytes = -1;
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return;
    bool ok = fputs("5", f) >= 0; /* "5": reset the peak RSS to the current RSS */
    ok = fclose(f) == 0 && ok;
    if (ok)
        *rss0_bytes = proc_status_bytes("VmRSS");
}

int64_t am_rss_peak_growth(int64_t rss0_bytes)
{
    if (rss0_bytes < 0)
        return -1;
    int64_t hwm = proc_status_bytes("VmHWM");
    if (hwm < 0)
        return -1;
    return hwm > rss0_bytes ? hwm - rss0_bytes : 0;
}

uint64_t attention_memory_naive_peak_bytes(const struct am_shape *s, enum ab_backend_kind backend)
{
    uint64_t n = (uint64_t)s->n, d = (uint64_t)s->d;
    if (backend == AB_BACKEND_CUDA) /* cuda.c: one n x n chunk: S, vals, m, l */
        return n * n * 4 + n * d * 4 + 2 * n * 4;
    return n * n * 4 + (n + AM_KT_PAD) * d * 4 + n * d * 4; /* cpu.c: S, K^T, V */
}

void attention_memory_record_memory(struct ab_case *c, const struct am_shape *s, uint64_t peak, int workers)
{
    enum ab_backend_kind be = c->device ? c->device->backend : AB_BACKEND_CPU;
    ab_case_metric(c, "peak_extra_bytes", (double)peak);
    ab_case_metric(c, "analytic_min_extra_bytes", (double)attention_memory_analytic_extra(s, workers));
    /* arithmetic intensity: decode's is about G FLOP/byte in 16-bit, far below any ridge point */
    if (c->work.bytes > 0)
        ab_case_metric(c, "flop_per_byte", c->work.flops / c->work.bytes);
    if (s->mode == AM_PREFILL && peak > 0)
        ab_case_metric(c, "mem_ratio_vs_naive",
                       (double)attention_memory_naive_peak_bytes(s, be) / (double)peak);
}

/* ------------------------------------------------------------------ CUDA work model */

void attention_memory_cuda_decode_split(int64_t seqs, int64_t n, int sms, int *splits, int *span)
{
    ops_cuda_decode_split(seqs, n, sms, splits, span); /* the kernel's own split */
}

struct am_rates {
    double bw, fma, tc, launch_s;
};

/* Add one kernel's work to c; returns its time at r (0 without rates). */
static double cost_kernel(struct am_cuda_cost *c, const struct am_rates *r, double count, double core,
                          double tc, double bytes)
{
    c->core_flops += count * core;
    c->tc_flops += count * tc;
    c->bytes += count * bytes;
    c->launches += count;
    if (!r)
        return 0;
    return count * (fmax(fmax(core / r->fma, tc / r->tc), bytes / r->bw) + r->launch_s);
}

/* The kernels of one (qn x kn) chunk of naive or chunked attention (kernels.cu: scores in 16 x 16
 * tiles, row_exp reading S twice, pv re-reading V for every query row). Bytes are counted as the
 * warps request them, a 32-byte sector at least: pv's warps (one per 32 of d) each fetch P[i][j]
 * for every key. */
static double cost_chunk(struct am_cuda_cost *c, const struct am_rates *r, double count, double qn, double kn,
                         double d, double es)
{
    double tiles = ceil(kn / 16) * ceil(qn / 16), d16 = ceil(d / 16) * 16, warps = ceil(d / 32);
    double t = cost_kernel(c, r, count, tiles * 256 * 2 * d16, 0, tiles * 2 * 16 * d16 * es + qn * kn * 4);
    t += cost_kernel(c, r, count, 0, 0, 3 * qn * kn * 4);
    t += cost_kernel(c, r, count, 2 * qn * kn * d, 0, qn * kn * (warps * 32 + d * es) + qn * d * 4);
    return t;
}

static double cuda_model(const struct am_shape *s, int sms, const struct am_rates *r, struct am_cuda_cost *c)
{
    memset(c, 0, sizeof *c);
    double n = (double)s->n, d = (double)s->d, es = (double)ab_dtype_size(s->dtype);
    double h = (double)s->heads, t = 0;
    if (s->mode == AM_DECODE) {
        int splits, span;
        double seqs = (double)s->batch * s->heads, g = s->group;
        attention_memory_cuda_decode_split((int64_t)seqs, s->n, sms, &splits, &span);
        double blocks = seqs * splits, part = g * (d + 2) * 4;
        /* every warp of a block loads the queries; K and V are read once */
        t += cost_kernel(c, r, 1, 4 * seqs * g * n * d, 0,
                         seqs * n * d * es * 2 + blocks * (4 * g * d * es + part));
        t += cost_kernel(c, r, 1, 0, 0, blocks * part + seqs * g * d * 4);
        return t;
    }
    if (s->algo == AM_FUSED) {
        /* a block per 64 query rows loads every 64-key tile it attends: all of them, or (causal)
         * those up to its diagonal, 1 + 2 + ... + nqb over the blocks */
        double nqb = ceil(n / 64), tiles = s->causal ? nqb * (nqb + 1) / 2 : nqb * ceil(n / 64);
        t += cost_kernel(c, r, 1, 0, h * tiles * 4 * 64 * 64 * d,
                         h * (tiles * 64 * d * es * 2 + nqb * 64 * d * (es + 4)));
        return t;
    }
    /* naive is one n x n chunk; chunked runs every chunk, masked or not, then merges */
    double qc = s->algo == AM_NAIVE ? n : s->q_chunk, kc = s->algo == AM_NAIVE ? n : s->k_chunk;
    double nq = floor(n / qc), qr = n - nq * qc, nk = floor(n / kc), kr = n - nk * kc, nkc = nk + (kr > 0);
    double qs[2] = { qc, qr }, qcount[2] = { nq, qr > 0 }, ks[2] = { kc, kr }, kcount[2] = { nk, kr > 0 };
    for (int a = 0; a < 2; a++) {
        if (qcount[a] == 0)
            continue;
        for (int b = 0; b < 2; b++)
            if (kcount[b] > 0)
                t += cost_chunk(c, r, h * qcount[a] * kcount[b], qs[a], ks[b], d, es);
        t +=
            cost_kernel(c, r, h * qcount[a], 0, 0, nkc * qs[a] * (ceil(d / 32) * 64 + d * 4) + qs[a] * d * 4);
    }
    return t;
}

void attention_memory_cuda_cost(const struct am_shape *s, int sms, struct am_cuda_cost *out)
{
    cuda_model(s, sms, NULL, out);
}

/* A ceiling's value, else the profile's figure, else the fallback. */
static double rate_of(const struct ab_device *dev, const char *name, double profile, double fallback)
{
    const struct ab_ceiling *c = dev ? ab_device_ceiling(dev, name) : NULL;
    if (c && c->value > 0)
        return c->value;
    return profile > 0 ? profile : fallback;
}

double attention_memory_cuda_estimate_s(const struct am_shape *s, const struct ab_device *dev, char *desc,
                                        size_t len)
{
    const struct ab_profile *p = dev ? dev->profile : NULL;
    bool fp16 = s->dtype == AB_DTYPE_FP16;
    /* H100 SXM datasheet: 3.35 TB/s, 66.9 TFLOP/s fp32, 989 TFLOP/s dense bf16/fp16; a launch
     * queued behind others costs a few microseconds */
    struct am_rates r = {
        .bw = rate_of(dev, "mem_bw", p ? p->peak_mem_bw : 0, 3.35e12),
        .fma = rate_of(dev, "fp32_fma", p ? p->peak_flops[0] : 0, 66.9e12),
        .tc = rate_of(dev, fp16 ? "fp16_gemm" : "bf16_gemm", p ? p->peak_flops[fp16 ? 3 : 2] : 0, 989e12),
        .launch_s = 4e-6,
    };
    struct am_cuda_cost c;
    double t = cuda_model(s, dev && dev->compute_units > 0 ? dev->compute_units : 132, &r, &c);
    if (desc && len) {
        char b[32], bw[32], f[32], fr[32];
        bool tc = c.tc_flops > 0;
        snprintf(desc, len, "%s at %s, %s at %s", ab_fmt_si(c.bytes, "B", b, sizeof b),
                 ab_fmt_si(r.bw, "B/s", bw, sizeof bw),
                 ab_fmt_si(tc ? c.tc_flops : c.core_flops, "FLOP", f, sizeof f),
                 ab_fmt_si(tc ? r.tc : r.fma, "FLOP/s", fr, sizeof fr));
    }
    return t;
}

double attention_memory_time_limit_s(enum ab_suite suite)
{
    switch (suite) {
    case AB_SUITE_CHECK: return 2;
    case AB_SUITE_FULL: return 30;
    default: return 10;
    }
}

int64_t attention_memory_case_reps(enum ab_suite suite)
{
    if (suite == AB_SUITE_CHECK)
        return 1;
    struct ab_stop_rule rule;
    ab_stop_rule_defaults(&rule);
    return 3 + rule.min_samples;
}

ab_status attention_memory_cuda_time_check(const struct am_shape *s, const struct ab_device *dev,
                                           enum ab_suite suite, struct ab_error *err)
{
    char desc[160];
    double per = attention_memory_cuda_estimate_s(s, dev, desc, sizeof desc);
    double limit = attention_memory_time_limit_s(suite);
    int64_t reps = attention_memory_case_reps(suite);
    if (per * (double)reps <= limit)
        return AB_OK;
    return ab_fail(err, AB_EUNSUPPORTED,
                   "estimated %.3g s per repetition (%s): %lld repetitions take %.3g s, beyond the "
                   "case limit of %g s in the %s suite",
                   per, desc, (long long)reps, per * (double)reps, limit, ab_suite_word(suite));
}

/* Every metric an attention_memory row may carry (attention_memory.c, cpu.c, cpu_dispatch.c). */
static const struct ab_metric_decl metrics[] = {
    { "peak_extra_bytes", "B", false, AB_BETTER_LOWER,
      "measured high-water mark of the case's scratch memory in one pass" },
    { "peak_rss_growth_bytes", "B", false, AB_BETTER_LOWER,
      "CPU: growth of the process's peak RSS over the pass, a cross-check" },
    { "analytic_min_extra_bytes", "B", false, AB_BETTER_NONE,
      "scratch memory the algorithm must hold, from its formula" },
    { "mem_ratio_vs_naive", "", false, AB_BETTER_HIGHER,
      "naive's peak_extra_bytes / this row's, same shape and backend" },
    { "flop_per_byte", "FLOP/B", false, AB_BETTER_NONE, "flops / bytes: the arithmetic intensity" },
    { "max_abs_err", "", false, AB_BETTER_LOWER, "largest |x - ref| against an FP64 naive reference" },
    { "max_rel_err", "", false, AB_BETTER_LOWER, "largest |x - ref| / (atol + |ref|)" },
    { "checked_rows", "", false, AB_BETTER_NONE, "output rows compared with the reference" },
    { "cpu_kernels", "", true, AB_BETTER_NONE,
      "CPU: which build of the kernels ran (x86-64-v4, x86-64-v3 or x86-64)" },
    { "attn_impl", "", true, AB_BETTER_NONE,
      "CPU prefill: the flash kernel's micro-kernels that ran (avx512f, avx2_fma or generic)" },
};

/* The work without setup (run --dry-run): the analytic model of attention_memory_work. */
static ab_status am_work(const struct ab_params *ps, enum ab_backend_kind backend, struct ab_work *w,
                         struct ab_error *err)
{
    struct am_shape s;
    ab_status st = attention_memory_shape(ps, &s, err);
    if (st == AB_OK)
        attention_memory_work(&s, backend, w);
    return st;
}

/* Time, the memory beyond inputs and outputs, and throughput against the sequence length, prefill
 * and decode apart. */
static const struct ab_chart_decl chart = {
    .x = "n",
    .xlabel = "Sequence length",
    .xunit = "tokens",
    .facet = "mode",
    .metrics = { "time", "peak_extra_bytes", "throughput" },
};

const struct ab_workload attention_memory_workload = {
    .name = "attention_memory",
    .summary = "naive vs chunked (Rabe & Staats) vs fused attention: peak memory and time; decode KV-cache "
               "bandwidth",
    .axes = am_axes,
    .n_axes = AM_N_AXES,
    .applies = am_applies,
    .impl = { [AB_BACKEND_CPU] = &attention_memory_cpu_impl,
              [AB_BACKEND_CUDA] = &attention_memory_cuda_impl },
    .metrics = metrics,
    .n_metrics = sizeof metrics / sizeof metrics[0],
    .chart = &chart,
    .work = am_work,
};
