/* test_compare.c — `compare` on synthetic result pairs with known outcomes: identical runs
 * (false-regression rate at most alpha over many seeds), a 10% slowdown with tight samples, a
 * 10% slowdown lost in noise, renamed and missing cases, and one fixed pair whose report must
 * stay what it was. The statistics are tested in test_stats.c, the loading in
 * test_results_load.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>

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

/* A case that did twice the work per repetition in the new run (a ceilings sweep picked
 * another shape) in twice the time is the same speed, and 10% more time than that is slower. */
static void cases_whose_work_changed_compare_per_unit_of_work(void **state)
{
    struct cmp_opts o;
    cmp_opts_defaults(&o);
    struct ab_result_set a, b;
    make_set(&a, 4, 60, 0.005, 21, -1, 1);
    make_set(&b, 4, 60, 0.005, 22, 1, 2.0 * 1.10);
    for (int64_t i = 0; i < b.n; i++)
        if (i == 1 || i == 2) {
            struct ab_result *r = &b.rows[i];
            r->flops *= 2;
            if (i == 2) { /* twice the work in twice the time */
                for (int64_t k = 0; k < r->n_samples; k++)
                    r->samples[k] *= 2;
                ab_stats_compute(r->samples, r->n_samples, &r->time_s);
            }
            r->flop_per_s = r->flops / r->time_s.median;
        }
    struct cmp_report r;
    struct ab_error e;
    assert_int_equal(cmp_compare(&a, &b, &o, &r, &e), AB_OK);
    assert_int_equal(r.cases[1].verdict, CMP_SLOWER);
    assert_double_equal(r.cases[1].ratio, 1.10, 0.01);
    assert_int_not_equal(r.cases[2].verdict, CMP_SLOWER);
    assert_int_not_equal(r.cases[2].verdict, CMP_FASTER);
    assert_double_equal(r.cases[2].ratio, 1.0, 0.01);
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

/* A peer's rows (bench/peers: backend=llama.cpp, our workload, device and params) pair with ours
 * case by case: none added or removed, each ratio the peer's time over ours. */
static void a_peers_rows_pair_with_ours_by_case(void **state)
{
    struct cmp_opts o;
    cmp_opts_defaults(&o);
    struct ab_result_set a, b;
    make_set(&a, 4, 20, 0.01, 51, -1, 1);
    make_set(&b, 4, 20, 0.01, 52, 2, 2.0); /* case 2 twice as slow on the peer */
    for (int i = 0; i < 4; i++) {
        strcpy(a.rows[i].backend, "cpu");
        strcpy(b.rows[i].backend, "llama.cpp");
    }
    struct cmp_report r;
    struct ab_error e;
    assert_int_equal(cmp_compare(&a, &b, &o, &r, &e), AB_OK);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.n_added, 0);
    assert_int_equal(r.n_removed, 0);
    for (int i = 0; i < r.n; i++) {
        assert_string_equal(r.cases[i].new_->backend, "llama.cpp");
        assert_string_equal(r.cases[i].base->params, r.cases[i].new_->params);
    }
    assert_string_equal(r.cases[2].base->params, "n=4");
    assert_double_equal(r.cases[2].ratio, 2.0, 0.05);
    assert_int_equal(r.cases[2].verdict, CMP_SLOWER);
    cmp_report_free(&r);
    ab_result_set_free(&a);
    ab_result_set_free(&b);
}

