/* test_attention_memory.c — the attention_memory workload on the CPU, driven by hand as the
 * runner would: each algorithm against the FP64 reference on N(0,1) inputs (causal and not,
 * sizes that are not multiples of the tiles), the memory tracker's accounting and the measured
 * peaks (naive grows as n^2, chunked does not), decode against the reference, and the `oom`
 * status for a naive n whose scores cannot fit; the CUDA path's host logic (its time estimate,
 * the decode split) and the check suite's coverage of every path. */
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
        st = ab_case_time(c, impl, 2, &t, err);
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
    /* fused: per thread a query x key block sized from L2, the same at any n past the tiles */
    expect_ok("mode=prefill;algo=fused;n=1024;heads=1;d=64;dtype=bf16;causal=0", &c);
    double fused1 = metric(&c, "peak_extra_bytes");
    assert_true(fused1 > 0 && fused1 < naive2 / 2);
    expect_ok("mode=prefill;algo=fused;n=4096;heads=1;d=64;dtype=bf16;causal=1", &c);
    assert_double_equal(metric(&c, "peak_extra_bytes"), fused1, 0);
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
        .mode = AM_PREFILL, .algo = AM_FUSED, .dtype = AB_DTYPE_BF16, .n = 1000, .heads = 2, .d = 64
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
    s.dtype = AB_DTYPE_FP32;
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
    bool v3 = attention_memory_cpu_impl_v3.setup && attention_memory_cpu_v3_ok();
    const struct ab_impl *builds[] = { &attention_memory_cpu_impl_base, &attention_memory_cpu_impl_v3,
                                       &attention_memory_cpu_impl_v4 };
    const bool runs[] = { true, v3, v4 };
    for (int b = 0; b < 3; b++) {
        if (!runs[b])
            continue;
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
    assert_string_equal(name, v4 ? "x86-64-v4" : v3 ? "x86-64-v3" : "x86-64");
}

/* Decode's kernels take query heads in groups of 8 with G = 1, 2, 4, 8 compiled as constants
 * and d in steps of 8: every other G (3; 12 = 8 + 4; 13 = 8 + 5) and a d with a remainder (100,
 * 12) on every build, over keys that fill no 16-row step nor 256-key block (n = 300, 17). */
static void decode_matches_the_reference_at_any_group_and_head_dim_on_every_build(void **state)
{
    static const char *const cases[] = {
        "mode=decode;algo=fused;n=300;heads=2;d=128;dtype=fp32;batch=2;group=3",
        "mode=decode;algo=fused;n=300;heads=1;d=100;dtype=bf16;batch=1;group=12",
        "mode=decode;algo=fused;n=17;heads=2;d=12;dtype=fp32;batch=3;group=13",
        "mode=decode;algo=fused;n=1500;heads=1;d=64;dtype=bf16;batch=1;group=8",
    };
    static const int rows[] = { 2 * 2 * 3, 12, 3 * 2 * 13, 8 };
    bool v4 = attention_memory_cpu_impl_v4.setup && attention_memory_cpu_v4_ok();
    bool v3 = attention_memory_cpu_impl_v3.setup && attention_memory_cpu_v3_ok();
    const struct ab_impl *builds[] = { &attention_memory_cpu_impl_base, &attention_memory_cpu_impl_v3,
                                       &attention_memory_cpu_impl_v4 };
    const bool runs[] = { true, v3, v4 };
    for (int b = 0; b < 3; b++) {
        if (!runs[b])
            continue;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            struct ab_case c;
            struct ab_error err = { { 0 } };
            ab_status st = run_case_with(builds[b], cases[i], &c, &err);
            if (st != AB_OK)
                fail_msg("build %d, %s: %s", b, cases[i], err.msg);
            assert_double_equal(metric(&c, "checked_rows"), rows[i], 0);
            assert_true(metric(&c, "max_abs_err") < 1e-4);
        }
    }
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
    struct am_shape s = { .mode = AM_PREFILL, .dtype = AB_DTYPE_FP32, .n = 16, .heads = 1, .d = 8 };
    float q[128], k[128], v[128], out[128];
    attention_memory_fill(q, 128, AB_DTYPE_FP32, 1);
    attention_memory_fill(k, 128, AB_DTYPE_FP32, 2);
    attention_memory_fill(v, 128, AB_DTYPE_FP32, 3);
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
        assert_true(ab_fp16_to_f32(ab_fp16_from_f32(vals[i])) == vals[i]);
        float b = ab_bf16_to_f32(ab_bf16_from_f32(vals[i]));
        assert_true(fabsf(b - vals[i]) <= fabsf(vals[i]) / 256);
    }
    assert_int_equal(ab_fp16_from_f32(1.0f / 3), 0x3555);
    assert_int_equal(ab_bf16_from_f32(1.0f / 3), 0x3eab);
}

