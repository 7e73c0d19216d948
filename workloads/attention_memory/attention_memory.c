/* attention_memory.c — the `attention_memory` workload: two studies in one.
 * mode=prefill: naive attention (n x n scores stored) against Rabe & Staats' chunked
 * attention and a fused online-softmax kernel; the peak extra memory of each is measured by a
 * tracking allocator (and on the CPU cross-checked by the process's RSS high-water mark).
 * mode=decode: one new query per sequence over a KV cache (grouped-query attention), a
 * memory-bound read of the cache held against the device's mem_bw ceiling (Lamina).
 * This file: axes, shapes, work model, FP64 reference, tolerances, the memory tracker. */
#include "attention_memory.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct ab_axis am_axes[] = {
    { .name = "mode",
      .type = AB_AXIS_STR,
      .help = "prefill (n x n attention) or decode (one query over a KV cache)",
      .choices = "prefill,decode",
      .sweep = { "prefill,decode", "prefill,decode", "prefill,decode" } },
    { .name = "algo",
      .type = AB_AXIS_STR,
      .help = "prefill: naive (scores stored), chunked (Rabe & Staats), fused (online softmax); decode runs "
              "fused",
      .choices = "naive,chunked,fused",
      .sweep = { "naive,chunked,fused", "naive,chunked,fused", "naive,chunked,fused" } },
    { .name = "n",
      .type = AB_AXIS_INT,
      .help = "prefill: sequence length; decode: KV context length",
      .min = 1,
      .max = 1 << 24,
      .sweep = { "2^10,2^12", "2^8:2^14:x4,2^13,2^15,2^17", "2^8:2^20:x2" } },
    { .name = "heads",
      .type = AB_AXIS_INT,
      .help = "prefill: attention heads; decode: KV heads",
      .min = 1,
      .max = 1024,
      .sweep = { "1", "1", "1,8" } },
    { .name = "d",
      .type = AB_AXIS_INT,
      .help = "head dimension (decode runs d=128; prefill d=128 from the default suite on)",
      .min = 8,
      .max = 256,
      .sweep = { "64,128", "64,128", "64,128" } },
    { .name = "dtype",
      .type = AB_AXIS_STR,
      .help = "input dtype (q, k, v; output is fp32); fp16 on CUDA only",
      .choices = "bf16,fp16,fp32",
      .sweep = { "bf16", "bf16,fp16,fp32", "bf16,fp16,fp32" } },
    { .name = "causal",
      .type = AB_AXIS_INT,
      .help = "prefill: causal mask (0/1); decode has none",
      .min = 0,
      .max = 1,
      .sweep = { "0", "0,1", "0,1" } },
    { .name = "q_chunk",
      .type = AB_AXIS_INT,
      .help = "chunked: query chunk (Rabe & Staats: 1024)",
      .min = 1,
      .max = 1 << 20,
      .sweep = { "1024", "1024", "1024" } },
    { .name = "k_chunk",
      .type = AB_AXIS_INT,
      .help = "chunked: key chunk (Rabe & Staats: 4096)",
      .min = 1,
      .max = 1 << 20,
      .sweep = { "4096", "4096", "4096" } },
    { .name = "batch",
      .type = AB_AXIS_INT,
      .help = "decode: sequences B (prefill runs B=1)",
      .min = 1,
      .max = 4096,
      .sweep = { "1,8", "1,8,32", "1,8,32,64,128" } },
    { .name = "group",
      .type = AB_AXIS_INT,
      .help = "decode: query heads per KV head G (prefill runs G=1)",
      .min = 1,
      .max = 64,
      .sweep = { "1,8", "1,8", "1,8" } },
};
enum { AM_N_AXES = sizeof am_axes / sizeof am_axes[0] };

