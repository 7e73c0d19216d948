/* cpu.c — fp8_gemm on the CPU through ops' matmul (a oneDNN matmul primitive).
 * FP8 is emulated exactly: operands are quantized in software (fp8.c) to E4M3/E5M2 codes,
 * whose values are exact in BF16, so oneDNN's BF16 matmul with FP32 accumulation computes the
 * same sums as FP8 hardware with FP32 accumulation. Where oneDNN has no BF16 matmul (CPUs
 * without AVX-512) the codes' values go to its FP32 matmul instead: exact in FP32 too, the
 * same products and FP32 sums, held against the fp32 ceiling (metric cpu_gemm says which);
 * plain bf16 cases are then skipped rows. The scales are applied afterwards in FP32
 * (C = sA[i] · sB[j] · (Aq · Bq)[i,j]), inside the timed repetition. A pass over C rather than
 * oneDNN's runtime output scales: with those, oneDNN 2.6 leaves its brgemm kernel (gemm:jit
 * for one scale, no fast kernel for row scales), and FP8 rows would no longer time the same
 * matmul as the BF16 rows (ops' matmul applies the scales so: OPS_MM_SCALE_*). Quantization is timed apart
 * (quant_time_s). Where the operands fit in cache, repetitions rotate over copies. */
#include "fp8_gemm.h"

#include "config.h"
#include "ops.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROT   4
#define ROT_BYTES (8u << 20) /* rotate copies while all operands of one copy fit in 8 MiB */

struct copy {
    float *A, *B;     /* FP32 originals: A m x k, B k x n, row-major */
    void *Aq, *Bq;    /* operands the matmul reads: BF16, or FP32 values of FP8 codes (NULL
                         when it reads A and B) */
    uint8_t *A8, *B8; /* FP8 codes (FP8 only), kept for verification */
    float *sA, *sB;   /* scales: 1 (tensor) or m / n (row) values; NULL unless FP8 */
};

struct cpu_state {
    struct fp8g_config g;
    enum fp8g_cpu_gemm gemm;
    int nrot;
    struct copy cp[MAX_ROT];
    float *C;
    struct ops_matmul *mm;
};

/* Quantize one copy's operands (FP8) or round them to BF16; returns the seconds it took. */
static double prepare(const struct fp8g_config *g, enum fp8g_cpu_gemm gemm, struct copy *cp)
{
    size_t m = (size_t)g->m, n = (size_t)g->n, k = (size_t)g->k;
    double t0 = ab_now_s();
    if (fp8g_is_fp8(g->dtype)) {
        enum ab_dtype fa = fp8g_format_a(g->dtype), fb = fp8g_format_b(g->dtype);
        bool row = g->scaling == FP8G_SCALE_ROW;
        if (row) {
            fp8_scale_rows(fa, cp->A, m, k, k, cp->sA);
            fp8_scale_cols(fb, cp->B, k, n, n, cp->sB);
        } else {
            cp->sA[0] = fp8_scale_tensor(fa, cp->A, m, k, k);
            cp->sB[0] = fp8_scale_tensor(fb, cp->B, k, n, n);
        }
        fp8_quantize(fa, cp->A, m, k, k, cp->sA[0], row ? cp->sA : NULL, NULL, cp->A8);
        fp8_quantize(fb, cp->B, k, n, n, cp->sB[0], NULL, row ? cp->sB : NULL, cp->B8);
        if (gemm == FP8G_CPU_GEMM_BF16) {
            uint16_t la[256], lb[256], *Aq = cp->Aq, *Bq = cp->Bq;
            for (int c = 0; c < 256; c++) {
                la[c] = ab_bf16_from_f32(ab_fp8_to_f32(fa, (uint8_t)c));
                lb[c] = ab_bf16_from_f32(ab_fp8_to_f32(fb, (uint8_t)c));
            }
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < m * k; i++)
                Aq[i] = la[cp->A8[i]];
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < k * n; i++)
                Bq[i] = lb[cp->B8[i]];
        } else {
            float la[256], lb[256], *Aq = cp->Aq, *Bq = cp->Bq;
            for (int c = 0; c < 256; c++) {
                la[c] = ab_fp8_to_f32(fa, (uint8_t)c);
                lb[c] = ab_fp8_to_f32(fb, (uint8_t)c);
            }
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < m * k; i++)
                Aq[i] = la[cp->A8[i]];
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < k * n; i++)
                Bq[i] = lb[cp->B8[i]];
        }
    } else if (g->dtype == AB_DTYPE_BF16) {
        uint16_t *Aq = cp->Aq, *Bq = cp->Bq;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < m * k; i++)
            Aq[i] = ab_bf16_from_f32(cp->A[i]);
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < k * n; i++)
            Bq[i] = ab_bf16_from_f32(cp->B[i]);
    }
    return ab_now_s() - t0;
}

