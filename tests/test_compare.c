/* test_compare.c — `compare` on synthetic result pairs with known outcomes: identical runs
 * (false-regression rate at most alpha over many seeds), a 10% slowdown with tight samples, a
 * 10% slowdown lost in noise, renamed and missing cases, malformed files; and the statistics
 * on hand-checked values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "accelbench.h"
#include "compare.h"
#include "test_util.h"

/* A result set of n cases, each with `ns` samples drawn log-normally around 1 ms x factor. */
static void make_set(struct ab_result_set *s, int n, int ns, double sigma, uint64_t seed, int slow_case,
                     double factor)
{
    memset(s, 0, sizeof *s);
    struct ab_rng g;
    ab_rng_seed(&g, seed);
    for (int i = 0; i < n; i++) {
        struct ab_result r;
        memset(&r, 0, sizeof r);
        strcpy(r.workload, "synthetic");
        strcpy(r.device, "cpu");
        strcpy(r.device_name, "Test CPU");
        snprintf(r.params, sizeof r.params, "n=%d", 1 << i);
        strcpy(r.started_utc, "2026-01-01T00:00:00Z");
        strcpy(r.power_source, "none");
        r.status = AB_OK;
        r.energy_j = NAN;
        struct ab_error e;
        assert_int_equal(ab_result_set_add(s, &r, &e), AB_OK);
        struct ab_result *row = &s->rows[s->n - 1];
        row->samples = malloc((size_t)ns * sizeof(double));
        row->n_samples = ns;
        double base = 1e-3 * (1 + 0.1 * i) * (i == slow_case ? factor : 1.0);
        for (int k = 0; k < ns; k++)
            row->samples[k] = base * exp(sigma * ab_rng_normal(&g));
        ab_stats_compute(row->samples, ns, &row->time_s);
        row->flops = 1e9;
        row->flop_per_s = row->flops / row->time_s.median;
    }
}

static void identical_runs_rarely_regress(void **state)
{
    struct cmp_opts o;
    cmp_opts_defaults(&o);
    int runs_with_regression = 0, runs = 60, same = 0, total = 0;
    for (int seed = 1; seed <= runs; seed++) {
        struct ab_result_set a, b;
        make_set(&a, 12, 60, 0.02, 1000 + (uint64_t)seed, -1, 1);
        make_set(&b, 12, 60, 0.02, 5000 + (uint64_t)seed, -1, 1);
        struct cmp_report r;
        struct ab_error e;
        assert_int_equal(cmp_compare(&a, &b, &o, &r, &e), AB_OK);
        assert_int_equal(r.n, 12);
        runs_with_regression += cmp_exit_status(&r, CMP_FAIL_REGRESS);
        same += r.n_same;
        total += r.n;
        cmp_report_free(&r);
        ab_result_set_free(&a);
        ab_result_set_free(&b);
    }
    /* family-wise false-regression rate at most alpha (5% of 60 runs = 3) */
    assert_true(runs_with_regression <= 3);
    /* and identical runs are mostly called `same`, not hidden behind `noisy` */
    assert_true(same >= total * 8 / 10);
}

static void ten_percent_slowdown_with_tight_samples_is_slower(void **state)
{
    struct cmp_opts o;
    cmp_opts_defaults(&o);
    struct ab_result_set a, b;
    make_set(&a, 10, 60, 0.005, 11, -1, 1);
    make_set(&b, 10, 60, 0.005, 12, 3, 1.10);
    struct cmp_report r;
    struct ab_error e;
    assert_int_equal(cmp_compare(&a, &b, &o, &r, &e), AB_OK);
    for (int i = 0; i < r.n; i++) {
        if (i == 3) {
            assert_int_equal(r.cases[i].verdict, CMP_SLOWER);
            assert_double_equal(r.cases[i].ratio, 1.10, 0.01);
            assert_true(r.cases[i].ci_lo > 1.0 && r.cases[i].ci_hi > 1.10);
        } else {
            assert_int_not_equal(r.cases[i].verdict, CMP_SLOWER);
        }
    }
    assert_int_equal(r.n_slower, 1);
    assert_int_equal(cmp_exit_status(&r, CMP_FAIL_REGRESS), 1);
    assert_int_equal(cmp_exit_status(&r, CMP_FAIL_NONE), 0);
    cmp_report_free(&r);
    /* the same data as throughput: the ratio inverts, the verdict does not */
    o.metric = CMP_THROUGHPUT;
    assert_int_equal(cmp_compare(&a, &b, &o, &r, &e), AB_OK);
    assert_int_equal(r.cases[3].verdict, CMP_SLOWER);
    assert_double_equal(r.cases[3].ratio, 1 / 1.10, 0.01);
    cmp_report_free(&r);
    ab_result_set_free(&a);
    ab_result_set_free(&b);
}

