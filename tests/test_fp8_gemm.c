/* test_fp8_gemm.c — the fp8_gemm workload on the CPU with small matrices (each dtype and
 * scaling against an FP64 product of its dequantized operands), its reference check, its
 * axes, and the CUDA path's host-side plan (layout, alignment, scale placement). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "accelbench.h"
#include "config.h"
#include "fp8_gemm/fp8_gemm.h"
#include "fp8_gemm/plan.h"

extern const struct ab_workload fp8_gemm_workload;

static struct ab_device fake_cpu(void)
{
    struct ab_device d;
    memset(&d, 0, sizeof d);
    snprintf(d.id, sizeof d.id, "cpu");
    d.backend = AB_BACKEND_CPU;
    d.mem_bytes = 8ull << 30;
    return d;
}

static const struct ab_metric *metric(const struct ab_case *c, const char *name)
{
    for (int i = 0; i < c->n_metrics; i++)
        if (strcmp(c->metrics[i].name, name) == 0)
            return &c->metrics[i];
    return NULL;
}

/* Run one case through setup, verify and three repetitions (suite `suite`). Returns the status
 * (failing the test on anything but AB_OK and, where allow_skip, AB_EUNSUPPORTED), with the
 * case's metrics copied into *out and the error into *err. */
static ab_status run_case_in(const char *params, enum ab_suite suite, bool allow_skip, struct ab_case *out,
                             struct ab_error *err)
{
    struct ab_device dev = fake_cpu();
    struct ab_case c;
    memset(&c, 0, sizeof c);
    c.workload = &fp8_gemm_workload;
    c.device = &dev;
    c.suite = suite;
    c.seed = 1234;
    memset(err, 0, sizeof *err);
    assert_int_equal(ab_params_parse(params, &c.params, err), AB_OK);
    const struct ab_impl *impl = fp8_gemm_workload.impl[AB_BACKEND_CPU];
    ab_status st = impl->setup(&c, err);
    if (st == AB_OK)
        st = impl->verify(&c, err);
    double t = -1;
    if (st == AB_OK)
        st = ab_case_time(&c, impl, 3, &t, err);
    impl->teardown(&c);
    assert_null(c.state);
    if (st != AB_OK && !(allow_skip && st == AB_EUNSUPPORTED))
        fail_msg("%s: %s", params, err->msg);
    if (st == AB_OK)
        assert_true(t > 0);
    *out = c;
    c.device = NULL;
    out->device = NULL;
    return st;
}

/* One case that must run (AB_OK); returns its rel_fro_err. */
static double run_case(const char *params, double *kernel_err)
{
    struct ab_case c;
    struct ab_error err;
    run_case_in(params, AB_SUITE_QUICK, false, &c, &err);
    const struct ab_metric *fro = metric(&c, "rel_fro_err"), *ke = metric(&c, "kernel_err"),
                           *mx = metric(&c, "max_rel_err");
    assert_non_null(fro);
    assert_non_null(ke);
    assert_non_null(mx);
    assert_true(mx->value >= fro->value);
    assert_true(c.work.flops == 2.0 * 64 * 64 * 64);
    *kernel_err = ke->value;
    return fro->value;
}

/* Each dtype and scaling: the kernel matches the FP64 product of what it was given to FP32
 * rounding, and the error against the FP32 inputs is in the range the format implies. Plain
 * bf16 runs where oneDNN has a BF16 matmul and is a skipped row with the reason elsewhere. */
static void cpu_gemms_match_fp64_of_dequantized_operands(void **state)
{
    static const struct {
        const char *p;
        double lo, hi;
    } cases[] = {
        { "dtype=fp32;scaling=none;accum=fp32;shape=square;m=64", 0, 1e-6 },
        { "dtype=bf16;scaling=none;accum=fp32;shape=square;m=64", 1e-4, 1e-2 },
        { "dtype=fp8_e4m3;scaling=tensor;accum=fp32;shape=square;m=64", 5e-3, 8e-2 },
        { "dtype=fp8_e4m3;scaling=row;accum=fp32;shape=square;m=64", 5e-3, 8e-2 },
        { "dtype=fp8_e5m2;scaling=tensor;accum=fp32;shape=square;m=64", 1e-2, 2e-1 },
        { "dtype=fp8_e5m2;scaling=row;accum=fp32;shape=square;m=64", 1e-2, 2e-1 },
    };
    bool bf16 = fp8g_cpu_has_bf16_matmul();
    double e4 = 0, e5 = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!bf16 && strstr(cases[i].p, "dtype=bf16")) {
            struct ab_case c;
            struct ab_error err;
            assert_int_equal(run_case_in(cases[i].p, AB_SUITE_QUICK, true, &c, &err), AB_EUNSUPPORTED);
            assert_string_equal(err.msg, "oneDNN has no bf16 matmul on this CPU (needs AVX-512)");
            continue;
        }
        double ke;
        double fro = run_case(cases[i].p, &ke);
        if (!(fro >= cases[i].lo && fro <= cases[i].hi))
            fail_msg("%s: rel_fro_err %g outside [%g, %g]", cases[i].p, fro, cases[i].lo, cases[i].hi);
        if (!(ke <= 1e-6))
            fail_msg("%s: kernel_err %g", cases[i].p, ke);
        if (strstr(cases[i].p, "e4m3;scaling=tensor"))
            e4 = fro;
        if (strstr(cases[i].p, "e5m2;scaling=tensor"))
            e5 = fro;
    }
    assert_true(e5 > e4); /* E5M2's 2-bit mantissa costs more than E4M3's 3 */
}

