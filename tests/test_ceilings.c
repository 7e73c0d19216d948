/* test_ceilings.c — the ceilings workload's CPU side and its descriptor: which cases the check
 * suite plans per backend, the exact check of the FMA loop's every output, the bf16 GEMM's
 * skipped row where oneDNN has no bf16 matmul (probed here independently), GEMM rows' bytes,
 * and the check suite's small stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <oneapi/dnnl/dnnl.h>

#include "accelbench.h"
#include "ceilings/ceilings.h"
#include "test_util.h"

static const struct ab_workload *wl(void)
{
    const struct ab_workload *w = ab_workload_find("ceilings");
    assert_non_null(w);
    return w;
}

/* Every point of the suite's default sweeps that applies on the backend, as "k=v;..." lines. */
static int planned(enum ab_backend_kind backend, enum ab_suite suite, char *list, size_t len)
{
    const struct ab_workload *w = wl();
    static struct ab_values v[3];
    struct ab_error e;
    assert_int_equal(w->n_axes, 3);
    for (int a = 0; a < 3; a++) {
        const char *sw = w->axes[a].sweep[suite] ? w->axes[a].sweep[suite] : w->axes[a].sweep[0];
        assert_int_equal(ab_axis_parse(&w->axes[a], sw, &v[a], &e), AB_OK);
    }
    int count = 0;
    list[0] = '\0';
    for (int i = 0; i < v[0].n; i++)
        for (int j = 0; j < v[1].n; j++)
            for (int k = 0; k < v[2].n; k++) {
                struct ab_params ps = { .n = 3 };
                const struct ab_value *vals[3] = { &v[0].v[i], &v[1].v[j], &v[2].v[k] };
                for (int a = 0; a < 3; a++) {
                    snprintf(ps.p[a].name, sizeof ps.p[a].name, "%s", w->axes[a].name);
                    ps.p[a].val = *vals[a];
                }
                if (w->applies && !w->applies(&ps, backend, suite))
                    continue;
                count++;
                size_t l = strlen(list);
                snprintf(list + l, len - l, "%s;%s;%s\n", vals[0]->str, vals[1]->str, vals[2]->str);
            }
    return count;
}

static void check_suite_plans_every_path_at_awkward_sizes(void **state)
{
    char list[8192];
    /* CPU: fma fp32 and bf16, gemm fp32 and bf16 at 300 and 1504, one stream, one llc */
    assert_int_equal(planned(AB_BACKEND_CPU, AB_SUITE_CHECK, list, sizeof list), 8);
    assert_non_null(strstr(list, "llc;fp32;0\n"));
    assert_non_null(strstr(list, "gemm;bf16;1504\n"));
    assert_non_null(strstr(list, "gemm;fp32;300\n"));
    assert_null(strstr(list, "gemm;fp32;0\n")); /* the large default size is not a check case */
    assert_non_null(strstr(list, "stream;fp32;0\n"));
    assert_null(strstr(list, "fp8"));
    /* CUDA: fma fp32; gemm fp32, tf32, bf16, fp16 at 300 and 1504; fp8 and fp8_fast at 1504
     * only (cuBLASLt FP8 needs multiples of 16); one stream */
    assert_int_equal(planned(AB_BACKEND_CUDA, AB_SUITE_CHECK, list, sizeof list), 12);
    assert_null(strstr(list, "llc;")); /* no L2 stream on CUDA yet */
    assert_non_null(strstr(list, "gemm;fp8_fast;1504\n"));
    assert_non_null(strstr(list, "gemm;fp8;1504\n"));
    assert_null(strstr(list, "gemm;fp8;300\n"));
    assert_non_null(strstr(list, "gemm;tf32;300\n"));
    assert_null(strstr(list, "fma;fp8"));
}

static void timed_suites_measure_fp8_fast_as_its_own_ceiling(void **state)
{
    char list[8192];
    assert_int_equal(planned(AB_BACKEND_CPU, AB_SUITE_QUICK, list, sizeof list), 6);
    assert_int_equal(planned(AB_BACKEND_CUDA, AB_SUITE_QUICK, list, sizeof list), 8);
    assert_non_null(strstr(list, "gemm;fp8;0\n"));
    assert_non_null(strstr(list, "gemm;fp8_fast;0\n"));
    struct ab_params ps;
    struct ab_error e;
    char name[24];
    assert_int_equal(ab_params_parse("kind=gemm;dtype=fp8_fast;n=0", &ps, &e), AB_OK);
    ceilings_name(&ps, name, sizeof name);
    assert_string_equal(name, "fp8_fast_gemm");
    assert_int_equal(ab_params_parse("kind=stream;dtype=fp32;n=0", &ps, &e), AB_OK);
    ceilings_name(&ps, name, sizeof name);
    assert_string_equal(name, "mem_bw");
    assert_int_equal(ab_params_parse("kind=llc;dtype=fp32;n=0", &ps, &e), AB_OK);
    ceilings_name(&ps, name, sizeof name);
    assert_string_equal(name, "llc_bw");
}

