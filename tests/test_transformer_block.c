/* test_transformer_block.c — the workload's work model, its axis checks and suite selection,
 * and the CPU layer end to end (setup, verify against the FP64 layer, a timed run with its
 * per-op breakdown) at a small size in both CPU dtypes (bf16 a skip where oneDNN has no bf16
 * matmul); the check suite's cases and their all-token verification; a corrupted output must be
 * caught. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <time.h>

#include "accelbench.h"
#include "ops_ref.h"
#include "test_util.h"
#include "transformer_block/transformer_block.h"

extern const struct ab_workload transformer_block_workload;

static struct ab_params params(const char *text)
{
    struct ab_params ps;
    struct ab_error err;
    assert_int_equal(ab_params_parse(text, &ps, &err), AB_OK);
    return ps;
}

static void flops_follow_the_documented_formula(void **state)
{
    struct tb_dims d = { .B = 2, .T = 1024, .C = 4096, .NH = 64, .dt = AB_DTYPE_BF16 };
    double mm = 24.0 * 2 * 1024 * 4096.0 * 4096, att = 4.0 * 2 * 1024 * 1024 * 4096;
    assert_double_equal(tb_flops(&d), mm + att / 2, 1);            /* causal: half the scores */
    assert_double_equal(tb_flops_full_attention(&d), mm + att, 1); /* Megatron's count */
}

static void heads_default_to_width_over_64_and_bad_splits_are_named(void **state)
{
    struct tb_dims d;
    struct ab_error err = { { 0 } };
    struct ab_params ps = params("hidden=1024;heads=0;seq=8;batch=1;dtype=bf16");
    assert_int_equal(tb_dims_from_params(&ps, &d, &err), AB_OK);
    assert_int_equal(d.NH, 16);
    assert_int_equal(d.dt, AB_DTYPE_BF16);
    ps = params("hidden=1024;heads=7;seq=8;batch=1;dtype=fp32");
    assert_int_equal(tb_dims_from_params(&ps, &d, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "heads=7"));
}

static void cpu_default_suite_keeps_small_batch_one_cases(void **state)
{
    const struct ab_workload *w = &transformer_block_workload;
    struct ab_params a = params("hidden=768;heads=0;seq=1024;batch=1;dtype=bf16");
    struct ab_params b = params("hidden=768;heads=0;seq=2048;batch=4;dtype=bf16");
    struct ab_params f16 = params("hidden=768;heads=0;seq=128;batch=1;dtype=fp16");
    assert_true(w->applies(&a, AB_BACKEND_CPU, AB_SUITE_DEFAULT));
    assert_false(w->applies(&b, AB_BACKEND_CPU, AB_SUITE_DEFAULT));
    assert_true(w->applies(&b, AB_BACKEND_CUDA, AB_SUITE_DEFAULT));
    assert_true(w->applies(&b, AB_BACKEND_CPU, AB_SUITE_FULL));
    assert_false(w->applies(&f16, AB_BACKEND_CPU, AB_SUITE_FULL));
    assert_true(w->applies(&f16, AB_BACKEND_CUDA, AB_SUITE_QUICK));
}

static struct ab_device cpu_device(void)
{
    struct ab_device dev[AB_MAX_DEVICES];
    int n = 0;
    struct ab_error err;
    assert_int_equal(ab_backend_get(AB_BACKEND_CPU)->discover(dev, AB_MAX_DEVICES, &n, &err), AB_OK);
    assert_true(n >= 1);
    return dev[0];
}

