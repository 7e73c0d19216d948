/* cpu.c — ceilings on the host, all cores through OpenMP.
 *   fma:    16 independent FMA chains per thread in registers (AVX-512, else AVX2 with 12):
 *           enough chains to cover FMA latency x ports on current cores, so the loop runs at
 *           the SIMD units' peak. bf16 uses AVX-512 BF16's VDPBF16PS (a 2-element dot per
 *           lane: 4 FLOPs). Every chain of every lane of every thread is checked exactly
 *           against its closed form (ceilings_cpu_fma_check).
 *   gemm:   ops' matmul (oneDNN), fp32 or bf16 inputs with fp32 accumulation and output: n x n x n,
 *           or at n = 0 the best of a few shapes sized from the last-level cache (gemm_sweep).
 *   stream: STREAM triad a = b + s*c over three 128 MiB arrays (a small odd size in the check
 *           suite); bytes counted as STREAM does (two reads, one write; write-allocate traffic
 *           is not counted).
 *   llc:    the same triad over arrays that fill half the last-level cache. */
#include "ceilings.h"
#include "ops.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

enum { K_FMA, K_GEMM, K_STREAM, K_LLC };

struct cpu_state {
    int kind;
    bool bf16;
    int threads;
    int isa; /* fma: 512 or 256 */
    int64_t iters;
    float *out; /* fma: threads x CEILINGS_CPU_FMA_OUT chain values */
    /* stream */
    float *a, *b, *c;
    size_t n;
    /* gemm: C (m,n) = A (m,k) . B (k,n), row-major */
    int gm, gn, gk;
    void *A, *B;
    float *C;
    struct ops_matmul *mm;
    char name[24];
};

/* ------------------------------------------------------------------ fma loops */

#define FMA_CHAINS_512 16
#define FMA_CHAINS_256 12
/* Multiplier and addend, read through volatile so the compiler cannot turn x*1 + b into an
 * add: the loop stays one FMA per step, and x = x0 + k*b stays exact (see ceilings.h). */
static const volatile float fma_coef[2] = { 1.0f, CEILINGS_CPU_FMA_STEP };
/* bf16 operands 0.25 and 0.125 are exact; each VDPBF16PS adds 2 x 0.03125 per lane. */
static const volatile float dpbf16_coef[2] = { 0.25f, 0.125f };

float ceilings_cpu_fma_x0(bool bf16, int thread, int chain, int lane)
{
    if (bf16) /* multiples of 2^-10 below 1/4: exact, and so are x0 + k/16 up to k = 2^16 */
        return (float)(chain * 16 + lane) / 1024.0f;
    return 0.5f + (float)chain / 64.0f + (float)lane / 1024.0f + (float)(thread & 63) / 65536.0f;
}

int ceilings_cpu_fma_check(const float *out, int threads, int chains, int lanes, bool bf16, int64_t iters,
                           char *msg, size_t len)
{
    int bad = 0;
    double step = bf16 ? 2 * 0.25 * 0.125 : (double)CEILINGS_CPU_FMA_STEP;
    if (msg && len)
        msg[0] = '\0';
    for (int t = 0; t < threads; t++)
        for (int j = 0; j < chains; j++)
            for (int l = 0; l < lanes; l++) {
                double want = (double)ceilings_cpu_fma_x0(bf16, t, j, l) + (double)iters * step;
                float got = out[((size_t)t * chains + j) * lanes + l];
                if ((double)got == want)
                    continue;
                if (bad++ < 3 && msg) {
                    size_t k = strlen(msg);
                    snprintf(msg + k, len - k, " thread %d chain %d lane %d: %.9g, expected %.9g;", t, j, l,
                             (double)got, want);
                }
            }
    return bad;
}

__attribute__((target("avx512f"))) static void fma_loop_avx512(int64_t iters, int thread, float *out)
{
    __m512 a = _mm512_set1_ps(fma_coef[0]), b = _mm512_set1_ps(fma_coef[1]);
    __m512 x[FMA_CHAINS_512];
    float init[16];
    for (int j = 0; j < FMA_CHAINS_512; j++) {
        for (int l = 0; l < 16; l++)
            init[l] = ceilings_cpu_fma_x0(false, thread, j, l);
        x[j] = _mm512_loadu_ps(init);
    }
    for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int j = 0; j < FMA_CHAINS_512; j++)
            x[j] = _mm512_fmadd_ps(x[j], a, b);
    }
    for (int j = 0; j < FMA_CHAINS_512; j++)
        _mm512_storeu_ps(out + j * 16, x[j]);
}