/* The loop as the scalar recurrence, step by step, with the same start values. */
static void fma_by_recurrence(float *out, int threads, int chains, int lanes, bool bf16, int64_t iters)
{
    for (int t = 0; t < threads; t++)
        for (int j = 0; j < chains; j++)
            for (int l = 0; l < lanes; l++) {
                float x = ceilings_cpu_fma_x0(bf16, t, j, l);
                for (int64_t i = 0; i < iters; i++)
                    x = bf16 ? x + 0.25f * 0.125f + 0.25f * 0.125f : fmaf(x, 1.0f, CEILINGS_CPU_FMA_STEP);
                out[((size_t)t * chains + j) * lanes + l] = x;
            }
}

static void fma_check_is_exact_and_names_the_wrong_output(void **state)
{
    enum { T = 3, J = 12, L = 8 };
    static float out[T * J * L];
    char msg[400];
    fma_by_recurrence(out, T, J, L, false, 1000);
    assert_int_equal(ceilings_cpu_fma_check(out, T, J, L, false, 1000, msg, sizeof msg), 0);
    /* one ulp off in one lane of one chain of one thread */
    size_t at = ((size_t)2 * J + 5) * L + 3;
    out[at] = nextafterf(out[at], 2.0f);
    assert_int_equal(ceilings_cpu_fma_check(out, T, J, L, false, 1000, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "thread 2 chain 5 lane 3"));
    /* one step fewer than claimed: every output differs */
    fma_by_recurrence(out, T, J, L, false, 999);
    assert_int_equal(ceilings_cpu_fma_check(out, T, J, L, false, 1000, msg, sizeof msg), T * J * L);
    /* the bf16 dot-product loop: x += 2 x 0.25 x 0.125 per step, also exact */
    fma_by_recurrence(out, 1, 16, 16, true, 4096);
    assert_int_equal(ceilings_cpu_fma_check(out, 1, 16, 16, true, 4096, msg, sizeof msg), 0);
    /* start values are distinct per thread, chain and lane (a mix-up would show) */
    assert_true(ceilings_cpu_fma_x0(false, 0, 0, 1) != ceilings_cpu_fma_x0(false, 0, 1, 0));
    assert_true(ceilings_cpu_fma_x0(false, 1, 0, 0) != ceilings_cpu_fma_x0(false, 0, 0, 0));
    /* and exact up to the largest: 0.76 + 2^22 x 2^-24 < 1 keeps every value in one binade */
    assert_true((double)ceilings_cpu_fma_x0(false, 63, 15, 15) + 4194304.0 * CEILINGS_CPU_FMA_STEP < 1.0);
}

struct run_case {
    struct ab_device dev;
    struct ab_case c;
};

static void case_open(struct run_case *rc, const char *params, enum ab_suite suite)
{
    memset(rc, 0, sizeof *rc);
    int n = 0;
    struct ab_error e = { { 0 } };
    assert_int_equal(ab_backend_get(AB_BACKEND_CPU)->discover(&rc->dev, 1, &n, &e), AB_OK);
    assert_int_equal(n, 1);
    rc->c.workload = wl();
    rc->c.device = &rc->dev;
    rc->c.suite = suite;
    rc->c.seed = 20240607;
    assert_int_equal(ab_params_parse(params, &rc->c.params, &e), AB_OK);
}

static double metric(const struct ab_case *c, const char *name)
{
    for (int i = 0; i < c->n_metrics; i++)
        if (strcmp(c->metrics[i].name, name) == 0)
            return c->metrics[i].value;
    return NAN;
}

static void fma_case_verifies_every_output_of_the_timed_loop(void **state)
{
    struct run_case rc;
    struct ab_error e = { { 0 } };
    case_open(&rc, "kind=fma;dtype=fp32;n=0", AB_SUITE_CHECK);
    const struct ab_impl *impl = wl()->impl[AB_BACKEND_CPU];
    assert_int_equal(impl->setup(&rc.c, &e), AB_OK);
    assert_int_equal(impl->verify(&rc.c, &e), AB_OK);
    int threads = ab_cpu_threads();
    bool wide = ab_cpu_has("avx512f");
    double outputs = (double)threads * (wide ? 16 * 16 : 12 * 8);
    assert_double_equal(metric(&rc.c, "fma_outputs_checked"), outputs, 0);
    /* 2 FLOPs per lane per chain per step, 2^16 steps, every thread */
    assert_double_equal(rc.c.work.flops, outputs * 2 * 65536, 0);
    impl->teardown(&rc.c);
    assert_null(rc.c.state);
}