static void cpu_layer_verifies_and_times(void **state)
{
    struct ab_device dev = cpu_device();
    const char *cases[] = { "hidden=128;heads=0;seq=37;batch=2;dtype=fp32",
                            "hidden=192;heads=3;seq=40;batch=1;dtype=bf16" };
    for (int i = 0; i < 2; i++) {
        struct ab_case *c = calloc(1, sizeof *c);
        assert_non_null(c);
        c->workload = &transformer_block_workload;
        c->device = &dev;
        c->params = params(cases[i]);
        c->seed = (uint64_t)time(NULL) + (uint64_t)i;
        struct ab_error err = { { 0 } };
        const struct ab_impl *impl = transformer_block_workload.impl[AB_BACKEND_CPU];
        ab_status st = impl->setup(c, &err);
        if (ab_param_is(&c->params, "dtype", "bf16") && !ops_matmul_bf16_supported()) {
            /* a skipped row with the reason, and nothing left allocated (ASan checks) */
            assert_int_equal(st, AB_EUNSUPPORTED);
            assert_string_equal(err.msg, OPS_NO_BF16_MATMUL);
            impl->teardown(c);
            assert_null(c->state);
            free(c);
            continue;
        }
        if (st == AB_OK)
            st = impl->verify(c, &err);
        double t = 0;
        if (st == AB_OK)
            st = ab_case_time(c, impl, 3, &t, &err);
        if (st)
            fail_msg("%s: %s", cases[i], err.msg);
        assert_true(t > 0);
        assert_true(c->work.flops > 0 && c->work.tokens > 0);
        impl->teardown(c); /* records the per-op breakdown; the runner reads metrics after it too */
        struct ab_result r = { 0 };
        memcpy(r.metrics, c->metrics, sizeof r.metrics);
        r.n_metrics = c->n_metrics;
        double parts = 0;
        const char *ops[] = { "ln1_s", "qkv_s",     "attn_s",       "attn_proj_res_s",
                              "ln2_s", "fc_gelu_s", "fc_proj_res_s" };
        for (int k = 0; k < 7; k++) {
            double v = ab_result_metric(&r, ops[k]);
            assert_true(v > 0);
            parts += v;
        }
        assert_true(parts <= t / 3 * 1.01 + 1e-6); /* the parts lie within the forward */
        assert_true(ab_result_metric(&r, "small_max_err") <= 1);
        assert_true(ab_result_metric(&r, "case_first_tokens_max_err") <= 1);
        free(c);
    }
}

/* Every point of the check suite's sweeps, through applies. */
struct check_plan {
    int n;
    struct ab_params pts[64];
};

static void plan_check_suite(enum ab_backend_kind backend, struct check_plan *plan)
{
    const struct ab_workload *w = &transformer_block_workload;
    static struct ab_values vals[AB_MAX_AXES];
    struct ab_error err;
    int idx[AB_MAX_AXES] = { 0 };
    for (int a = 0; a < w->n_axes; a++) {
        const char *sw = w->axes[a].sweep[AB_SUITE_CHECK];
        assert_non_null(sw);
        assert_int_equal(ab_axis_parse(&w->axes[a], sw, &vals[a], &err), AB_OK);
    }
    plan->n = 0;
    for (;;) {
        struct ab_params ps = { .n = w->n_axes };
        for (int a = 0; a < w->n_axes; a++) {
            snprintf(ps.p[a].name, sizeof ps.p[a].name, "%s", w->axes[a].name);
            ps.p[a].val = vals[a].v[idx[a]];
        }
        if (w->applies(&ps, backend, AB_SUITE_CHECK)) {
            assert_true(plan->n < 64);
            plan->pts[plan->n++] = ps;
        }
        int a = 0;
        while (a < w->n_axes && ++idx[a] == vals[a].n)
            idx[a++] = 0;
        if (a == w->n_axes)
            break;
    }
}

static int count_where(const struct check_plan *p, const char *name, const char *value)
{
    int n = 0;
    for (int i = 0; i < p->n; i++)
        n += ab_param_is(&p->pts[i], name, value);
    return n;
}

/* The check suite: three awkward shapes (widths no tile divides, seq 70 and 150 > 128 keys,
 * batch 1 and 2) in every dtype of the backend, CUDA with and without the graph. */