/* FP8 runs on the BF16 matmul where oneDNN has one, else on the FP32 matmul, and says so in
 * cpu_gemm and its ceiling; the FP32 fallback is as exact (FP8 products are exact in FP32).
 * The fallback is also forced (test builds) so that it is checked on AVX-512 CPUs too. */
static void cpu_fp8_runs_on_the_bf16_matmul_or_falls_back_to_fp32(void **state)
{
    static const char *const ps[] = { "dtype=fp8_e4m3;scaling=row;accum=fp32;shape=300x1500;m=17",
                                      "dtype=fp8_e5m2;scaling=tensor;accum=fp32;shape=square;m=300" };
    bool bf16 = fp8g_cpu_has_bf16_matmul();
    for (int forced = 0; forced < 1 + AB_TEST_HOOKS; forced++) {
        if (forced)
            setenv("ACCELBENCH_TEST_NO_BF16_MATMUL", "1", 1);
        bool have = bf16 && !forced;
        assert_true(fp8g_cpu_has_bf16_matmul() == have);
        for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
            struct ab_case c;
            struct ab_error err;
            assert_int_equal(run_case_in(ps[i], AB_SUITE_CHECK, false, &c, &err), AB_OK);
            const struct ab_metric *g = metric(&c, "cpu_gemm"), *ke = metric(&c, "kernel_err");
            assert_non_null(g);
            assert_string_equal(g->text, have ? "bf16" : "f32");
            assert_string_equal(c.work.ceiling, have ? "bf16_gemm" : "fp32_gemm");
            assert_non_null(ke);
            if (!(ke->value <= 1e-6))
                fail_msg("%s (cpu_gemm=%s): kernel_err %g", ps[i], g->text, ke->value);
            /* Bytes: what the matmul reads, 2 or 4 per element of A and B, C in FP32. */
            struct fp8g_config cfg;
            assert_int_equal(fp8g_config_parse(&c.params, &cfg, &err), AB_OK);
            double eb = have ? 2 : 4;
            assert_true(c.work.bytes ==
                        (double)(cfg.m * cfg.k + cfg.k * cfg.n) * eb + (double)(cfg.m * cfg.n) * 4);
        }
        struct ab_case c;
        struct ab_error err;
        ab_status st = run_case_in("dtype=bf16;scaling=none;accum=fp32;shape=square;m=300", AB_SUITE_CHECK,
                                   true, &c, &err);
        assert_int_equal(st, have ? AB_OK : AB_EUNSUPPORTED);
        if (!have)
            assert_string_equal(err.msg, "oneDNN has no bf16 matmul on this CPU (needs AVX-512)");
        unsetenv("ACCELBENCH_TEST_NO_BF16_MATMUL");
    }
}

/* A case that does not fit is an oom row, and teardown frees what setup made before it knew
 * (run under ASan, a leak here fails the test). */
static void cpu_case_too_large_for_the_device_is_oom_without_leaks(void **state)
{
    struct ab_device dev = fake_cpu();
    dev.mem_bytes = 1u << 20;
    struct ab_case c;
    memset(&c, 0, sizeof c);
    c.workload = &fp8_gemm_workload;
    c.device = &dev;
    c.seed = 5;
    struct ab_error err;
    assert_int_equal(
        ab_params_parse("dtype=fp8_e4m3;scaling=row;accum=fp32;shape=square;m=300", &c.params, &err), AB_OK);
    const struct ab_impl *impl = fp8_gemm_workload.impl[AB_BACKEND_CPU];
    assert_int_equal(impl->setup(&c, &err), AB_ENOMEM);
    assert_non_null(strstr(err.msg, "needs"));
    assert_non_null(c.state);
    impl->teardown(&c);
    assert_null(c.state);
}

/* The choice itself, for either capability: bf16 needs the BF16 matmul, FP8 takes whichever
 * exists, fp32 always the FP32 one, and what the CPU path has no code for is refused. */