/* An H200-like device: its memory holds naive's 64 GiB of scores at n = 2^17. */
static struct ab_device h200 = {
    .id = "cuda:0", .backend = AB_BACKEND_CUDA, .compute_units = 132, .mem_bytes = 141ull << 30
};

static ab_status time_check(const char *params, enum ab_suite suite, struct ab_error *err)
{
    struct ab_params ps;
    struct am_shape s;
    assert_int_equal(ab_params_parse(params, &ps, err), AB_OK);
    assert_int_equal(attention_memory_shape(&ps, &s, err), AB_OK);
    return attention_memory_cuda_time_check(&s, &h200, suite, err);
}

static void cuda_time_estimate_refuses_naive_at_2_17_and_allows_small_n(void **state)
{
    struct ab_error err = { { 0 } };
    /* with no ceiling measured (an H100's 3.35 TB/s) and with the H200's 4.8 TB/s measured */
    for (int measured = 0; measured <= 1; measured++) {
        h200.n_ceilings = 0;
        if (measured)
            ab_device_set_ceiling(&h200, "mem_bw", 4.8e12, "measured");
        for (int a = 0; a < 2; a++) {
            char p[160];
            snprintf(p, sizeof p, "mode=prefill;algo=%s;n=131072;d=64;dtype=bf16", a ? "chunked" : "naive");
            assert_int_equal(time_check(p, AB_SUITE_DEFAULT, &err), AB_EUNSUPPORTED);
            assert_non_null(strstr(err.msg, "estimated"));
            assert_non_null(strstr(err.msg, "beyond the case limit of 10 s"));
            assert_non_null(strstr(err.msg, measured ? "4.8 TB/s" : "3.35 TB/s"));
        }
        assert_int_equal(
            time_check("mode=prefill;algo=naive;n=4096;d=128;dtype=fp32", AB_SUITE_DEFAULT, &err), AB_OK);
        assert_int_equal(
            time_check("mode=prefill;algo=fused;n=131072;d=128;dtype=bf16", AB_SUITE_DEFAULT, &err), AB_OK);
        assert_int_equal(time_check("mode=decode;algo=fused;n=131072;d=128;dtype=bf16;batch=128;group=8",
                                    AB_SUITE_FULL, &err),
                         AB_OK);
        assert_int_equal(time_check("mode=prefill;algo=chunked;n=1500;d=64;dtype=bf16;q_chunk=77;k_chunk=129",
                                    AB_SUITE_CHECK, &err),
                         AB_OK);
    }
    h200.n_ceilings = 0;
    /* the work as the kernels do it: pv re-reads all of V (n d 2 bytes) for each of n rows */
    struct am_shape s = {
        .mode = AM_PREFILL, .algo = AM_NAIVE, .dtype = AB_DTYPE_BF16, .n = 1 << 17, .heads = 1, .d = 64
    };
    struct am_cuda_cost cost;
    attention_memory_cuda_cost(&s, 132, &cost);
    double n = (double)s.n;
    assert_true(cost.bytes >= n * n * 64 * 2 && cost.bytes < 2 * n * n * 256);
    assert_double_equal(cost.launches, 4, 0); /* scores, row_exp, pv, merge */
    assert_true(cost.core_flops >= 4 * n * n * 64);
    /* chunked runs every chunk, the masked ones too: 3 launches per chunk, a merge per query chunk */
    s.algo = AM_CHUNKED, s.n = 1500, s.q_chunk = 77, s.k_chunk = 129, s.causal = true;
    attention_memory_cuda_cost(&s, 132, &cost);
    assert_double_equal(cost.launches, 20 * 12 * 3 + 20, 0);
    /* one repetition of naive at 2^17 is seconds even at full bandwidth; the estimate scales
     * with the bandwidth */
    s.algo = AM_NAIVE, s.n = 1 << 17, s.causal = false;
    double slow = attention_memory_cuda_estimate_s(&s, &h200, NULL, 0);
    ab_device_set_ceiling(&h200, "mem_bw", 2 * 3.35e12, "measured");
    double fast = attention_memory_cuda_estimate_s(&s, &h200, NULL, 0);
    h200.n_ceilings = 0;
    assert_true(slow > 1 && fast < 0.6 * slow && fast > 0.45 * slow);
    assert_int_equal(attention_memory_case_reps(AB_SUITE_CHECK), 1);
    assert_int_equal(attention_memory_case_reps(AB_SUITE_DEFAULT), 13);
}

