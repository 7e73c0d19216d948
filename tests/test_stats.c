/* test_stats.c — statistics on known samples and the stopping rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "accelbench.h"
#include "test_util.h"

static void median_of_odd_count_is_middle_value(void **state)
{
    double x[] = { 5, 1, 4, 2, 3 };
    struct ab_stats s;
    ab_stats_compute(x, 5, &s);
    assert_double_equal(s.median, 3.0, 0);
    assert_double_equal(s.min, 1.0, 0);
    assert_double_equal(s.max, 5.0, 0);
    assert_double_equal(s.mean, 3.0, 1e-15);
    assert_double_equal(s.stdev, sqrt(2.5), 1e-15);
}

static void median_of_even_count_averages_middle_pair(void **state)
{
    double x[] = { 4, 1, 3, 2 };
    struct ab_stats s;
    ab_stats_compute(x, 4, &s);
    assert_double_equal(s.median, 2.5, 0);
    /* type-7 quantile: p05 = 1 + 0.15 * (2 - 1) */
    assert_double_equal(s.p05, 1.15, 1e-12);
    assert_double_equal(s.p95, 3.85, 1e-12);
}

static void input_array_is_not_reordered(void **state)
{
    double x[] = { 3, 1, 2 };
    struct ab_stats s;
    ab_stats_compute(x, 3, &s);
    assert_double_equal(x[0], 3, 0);
    assert_double_equal(x[1], 1, 0);
}

static void median_ci_ranks_match_binomial_tables(void **state)
{
    int64_t lo, hi;
    /* n = 10: P(B <= 1) = 11/1024 = 0.0107 <= 0.025 < P(B <= 2) = 0.0547, so j = 2:
     * [x(2), x(9)], 0-based [1, 8]. */
    assert_true(ab_stats_median_ci_ranks(10, 0.95, &lo, &hi));
    assert_int_equal(lo, 1);
    assert_int_equal(hi, 8);
    /* n = 100: the classic table gives order statistics 40 and 61 (1-based). */
    assert_true(ab_stats_median_ci_ranks(100, 0.95, &lo, &hi));
    assert_int_equal(lo, 39);
    assert_int_equal(hi, 60);
    /* n = 5 cannot reach 95%: 2 * (1/32) = 0.0625 > 0.05. */
    assert_false(ab_stats_median_ci_ranks(5, 0.95, &lo, &hi));
}

static void ci_of_median_covers_true_median_about_95_percent(void **state)
{
    struct ab_rng r;
    ab_rng_seed(&r, 42);
    int covered = 0, trials = 400;
    double x[51];
    for (int t = 0; t < trials; t++) {
        for (int i = 0; i < 51; i++)
            x[i] = exp(ab_rng_normal(&r)); /* log-normal: true median 1 */
        struct ab_stats s;
        ab_stats_compute(x, 51, &s);
        covered += s.ci_lo <= 1.0 && 1.0 <= s.ci_hi;
    }
    /* Distribution-free CI is conservative (>= 95%); 400 trials: allow sampling error. */
    assert_true(covered >= (int)(0.92 * trials));
    assert_true(covered <= trials);
}

static void stop_rule_waits_for_min_samples_and_time(void **state)
{
    struct ab_stop_rule rule;
    ab_stop_rule_defaults(&rule);
    struct ab_stats s = { .n = 5, .median = 1, .ci_lo = 1, .ci_hi = 1 };
    assert_int_equal(ab_stop_check(&rule, &s, 1.0), AB_STOP_CONTINUE); /* too few samples */
    s.n = 20;
    assert_int_equal(ab_stop_check(&rule, &s, 0.1), AB_STOP_CONTINUE); /* too little time */
    assert_int_equal(ab_stop_check(&rule, &s, 0.6), AB_STOP_CONVERGED);
}

static void stop_rule_marks_wide_ci_as_max_time(void **state)
{
    struct ab_stop_rule rule;
    ab_stop_rule_defaults(&rule);
    struct ab_stats s = { .n = 100, .median = 1, .ci_lo = 0.9, .ci_hi = 1.1 }; /* +-10% */
    assert_int_equal(ab_stop_check(&rule, &s, 5.0), AB_STOP_CONTINUE);
    assert_int_equal(ab_stop_check(&rule, &s, 10.0), AB_STOP_MAX_TIME);
    assert_string_equal(ab_stop_word(AB_STOP_MAX_TIME), "max_time");
    s.n = rule.max_samples;
    assert_int_equal(ab_stop_check(&rule, &s, 0.0), AB_STOP_MAX_SAMPLES);
}

static void empty_sample_gives_zeros(void **state)
{
    struct ab_stats s;
    ab_stats_compute(NULL, 0, &s);
    assert_int_equal(s.n, 0);
    assert_double_equal(s.median, 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(median_of_odd_count_is_middle_value),
        cmocka_unit_test(median_of_even_count_averages_middle_pair),
        cmocka_unit_test(input_array_is_not_reordered),
        cmocka_unit_test(median_ci_ranks_match_binomial_tables),
        cmocka_unit_test(ci_of_median_covers_true_median_about_95_percent),
        cmocka_unit_test(stop_rule_waits_for_min_samples_and_time),
        cmocka_unit_test(stop_rule_marks_wide_ci_as_max_time),
        cmocka_unit_test(empty_sample_gives_zeros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