static void cpu_gemm_choice_follows_the_capability(void **state)
{
    struct fp8g_config g = {
        .m = 16, .n = 16, .k = 16, .dtype = AB_DTYPE_FP8_E4M3, .scaling = FP8G_SCALE_ROW
    };
    enum fp8g_cpu_gemm k;
    struct ab_error err;
    assert_int_equal(fp8g_cpu_gemm_choose(&g, true, &k, &err), AB_OK);
    assert_int_equal(k, FP8G_CPU_GEMM_BF16);
    assert_int_equal(fp8g_cpu_gemm_choose(&g, false, &k, &err), AB_OK);
    assert_int_equal(k, FP8G_CPU_GEMM_F32);
    assert_string_equal(fp8g_cpu_gemm_name(k), "f32");
    assert_string_equal(fp8g_cpu_ceiling(k), "fp32_gemm");
    assert_string_equal(fp8g_cpu_ceiling(FP8G_CPU_GEMM_BF16), "bf16_gemm");
    g.row_request = FP8G_ROW_KERNEL;
    assert_int_equal(fp8g_cpu_gemm_choose(&g, true, &k, &err), AB_EUNSUPPORTED);
    g.row_request = FP8G_ROW_AUTO;
    g.fast_accum = true;
    assert_int_equal(fp8g_cpu_gemm_choose(&g, true, &k, &err), AB_EUNSUPPORTED);
    struct fp8g_config b = { .m = 16, .n = 16, .k = 16, .dtype = AB_DTYPE_BF16 };
    assert_int_equal(fp8g_cpu_gemm_choose(&b, true, &k, &err), AB_OK);
    assert_int_equal(k, FP8G_CPU_GEMM_BF16);
    assert_int_equal(fp8g_cpu_gemm_choose(&b, false, &k, &err), AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "no bf16 matmul"));
    b.dtype = AB_DTYPE_FP32;
    assert_int_equal(fp8g_cpu_gemm_choose(&b, true, &k, &err), AB_OK);
    assert_int_equal(k, FP8G_CPU_GEMM_F32);
    b.dtype = AB_DTYPE_TF32;
    assert_int_equal(fp8g_cpu_gemm_choose(&b, true, &k, &err), AB_EUNSUPPORTED);
}

/* The check itself: a right product passes, one wrong entry is caught and named. */
static void check_flags_a_single_wrong_entry(void **state)
{
    struct fp8g_config g = { .m = 3, .n = 2, .k = 4, .dtype = AB_DTYPE_FP32 };
    const float A[] = { 1, 2, 3, 4, -1, 0.5f, 2, 1, 3, 3, -2, 1 }; /* 3 x 4 */
    const float B[] = { 1, -1, 2, 0.25f, -1, 1, 0.5f, 2 };         /* 4 x 2 */
    float C[6];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 2; j++) {
            double s = 0;
            for (int kk = 0; kk < 4; kk++)
                s += (double)A[i * 4 + kk] * B[kk * 2 + j];
            C[i * 2 + j] = (float)s;
        }
    struct fp8g_operand a = { .orig = A, .stride_o = 4, .stride_k = 1 };
    struct fp8g_operand b = { .orig = B, .stride_o = 1, .stride_k = 2 };
    struct fp8g_accuracy acc;
    fp8g_check(&g, &a, &b, C, 2, 0, 1e-6, 1, &acc);
    assert_int_equal(acc.entries, 6);
    assert_int_equal(acc.bad, 0);
    assert_true(acc.rel_fro_err == 0);
    C[3] += 0.5f;
    fp8g_check(&g, &a, &b, C, 2, 0, 1e-6, 1, &acc);
    assert_int_equal(acc.bad, 1);
    assert_non_null(strstr(acc.first, "C[1,1]"));
    assert_true(acc.rel_fro_err > 0 && acc.max_rel_err > acc.rel_fro_err);
}

/* Every entry up to 16384 of them, whatever the split between rows and columns; beyond
 * that a sample of 4096 (64 rows x 64 columns here). Inputs are small integers, so an FP32
 * product is exact and nothing may be flagged. */