static void cuda_decode_split_fills_the_sms_without_empty_spans(void **state)
{
    int splits, span;
    attention_memory_cuda_decode_split(1, 16384, 132, &splits, &span);
    assert_true(splits >= 132); /* B = 1, one KV head: one block per split */
    assert_true(span >= 32 && (int64_t)splits * span >= 16384);
    attention_memory_cuda_decode_split(128 * 8, 16384, 132, &splits, &span);
    assert_int_equal(splits, 1); /* 1024 sequences fill the SMs already */
    attention_memory_cuda_decode_split(64, 16384, 132, &splits, &span);
    assert_true(splits * 64 >= 4 * 132 && splits * 64 < 4 * 132 + 64);
    static const int64_t ns[] = { 1, 31, 33, 300, 1000, 1500, 16383, 100003 };
    static const int64_t seqs[] = { 1, 3, 6, 1000 };
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (size_t j = 0; j < sizeof seqs / sizeof seqs[0]; j++) {
            attention_memory_cuda_decode_split(seqs[j], ns[i], 132, &splits, &span);
            assert_true(splits >= 1 && span >= 1);
            assert_true((int64_t)splits * span >= ns[i]);      /* every key covered */
            assert_true((int64_t)(splits - 1) * span < ns[i]); /* the last span is not empty */
            assert_true(span >= 32 || splits == 1);
        }
}

static void mem_ratio_vs_naive_needs_no_naive_case_first(void **state)
{
    struct ab_case c;
    /* a shape no naive case has run at */
    expect_ok("mode=prefill;algo=chunked;n=777;heads=1;d=64;dtype=fp32;causal=1;q_chunk=100;k_chunk=300", &c);
    struct am_shape s = {
        .mode = AM_PREFILL, .algo = AM_NAIVE, .dtype = AB_DTYPE_FP32, .n = 777, .heads = 1, .d = 64
    };
    double naive = (double)attention_memory_naive_peak_bytes(&s, AB_BACKEND_CPU);
    assert_double_equal(metric(&c, "mem_ratio_vs_naive"), naive / metric(&c, "peak_extra_bytes"), 1e-9);
    assert_true(metric(&c, "mem_ratio_vs_naive") > 2);
    /* the analytic naive peak is what the naive kernel's tracker measures */
    expect_ok("mode=prefill;algo=naive;n=777;heads=1;d=64;dtype=fp32;causal=1", &c);
    assert_double_equal(metric(&c, "peak_extra_bytes"), naive, 0);
    assert_double_equal(metric(&c, "mem_ratio_vs_naive"), 1, 0);
}