__attribute__((target("avx2,fma"))) static void fma_loop_avx2(int64_t iters, int thread, float *out)
{
    __m256 a = _mm256_set1_ps(fma_coef[0]), b = _mm256_set1_ps(fma_coef[1]);
    __m256 x[FMA_CHAINS_256];
    float init[8];
    for (int j = 0; j < FMA_CHAINS_256; j++) {
        for (int l = 0; l < 8; l++)
            init[l] = ceilings_cpu_fma_x0(false, thread, j, l);
        x[j] = _mm256_loadu_ps(init);
    }
    for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 12
        for (int j = 0; j < FMA_CHAINS_256; j++)
            x[j] = _mm256_fmadd_ps(x[j], a, b);
    }
    for (int j = 0; j < FMA_CHAINS_256; j++)
        _mm256_storeu_ps(out + j * 8, x[j]);
}

__attribute__((target("avx512f,avx512bf16"))) static void dpbf16_loop(int64_t iters, int thread, float *out)
{
    __m512 av = _mm512_set1_ps(dpbf16_coef[0]), bv = _mm512_set1_ps(dpbf16_coef[1]);
    __m512bh a = _mm512_cvtne2ps_pbh(av, av), b = _mm512_cvtne2ps_pbh(bv, bv);
    __m512 x[FMA_CHAINS_512];
    float init[16];
    for (int j = 0; j < FMA_CHAINS_512; j++) {
        for (int l = 0; l < 16; l++)
            init[l] = ceilings_cpu_fma_x0(true, thread, j, l);
        x[j] = _mm512_loadu_ps(init);
    }
    for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int j = 0; j < FMA_CHAINS_512; j++)
            x[j] = _mm512_dpbf16_ps(x[j], a, b);
    }
    for (int j = 0; j < FMA_CHAINS_512; j++)
        _mm512_storeu_ps(out + j * 16, x[j]);
}

static int fma_chains(const struct cpu_state *s)
{
    return s->bf16 || s->isa == 512 ? FMA_CHAINS_512 : FMA_CHAINS_256;
}

static int fma_lanes(const struct cpu_state *s)
{
    return s->bf16 || s->isa == 512 ? 16 : 8;
}

static double fma_flops_per_iter(const struct cpu_state *s)
{
    return (double)fma_chains(s) * fma_lanes(s) * (s->bf16 ? 4.0 : 2.0);
}

/* Every thread of the team runs the loop, writing its chains to its slice of s->out. */
static void fma_run_all(const struct cpu_state *s, int64_t iters)
{
    float *out = s->out;
    size_t per_thread = (size_t)fma_chains(s) * fma_lanes(s); /* packed, as the check reads it */
#pragma omp parallel num_threads(s->threads)
    {
        int t = omp_get_thread_num();
        float *o = out + (size_t)t * per_thread;
        if (s->bf16)
            dpbf16_loop(iters, t, o);
        else if (s->isa == 512)
            fma_loop_avx512(iters, t, o);
        else
            fma_loop_avx2(iters, t, o);
    }
}

/* ------------------------------------------------------------------ gemm */

/* The matmul primitive first (before any matrix is allocated): where oneDNN has no kernel for
 * the type on this CPU, the case is a skipped row that says so. */
static ab_status gemm_primitive(struct cpu_state *s, struct ab_error *err)
{
    /* C (n,n) fp32 = A (n,n) . B (n,n), row-major, read in place */
    enum ab_dtype dt = s->bf16 ? AB_DTYPE_BF16 : AB_DTYPE_FP32;
    struct ops_mm_desc d = {
        .m = s->gm, .n = s->gn, .k = s->gk, .a_dt = dt, .b_dt = dt, .d_dt = AB_DTYPE_FP32
    };
    return ops_matmul_plan(&s->mm, &d, err);
}

/* Random A and B of na and nb elements and a poisoned C of nc: a sweep's shapes all read
 * prefixes of the same buffers (any prefix of random data is a random matrix). */