static void check_covers_all_entries_of_small_products_and_samples_large_ones(void **state)
{
    static const int64_t dims[][3] = { { 128, 128, 5 }, { 200, 100, 5 } };
    for (int d = 0; d < 2; d++) {
        int64_t m = dims[d][0], n = dims[d][1], k = dims[d][2];
        float *A = malloc((size_t)(m * k) * sizeof *A), *B = malloc((size_t)(k * n) * sizeof *B),
              *C = malloc((size_t)(m * n) * sizeof *C);
        assert_non_null(A);
        assert_non_null(B);
        assert_non_null(C);
        for (int64_t i = 0; i < m * k; i++)
            A[i] = (float)((i * 7) % 11) - 5;
        for (int64_t i = 0; i < k * n; i++)
            B[i] = (float)((i * 5) % 13) - 6;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                float acc = 0;
                for (int64_t kk = 0; kk < k; kk++)
                    acc += A[i * k + kk] * B[kk * n + j];
                C[i * n + j] = acc;
            }
        struct fp8g_config g = { .m = m, .n = n, .k = k, .dtype = AB_DTYPE_FP32 };
        struct fp8g_operand a = { .orig = A, .stride_o = k, .stride_k = 1 };
        struct fp8g_operand b = { .orig = B, .stride_o = 1, .stride_k = n };
        struct fp8g_accuracy acc;
        fp8g_check(&g, &a, &b, C, n, 0, 1e-7, 7, &acc);
        assert_int_equal(acc.entries, m * n <= 16384 ? m * n : 4096);
        assert_int_equal(acc.bad, 0);
        assert_true(acc.rel_fro_err == 0 && acc.kernel_err == 0);
        free(A);
        free(B);
        free(C);
    }
}

/* Dequantized values come from the stored codes times the right scale. */
static void operand_values_apply_row_and_tensor_scales(void **state)
{
    const float orig[] = { 1, 2, 3, 4 };
    const uint8_t codes[] = { 0x38, 0x40, 0x44, 0x48 }; /* E4M3: 1, 2, 3, 4 */
    const float rs[] = { 0.5f, 4.0f };
    struct fp8g_operand op = { .orig = orig,
                               .stored = codes,
                               .store = AB_DTYPE_FP8_E4M3,
                               .scales = rs,
                               .n_scales = 2,
                               .stride_o = 2,
                               .stride_k = 1 };
    assert_true(fp8g_operand_value(&op, 0, 1) == 1.0);  /* 2 · 0.5 */
    assert_true(fp8g_operand_value(&op, 1, 0) == 12.0); /* 3 · 4 */
    op.n_scales = 1;
    assert_true(fp8g_operand_value(&op, 1, 1) == 2.0); /* 4 · 0.5 */
    op.stored = NULL;
    op.scales = NULL;
    assert_true(fp8g_operand_value(&op, 1, 1) == 4.0);
}

static bool applies(const char *params, enum ab_backend_kind b, enum ab_suite s)
{
    struct ab_params ps;
    struct ab_error err;
    assert_int_equal(ab_params_parse(params, &ps, &err), AB_OK);
    return fp8_gemm_workload.applies(&ps, b, s);
}

static void axes_keep_only_meaningful_points(void **state)
{
    const enum ab_backend_kind C = AB_BACKEND_CPU, G = AB_BACKEND_CUDA;
    const enum ab_suite Q = AB_SUITE_QUICK, F = AB_SUITE_FULL;
    assert_true(applies("dtype=fp8_e4m3;scaling=row;accum=fp32;shape=square;m=2048", C, Q));
    assert_false(applies("dtype=fp8_e4m3;scaling=none;accum=fp32;shape=square;m=2048", C, Q));
    assert_false(applies("dtype=bf16;scaling=tensor;accum=fp32;shape=square;m=2048", C, Q));
    assert_false(applies("dtype=fp8_e4m3;scaling=row;accum=fast;shape=square;m=2048", C, F));
    assert_true(applies("dtype=fp8_e4m3;scaling=row;accum=fast;shape=square;m=2048", G, F));
    assert_false(applies("dtype=bf16;scaling=none;accum=fast;shape=square;m=2048", G, F));
    assert_false(applies("dtype=tf32;scaling=none;accum=fp32;shape=square;m=2048", C, F));
    assert_true(applies("dtype=tf32;scaling=none;accum=fp32;shape=square;m=2048", G, F));
    assert_false(applies("dtype=bf16;scaling=none;accum=fp32;shape=square;m=4096", C, Q));
    assert_true(applies("dtype=bf16;scaling=none;accum=fp32;shape=square;m=16384", C, F));
    assert_false(applies("dtype=bf16;scaling=none;accum=fp32;shape=square;m=64", C, F));
    assert_true(applies("dtype=bf16;scaling=none;accum=fp32;shape=8192x28672;m=1", G, F));
    assert_false(applies("dtype=bf16;scaling=none;accum=fp32;shape=8192x28672;m=512", G, F));
    /* row_scale picks a CUDA path for row scaling: nothing else takes it. */
    assert_true(applies("dtype=fp8_e5m2;scaling=row;accum=fast;row_scale=kernel;shape=square;m=2048", G, F));
    assert_false(applies("dtype=fp8_e5m2;scaling=row;accum=fp32;row_scale=kernel;shape=square;m=2048", C, F));
    assert_false(
        applies("dtype=fp8_e5m2;scaling=tensor;accum=fp32;row_scale=kernel;shape=square;m=2048", G, F));
    assert_false(applies("dtype=bf16;scaling=none;accum=fp32;row_scale=cublaslt;shape=square;m=2048", G, F));
    /* The check suite's sizes: 4096x4096 on CUDA only, small shapes with 1, 16 or 17 tokens. */
    const enum ab_suite K = AB_SUITE_CHECK;
    assert_true(applies("dtype=fp32;scaling=none;accum=fp32;shape=4096x4096;m=17", G, K));
    assert_false(applies("dtype=fp32;scaling=none;accum=fp32;shape=4096x4096;m=17", C, K));
    assert_true(applies("dtype=fp32;scaling=none;accum=fp32;shape=300x1500;m=16", C, K));
    assert_false(applies("dtype=fp32;scaling=none;accum=fp32;shape=300x1500;m=300", C, K));
    assert_true(applies("dtype=fp8_e4m3;scaling=tensor;accum=fp32;shape=square;m=300", C, K));
    assert_false(applies("dtype=fp8_e4m3;scaling=tensor;accum=fp32;shape=square;m=304", C, K));
    assert_true(applies("dtype=fp8_e4m3;scaling=tensor;accum=fp32;shape=square;m=304", G, K));
    assert_false(applies("dtype=fp8_e4m3;scaling=tensor;accum=fp32;shape=square;m=2048", G, K));
}