static void a_fixed_pair_gives_the_report_it_always_gave(void **state)
{
    /* Printed (%.17g) by compare before its statistics and loading moved into the harness; one
     * case without samples takes the path of the CSV's intervals. */
    static const struct {
        enum cmp_verdict v;
        double ratio, lo, hi, p;
    } want[10] = {
        { CMP_SAME, 1.004263203118577, 0.97036268076710441, 1.0393480717340611, 0.80814947389786629 },
        { CMP_SAME, 0.9983527334670631, 0.95715792526131127, 1.0413205116063244, 0.9388754130500071 },
        { CMP_SAME, 1.0023543806645421, 0.9544192093727093, 1.0526970691398225, 0.9250638285539724 },
        { CMP_SLOWER, 1.1046714836781972, 1.061992918059937, 1.1490651831097409, 1.082508822446903e-05 },
        { CMP_SAME, 0.99749668479232334, 0.96020781710982506, 1.0362336344715168, 0.89740194947595586 },
        { CMP_SAME, 1.0001003492556462, 0.9586911464384722, 1.0432981594719017, 1 },
        { CMP_SAME, 0.99048832963844458, 0.95480922710186966, 1.0275006810813789, 0.6096318877448792 },
        { CMP_SAME, 0.99581619452783521, 0.95580946368092434, 1.0374974625852205, 0.8411632332972756 },
        { CMP_SAME, 1.000768663284904, 0.96287313236659233, 1.0401556381072024, 0.96887956900040462 },
        { CMP_SAME, 0.98781888084536473, 0.94894854904848358, 1.0282813987470822, 0.54959033867782769 },
    };
    struct cmp_opts o;
    cmp_opts_defaults(&o);
    struct ab_result_set a, b;
    make_set(&a, 10, 60, 0.02, 11, -1, 1);
    make_set(&b, 10, 60, 0.02, 12, 3, 1.10);
    free(b.rows[5].samples);
    b.rows[5].samples = NULL;
    b.rows[5].n_samples = 0;
    struct cmp_report r;
    struct ab_error e;
    assert_int_equal(cmp_compare(&a, &b, &o, &r, &e), AB_OK);
    assert_int_equal(r.n, 10);
    for (int i = 0; i < 10; i++) {
        const struct cmp_case *c = &r.cases[i];
        assert_int_equal(c->verdict, want[i].v);
        assert_double_equal(c->ratio, want[i].ratio, 1e-15);
        /* only the last bits of quantiles and moments may differ (GSL's rounding) */
        assert_double_equal(c->ci_lo, want[i].lo, 1e-14);
        assert_double_equal(c->ci_hi, want[i].hi, 1e-14);
        assert_double_equal(c->p, want[i].p, 1e-14);
        assert_double_equal(c->p_adj, fmin(1.0, want[i].p * 10), 1e-13);
    }
    assert_double_equal(r.geomean, 1.0077157829404413, 1e-14);
    assert_double_equal(r.noise, 0.0057426406034971232, 1e-14);
    cmp_report_free(&r);
    ab_result_set_free(&a);
    ab_result_set_free(&b);
}

static void the_report_is_the_same_whatever_the_thread_count(void **state)
{
    /* cases are tested in parallel; each is seeded by its own base row, not by the order threads
     * reach it */
    struct cmp_opts o;
    cmp_opts_defaults(&o);
    struct ab_result_set a, b;
    make_set(&a, 30, 10, 0.03, 21, -1, 1);
    make_set(&b, 30, 10, 0.03, 22, 7, 1.2);
    struct cmp_report r[2];
    struct ab_error e;
    int threads = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k ? 4 : 1);
        assert_int_equal(cmp_compare(&a, &b, &o, &r[k], &e), AB_OK);
    }
    omp_set_num_threads(threads);
    assert_int_equal(r[0].n, 30);
    assert_int_equal(r[1].n, 30);
    for (int i = 0; i < 30; i++) {
        const struct cmp_case *c0 = &r[0].cases[i], *c1 = &r[1].cases[i];
        assert_true(c0->from_samples && c1->from_samples);
        assert_int_equal(c0->verdict, c1->verdict);
        assert_true(c0->ci_lo == c1->ci_lo && c0->ci_hi == c1->ci_hi && c0->p == c1->p);
    }
    assert_int_equal(r[0].cases[7].verdict, CMP_SLOWER);
    for (int k = 0; k < 2; k++)
        cmp_report_free(&r[k]);
    ab_result_set_free(&a);
    ab_result_set_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(identical_runs_rarely_regress),
        cmocka_unit_test(ten_percent_slowdown_with_tight_samples_is_slower),
        cmocka_unit_test(cases_whose_work_changed_compare_per_unit_of_work),
        cmocka_unit_test(ten_percent_slowdown_in_huge_noise_is_noisy),
        cmocka_unit_test(a_change_of_every_case_is_still_caught),
        cmocka_unit_test(renamed_missing_and_failed_cases_are_listed),
        cmocka_unit_test(a_peers_rows_pair_with_ours_by_case),
        cmocka_unit_test(a_fixed_pair_gives_the_report_it_always_gave),
        cmocka_unit_test(the_report_is_the_same_whatever_the_thread_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
