/* test_attention_memory.c — the attention_memory workload on the CPU, driven by hand as the
 * runner would: each algorithm against the FP64 reference on N(0,1) inputs (causal and not,
 * sizes that are not multiples of the tiles), the memory tracker's accounting and the measured
 * peaks (naive grows as n^2, chunked does not), decode against the reference, and the `oom`
 * status for a naive n whose scores cannot fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "accelbench.h"
#include "attention_memory/attention_memory.h"
#include "test_util.h"

static struct ab_device cpu_dev = { .id = "cpu", .backend = AB_BACKEND_CPU, .mem_bytes = 16ull << 30 };

static double metric(const struct ab_case *c, const char *name)
{
    for (int i = 0; i < c->n_metrics; i++)
        if (strcmp(c->metrics[i].name, name) == 0)
            return c->metrics[i].value;
    return NAN;
}

/* Set up, verify, time two repetitions and tear down one case; returns the first non-OK status.
 * The case is left in *c for its metrics. */
static ab_status run_case_with(const struct ab_impl *impl, const char *params, struct ab_case *c,
                               struct ab_error *err)
{
    memset(c, 0, sizeof *c);
    c->workload = ab_workload_find("attention_memory");
    assert_non_null(c->workload);
    c->device = &cpu_dev;
    c->seed = 12345;
    assert_int_equal(ab_params_parse(params, &c->params, err), AB_OK);
    ab_status st = impl->setup(c, err);
    if (st == AB_OK)
        st = impl->verify(c, err);
    double t = -1;
    if (st == AB_OK) {
        st = impl->run(c, 2, &t, err);
        if (st == AB_OK)
            assert_true(t > 0);
    }
    impl->teardown(c);
    assert_null(c->state);
    return st;
}

static ab_status run_case(const char *params, struct ab_case *c, struct ab_error *err)
{
    return run_case_with(ab_workload_find("attention_memory")->impl[AB_BACKEND_CPU], params, c, err);
}

static void expect_ok(const char *params, struct ab_case *c)
{
    struct ab_error err = { { 0 } };
    ab_status st = run_case(params, c, &err);
    if (st != AB_OK)
        fail_msg("%s: %s: %s", params, ab_status_word(st), err.msg);
    assert_true(metric(c, "checked_rows") > 0);
    assert_true(metric(c, "max_abs_err") < 1e-5);
    assert_true(metric(c, "peak_extra_bytes") > 0);
}

static void each_algo_matches_fp64_reference(void **state)
{
    static const char *const algos[] = { "naive", "chunked", "fused" };
    static const char *const dts[] = { "bf16", "fp32" };
    struct ab_case c;
    char p[256];
    for (int a = 0; a < 3; a++)
        for (int t = 0; t < 2; t++)
            for (int causal = 0; causal <= 1; causal++) {
                snprintf(p, sizeof p, "mode=prefill;algo=%s;n=200;heads=%d;d=64;dtype=%s;causal=%d", algos[a],
                         2 - t, dts[t], causal);
                expect_ok(p, &c);
            }
}

static void chunked_handles_ragged_chunks_and_causal_mask(void **state)
{
    struct ab_case c;
    expect_ok("mode=prefill;algo=chunked;n=333;heads=1;d=32;dtype=bf16;causal=1;q_chunk=64;k_chunk=96", &c);
    expect_ok("mode=prefill;algo=chunked;n=333;heads=1;d=128;dtype=fp32;causal=0;q_chunk=100;k_chunk=7", &c);
}

static void tracker_counts_current_and_high_water(void **state)
{
    struct am_tracker t;
    am_tracker_reset(&t);
    void *a = am_alloc(&t, 1000), *b = am_alloc(&t, 3000);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(t.cur_bytes, 4000);
    am_free(&t, a, 1000);
    assert_int_equal(t.cur_bytes, 3000);
    void *c = am_alloc(&t, 500);
    assert_int_equal(t.peak_bytes, 4000);
    am_free(&t, b, 3000);
    am_free(&t, c, 500);
    am_free(&t, NULL, 123); /* freeing nothing counts nothing */
    assert_int_equal(t.cur_bytes, 0);
    assert_int_equal(t.peak_bytes, 4000);
}