static void llm_shapes_name_k_by_n_with_m_tokens(void **state)
{
    struct ab_params ps;
    struct ab_error err;
    struct fp8g_config g;
    assert_int_equal(ab_params_parse("dtype=bf16;scaling=none;accum=fp32;shape=14336x4096;m=16", &ps, &err),
                     AB_OK);
    assert_int_equal(fp8g_config_parse(&ps, &g, &err), AB_OK);
    assert_true(g.m == 16 && g.k == 14336 && g.n == 4096);
    struct ab_work w;
    fp8g_work(&g, 1, 1, 2, &w);
    assert_true(w.flops == 2.0 * 16 * 4096 * 14336);
    assert_string_equal(w.rate, "flops");
    struct fp8g_config e4 = {
        .m = 1, .n = 16, .k = 16, .dtype = AB_DTYPE_FP8_E4M3, .scaling = FP8G_SCALE_TENSOR
    };
    assert_string_equal(fp8g_cuda_ceiling(&e4), "fp8_gemm");
    e4.fast_accum = true; /* fast accumulation has its own, faster ceiling */
    assert_string_equal(fp8g_cuda_ceiling(&e4), "fp8_fast_gemm");
    e4.dtype = AB_DTYPE_FP8_E5M2;
    assert_string_equal(fp8g_cuda_ceiling(&e4), "fp8_fast_gemm");
    e4.fast_accum = false;
    assert_string_equal(fp8g_cuda_ceiling(&e4), "fp8_gemm");
    struct fp8g_config t = { .m = 1, .n = 16, .k = 16, .dtype = AB_DTYPE_TF32 };
    assert_string_equal(fp8g_cuda_ceiling(&t), "tf32_gemm");
    assert_int_equal(ab_params_parse("dtype=fp8_e4m3;scaling=none;accum=fp32;shape=square;m=16", &ps, &err),
                     AB_OK);
    assert_int_equal(fp8g_config_parse(&ps, &g, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "scaling=none"));
}

/* CUDA host logic: C = X · W^T is D = op(W) · X in cuBLAS terms (TN), scales placed so that
 * cuBLAS's A (weights) carries the per-channel vector and B (tokens) the per-token one. */
static void cuda_plan_maps_tokens_and_channels_onto_cublas(void **state)
{
    struct fp8g_config g = {
        .m = 1, .n = 14336, .k = 4096, .dtype = AB_DTYPE_FP8_E5M2, .scaling = FP8G_SCALE_ROW
    };
    struct fp8g_plan p;
    struct ab_error err;
    assert_int_equal(fp8g_plan_make(&g, 9, 0, 130100, &p, &err), AB_OK);
    assert_true(p.M == 14336 && p.N == 1 && p.K == 4096);
    assert_true(p.lda == 4096 && p.ldb == 4096 && p.ldd == 14336);
    assert_int_equal(p.a_store, AB_DTYPE_FP8_E5M2); /* the second operand, E5M2, is the weight */
    assert_int_equal(p.b_store, AB_DTYPE_FP8_E4M3);
    assert_int_equal(p.row, FP8G_ROW_OUTER_VEC);
    assert_true(p.a_scales == 14336 && p.b_scales == 1);
    assert_false(p.d_fp32_then_scale);
    assert_int_equal(p.d_bytes, 2);
    /* An older cuBLAS, or Ada: our epilogue over an FP32 product. */
    assert_int_equal(fp8g_plan_make(&g, 9, 0, 120400, &p, &err), AB_OK);
    assert_int_equal(p.row, FP8G_ROW_EPILOGUE);
    assert_true(p.d_fp32_then_scale);
    assert_int_equal(fp8g_plan_make(&g, 8, 9, 130100, &p, &err), AB_OK);
    assert_int_equal(p.row, FP8G_ROW_EPILOGUE);
    assert_string_equal(fp8g_row_method_name(p.row), "epilogue");
    g.scaling = FP8G_SCALE_TENSOR;
    assert_int_equal(fp8g_plan_make(&g, 9, 0, 130100, &p, &err), AB_OK);
    assert_true(p.a_scales == 1 && p.b_scales == 1 && p.row == FP8G_ROW_NONE);
}