static ab_status gemm_buffers(struct cpu_state *s, size_t na, size_t nb, size_t nc, uint64_t seed,
                              struct ab_error *err)
{
    size_t el = s->bf16 ? 2 : 4, nt = na > nb ? na : nb;
    s->A = ab_alloc(na * el);
    s->B = ab_alloc(nb * el);
    s->C = ab_alloc(nc * 4);
    float *tmp = ab_alloc(nt * 4);
    if (!s->A || !s->B || !s->C || !tmp) {
        ab_free(tmp);
        return ab_fail(err, AB_ENOMEM, "cannot allocate GEMM matrices of %zu, %zu and %zu elements", na, nb,
                       nc);
    }
    for (int m = 0; m < 2; m++) {
        size_t cnt = m ? nb : na;
        ab_fill_normal_f32(tmp, cnt, seed + (uint64_t)m, 1.0f);
        void *dst = m ? s->B : s->A;
        if (s->bf16)
            for (size_t i = 0; i < cnt; i++)
                ((uint16_t *)dst)[i] = ab_bf16_from_f32(tmp[i]);
        else
            memcpy(dst, tmp, cnt * 4);
    }
    ab_free(tmp);
    memset(s->C, 0xff, nc * 4); /* poison: NaN everywhere until the product is written */
    return AB_OK;
}

static ab_status gemm_setup(struct cpu_state *s, uint64_t seed, struct ab_error *err)
{
    ab_status st = gemm_primitive(s, err);
    if (st)
        return st;
    return gemm_buffers(s, (size_t)s->gm * s->gk, (size_t)s->gk * s->gn, (size_t)s->gm * s->gn, seed, err);
}

static ab_status gemm_once(struct cpu_state *s, struct ab_error *err)
{
    return ops_matmul_exec(s->mm, s->C, s->A, s->B, NULL, NULL, NULL, NULL, err);
}

static double elem(const struct cpu_state *s, const void *m, size_t i)
{
    return s->bf16 ? (double)ab_bf16_to_f32(((const uint16_t *)m)[i]) : (double)((const float *)m)[i];
}

static ab_status gemm_verify(struct cpu_state *s, uint64_t seed, struct ab_case *c, struct ab_error *err)
{
    ab_status st = gemm_once(s, err);
    if (st)
        return st;
    /* Entries against an FP64 dot product of the same (already rounded) inputs: every one up to
     * n = 384 (n^3 multiply-adds are cheap there), else 256 at random. Only fp32 accumulation
     * error remains: bound it relative to sum |a||b|. */
    struct ab_rng g;
    ab_rng_seed(&g, seed ^ 0xc0ffee);
    int m = s->gm, n = s->gn, kk = s->gk, bad = 0;
    bool all = (double)m * n * kk <= 384.0 * 384 * 384;
    int64_t count = all ? (int64_t)m * n : 256;
    double max_rel = 0;
    char first[256] = "";
    for (int64_t t = 0; t < count; t++) {
        int i = all ? (int)(t / n) : (int)(ab_rng_uniform(&g) * m);
        int j = all ? (int)(t % n) : (int)(ab_rng_uniform(&g) * n);
        double ref = 0, mag = 0;
        for (int k = 0; k < kk; k++) {
            double p = elem(s, s->A, (size_t)i * kk + k) * elem(s, s->B, (size_t)k * n + j);
            ref += p;
            mag += fabs(p);
        }
        double got = s->C[(size_t)i * n + j], e = fabs(got - ref) / mag;
        if (!(e <= 1e-5)) {
            if (bad++ < 3) {
                size_t l = strlen(first);
                snprintf(first + l, sizeof first - l, " C[%d,%d]=%g ref %g;", i, j, got, ref);
            }
        }
        if (e > max_rel || isnan(e))
            max_rel = isnan(e) ? INFINITY : e;
    }
    ab_case_metric(c, "max_err_rel_to_abs_sum", max_rel);
    ab_case_metric(c, "entries_checked", (double)count);
    if (bad)
        return ab_fail(err, AB_EMISMATCH,
                       "gemm %dx%dx%d: %d of %lld%s entries off by more than 1e-5 "
                       "of sum|a||b|:%s",
                       m, n, kk, bad, (long long)count, all ? "" : " sampled", first);
    return AB_OK;
}

/* ------------------------------------------------------------------ gemm sweep */

/* The shapes an n = 0 case tries, from the device's last-level cache and its threads: a square
 * whose three matrices fill about half the cache (oneDNN's blocked panels then stay resident:
 * on most CPUs the fastest), half and twice that size, and a tall one (m = 4x, rows in whole
 * 64-row blocks per thread); outside quick also the 4096 square and a deep one (k = 4x). */