static ab_status cpu_setup(struct ab_case *c, struct ab_error *err)
{
    struct fp8g_config g;
    ab_status st = fp8g_config_parse(&c->params, &g, err);
    if (st)
        return st;
    enum fp8g_cpu_gemm gemm;
    if ((st = fp8g_cpu_gemm_choose(&g, fp8g_cpu_has_bf16_matmul(), &gemm, err)))
        return st;
    struct cpu_state *s = calloc(1, sizeof *s);
    if (!s)
        return ab_fail(err, AB_ENOMEM, "fp8_gemm: out of memory");
    c->state = s;
    s->g = g;
    s->gemm = gemm;
    size_t m = (size_t)g.m, n = (size_t)g.n, k = (size_t)g.k;
    bool fp8 = fp8g_is_fp8(g.dtype), low = g.dtype != AB_DTYPE_FP32;
    size_t eb = gemm == FP8G_CPU_GEMM_BF16 ? 2 : 4; /* bytes per element the matmul reads */
    /* Bytes per copy: FP32 originals, plus the matmul's operands, plus FP8 codes. */
    size_t per = (m * k + k * n) * (4 + (low ? eb : 0) + (fp8 ? 1 : 0));
    size_t kernel_bytes = (m * k + k * n) * eb;
    /* Copies only keep timed repetitions out of cache: the check suite times nothing. */
    s->nrot = kernel_bytes <= ROT_BYTES && c->suite != AB_SUITE_CHECK ? MAX_ROT : 1;
    if (!ab_device_fits(c->device, per * (size_t)s->nrot + m * n * 4))
        return ab_fail(err, AB_ENOMEM, "fp8_gemm: %zu x %zu x %zu needs %.1f GiB", m, n, k,
                       (double)(per * (size_t)s->nrot + m * n * 4) / (1u << 30));
    s->C = ab_alloc(m * n * 4);
    if (!s->C)
        return ab_fail(err, AB_ENOMEM, "fp8_gemm: cannot allocate C (%zu x %zu)", m, n);
    memset(s->C, 0xff, m * n * 4); /* NaN until the product is written */
    double quant_s = 0;
    for (int r = 0; r < s->nrot; r++) {
        struct copy *cp = &s->cp[r];
        cp->A = ab_alloc(m * k * 4);
        cp->B = ab_alloc(k * n * 4);
        bool ok = cp->A && cp->B;
        if (low) {
            cp->Aq = ab_alloc(m * k * eb);
            cp->Bq = ab_alloc(k * n * eb);
            ok = ok && cp->Aq && cp->Bq;
        }
        if (fp8) {
            bool row = g.scaling == FP8G_SCALE_ROW;
            cp->A8 = ab_alloc(m * k);
            cp->B8 = ab_alloc(k * n);
            cp->sA = ab_alloc((row ? m : 1) * 4);
            cp->sB = ab_alloc((row ? n : 1) * 4);
            ok = ok && cp->A8 && cp->B8 && cp->sA && cp->sB;
        }
        if (!ok)
            return ab_fail(err, AB_ENOMEM, "fp8_gemm: cannot allocate operands of %zu x %zu x %zu", m, n, k);
        ab_fill_normal_f32(cp->A, m * k, c->seed + 2 * (uint64_t)r, 1.0f);
        ab_fill_normal_f32(cp->B, k * n, c->seed + 2 * (uint64_t)r + 1, 1.0f);
        double t = prepare(&g, gemm, cp);
        if (r == 0)
            quant_s = t;
    }
    if (fp8)
        ab_case_metric(c, "quant_time_s", quant_s);
    ab_case_metric_text(c, "kernel", "onednn %s matmul%s", fp8g_cpu_gemm_name(gemm),
                        fp8 ? " + fp32 scales" : "");
    ab_case_metric_text(c, "cpu_gemm", "%s", fp8g_cpu_gemm_name(gemm));

    /* C (m,n) fp32 = A (m,k) . B (k,n), both row-major, read in place; FP8 scales after. */
    enum ab_dtype dt = gemm == FP8G_CPU_GEMM_BF16 ? AB_DTYPE_BF16 : AB_DTYPE_FP32;
    struct ops_mm_desc d = { .m = g.m,
                             .n = g.n,
                             .k = g.k,
                             .a_dt = dt,
                             .b_dt = dt,
                             .d_dt = AB_DTYPE_FP32,
                             .scale = !fp8                          ? OPS_MM_SCALE_NONE
                                      : g.scaling == FP8G_SCALE_ROW ? OPS_MM_SCALE_OUTER
                                                                    : OPS_MM_SCALE_TENSOR };
    if ((st = ops_matmul_plan(&s->mm, &d, err)))
        return st;
    if (*ops_matmul_impl(s->mm))
        ab_case_metric_text(c, "onednn_impl", "%s", ops_matmul_impl(s->mm));
    fp8g_work(&g, eb, eb, 4, &c->work);
    c->work.ceiling = fp8g_cpu_ceiling(gemm);
    return AB_OK;
}