static void naive_memory_grows_as_n_squared_and_chunked_stays_flat(void **state)
{
    struct ab_case c;
    expect_ok("mode=prefill;algo=naive;n=512;heads=1;d=64;dtype=bf16;causal=0;q_chunk=128;k_chunk=128", &c);
    double naive1 = metric(&c, "peak_extra_bytes");
    assert_true(naive1 >= 512.0 * 512 * 4);
    assert_double_equal(metric(&c, "analytic_min_extra_bytes"), 512.0 * 512 * 4, 0);
    expect_ok("mode=prefill;algo=naive;n=1024;heads=1;d=64;dtype=bf16;causal=0;q_chunk=128;k_chunk=128", &c);
    double naive2 = metric(&c, "peak_extra_bytes");
    assert_true(naive2 >= 1024.0 * 1024 * 4 && naive2 > 3.5 * naive1); /* scores dominate */
    expect_ok("mode=prefill;algo=chunked;n=1024;heads=1;d=64;dtype=bf16;causal=0;q_chunk=128;k_chunk=128",
              &c);
    double chunked = metric(&c, "peak_extra_bytes");
    assert_true(chunked >= metric(&c, "analytic_min_extra_bytes"));
    /* the ratio to the naive case of the same shape that ran before */
    assert_double_equal(metric(&c, "mem_ratio_vs_naive"), naive2 / chunked, 1e-9);
    assert_true(metric(&c, "mem_ratio_vs_naive") > 5);
    expect_ok("mode=prefill;algo=fused;n=1024;heads=1;d=64;dtype=bf16;causal=0", &c);
    assert_true(metric(&c, "peak_extra_bytes") < chunked);
}

static void decode_matches_reference_with_grouped_heads(void **state)
{
    struct ab_case c;
    expect_ok("mode=decode;algo=fused;n=1000;heads=2;d=128;dtype=bf16;batch=3;group=4", &c);
    assert_double_equal(c.work.bytes, 2.0 * 3 * 2 * 1000 * 128 * 2 + 3 * 8 * 128 * (2 + 4), 0);
    assert_string_equal(c.work.ceiling, "mem_bw");
    assert_string_equal(c.work.rate, "bytes");
    /* 4 FLOPs per cached element pair (q.k and p.v) over 2-byte K and V: G FLOP/byte, less
     * the query and output bytes */
    assert_double_equal(metric(&c, "flop_per_byte"), c.work.flops / c.work.bytes, 1e-12);
    assert_true(metric(&c, "flop_per_byte") > 3.9 && metric(&c, "flop_per_byte") < 4.0);
    expect_ok("mode=decode;algo=fused;n=4096;heads=1;d=128;dtype=bf16;batch=1;group=1", &c);
}

static void work_model_counts_attended_pairs_and_io_bytes(void **state)
{
    struct am_shape s = {
        .mode = AM_PREFILL, .algo = AM_FUSED, .dtype = AM_BF16, .n = 1000, .heads = 2, .d = 64
    };
    struct ab_work w;
    attention_memory_work(&s, AB_BACKEND_CPU, &w);
    assert_double_equal(w.flops, 4.0 * 2 * 1000 * 1000 * 64, 0);
    assert_double_equal(w.bytes, 2.0 * 1000 * 64 * (3 * 2 + 4), 0); /* q, k, v bf16 in; out fp32 */
    assert_double_equal(w.tokens, 1000, 0);
    assert_string_equal(w.ceiling, "bf16_gemm");
    assert_string_equal(w.rate, "flops");
    s.causal = true; /* keys 0..i for query i: n (n + 1) / 2 pairs */
    attention_memory_work(&s, AB_BACKEND_CPU, &w);
    assert_double_equal(w.flops, 4.0 * 2 * (1000.0 * 1001 / 2) * 64, 0);
    s.dtype = AM_FP32;
    attention_memory_work(&s, AB_BACKEND_CPU, &w);
    assert_string_equal(w.ceiling, "fp32_gemm");
    attention_memory_work(&s, AB_BACKEND_CUDA, &w);
    assert_string_equal(w.ceiling, "tf32_gemm");
    /* analytic minimum of chunked: one 128 x 256 score chunk and 4 key chunks' partials */
    s.algo = AM_CHUNKED, s.q_chunk = 128, s.k_chunk = 256;
    assert_int_equal(attention_memory_analytic_extra(&s, 2), 128 * 256 * 4 + 4 * 128 * (64 + 2) * 4);
}