#define SWEEP_MAX 6
struct gemm_shape {
    int m, n, k;
};

static int round64(double v, int lo, int hi)
{
    int r = (int)(v / 64) * 64;
    return r < lo ? lo : r > hi ? hi : r;
}

int ceilings_cpu_gemm_shapes(uint64_t llc_bytes, int threads, enum ab_suite suite, int *m, int *n, int *k)
{
    double llc = llc_bytes ? (double)llc_bytes : 32.0 * 1048576; /* sysfs silent: a server L3 */
    int s1 = round64(sqrt(llc / 2 / (3.0 * 4)), 256, 4096);
    int t = threads > 0 ? threads : 1;
    int rows = (4 * s1 / (64 * t)) * 64 * t;
    struct gemm_shape c[SWEEP_MAX + 2] = {
        { round64(s1 / 2.0, 256, 4096), round64(s1 / 2.0, 256, 4096), round64(s1 / 2.0, 256, 4096) },
        { s1, s1, s1 },
        { round64(2.0 * s1, 256, 8192), round64(2.0 * s1, 256, 8192), round64(2.0 * s1, 256, 8192) },
        { rows > s1 ? rows : 4 * s1, s1, s1 },
        { 4096, 4096, 4096 },
        { s1, s1, 4 * s1 },
    };
    int nc = suite == AB_SUITE_QUICK ? 4 : 6, out = 0;
    for (int i = 0; i < nc; i++) {
        bool dup = false;
        for (int j = 0; j < out; j++)
            dup |= m[j] == c[i].m && n[j] == c[i].n && k[j] == c[i].k;
        if (dup)
            continue;
        m[out] = c[i].m;
        n[out] = c[i].n;
        k[out] = c[i].k;
        out++;
    }
    return out;
}

/* n = 0: time each shape briefly (its fastest GEMM over a short budget, at least one, after a
 * warm-up) and keep the best, which the runner then measures in full; the buffers fit the
 * largest shape. */
static ab_status gemm_sweep(struct cpu_state *s, struct ab_case *c, struct ab_error *err)
{
    int m[SWEEP_MAX], n[SWEEP_MAX], k[SWEEP_MAX];
    int ns = ceilings_cpu_gemm_shapes(c->device->l2_bytes, s->threads, c->suite, m, n, k);
    size_t na = 0, nb = 0, nc = 0;
    for (int i = 0; i < ns; i++) {
        uint64_t bytes = (uint64_t)m[i] * k[i] * (s->bf16 ? 2 : 4) +
                         (uint64_t)k[i] * n[i] * (s->bf16 ? 2 : 4) + (uint64_t)m[i] * n[i] * 4;
        if (!ab_device_fits(c->device, 2 * bytes))
            return ab_fail(err, AB_ENOMEM, "gemm %dx%dx%d needs %llu bytes", m[i], n[i], k[i],
                           (unsigned long long)bytes);
        na = fmax(na, (double)m[i] * k[i]);
        nb = fmax(nb, (double)k[i] * n[i]);
        nc = fmax(nc, (double)m[i] * n[i]);
    }
    /* The primitive first: where oneDNN has no kernel for the type, a skipped row, no buffers. */
    s->gm = m[0], s->gn = n[0], s->gk = k[0];
    ab_status st = gemm_primitive(s, err);
    if (st)
        return st;
    ops_matmul_destroy(s->mm);
    s->mm = NULL;
    if ((st = gemm_buffers(s, na, nb, nc, c->seed, err)))
        return st;
    double budget_s = c->suite == AB_SUITE_QUICK ? 0.04 : 0.2, best = 0;
    int pick = 0;
    for (int i = 0; i < ns; i++) {
        s->gm = m[i], s->gn = n[i], s->gk = k[i];
        if ((st = gemm_primitive(s, err)) || (st = gemm_once(s, err)))
            return st;
        double tmin = INFINITY, t0 = ab_now_s();
        for (int r = 0; r < 50 && (r < 1 || ab_now_s() - t0 < budget_s); r++) {
            double t1 = ab_now_s();
            if ((st = gemm_once(s, err)))
                return st;
            tmin = fmin(tmin, ab_now_s() - t1);
        }
        double rate = 2.0 * m[i] * (double)n[i] * k[i] / tmin;
        if (rate > best) {
            best = rate;
            pick = i;
        }
        ops_matmul_destroy(s->mm);
        s->mm = NULL;
    }
    s->gm = m[pick], s->gn = n[pick], s->gk = k[pick];
    memset(s->C, 0xff, nc * 4); /* poisoned again for the check */
    ab_case_metric(c, "gemm_shapes_tried", ns);
    ab_case_ceiling_detail(c, "gemm m=%d n=%d k=%d, best of %d shapes", s->gm, s->gn, s->gk, ns);
    return gemm_primitive(s, err);
}

