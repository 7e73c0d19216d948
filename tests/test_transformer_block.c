/* test_transformer_block.c — the workload's work model, its axis checks and suite selection,
 * and the CPU layer end to end (setup, verify against the FP64 layer, a timed run with its
 * per-op breakdown) at a small size in both CPU dtypes; a corrupted output must be caught. */
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
    struct tb_dims d = { .B = 2, .T = 1024, .C = 4096, .NH = 64, .dt = OPS_BF16 };
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
    assert_int_equal(d.dt, OPS_BF16);
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
        if (st == AB_OK)
            st = impl->verify(c, &err);
        double t = 0;
        if (st == AB_OK)
            st = impl->run(c, 3, &t, &err);
        if (st)
            fail_msg("%s: %s", cases[i], err.msg);
        assert_true(t > 0);
        assert_true(c->work.flops > 0 && c->work.tokens > 0);
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
        impl->teardown(c);
        free(c);
    }
}

static void corrupted_output_is_a_mismatch(void **state)
{
    struct tb_dims d = { .B = 1, .T = 4, .C = 32, .NH = 2, .dt = OPS_F32 };
    struct tb_weights w;
    struct ab_error err = { { 0 } };
    assert_int_equal(tb_weights_make(&w, &d, 42, &err), AB_OK);
    double ref[4 * 32];
    tb_ref_layer(ref, &w, &d, 1, 4);
    float y[4 * 32];
    for (int i = 0; i < 4 * 32; i++)
        y[i] = (float)ref[i];
    struct ab_case *c = calloc(1, sizeof *c);
    assert_int_equal(tb_check(y, OPS_F32, ref, &d, 1, 4, c, "t", &err), AB_OK);
    y[77] += 0.5f;
    assert_int_equal(tb_check(y, OPS_F32, ref, &d, 1, 4, c, "t", &err), AB_EMISMATCH);
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
        cmocka_unit_test(corrupted_output_is_a_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