/* 0: not probed yet, 1: oneDNN creates BF16 matmuls here, 2: it does not. A property of the
 * CPU and the library, so probed once for the process; a race only probes twice. */
static atomic_int bf16_matmul_probe;

static bool probe_bf16_matmul(void)
{
    struct ops_mm_desc d = {
        .m = 16, .n = 16, .k = 16, .a_dt = AB_DTYPE_BF16, .b_dt = AB_DTYPE_BF16, .d_dt = AB_DTYPE_FP32
    };
    return ops_matmul_supported(&d);
}

bool fp8g_cpu_has_bf16_matmul(void)
{
#if AB_TEST_HOOKS
    const char *no = getenv("ACCELBENCH_TEST_NO_BF16_MATMUL");
    if (no && *no && strcmp(no, "0") != 0)
        return false;
#endif
    int v = atomic_load(&bf16_matmul_probe);
    if (v == 0) {
        v = probe_bf16_matmul() ? 1 : 2;
        atomic_store(&bf16_matmul_probe, v);
    }
    return v == 1;
}

/* One repetition on copy r: the matmul, then the FP8 scales in FP32. */
static ab_status once(struct cpu_state *s, int r, struct ab_error *err)
{
    const struct copy *cp = &s->cp[r];
    bool low = s->g.dtype != AB_DTYPE_FP32;
    return ops_matmul_exec(s->mm, s->C, low ? cp->Aq : cp->A, low ? cp->Bq : cp->B, cp->sA, cp->sB, NULL,
                           NULL, err);
}

/* BF16 operands hold exact products, accumulated in FP32 over blocks of k: the error against
 * the FP64 sum grows like sqrt(k) roundings of 2^-24 (with room for blocked partial sums). */
static double cpu_rtol(int64_t k)
{
    return ldexp(64.0 + 4.0 * sqrt((double)k), -24);
}

static ab_status cpu_verify(struct ab_case *c, struct ab_error *err)
{
    struct cpu_state *s = c->state;
    ab_status st = once(s, 0, err);
    if (st)
        return st;
    const struct fp8g_config *g = &s->g;
    const struct copy *cp = &s->cp[0];
    bool fp8 = fp8g_is_fp8(g->dtype), row = g->scaling == FP8G_SCALE_ROW;
    struct fp8g_operand a = { .orig = cp->A, .stride_o = g->k, .stride_k = 1 };
    struct fp8g_operand b = { .orig = cp->B, .stride_o = 1, .stride_k = g->n };
    if (fp8) {
        a.stored = cp->A8;
        a.store = AB_DTYPE_FP8_E4M3;
        b.stored = cp->B8;
        b.store = fp8g_format_b(g->dtype);
        a.scales = cp->sA;
        a.n_scales = row ? g->m : 1;
        b.scales = cp->sB;
        b.n_scales = row ? g->n : 1;
    } else if (g->dtype == AB_DTYPE_BF16) {
        a.stored = cp->Aq;
        a.store = AB_DTYPE_BF16;
        b.stored = cp->Bq;
        b.store = AB_DTYPE_BF16;
    }
    struct fp8g_accuracy acc;
    double rtol = cpu_rtol(g->k);
    fp8g_check(g, &a, &b, s->C, g->n, 1e-30, rtol, c->seed, &acc);
    return fp8g_report(c, &acc, rtol, err);
}

static ab_status cpu_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    struct cpu_state *s = c->state;
    return once(s, (int)(rep % s->nrot), err);
}

static void cpu_teardown(struct ab_case *c)
{
    struct cpu_state *s = c->state;
    if (!s)
        return;
    for (int r = 0; r < MAX_ROT; r++) {
        struct copy *cp = &s->cp[r];
        ab_free(cp->A);
        ab_free(cp->B);
        ab_free(cp->Aq);
        ab_free(cp->Bq);
        ab_free(cp->A8);
        ab_free(cp->B8);
        ab_free(cp->sA);
        ab_free(cp->sB);
    }
    ops_matmul_destroy(s->mm);
    ab_free(s->C);
    free(s);
    c->state = NULL;
}

const struct ab_impl fp8_gemm_cpu_impl = {
    .setup = cpu_setup,
    .verify = cpu_verify,
    .launch = cpu_launch,
    .teardown = cpu_teardown,
};