/* oneDNN's own answer, asked here without the workload: is there a bf16 matmul? */
static bool onednn_has_bf16_matmul(void)
{
    dnnl_engine_t eng;
    assert_int_equal(dnnl_engine_create(&eng, dnnl_cpu, 0), dnnl_success);
    dnnl_dims_t dims = { 64, 64 };
    dnnl_memory_desc_t a, b, c;
    dnnl_memory_desc_init_by_tag(&a, 2, dims, dnnl_bf16, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&b, 2, dims, dnnl_bf16, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&c, 2, dims, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t md;
    assert_int_equal(dnnl_matmul_desc_init(&md, &a, &b, NULL, &c), dnnl_success);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL);
    if (st == dnnl_success)
        dnnl_primitive_desc_destroy(pd);
    dnnl_engine_destroy(eng);
    assert_true(st == dnnl_success || st == dnnl_unimplemented);
    return st == dnnl_success;
}

static void bf16_gemm_is_a_clear_skip_where_onednn_has_none(void **state)
{
    struct run_case rc;
    struct ab_error e = { { 0 } };
    case_open(&rc, "kind=gemm;dtype=bf16;n=300", AB_SUITE_CHECK);
    const struct ab_impl *impl = wl()->impl[AB_BACKEND_CPU];
    ab_status st = impl->setup(&rc.c, &e);
    if (onednn_has_bf16_matmul()) {
        assert_int_equal(st, AB_OK);
        assert_int_equal(impl->verify(&rc.c, &e), AB_OK);
        assert_true(metric(&rc.c, "max_err_rel_to_abs_sum") <= 1e-5);
    } else {
        assert_int_equal(st, AB_EUNSUPPORTED);
        assert_string_equal(e.msg, "oneDNN has no bf16 matmul on this CPU (needs AVX-512)");
    }
    impl->teardown(&rc.c);
}

static void gemm_rows_carry_flops_and_least_bytes(void **state)
{
    struct run_case rc;
    struct ab_error e = { { 0 } };
    case_open(&rc, "kind=gemm;dtype=fp32;n=300", AB_SUITE_CHECK);
    const struct ab_impl *impl = wl()->impl[AB_BACKEND_CPU];
    assert_int_equal(impl->setup(&rc.c, &e), AB_OK);
    assert_double_equal(rc.c.work.flops, 2.0 * 300 * 300 * 300, 0);
    assert_double_equal(rc.c.work.bytes, 300.0 * 300 * (4 + 4 + 4), 0); /* A, B read, C written */
    assert_int_equal(impl->verify(&rc.c, &e), AB_OK);
    assert_double_equal(metric(&rc.c, "entries_checked"), 300.0 * 300, 0); /* all of them */
    assert_true(metric(&rc.c, "max_err_rel_to_abs_sum") <= 1e-5);
    impl->teardown(&rc.c);
}

static void check_suite_streams_a_small_odd_array(void **state)
{
    struct run_case rc;
    struct ab_error e = { { 0 } };
    case_open(&rc, "kind=stream;dtype=fp32;n=0", AB_SUITE_CHECK);
    const struct ab_impl *impl = wl()->impl[AB_BACKEND_CPU];
    assert_int_equal(impl->setup(&rc.c, &e), AB_OK);
    assert_double_equal(rc.c.work.bytes, 3.0 * 1000003 * 4, 0);
    assert_int_equal(impl->verify(&rc.c, &e), AB_OK);
    impl->teardown(&rc.c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_suite_plans_every_path_at_awkward_sizes),
        cmocka_unit_test(timed_suites_measure_fp8_fast_as_its_own_ceiling),
        cmocka_unit_test(fma_check_is_exact_and_names_the_wrong_output),
        cmocka_unit_test(fma_case_verifies_every_output_of_the_timed_loop),
        cmocka_unit_test(bf16_gemm_is_a_clear_skip_where_onednn_has_none),
        cmocka_unit_test(gemm_rows_carry_flops_and_least_bytes),
        cmocka_unit_test(check_suite_streams_a_small_odd_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