static bool am_applies(const struct ab_params *ps, enum ab_backend_kind backend, enum ab_suite suite)
{
    struct am_shape s;
    struct ab_error err;
    if (attention_memory_shape(ps, &s, &err) != AB_OK)
        return true; /* let setup report the error as a row */
    if (s.dtype == AM_FP16 && backend == AB_BACKEND_CPU)
        return false; /* no fp16 arithmetic on the CPU path */
    bool cpu = backend == AB_BACKEND_CPU;
    /* chunk sizes as given, before attention_memory_shape clamps them to n */
    bool default_chunks =
        ab_param_int(ps, "q_chunk", 1024) == 1024 && ab_param_int(ps, "k_chunk", 4096) == 4096;
    if (s.mode == AM_DECODE) {
        if (s.algo != AM_FUSED || s.causal || s.d != 128 || s.dtype == AM_FP32)
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
            return s.algo == AM_NAIVE && s.d == 64 && s.dtype == AM_BF16 && !s.causal;
        if (s.n == (1 << 13) || s.n == (1 << 15))
            return false;
        if (s.d != 64 || s.dtype != AM_BF16)
            return s.n <= (1 << 12) && !s.causal;
        return true;
    }
    if (suite == AB_SUITE_DEFAULT && (s.n == (1 << 13) || s.n == (1 << 15)))
        return false;
    return true;
}

size_t attention_memory_dtype_size(enum am_dtype dt)
{
    return dt == AM_FP32 ? 4 : 2;
}

const char *attention_memory_dtype_name(enum am_dtype dt)
{
    return dt == AM_FP32 ? "fp32" : dt == AM_BF16 ? "bf16" : "fp16";
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
        s->dtype = AM_FP32;
    else if (strcmp(dt, "bf16") == 0)
        s->dtype = AM_BF16;
    else if (strcmp(dt, "fp16") == 0)
        s->dtype = AM_FP16;
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
    uint64_t es = attention_memory_dtype_size(s->dtype), n = (uint64_t)s->n, d = (uint64_t)s->d;
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
    w->ceiling = s->dtype == AM_FP32   ? (backend == AB_BACKEND_CUDA ? "tf32_gemm" : "fp32_gemm")
                 : s->dtype == AM_BF16 ? "bf16_gemm"
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

void attention_memory_tolerance(enum am_dtype dt, enum ab_backend_kind backend, double *atol, double *rtol)
{
    if (backend == AB_BACKEND_CPU || dt == AM_FP32) {
        /* fp32 arithmetic on exactly converted inputs: rounding of long fp32 sums only */
        *atol = 2e-5;
        *rtol = 1e-4;
    } else if (dt == AM_FP16) { /* P rounded to fp16 (2^-11) before the tensor-core P.V */
        *atol = 2e-3;
        *rtol = 1e-2;
    } else { /* P rounded to bf16 (2^-8) */
        *atol = 1e-2;
        *rtol = 3e-2;
    }
}

/* ------------------------------------------------------------------ dtype helpers */

float attention_memory_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t attention_memory_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);         /* round to nearest even */
    return (uint16_t)(u >> 16);
}

float attention_memory_f16_to_f32(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v;
    if (e == 0)
        v = ldexpf((float)m, -24);
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexpf((float)(m | 0x400), e - 25);
    return (h & 0x8000) ? -v : v;
}

uint16_t attention_memory_f32_to_f16(float f)
{
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    float a = fabsf(f);
    if (isnan(f))
        return 0x7e00;
    if (a >= 65520.0f)
        return sign | 0x7c00;
    if (a < ldexpf(1.0f, -14)) /* subnormal: multiples of 2^-24, rint rounds to even */
        return sign | (uint16_t)rintf(a * 16777216.0f);
    int e;
    float m = frexpf(a, &e);                      /* a = m 2^e, m in [0.5, 1) */
    uint32_t mant = (uint32_t)rintf(m * 2048.0f); /* 11 significant bits */
    if (mant == 2048) {
        mant = 1024;
        e++;
    }
    if (e + 14 >= 31)
        return sign | 0x7c00;
    return sign | (uint16_t)((uint32_t)(e + 14) << 10) | (uint16_t)(mant & 0x3ff);
}

double attention_memory_load(const void *x, size_t i, enum am_dtype dt)
{
    switch (dt) {
    case AM_FP32: return ((const float *)x)[i];
    case AM_BF16: return attention_memory_bf16_to_f32(((const uint16_t *)x)[i]);
    default: return attention_memory_f16_to_f32(((const uint16_t *)x)[i]);
    }
}

void attention_memory_fill(void *x, size_t n, enum am_dtype dt, uint64_t seed)
{
    struct ab_rng r;
    ab_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        float v = (float)ab_rng_normal(&r);
        if (dt == AM_FP32)
            ((float *)x)[i] = v;
        else if (dt == AM_BF16)
            ((uint16_t *)x)[i] = attention_memory_f32_to_bf16(v);
        else
            ((uint16_t *)x)[i] = attention_memory_f32_to_f16(v);
    }
}