static void reference_row_matches_a_direct_softmax(void **state)
{
    enum { N = 300, D = 16 };
    static uint16_t q[N * D], k[N * D], v[N * D];
    attention_memory_fill(q, N * D, AB_DTYPE_BF16, 11);
    attention_memory_fill(k, N * D, AB_DTYPE_BF16, 12);
    attention_memory_fill(v, N * D, AB_DTYPE_BF16, 13);
    for (int i = 0; i < N; i++)
        q[i * D] = ab_bf16_from_f32(8.0f * (i % 2 ? 1 : -1)); /* spread the maxima */
    struct am_shape s = {
        .mode = AM_PREFILL, .dtype = AB_DTYPE_BF16, .n = N, .heads = 1, .d = D, .causal = true
    };
    static double sc[N];
    for (int i = 0; i < N; i += 37) {
        double got[D], want[D] = { 0 }, mx = -INFINITY, sum = 0;
        attention_memory_ref_prefill_row(&s, q, k, v, 0, i, got);
        for (int j = 0; j <= i; j++) {
            sc[j] = 0;
            for (int c = 0; c < D; c++)
                sc[j] += ab_dtype_get(AB_DTYPE_BF16, q, (size_t)i * D + c) *
                         ab_dtype_get(AB_DTYPE_BF16, k, (size_t)j * D + c) / sqrt((double)D);
            mx = fmax(mx, sc[j]);
        }
        for (int j = 0; j <= i; j++) {
            double p = exp(sc[j] - mx);
            sum += p;
            for (int c = 0; c < D; c++)
                want[c] += p * ab_dtype_get(AB_DTYPE_BF16, v, (size_t)j * D + c);
        }
        for (int c = 0; c < D; c++)
            assert_true(fabs(got[c] - want[c] / sum) <= 1e-12 * (1 + fabs(want[c] / sum)));
    }
}

/* The points of the check suite's sweeps that apply on a backend, passed to `each`. */
struct coverage {
    int cases, prefill[3][2][3][2]; /* algo, causal, dtype, d == 128: with n > 128 */
    int odd_chunks[2];              /* chunked, q and k chunks dividing n neither, per causal */
    int groups[9], decode_batched, decode_ragged, heads2, n1;
};

static void check_points(enum ab_backend_kind be, struct coverage *cov)
{
    const struct ab_workload *w = ab_workload_find("attention_memory");
    struct ab_values *vals = calloc((size_t)w->n_axes, sizeof *vals);
    assert_non_null(vals);
    struct ab_error err;
    for (int a = 0; a < w->n_axes; a++) {
        assert_non_null(w->axes[a].sweep[AB_SUITE_CHECK]);
        assert_int_equal(ab_axis_parse(&w->axes[a], w->axes[a].sweep[AB_SUITE_CHECK], &vals[a], &err), AB_OK);
    }
    int idx[AB_MAX_AXES] = { 0 };
    memset(cov, 0, sizeof *cov);
    for (;;) {
        struct ab_params ps = { .n = w->n_axes };
        for (int a = 0; a < w->n_axes; a++) {
            snprintf(ps.p[a].name, sizeof ps.p[a].name, "%s", w->axes[a].name);
            ps.p[a].val = vals[a].v[idx[a]];
        }
        struct am_shape s;
        if (w->applies(&ps, be, AB_SUITE_CHECK)) {
            assert_int_equal(attention_memory_shape(&ps, &s, &err), AB_OK);
            cov->cases++;
            if (s.mode == AM_DECODE) {
                cov->groups[s.group]++;
                cov->decode_batched += s.batch > 1 && s.heads > 1;
                cov->decode_ragged += s.n > 256 && s.n % 256 != 0;
            } else {
                if (s.n > 128)
                    cov->prefill[s.algo][s.causal][s.dtype][s.d == 128]++;
                if (s.algo == AM_CHUNKED && s.n % s.q_chunk && s.n % s.k_chunk)
                    cov->odd_chunks[s.causal]++;
                cov->heads2 += s.heads > 1;
                cov->n1 += s.n == 1;
            }
        }
        int a = 0;
        while (a < w->n_axes && ++idx[a] == vals[a].n)
            idx[a++] = 0;
        if (a == w->n_axes)
            break;
    }
    free(vals);
}