static void cuda_plan_refuses_what_fp8_cannot_do(void **state)
{
    struct fp8g_config g = {
        .m = 256, .n = 256, .k = 256, .dtype = AB_DTYPE_FP8_E4M3, .scaling = FP8G_SCALE_TENSOR
    };
    struct fp8g_plan p;
    struct ab_error err;
    assert_int_equal(fp8g_plan_make(&g, 8, 0, 130100, &p, &err), AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "8.9"));
    g.k = 272;
    assert_int_equal(fp8g_plan_make(&g, 9, 0, 130100, &p, &err), AB_OK);
    g.k = 260;
    assert_int_equal(fp8g_plan_make(&g, 9, 0, 130100, &p, &err), AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "multiples of 16"));
    struct fp8g_config t = { .m = 7, .n = 256, .k = 256, .dtype = AB_DTYPE_TF32 };
    assert_int_equal(fp8g_plan_make(&t, 9, 0, 130100, &p, &err), AB_OK);
    assert_true(p.d_bytes == 4 && p.a_store == AB_DTYPE_FP32 && p.a_scales == 0);
    struct fp8g_config h = { .m = 7, .n = 256, .k = 256, .dtype = AB_DTYPE_FP16 };
    assert_int_equal(fp8g_plan_make(&h, 9, 0, 130100, &p, &err), AB_OK);
    assert_true(p.d_bytes == 2 && p.a_store == AB_DTYPE_FP16);
}

/* Outer-vector scales are SM90's: chosen on cc 9.x with cuBLASLt 12.9+ only. Before the fix
 * any cc >= 9.0 took them, so Blackwell (10.0, 12.0) cases asked cuBLASLt for a mode it lacks. */