static void check_suite_covers_every_path_at_awkward_sizes(void **state)
{
    struct check_plan cpu, cuda;
    plan_check_suite(AB_BACKEND_CPU, &cpu);
    plan_check_suite(AB_BACKEND_CUDA, &cuda);
    assert_int_equal(cpu.n, 3 * 2);      /* shapes x {fp32, bf16}; no graphs, no fp16 */
    assert_int_equal(cuda.n, 3 * 3 * 2); /* shapes x dtypes x {graph, plain} */
    assert_int_equal(count_where(&cpu, "dtype", "fp32"), 3);
    assert_int_equal(count_where(&cpu, "dtype", "bf16"), 3);
    assert_int_equal(count_where(&cpu, "cuda_graph", "auto"), 6); /* the implicit value: no graphs there */
    assert_int_equal(count_where(&cuda, "dtype", "fp16"), 6);
    assert_int_equal(count_where(&cuda, "cuda_graph", "on"), 9);
    assert_int_equal(count_where(&cuda, "cuda_graph", "off"), 9);
    for (int b = 0; b < 2; b++) {
        const struct check_plan *p = b ? &cuda : &cpu;
        int long_seq = 0, batch2 = 0, hs80 = 0;
        for (int i = 0; i < p->n; i++) {
            struct tb_dims d;
            struct ab_error err;
            assert_int_equal(tb_dims_from_params(&p->pts[i], &d, &err), AB_OK);
            assert_true(d.C % 128 != 0 && d.B * d.T > 128); /* partial and several tiles */
            long_seq += d.T > 128;
            batch2 += d.B == 2;
            hs80 += d.C / d.NH == 80;
        }
        assert_true(long_seq > 0 && batch2 > 0 && hs80 > 0);
    }
    /* forced graph choices, and auto by size */
    struct ab_params on = params("hidden=4096;heads=0;seq=2048;batch=4;dtype=bf16;cuda_graph=on");
    struct ab_params off = params("hidden=192;heads=0;seq=70;batch=2;dtype=bf16;cuda_graph=off");
    struct ab_params aut = params("hidden=192;heads=0;seq=70;batch=2;dtype=bf16;cuda_graph=auto");
    assert_true(tb_cuda_graph(&on, 1e13));
    assert_false(tb_cuda_graph(&off, 1e9));
    assert_true(tb_cuda_graph(&aut, 1e9));
    assert_false(tb_cuda_graph(&aut, 1e13));
    /* a width given on the command line outside the shapes keeps its points */
    struct ab_params other = params("hidden=512;heads=0;seq=70;batch=2;dtype=fp32;cuda_graph=auto");
    assert_true(transformer_block_workload.applies(&other, AB_BACKEND_CPU, AB_SUITE_CHECK));
    struct ab_params mixed = params("hidden=192;heads=0;seq=150;batch=2;dtype=fp32;cuda_graph=auto");
    assert_false(transformer_block_workload.applies(&mixed, AB_BACKEND_CPU, AB_SUITE_CHECK));
}

/* In the check suite verify compares every token of every sequence with the FP64 layer: an
 * error in the last token of the last sequence is a mismatch; elsewhere the first tokens. */
static void check_suite_verifies_every_token(void **state)
{
    struct tb_dims d = { .B = 2, .T = 9, .C = 32, .NH = 2, .dt = AB_DTYPE_FP32 };
    int nb, nt;
    assert_string_equal(tb_verify_extent(&d, AB_SUITE_QUICK, &nb, &nt), "case_first_tokens");
    assert_int_equal(nb, 1);
    assert_int_equal(nt, 3);
    assert_string_equal(tb_verify_extent(&d, AB_SUITE_CHECK, &nb, &nt), "case_all_tokens");
    assert_int_equal(nb, 2);
    assert_int_equal(nt, 9);
    struct tb_weights w;
    struct ab_error err = { { 0 } };
    assert_int_equal(tb_weights_make(&w, &d, 7, &err), AB_OK);
    size_t n = (size_t)nb * nt * d.C;
    double *ref = malloc(n * sizeof *ref);
    float *y = malloc(n * sizeof *y);
    assert_non_null(ref);
    assert_non_null(y);
    tb_ref_layer(ref, &w, &d, nb, nt);
    for (size_t i = 0; i < n; i++)
        y[i] = (float)ref[i];
    struct ab_case *c = calloc(1, sizeof *c);
    assert_int_equal(tb_check(y, AB_DTYPE_FP32, ref, &d, nb, nt, c, "t", &err), AB_OK);
    y[n - 1] += 0.5f;
    assert_int_equal(tb_check(y, AB_DTYPE_FP32, ref, &d, nb, nt, c, "t", &err), AB_EMISMATCH);
    free(c), free(ref), free(y);
    tb_weights_free(&w);
}