static void ten_percent_slowdown_in_huge_noise_is_noisy(void **state)
{
    struct cmp_opts o;
    cmp_opts_defaults(&o);
    struct ab_result_set a, b;
    make_set(&a, 6, 30, 0.6, 21, -1, 1);
    make_set(&b, 6, 30, 0.6, 22, 2, 1.10);
    struct cmp_report r;
    struct ab_error e;
    assert_int_equal(cmp_compare(&a, &b, &o, &r, &e), AB_OK);
    assert_int_equal(r.cases[2].verdict, CMP_NOISY);
    assert_int_equal(r.n_slower, 0);
    assert_int_equal(cmp_exit_status(&r, CMP_FAIL_REGRESS), 0);
    assert_int_equal(cmp_exit_status(&r, CMP_FAIL_ANY), 1); /* noisy counts as "any" */
    cmp_report_free(&r);
    ab_result_set_free(&a);
    ab_result_set_free(&b);
}

static void a_change_of_every_case_is_still_caught(void **state)
{
    struct cmp_opts o;
    cmp_opts_defaults(&o);
    struct ab_result_set a, b;
    make_set(&a, 8, 40, 0.01, 31, -1, 1);
    make_set(&b, 8, 40, 0.01, 32, -1, 1);
    for (int64_t i = 0; i < b.n; i++) { /* everything 30% slower */
        for (int64_t k = 0; k < b.rows[i].n_samples; k++)
            b.rows[i].samples[k] *= 1.3;
        ab_stats_compute(b.rows[i].samples, b.rows[i].n_samples, &b.rows[i].time_s);
    }
    struct cmp_report r;
    struct ab_error e;
    assert_int_equal(cmp_compare(&a, &b, &o, &r, &e), AB_OK);
    assert_int_equal(r.n_slower, 8);
    assert_double_equal(r.geomean, 1.3, 0.02);
    cmp_report_free(&r);
    ab_result_set_free(&a);
    ab_result_set_free(&b);
}

static void renamed_missing_and_failed_cases_are_listed(void **state)
{
    struct cmp_opts o;
    cmp_opts_defaults(&o);
    struct ab_result_set a, b;
    make_set(&a, 4, 20, 0.01, 41, -1, 1);
    make_set(&b, 4, 20, 0.01, 42, -1, 1);
    strcpy(b.rows[1].params, "n=renamed"); /* removed n=2, added n=renamed */
    b.rows[2].status = AB_EMISMATCH;       /* was ok: a failure */
    struct cmp_report r;
    struct ab_error e;
    assert_int_equal(cmp_compare(&a, &b, &o, &r, &e), AB_OK);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.n_added, 1);
    assert_int_equal(r.n_removed, 1);
    assert_string_equal(r.added[0]->params, "n=renamed");
    assert_string_equal(r.removed[0]->params, "n=2");
    assert_int_equal(r.n_failed, 1);
    assert_int_equal(cmp_exit_status(&r, CMP_FAIL_REGRESS), 1);
    cmp_report_free(&r);
    ab_result_set_free(&a);
    ab_result_set_free(&b);
}