/* ------------------------------------------------------------------ FP64 reference */

/* softmax_j(q . k_j / sqrt(d)) v_j over keys [0, nk) of rows k + j*ld, v + j*ld (in elements),
 * in two passes (maximum, then weights) so that no n-sized buffer is needed. */
static void ref_row(const void *q, size_t q_off, const void *k, const void *v, size_t kv_off, int64_t nk,
                    int d, enum am_dtype dt, double *out)
{
    double scale = 1.0 / sqrt((double)d), mx = -INFINITY, sum = 0, qd[256];
    for (int c = 0; c < d; c++)
        qd[c] = attention_memory_load(q, q_off + (size_t)c, dt) * scale;
    for (int pass = 0; pass < 2; pass++) {
        for (int c = 0; c < d && pass == 1; c++)
            out[c] = 0;
        for (int64_t j = 0; j < nk; j++) {
            size_t row = kv_off + (size_t)j * (size_t)d;
            double s = 0;
            for (int c = 0; c < d; c++)
                s += qd[c] * attention_memory_load(k, row + (size_t)c, dt);
            if (pass == 0) {
                mx = fmax(mx, s);
                continue;
            }
            double p = exp(s - mx);
            sum += p;
            for (int c = 0; c < d; c++)
                out[c] += p * attention_memory_load(v, row + (size_t)c, dt);
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

/* Naive peaks seen in this process: a small table, filled in case order. */
#define AM_MAX_NAIVE 128
static struct {
    struct am_shape s;
    enum ab_backend_kind backend;
    uint64_t bytes;
} am_naive[AM_MAX_NAIVE];
static int am_n_naive;

static bool same_problem(const struct am_shape *a, const struct am_shape *b)
{
    return a->mode == b->mode && a->dtype == b->dtype && a->n == b->n && a->heads == b->heads &&
           a->d == b->d && a->causal == b->causal;
}

void am_naive_peak_note(const struct am_shape *s, enum ab_backend_kind backend, uint64_t bytes)
{
    for (int i = 0; i < am_n_naive; i++)
        if (am_naive[i].backend == backend && same_problem(&am_naive[i].s, s)) {
            am_naive[i].bytes = bytes;
            return;
        }
    if (am_n_naive < AM_MAX_NAIVE) {
        am_naive[am_n_naive].s = *s;
        am_naive[am_n_naive].backend = backend;
        am_naive[am_n_naive].bytes = bytes;
        am_n_naive++;
    }
}

bool am_naive_peak_find(const struct am_shape *s, enum ab_backend_kind backend, uint64_t *bytes)
{
    for (int i = 0; i < am_n_naive; i++)
        if (am_naive[i].backend == backend && same_problem(&am_naive[i].s, s)) {
            *bytes = am_naive[i].bytes;
            return true;
        }
    return false;
}

void attention_memory_record_memory(struct ab_case *c, const struct am_shape *s, uint64_t peak, int workers)
{
    enum ab_backend_kind be = c->device ? c->device->backend : AB_BACKEND_CPU;
    ab_case_metric(c, "peak_extra_bytes", (double)peak);
    ab_case_metric(c, "analytic_min_extra_bytes", (double)attention_memory_analytic_extra(s, workers));
    /* arithmetic intensity: decode's is about G FLOP/byte in 16-bit, far below any ridge point */
    if (c->work.bytes > 0)
        ab_case_metric(c, "flop_per_byte", c->work.flops / c->work.bytes);
    if (s->mode != AM_PREFILL)
        return;
    if (s->algo == AM_NAIVE)
        am_naive_peak_note(s, be, peak);
    uint64_t naive;
    if (am_naive_peak_find(s, be, &naive) && peak > 0)
        ab_case_metric(c, "mem_ratio_vs_naive", (double)naive / (double)peak);
}

const struct ab_workload attention_memory_workload = {
    .name = "attention_memory",
    .summary = "naive vs chunked (Rabe & Staats) vs fused attention: peak memory and time; decode KV-cache "
               "bandwidth",
    .axes = am_axes,
    .n_axes = AM_N_AXES,
    .applies = am_applies,
    .impl = { [AB_BACKEND_CPU] = &attention_memory_cpu_impl,
              [AB_BACKEND_CUDA] = &attention_memory_cuda_impl },
};