/* ------------------------------------------------------------------ stream */

static void triad(struct cpu_state *s)
{
    float *restrict a = s->a;
    const float *restrict b = s->b, *restrict c = s->c;
    const float q = 3.0f;
    size_t n = s->n;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] + q * c[i];
}

/* ------------------------------------------------------------------ impl */

static ab_status cpu_setup(struct ab_case *c, struct ab_error *err)
{
    struct cpu_state *s = calloc(1, sizeof *s);
    if (!s)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    c->state = s;
    const char *kind = ab_param_str(&c->params, "kind", "fma");
    s->kind = !strcmp(kind, "gemm")     ? K_GEMM
              : !strcmp(kind, "stream") ? K_STREAM
              : !strcmp(kind, "llc")    ? K_LLC
                                        : K_FMA;
    s->bf16 = ab_param_is(&c->params, "dtype", "bf16");
    s->threads = ab_cpu_threads();
    ceilings_name(&c->params, s->name, sizeof s->name);
    ab_case_publish_ceiling(c, s->name, 0);
    c->work.ceiling = s->name;
    c->work.rate = s->kind == K_STREAM || s->kind == K_LLC ? "bytes" : "flops";
    switch (s->kind) {
    case K_FMA:
        if (s->bf16 && !(ab_cpu_has("avx512_bf16") && ab_cpu_has("avx512f")))
            return ab_fail(err, AB_EUNSUPPORTED, "no AVX-512 BF16 on this CPU (CPUID)");
        if (ab_cpu_has("avx512f"))
            s->isa = 512;
        else if (ab_cpu_has("avx2") && ab_cpu_has("fma"))
            s->isa = 256;
        else
            return ab_fail(err, AB_EUNSUPPORTED, "no AVX2/FMA or AVX-512 on this CPU (CPUID)");
        s->iters = 1 << 16; /* < 2^22: the loop's values stay exact (ceilings.h) */
        s->out = ab_alloc((size_t)s->threads * CEILINGS_CPU_FMA_OUT * sizeof(float));
        if (!s->out)
            return ab_fail(err, AB_ENOMEM, "cannot allocate the FMA loop's outputs");
        c->work.flops = fma_flops_per_iter(s) * (double)s->iters * s->threads;
        ab_case_metric_text(c, "isa", "%s", s->bf16 ? "avx512_bf16" : s->isa == 512 ? "avx512f" : "avx2");
        return AB_OK;
    case K_STREAM:
    case K_LLC: {
        /* stream: 128 MiB per array, far beyond the caches; llc: the three arrays fill half the
         * last-level cache, a whole number of 16-float lines per thread. The check suite
         * verifies the same triad over an odd size (a ragged last chunk per thread). */
        if (s->kind == K_LLC && c->device->l2_bytes == 0)
            return ab_fail(err, AB_EUNSUPPORTED, "the last-level cache size is unknown here (sysfs)");
        size_t per = (size_t)16 * s->threads;
        if (s->kind == K_STREAM)
            s->n = c->suite == AB_SUITE_CHECK ? 1000003 : (size_t)1 << 25;
        else
            s->n = c->suite == AB_SUITE_CHECK ? 10007 : (c->device->l2_bytes / 2 / 12 / per) * per;
        if (s->n == 0)
            return ab_fail(err, AB_EUNSUPPORTED, "a last-level cache of %llu bytes is too small to stream",
                           (unsigned long long)c->device->l2_bytes);
        ab_case_ceiling_detail(c, "triad 3 x %zu KiB", s->n * 4 / 1024);
        uint64_t bytes = 3 * s->n * sizeof(float);
        if (!ab_device_fits(c->device, bytes))
            return ab_fail(err, AB_ENOMEM, "stream arrays need %llu bytes", (unsigned long long)bytes);
        s->a = ab_alloc(s->n * 4);
        s->b = ab_alloc(s->n * 4);
        s->c = ab_alloc(s->n * 4);
        if (!s->a || !s->b || !s->c)
            return ab_fail(err, AB_ENOMEM, "cannot allocate 3 x %zu floats", s->n);
        struct ab_rng g;
        ab_rng_seed(&g, c->seed);
        float r1 = (float)ab_rng_normal(&g), r2 = (float)ab_rng_normal(&g);
        size_t n = s->n;
        float *a = s->a, *b = s->b, *cc = s->c;
        /* First touch by the threads that will use each page (NUMA placement). */
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            a[i] = NAN;
            b[i] = r1 + (float)(i % 1024) * 0.001f;
            cc[i] = r2 - (float)(i % 977) * 0.002f;
        }
        c->work.bytes = (double)bytes;
        c->work.flops = 2.0 * (double)s->n;
        return AB_OK;
    }
    default: {
        int n = (int)ab_param_int(&c->params, "n", 0);
        ab_status st;
        if (n == 0) {
            if ((st = gemm_sweep(s, c, err)))
                return st;
        } else {
            s->gm = s->gn = s->gk = n;
            uint64_t bytes = (uint64_t)n * n * (s->bf16 ? 2 : 4) * 2 + (uint64_t)n * n * 4 * 2;
            if (!ab_device_fits(c->device, bytes))
                return ab_fail(err, AB_ENOMEM, "gemm %d needs %llu bytes", n, (unsigned long long)bytes);
            if ((st = gemm_setup(s, c->seed, err)))
                return st;
            ab_case_ceiling_detail(c, "gemm m=%d n=%d k=%d", n, n, n);
        }
        double el = s->bf16 ? 2 : 4, m = s->gm, nn = s->gn, k = s->gk;
        c->work.flops = 2.0 * m * nn * k;
        c->work.bytes = (m * k + k * nn) * el + m * nn * 4;
        ab_case_metric(c, "gemm_m", s->gm);
        ab_case_metric(c, "gemm_n", s->gn);
        ab_case_metric(c, "gemm_k", s->gk);
        return AB_OK;
    }
    }
}