static void each_kernel_build_matches_the_reference_and_the_row_names_it(void **state)
{
    static const char *const p = "mode=prefill;algo=fused;n=130;heads=1;d=64;dtype=bf16;causal=1";
    struct ab_case c;
    struct ab_error err = { { 0 } };
    bool v4 = attention_memory_cpu_impl_v4.setup && attention_memory_cpu_v4_ok();
    const struct ab_impl *builds[] = { &attention_memory_cpu_impl_base, &attention_memory_cpu_impl_v4 };
    for (int b = 0; b < (v4 ? 2 : 1); b++) {
        assert_int_equal(run_case_with(builds[b], p, &c, &err), AB_OK);
        assert_true(metric(&c, "max_abs_err") < 1e-5);
        assert_true(metric(&c, "checked_rows") == 130);
    }
    expect_ok(p, &c);
    const char *name = NULL;
    for (int i = 0; i < c.n_metrics; i++)
        if (strcmp(c.metrics[i].name, "cpu_kernels") == 0)
            name = c.metrics[i].text;
    assert_non_null(name);
    assert_string_equal(name, v4 ? "x86-64-v4" : "x86-64");
}

static void naive_too_large_is_oom_not_a_crash(void **state)
{
    struct ab_case c;
    struct ab_error err = { { 0 } };
    ab_status st = run_case("mode=prefill;algo=naive;n=1048576;heads=1;d=64;dtype=bf16;causal=0", &c, &err);
    assert_int_equal(st, AB_ENOMEM);
    assert_non_null(strstr(err.msg, "fits"));
}

static void fp16_is_unsupported_on_the_cpu(void **state)
{
    struct ab_case c;
    struct ab_error err = { { 0 } };
    assert_int_equal(run_case("mode=prefill;algo=fused;n=64;d=64;dtype=fp16", &c, &err), AB_EUNSUPPORTED);
    const struct ab_workload *w = ab_workload_find("attention_memory");
    struct ab_params ps;
    assert_int_equal(
        ab_params_parse("mode=prefill;algo=fused;n=64;d=64;dtype=fp16;batch=1;group=1", &ps, &err), AB_OK);
    assert_false(w->applies(&ps, AB_BACKEND_CPU, AB_SUITE_FULL));
    assert_true(w->applies(&ps, AB_BACKEND_CUDA, AB_SUITE_FULL));
}

static void check_reports_mismatches(void **state)
{
    struct am_shape s = { .mode = AM_PREFILL, .dtype = AM_FP32, .n = 16, .heads = 1, .d = 8 };
    float q[128], k[128], v[128], out[128];
    attention_memory_fill(q, 128, AM_FP32, 1);
    attention_memory_fill(k, 128, AM_FP32, 2);
    attention_memory_fill(v, 128, AM_FP32, 3);
    double row[8];
    for (int i = 0; i < 16; i++) {
        attention_memory_ref_prefill_row(&s, q, k, v, 0, i, row);
        for (int c = 0; c < 8; c++)
            out[i * 8 + c] = (float)row[c];
    }
    struct ab_case c = { 0 };
    struct ab_error err = { { 0 } };
    assert_int_equal(attention_memory_check(&c, &s, q, k, v, out, 1e-6, 1e-5, &err), AB_OK);
    out[5 * 8 + 3] += 0.5f;
    assert_int_equal(attention_memory_check(&c, &s, q, k, v, out, 1e-6, 1e-5, &err), AB_EMISMATCH);
    assert_non_null(strstr(err.msg, "row 5, col 3"));
}

static void half_conversions_round_trip(void **state)
{
    static const float vals[] = {
        0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f
    };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        assert_true(attention_memory_f16_to_f32(attention_memory_f32_to_f16(vals[i])) == vals[i]);
        float b = attention_memory_bf16_to_f32(attention_memory_f32_to_bf16(vals[i]));
        assert_true(fabsf(b - vals[i]) <= fabsf(vals[i]) / 256);
    }
    assert_int_equal(attention_memory_f32_to_f16(1.0f / 3), 0x3555);
    assert_int_equal(attention_memory_f32_to_bf16(1.0f / 3), 0x3eab);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_algo_matches_fp64_reference),
        cmocka_unit_test(chunked_handles_ragged_chunks_and_causal_mask),
        cmocka_unit_test(tracker_counts_current_and_high_water),
        cmocka_unit_test(naive_memory_grows_as_n_squared_and_chunked_stays_flat),
        cmocka_unit_test(decode_matches_reference_with_grouped_heads),
        cmocka_unit_test(work_model_counts_attended_pairs_and_io_bytes),
        cmocka_unit_test(each_kernel_build_matches_the_reference_and_the_row_names_it),
        cmocka_unit_test(naive_too_large_is_oom_not_a_crash),
        cmocka_unit_test(fp16_is_unsupported_on_the_cpu),
        cmocka_unit_test(check_reports_mismatches),
        cmocka_unit_test(half_conversions_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