static void cuda_row_scaling_uses_outer_vectors_on_sm90_only(void **state)
{
    static const struct {
        int major, minor;
        enum fp8g_row_method want;
    } cc[] = {
        { 8, 0, FP8G_ROW_EPILOGUE },  { 8, 9, FP8G_ROW_EPILOGUE },  { 9, 0, FP8G_ROW_OUTER_VEC },
        { 10, 0, FP8G_ROW_EPILOGUE }, { 12, 0, FP8G_ROW_EPILOGUE },
    };
    struct ab_error err;
    enum fp8g_row_method r;
    for (size_t i = 0; i < sizeof cc / sizeof cc[0]; i++) {
        assert_int_equal(fp8g_row_method_choose(FP8G_ROW_AUTO, cc[i].major, cc[i].minor, 130100, &r, &err),
                         AB_OK);
        if (r != cc[i].want)
            fail_msg("cc %d.%d: %s", cc[i].major, cc[i].minor, fp8g_row_method_name(r));
        /* The epilogue kernel can always be forced; outer vectors only where they exist. */
        assert_int_equal(fp8g_row_method_choose(FP8G_ROW_KERNEL, cc[i].major, cc[i].minor, 130100, &r, &err),
                         AB_OK);
        assert_int_equal(r, FP8G_ROW_EPILOGUE);
        ab_status st = fp8g_row_method_choose(FP8G_ROW_CUBLASLT, cc[i].major, cc[i].minor, 130100, &r, &err);
        assert_int_equal(st, cc[i].want == FP8G_ROW_OUTER_VEC ? AB_OK : AB_EUNSUPPORTED);
        if (st)
            assert_non_null(strstr(err.msg, "SM90"));
    }
    /* Hopper with a cuBLASLt from before the attribute (12.8). */
    assert_int_equal(fp8g_row_method_choose(FP8G_ROW_AUTO, 9, 0, 120800, &r, &err), AB_OK);
    assert_int_equal(r, FP8G_ROW_EPILOGUE);
    assert_int_equal(fp8g_row_method_choose(FP8G_ROW_AUTO, 9, 0, 120900, &r, &err), AB_OK);
    assert_int_equal(r, FP8G_ROW_OUTER_VEC);
    assert_int_equal(fp8g_row_method_choose(FP8G_ROW_CUBLASLT, 9, 0, 120800, &r, &err), AB_EUNSUPPORTED);
    /* Through the plan: the request is honoured, and Blackwell row scaling uses the epilogue. */
    struct fp8g_config g = { .m = 16,
                             .n = 1488,
                             .k = 528,
                             .dtype = AB_DTYPE_FP8_E4M3,
                             .scaling = FP8G_SCALE_ROW,
                             .row_request = FP8G_ROW_KERNEL };
    struct fp8g_plan p;
    assert_int_equal(fp8g_plan_make(&g, 9, 0, 130100, &p, &err), AB_OK);
    assert_int_equal(p.row, FP8G_ROW_EPILOGUE);
    assert_true(p.d_fp32_then_scale && p.a_scales == 1488 && p.b_scales == 16);
    g.row_request = FP8G_ROW_AUTO;
    assert_int_equal(fp8g_plan_make(&g, 10, 0, 130100, &p, &err), AB_OK);
    assert_int_equal(p.row, FP8G_ROW_EPILOGUE);
    assert_true(p.d_fp32_then_scale);
    g.row_request = FP8G_ROW_CUBLASLT;
    assert_int_equal(fp8g_plan_make(&g, 12, 0, 130100, &p, &err), AB_EUNSUPPORTED);
    /* A refusal by cuBLASLt (heuristic or matmul) falls back to the epilogue under auto only;
     * other failures stay failures. */
    assert_true(fp8g_row_falls_back(FP8G_ROW_AUTO, FP8G_ROW_OUTER_VEC, AB_EUNSUPPORTED));
    assert_false(fp8g_row_falls_back(FP8G_ROW_AUTO, FP8G_ROW_OUTER_VEC, AB_OK));
    assert_false(fp8g_row_falls_back(FP8G_ROW_AUTO, FP8G_ROW_OUTER_VEC, AB_EFAIL));
    assert_false(fp8g_row_falls_back(FP8G_ROW_CUBLASLT, FP8G_ROW_OUTER_VEC, AB_EUNSUPPORTED));
    assert_false(fp8g_row_falls_back(FP8G_ROW_AUTO, FP8G_ROW_EPILOGUE, AB_EUNSUPPORTED));
    assert_false(fp8g_row_falls_back(FP8G_ROW_AUTO, FP8G_ROW_NONE, AB_EUNSUPPORTED));
}

/* Rotation covers 2 x L2 plus a quarter whatever the operands' size (a fixed 48 MiB x 4 left
 * small operands in an H100's 50 MiB L2 and a B200's 126 MiB), at least two sets, within the
 * memory budget; an unknown L2 is taken as 50 MiB. */
static void cuda_rotation_covers_twice_the_l2(void **state)
{
    const uint64_t MiB = 1u << 20, big = (uint64_t)64 << 30;
    const uint64_t l2s[] = { 0, 50 * MiB, 126 * MiB, 6 * MiB };
    const uint64_t sets[] = { 512, 300 * 1024, MiB, 7 * MiB, 49 * MiB, 200 * MiB };
    for (size_t i = 0; i < sizeof l2s / sizeof l2s[0]; i++)
        for (size_t j = 0; j < sizeof sets / sizeof sets[0]; j++) {
            uint64_t l2 = l2s[i] ? l2s[i] : 50 * MiB;
            int64_t n = fp8g_rotation_sets(sets[j], l2s[i], big);
            assert_true(n >= 2);
            assert_true((uint64_t)n * sets[j] >= 2 * l2 + l2 / 4);
            /* the fewest: one set less would not cover it (unless 2 is the floor) */
            if (n > 2)
                assert_true((uint64_t)(n - 1) * sets[j] < 2 * l2 + l2 / 4);
        }
    assert_int_equal(fp8g_rotation_sets(MiB, 50 * MiB, big), 113); /* 112.5 MiB / 1 MiB */
    assert_int_equal(fp8g_rotation_sets(MiB, 0, big), 113);
    assert_int_equal(fp8g_rotation_sets(200 * MiB, 50 * MiB, big), 2);
    /* Bounded by memory: as many as fit, and one when not even two do. */
    assert_int_equal(fp8g_rotation_sets(MiB, 50 * MiB, 40 * MiB), 40);
    assert_int_equal(fp8g_rotation_sets(200 * MiB, 50 * MiB, 300 * MiB), 1);
    assert_int_equal(fp8g_rotation_sets(200 * MiB, 50 * MiB, 100 * MiB), 1);
}