static ab_status cpu_verify(struct ab_case *c, struct ab_error *err)
{
    struct cpu_state *s = c->state;
    if (s->kind == K_GEMM)
        return gemm_verify(s, c->seed, c, err);
    if (s->kind == K_STREAM || s->kind == K_LLC) {
        triad(s);
        for (size_t i = 0; i < s->n; i++) {
            float want = s->b[i] + 3.0f * s->c[i];
            if (s->a[i] != want)
                return ab_fail(err, AB_EMISMATCH, "triad a[%zu] = %g, expected %g", i, s->a[i], want);
        }
        return AB_OK;
    }
    /* The timed loop itself, every chain of every lane of every thread against its closed
     * form: a thread that did not run or a step that was skipped shows as a mismatch. */
    size_t nout = (size_t)s->threads * CEILINGS_CPU_FMA_OUT;
    for (size_t i = 0; i < nout; i++)
        s->out[i] = NAN;
    fma_run_all(s, s->iters);
    char msg[400];
    int bad = ceilings_cpu_fma_check(s->out, s->threads, fma_chains(s), fma_lanes(s), s->bf16, s->iters, msg,
                                     sizeof msg);
    ab_case_metric(c, "fma_outputs_checked", (double)s->threads * fma_chains(s) * fma_lanes(s));
    if (bad)
        return ab_fail(err, AB_EMISMATCH, "fma loop: %d of %d outputs differ from x0 + %lld steps:%s", bad,
                       s->threads * fma_chains(s) * fma_lanes(s), (long long)s->iters, msg);
    return AB_OK;
}

static ab_status cpu_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    struct cpu_state *s = c->state;
    if (s->kind == K_FMA)
        fma_run_all(s, s->iters);
    else if (s->kind == K_STREAM || s->kind == K_LLC)
        triad(s);
    else
        return gemm_once(s, err);
    return AB_OK;
}

static void cpu_teardown(struct ab_case *c)
{
    struct cpu_state *s = c->state;
    if (!s)
        return;
    ops_matmul_destroy(s->mm);
    ab_free(s->A);
    ab_free(s->B);
    ab_free(s->C);
    ab_free(s->a);
    ab_free(s->b);
    ab_free(s->c);
    ab_free(s->out);
    free(s);
    c->state = NULL;
}

const struct ab_impl ceilings_cpu_impl = {
    .setup = cpu_setup,
    .verify = cpu_verify,
    .launch = cpu_launch,
    .teardown = cpu_teardown,
};