/* A check-suite case on the CPU end to end: setup and verify only, at a shape of the sweep. */
static void cpu_check_case_verifies_all_tokens(void **state)
{
    struct ab_device dev = cpu_device();
    const char *cases[] = { "hidden=192;heads=0;seq=70;batch=2;dtype=fp32;cuda_graph=off",
                            "hidden=192;heads=0;seq=70;batch=2;dtype=bf16;cuda_graph=off" };
    for (int i = 0; i < 2; i++) {
        struct ab_case *c = calloc(1, sizeof *c);
        assert_non_null(c);
        c->workload = &transformer_block_workload;
        c->device = &dev;
        c->params = params(cases[i]);
        c->suite = AB_SUITE_CHECK;
        c->seed = (uint64_t)time(NULL) + 17 + (uint64_t)i;
        struct ab_error err = { { 0 } };
        const struct ab_impl *impl = transformer_block_workload.impl[AB_BACKEND_CPU];
        ab_status st = impl->setup(c, &err);
        bool skip = i == 1 && !ops_matmul_bf16_supported();
        if (st == AB_OK)
            st = impl->verify(c, &err);
        if (skip) {
            assert_int_equal(st, AB_EUNSUPPORTED);
        } else {
            if (st)
                fail_msg("%s: %s", cases[i], err.msg);
            struct ab_result r = { 0 };
            memcpy(r.metrics, c->metrics, sizeof r.metrics);
            r.n_metrics = c->n_metrics;
            double e = ab_result_metric(&r, "case_all_tokens_max_err");
            assert_true(e >= 0 && e <= 1);
        }
        impl->teardown(c);
        free(c);
    }
}

static void corrupted_output_is_a_mismatch(void **state)
{
    struct tb_dims d = { .B = 1, .T = 4, .C = 32, .NH = 2, .dt = AB_DTYPE_FP32 };
    struct tb_weights w;
    struct ab_error err = { { 0 } };
    assert_int_equal(tb_weights_make(&w, &d, 42, &err), AB_OK);
    double ref[4 * 32];
    tb_ref_layer(ref, &w, &d, 1, 4);
    float y[4 * 32];
    for (int i = 0; i < 4 * 32; i++)
        y[i] = (float)ref[i];
    struct ab_case *c = calloc(1, sizeof *c);
    assert_int_equal(tb_check(y, AB_DTYPE_FP32, ref, &d, 1, 4, c, "t", &err), AB_OK);
    y[77] += 0.5f;
    assert_int_equal(tb_check(y, AB_DTYPE_FP32, ref, &d, 1, 4, c, "t", &err), AB_EMISMATCH);
    assert_non_null(strstr(err.msg, "[77]"));
    free(c);
    tb_weights_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flops_follow_the_documented_formula),
        cmocka_unit_test(heads_default_to_width_over_64_and_bad_splits_are_named),
        cmocka_unit_test(cpu_default_suite_keeps_small_batch_one_cases),
        cmocka_unit_test(cpu_layer_verifies_and_times),
        cmocka_unit_test(check_suite_covers_every_path_at_awkward_sizes),
        cmocka_unit_test(check_suite_verifies_every_token),
        cmocka_unit_test(cpu_check_case_verifies_all_tokens),
        cmocka_unit_test(corrupted_output_is_a_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