static void mann_whitney_matches_exact_tables(void **state)
{
    double x[] = { 1, 2, 3, 4, 5 }, y[] = { 6, 7, 8, 9, 10 };
    /* complete separation of 5 and 5: two-sided p = 2 / C(10,5) = 2/252 */
    assert_double_equal(cmp_mann_whitney_p(x, 5, y, 5), 2.0 / 252, 1e-12);
    double x3[] = { 1.1, 2.2, 3.3 }, y3[] = { 4.4, 5.5, 6.6 };
    assert_double_equal(cmp_mann_whitney_p(x3, 3, y3, 3), 2.0 / 20, 1e-12);
    /* interleaved: no evidence */
    double xi[] = { 1, 3, 5, 7 }, yi[] = { 2, 4, 6, 8 };
    assert_true(cmp_mann_whitney_p(xi, 4, yi, 4) > 0.5);
    /* large samples use the normal approximation: a clear shift gives a tiny p */
    double big_x[200], big_y[200];
    struct ab_rng g;
    ab_rng_seed(&g, 7);
    for (int i = 0; i < 200; i++) {
        big_x[i] = ab_rng_normal(&g);
        big_y[i] = ab_rng_normal(&g) + 1.0;
    }
    assert_true(cmp_mann_whitney_p(big_x, 200, big_y, 200) < 1e-10);
}

static void holm_adjusts_and_keeps_order(void **state)
{
    double p[] = { 0.01, 0.04, 0.03, NAN };
    cmp_holm(p, 4);
    assert_double_equal(p[0], 0.03, 1e-12);
    assert_double_equal(p[2], 0.06, 1e-12);
    assert_double_equal(p[1], 0.06, 1e-12); /* 0.04 x 1 raised to the running maximum */
    assert_true(isnan(p[3]));
}

static void bootstrap_interval_covers_the_true_ratio(void **state)
{
    double x[100], y[100];
    struct ab_rng g;
    ab_rng_seed(&g, 9);
    for (int i = 0; i < 100; i++) {
        x[i] = exp(0.05 * ab_rng_normal(&g));
        y[i] = 1.2 * exp(0.05 * ab_rng_normal(&g));
    }
    double lo, hi;
    cmp_bootstrap_ratio(x, 100, y, 100, 1000, 3, &lo, &hi);
    assert_true(lo < 1.2 && 1.2 < hi);
    assert_true(hi - lo < 0.1);
}

static void malformed_input_names_file_and_line(void **state)
{
    char *dir = test_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    const char *const *cols = ab_csv_columns();
    char text[8192] = "";
    for (int i = 0; cols[i]; i++) {
        strcat(text, i ? "," : "");
        strcat(text, cols[i]);
    }
    strcat(text, "\n1,2,3\n");
    assert_int_equal(test_write_file(path, text), 0);
    struct ab_result_set s = { 0 };
    struct ab_error e;
    char warn[256];
    assert_int_equal(cmp_load(path, &s, warn, sizeof warn, &e), AB_EINVAL);
    assert_non_null(strstr(e.msg, "bad.csv:2"));
    snprintf(path, sizeof path, "%s/nothing-here", dir);
    assert_int_equal(cmp_load(path, &s, warn, sizeof warn, &e), AB_EIO);
    assert_int_equal(cmp_load(dir, &s, warn, sizeof warn, &e), AB_EINVAL); /* folder without results */
    assert_non_null(strstr(e.msg, "no results.csv"));
    ab_result_set_free(&s);
    test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(identical_runs_rarely_regress),
        cmocka_unit_test(ten_percent_slowdown_with_tight_samples_is_slower),
        cmocka_unit_test(ten_percent_slowdown_in_huge_noise_is_noisy),
        cmocka_unit_test(a_change_of_every_case_is_still_caught),
        cmocka_unit_test(renamed_missing_and_failed_cases_are_listed),
        cmocka_unit_test(mann_whitney_matches_exact_tables),
        cmocka_unit_test(holm_adjusts_and_keeps_order),
        cmocka_unit_test(bootstrap_interval_covers_the_true_ratio),
        cmocka_unit_test(malformed_input_names_file_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