/* The check suite covers every path: each dtype (both FP8 pairs), scaling, accumulation and
 * row-scaling path, square and LLM-like shapes at m = 1, 16, 17 and n = k = 300 (304 where
 * cuBLASLt FP8 needs multiples of 16), and drops nothing the timed suites would run. */
static void check_suite_covers_every_path_at_small_sizes(void **state)
{
    const struct ab_axis *ax = fp8_gemm_workload.axes;
    int n_axes = fp8_gemm_workload.n_axes;
    struct ab_values *vals = malloc((size_t)n_axes * sizeof *vals);
    assert_non_null(vals);
    struct ab_error err;
    for (int i = 0; i < n_axes; i++) {
        assert_non_null(ax[i].sweep[AB_SUITE_CHECK]);
        assert_int_equal(ab_axis_parse(&ax[i], ax[i].sweep[AB_SUITE_CHECK], &vals[i], &err), AB_OK);
    }
    for (int b = 0; b < AB_BACKEND_COUNT; b++) {
        int idx[AB_MAX_AXES] = { 0 }, cases = 0;
        bool seen_dtype[AB_DTYPE_COUNT] = { false }, seen_kernel = false, seen_fast = false, seen_row = false;
        bool seen_m[3] = { false }, seen_square = false, seen_llm = false;
        for (;;) {
            struct ab_params ps = { .n = n_axes };
            for (int i = 0; i < n_axes; i++) {
                snprintf(ps.p[i].name, sizeof ps.p[i].name, "%s", ax[i].name);
                ps.p[i].val = vals[i].v[idx[i]];
            }
            if (fp8_gemm_workload.applies(&ps, (enum ab_backend_kind)b, AB_SUITE_CHECK)) {
                struct fp8g_config g;
                assert_int_equal(fp8g_config_parse(&ps, &g, &err), AB_OK);
                cases++;
                seen_dtype[g.dtype] = true;
                seen_kernel |= g.row_request == FP8G_ROW_KERNEL;
                seen_fast |= g.fast_accum;
                seen_row |= g.scaling == FP8G_SCALE_ROW;
                bool square = ab_param_is(&ps, "shape", "square");
                seen_square |= square;
                seen_llm |= !square;
                if (square)
                    assert_true(g.m == 300 || g.m == 304);
                else {
                    assert_true(g.m <= 17);
                    seen_m[g.m == 1 ? 0 : g.m == 16 ? 1 : 2] = true;
                }
                /* small: no CPU case above 17 x 1500 x 528 or 300^3 */
                if (b == AB_BACKEND_CPU)
                    assert_true((double)g.m * (double)g.n * (double)g.k <= 2.8e7);
            }
            int i = n_axes - 1;
            while (i >= 0 && ++idx[i] == vals[i].n)
                idx[i--] = 0;
            if (i < 0)
                break;
        }
        bool cuda = b == AB_BACKEND_CUDA;
        assert_true(seen_dtype[AB_DTYPE_FP8_E4M3] && seen_dtype[AB_DTYPE_FP8_E5M2] &&
                    seen_dtype[AB_DTYPE_BF16] && seen_dtype[AB_DTYPE_FP32]);
        assert_true(seen_dtype[AB_DTYPE_FP16] == cuda && seen_dtype[AB_DTYPE_TF32] == cuda);
        assert_true(seen_kernel == cuda && seen_fast == cuda);
        assert_true(seen_row && seen_square && seen_llm && seen_m[0] && seen_m[1] && seen_m[2]);
        assert_true(cases <= (cuda ? 200 : 48));
    }
    free(vals);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cpu_gemms_match_fp64_of_dequantized_operands),
        cmocka_unit_test(cpu_fp8_runs_on_the_bf16_matmul_or_falls_back_to_fp32),
        cmocka_unit_test(cpu_gemm_choice_follows_the_capability),
        cmocka_unit_test(cpu_case_too_large_for_the_device_is_oom_without_leaks),
        cmocka_unit_test(check_flags_a_single_wrong_entry),
        cmocka_unit_test(check_covers_all_entries_of_small_products_and_samples_large_ones),
        cmocka_unit_test(operand_values_apply_row_and_tensor_scales),
        cmocka_unit_test(axes_keep_only_meaningful_points),
        cmocka_unit_test(llm_shapes_name_k_by_n_with_m_tokens),
        cmocka_unit_test(cuda_plan_maps_tokens_and_channels_onto_cublas),
        cmocka_unit_test(cuda_plan_refuses_what_fp8_cannot_do),
        cmocka_unit_test(cuda_row_scaling_uses_outer_vectors_on_sm90_only),
        cmocka_unit_test(cuda_rotation_covers_twice_the_l2),
        cmocka_unit_test(check_suite_covers_every_path_at_small_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