static void check_suite_covers_every_path(void **state)
{
    for (int b = 0; b < 2; b++) {
        bool cpu = b == 0;
        struct coverage cov;
        check_points(cpu ? AB_BACKEND_CPU : AB_BACKEND_CUDA, &cov);
        for (int algo = 0; algo < 3; algo++)
            for (int causal = 0; causal < 2; causal++)
                for (int dt = 0; dt < 3; dt++) {
                    bool kernel = cpu ? dt != AB_DTYPE_FP16 : (dt != AB_DTYPE_FP32 || algo != AM_FUSED);
                    if (!kernel) {
                        assert_int_equal(cov.prefill[algo][causal][dt][0] + cov.prefill[algo][causal][dt][1],
                                         0);
                        continue;
                    }
                    assert_true(cov.prefill[algo][causal][dt][0] > 0); /* d = 64 over several key tiles */
                    if (dt != AB_DTYPE_FP32)
                        assert_true(cov.prefill[algo][causal][dt][1] > 0); /* and d = 128 */
                }
        assert_true(cov.odd_chunks[0] > 0 && cov.odd_chunks[1] > 0);
        for (int g = 1; g <= 8; g *= 2)
            assert_true(cov.groups[g] > 0);
        assert_true(cov.decode_batched > 0 && cov.decode_ragged > 0 && cov.heads2 > 0 && cov.n1 > 0);
        /* the CPU's share of the whole check must stay a few seconds on two cores */
        if (cpu)
            assert_true(cov.cases <= 110);
    }
}

static void awkward_check_cases_match_the_reference(void **state)
{
    struct ab_case c;
    expect_ok("mode=prefill;algo=chunked;n=300;heads=1;d=128;dtype=bf16;causal=1;q_chunk=77;k_chunk=129", &c);
    expect_ok("mode=prefill;algo=fused;n=70;heads=2;d=128;dtype=bf16;causal=1", &c);
    expect_ok("mode=prefill;algo=naive;n=1;heads=1;d=64;dtype=fp32;causal=0", &c);
    expect_ok("mode=decode;algo=fused;n=1500;heads=2;d=128;dtype=fp32;batch=3;group=8", &c);
    assert_double_equal(metric(&c, "checked_rows"), 3 * 2 * 8, 0);
    expect_ok("mode=decode;algo=fused;n=1;heads=1;d=128;dtype=bf16;batch=1;group=2", &c);
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
        cmocka_unit_test(decode_matches_the_reference_at_any_group_and_head_dim_on_every_build),
        cmocka_unit_test(naive_too_large_is_oom_not_a_crash),
        cmocka_unit_test(fp16_is_unsupported_on_the_cpu),
        cmocka_unit_test(check_reports_mismatches),
        cmocka_unit_test(half_conversions_round_trip),
        cmocka_unit_test(cuda_time_estimate_refuses_naive_at_2_17_and_allows_small_n),
        cmocka_unit_test(cuda_decode_split_fills_the_sms_without_empty_spans),
        cmocka_unit_test(mem_ratio_vs_naive_needs_no_naive_case_first),
        cmocka_unit_test(reference_row_matches_a_direct_softmax),
        cmocka_unit_test(check_suite_covers_every_path),
        cmocka_unit_test(awkward_check_cases_match_the_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
