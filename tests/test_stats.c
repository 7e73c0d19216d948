/* test_stats.c — statistics on known samples and the stopping rule; the two-sample tests and
 * intervals (stats_tests.c) against exact tables and values computed independently (mpmath,
 * 30 digits), and on fixed inputs against the figures compare and amx_timing gave before the
 * tests moved into the harness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>

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

static const double xs[10] = { 10.1, 10.4, 9.8, 10.0, 10.3, 9.9, 10.2, 10.1, 9.7, 10.5 };
static const double xs_perm[10] = { 10.5, 9.7, 10.1, 10.2, 9.9, 10.3, 10.0, 9.8, 10.4, 10.1 };
static const double xs_shift[10] = { 10.45, 10.75, 10.15, 10.35, 10.65, 10.25, 10.55, 10.45, 10.05, 10.85 };
static const double zs[8] = { 11.0, 10.2, 12.1, 10.8, 11.5, 10.9, 11.7, 10.4 };

static void median_of_sorted_data_averages_the_middle_pair(void **state)
{
    double odd[] = { 1, 2, 7 }, even[] = { 1, 2, 4, 7 };
    assert_double_equal(ab_stats_median_sorted(odd, 3), 2, 0);
    assert_double_equal(ab_stats_median_sorted(even, 4), 3, 0);
    assert_true(isnan(ab_stats_median_sorted(odd, 0)));
    /* the median is the type-7 quantile at one half, exactly */
    assert_true(ab_stats_median_sorted(even, 4) == ab_stats_quantile_sorted(even, 4, 0.5));
}

static void mann_whitney_matches_exact_tables(void **state)
{
    double x[] = { 1, 2, 3, 4, 5 }, y[] = { 6, 7, 8, 9, 10 };
    /* complete separation of 5 and 5: two-sided p = 2 / C(10,5) = 2/252 */
    assert_double_equal(ab_stats_mann_whitney_p(x, 5, y, 5), 2.0 / 252, 1e-12);
    double x3[] = { 1.1, 2.2, 3.3 }, y3[] = { 4.4, 5.5, 6.6 };
    assert_double_equal(ab_stats_mann_whitney_p(x3, 3, y3, 3), 2.0 / 20, 1e-12);
    /* interleaved: no evidence */
    double xi[] = { 1, 3, 5, 7 }, yi[] = { 2, 4, 6, 8 };
    assert_true(ab_stats_mann_whitney_p(xi, 4, yi, 4) > 0.5);
    /* large samples use the normal approximation: a clear shift gives a tiny p */
    double big_x[200], big_y[200];
    struct ab_rng g;
    ab_rng_seed(&g, 7);
    for (int i = 0; i < 200; i++) {
        big_x[i] = ab_rng_normal(&g);
        big_y[i] = ab_rng_normal(&g) + 1.0;
    }
    assert_true(ab_stats_mann_whitney_p(big_x, 200, big_y, 200) < 1e-10);
}

static void mann_whitney_exact_distribution_matches_the_table_for_4_and_4(void **state)
{
    /* Counts of U = 0..16 for m = n = 4: 1 1 2 3 5 5 7 7 8 7 7 5 5 3 2 1 1 (sum 70). */
    assert_double_equal(ab_stats_mann_whitney_exact_p(4, 4, 0), 2.0 / 70, 1e-12);
    assert_double_equal(ab_stats_mann_whitney_exact_p(4, 4, 2), 8.0 / 70, 1e-12);
    assert_double_equal(ab_stats_mann_whitney_exact_p(4, 4, 14), 8.0 / 70, 1e-12); /* symmetric */
    assert_double_equal(ab_stats_mann_whitney_exact_p(4, 4, 5), 34.0 / 70, 1e-12);
    assert_double_equal(ab_stats_mann_whitney_exact_p(4, 4, 8), 1.0, 0);
    /* unequal sizes, m = 2, n = 3: counts 1 1 2 2 2 1 1 over U = 0..6 (sum 10) */
    assert_double_equal(ab_stats_mann_whitney_exact_p(2, 3, 0), 2.0 / 10, 1e-12);
    assert_double_equal(ab_stats_mann_whitney_exact_p(2, 3, 1), 4.0 / 10, 1e-12);
}

static void mann_whitney_with_ties_uses_the_corrected_normal_approximation(void **state)
{
    /* x = {1,1,2}, y = {2,3,3}: ranks 1.5 1.5 3.5 | 3.5 5.5 5.5, U = 6.5 - 6 = 0.5, mu = 4.5,
     * ties t = 2,2,2: var = 9/12 (7 - 18/30) = 4.8, z = (4 - 0.5) / sqrt(4.8). */
    double x[] = { 1, 1, 2 }, y[] = { 2, 3, 3 };
    double z = 3.5 / sqrt(4.8);
    assert_double_equal(ab_stats_mann_whitney_p(x, 3, y, 3), 2 * gsl_cdf_ugaussian_Q(z), 1e-15);
    double c[] = { 4, 4, 4 };
    assert_double_equal(ab_stats_mann_whitney_p(c, 3, c, 3), 1.0, 0); /* all equal */
    assert_true(isnan(ab_stats_mann_whitney_p(c, 0, c, 3)));
}

static void holm_adjusts_and_keeps_order(void **state)
{
    double p[] = { 0.01, 0.04, 0.03, NAN };
    ab_stats_holm(p, 4);
    assert_double_equal(p[0], 0.03, 1e-12);
    assert_double_equal(p[2], 0.06, 1e-12);
    assert_double_equal(p[1], 0.06, 1e-12); /* 0.04 x 1 raised to the running maximum */
    assert_true(isnan(p[3]));
    ab_stats_holm(p, 0); /* an empty family is left alone */
}

static void welch_identical_samples_give_p_one(void **state)
{
    double t, df, p;
    ab_stats_welch(xs, 10, xs_perm, 10, &t, &df, &p);
    assert_double_equal(t, 0, 1e-12);
    assert_double_equal(p, 1, 1e-12);
}

static void welch_matches_reference_for_shifted_and_unequal_variances(void **state)
{
    double t, df, p;
    ab_stats_welch(xs, 10, zs, 8, &t, &df, &p);
    assert_double_equal(t, -3.99931140793092150, 1e-9);
    assert_double_equal(df, 8.77158916318556514, 1e-9);
    assert_double_equal(p, 0.00327953959692260917, 1e-9);
    ab_stats_welch(xs, 10, xs_shift, 10, &t, &df, &p);
    assert_double_equal(t, -3.03108891324553526, 1e-9);
    assert_double_equal(df, 18.0, 1e-9);
    assert_double_equal(p, 0.00718253723080917816, 1e-9);
}

static void welch_of_constant_samples_is_decided(void **state)
{
    double a[3] = { 5, 5, 5 }, b[3] = { 6, 6, 6 }, t, df, p;
    ab_stats_welch(a, 3, a, 3, &t, &df, &p);
    assert_double_equal(p, 1, 0);
    ab_stats_welch(a, 3, b, 3, &t, &df, &p);
    assert_double_equal(p, 0, 0);
    ab_stats_welch(a, 1, b, 3, &t, &df, &p);
    assert_true(isnan(p)); /* one sample has no variance to test with */
}

static void kolmogorov_series_matches_reference(void **state)
{
    assert_double_equal(ab_stats_kolmogorov_q(1.0), 0.269999671677354521, 1e-12);
    assert_double_equal(ab_stats_kolmogorov_q(0.5), 0.963945243664875094, 1e-12);
    assert_double_equal(ab_stats_kolmogorov_q(0.0), 1.0, 0);
    assert_true(ab_stats_kolmogorov_q(5.0) < 1e-20);
}

static void ks_identical_samples_give_p_one(void **state)
{
    double d, p;
    ab_stats_ks(xs, 10, xs_perm, 10, &d, &p);
    assert_double_equal(d, 0, 0);
    assert_double_equal(p, 1, 0);
}

static void ks_matches_reference_for_shifted_samples(void **state)
{
    double d, p;
    ab_stats_ks(xs, 10, zs, 8, &d, &p);
    assert_double_equal(d, 0.75, 1e-12);
    assert_double_equal(p, 0.00575944834886448251, 1e-9);
    ab_stats_ks(xs, 10, xs_shift, 10, &d, &p);
    assert_double_equal(d, 0.5, 1e-12);
    assert_double_equal(p, 0.110840337413228175, 1e-9);
}

static void ks_of_disjoint_large_samples_is_tiny(void **state)
{
    enum { N = 400 };
    double a[N], b[N];
    struct ab_rng r;
    ab_rng_seed(&r, 7);
    for (int i = 0; i < N; i++) {
        a[i] = ab_rng_normal(&r);
        b[i] = ab_rng_normal(&r) + 10;
    }
    double d, p;
    ab_stats_ks(a, N, b, N, &d, &p);
    assert_double_equal(d, 1, 0);
    assert_true(p < 1e-30);
    ab_stats_welch(a, N, b, N, &d, &d, &p);
    assert_true(p < 1e-30);
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
    double lo, hi, est;
    ab_stats_bootstrap_ci(x, 100, y, 100, AB_STATS_MEDIAN_RATIO, 1000, 2000, 0.05, 3, &est, &lo, &hi);
    assert_true(lo < 1.2 && 1.2 < hi);
    assert_true(hi - lo < 0.1);
    assert_true(lo <= est && est <= hi);
    /* too few resamples: no interval */
    ab_stats_bootstrap_ci(x, 100, y, 100, AB_STATS_MEDIAN_RATIO, 5, 0, 0.05, 3, NULL, &lo, &hi);
    assert_true(isnan(lo) && isnan(hi));
}

static void median_difference_ci_covers_a_shift(void **state)
{
    double diff, lo, hi;
    /* 2000 resamples: with 200 the lower end of ten samples' interval sits on 0 for some seeds */
    ab_stats_bootstrap_ci(xs_shift, 10, xs, 10, AB_STATS_MEDIAN_DIFF, 2000, 0, 1 - 0.95, 1, &diff, &lo, &hi);
    assert_double_equal(diff, 0.35, 1e-12);
    assert_true(lo <= diff && diff <= hi && lo > 0);
}

/* Log-normal around 100 with a shift, optionally whole numbers (cycle counts: many ties). */
static void fixed_sample(double *x, int n, uint64_t seed, double shift, double sigma, bool discrete)
{
    struct ab_rng g;
    ab_rng_seed(&g, seed);
    for (int i = 0; i < n; i++) {
        x[i] = 100 * exp(sigma * ab_rng_normal(&g)) + shift;
        if (discrete)
            x[i] = floor(x[i]);
    }
}

/* The bootstrap as it was written first: every resample sorted. The fast one (counting,
 * selection, an inlined generator) must give the same interval to the last bit for a seed. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double ref_median(double *x, int64_t n)
{
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : (x[(n - 1) / 2] + x[n / 2]) / 2.0;
}

static double ref_quantile(const double *s, int64_t n, double q)
{
    double index = q * (double)(n - 1);
    int64_t lhs = (int64_t)index;
    double delta = index - (double)lhs;
    return lhs == n - 1 ? s[lhs] : (1 - delta) * s[lhs] + delta * s[lhs + 1];
}

static void bootstrap_ref(const double *x, int64_t nx, const double *y, int64_t ny, bool diff, int resamples,
                          int64_t max_draws, double alpha, uint64_t seed, double *lo, double *hi)
{
    int64_t bx = max_draws > 0 && nx > max_draws ? max_draws : nx;
    int64_t by = max_draws > 0 && ny > max_draws ? max_draws : ny;
    double *rx = malloc((size_t)bx * sizeof *rx), *ry = malloc((size_t)by * sizeof *ry);
    double *stat = malloc((size_t)resamples * sizeof *stat);
    assert_non_null(rx);
    assert_non_null(ry);
    assert_non_null(stat);
    struct ab_rng g;
    ab_rng_seed(&g, seed);
    for (int b = 0; b < resamples; b++) {
        for (int64_t i = 0; i < bx; i++)
            rx[i] = x[(int64_t)(ab_rng_uniform(&g) * (double)nx)];
        for (int64_t i = 0; i < by; i++)
            ry[i] = y[(int64_t)(ab_rng_uniform(&g) * (double)ny)];
        double mx = ref_median(rx, bx), my = ref_median(ry, by);
        stat[b] = diff ? mx - my : my / mx;
    }
    qsort(stat, (size_t)resamples, sizeof *stat, cmp_double);
    *lo = ref_quantile(stat, resamples, alpha / 2);
    *hi = ref_quantile(stat, resamples, 1 - alpha / 2);
    free(rx);
    free(ry);
    free(stat);
}

static void bootstrap_matches_the_sorting_reference_bit_for_bit(void **state)
{
    /* sizes: compare's block medians (3..19, both parities), counting with fewer draws than
     * twice the values, selection (more values than twice the draws), and large selections */
    static const struct {
        int nx, ny, draws, resamples;
        bool discrete, diff;
        double alpha;
    } c[] = {
        { 3, 3, 0, 1000, false, false, 0.05 },       { 10, 10, 0, 1000, false, false, 0.05 },
        { 19, 12, 0, 1000, true, false, 0.05 },      { 11, 4, 0, 999, true, true, 0.1 },
        { 300, 250, 2000, 1000, true, false, 0.05 }, { 500, 400, 150, 200, false, false, 0.05 },
        { 5000, 3000, 2000, 100, true, true, 0.01 }, { 40, 60, 25, 1000, false, false, 0.5 },
    };
    static double x[5000], y[5000];
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        fixed_sample(x, c[k].nx, 10 + k, 0, 0.05, c[k].discrete);
        fixed_sample(y, c[k].ny, 20 + k, 1, 0.05, c[k].discrete);
        double lo, hi, rlo, rhi;
        enum ab_stats_contrast con = c[k].diff ? AB_STATS_MEDIAN_DIFF : AB_STATS_MEDIAN_RATIO;
        ab_stats_bootstrap_ci(x, c[k].nx, y, c[k].ny, con, c[k].resamples, c[k].draws, c[k].alpha, 5 + k,
                              NULL, &lo, &hi);
        bootstrap_ref(x, c[k].nx, y, c[k].ny, c[k].diff, c[k].resamples, c[k].draws, c[k].alpha, 5 + k, &rlo,
                      &rhi);
        if (lo != rlo || hi != rhi)
            fail_msg("case %zu: [%.17g, %.17g], reference [%.17g, %.17g]", k, lo, hi, rlo, rhi);
        assert_true(lo < hi);
    }
    /* all values equal: every resample's median is that value */
    for (int i = 0; i < 10; i++)
        x[i] = y[i] = 2.5;
    double lo, hi;
    ab_stats_bootstrap_ci(x, 10, y, 10, AB_STATS_MEDIAN_RATIO, 1000, 2000, 0.05, 1, NULL, &lo, &hi);
    assert_double_equal(lo, 1, 0);
    assert_double_equal(hi, 1, 0);
}

static void bootstrap_interval_covers_the_true_ratio_at_its_level(void **state)
{
    /* Coverage on compare's usual shape (ten samples per side, log-normal, true ratio 1.1): a
     * percentile interval of medians of ten is known to undercover a little; 400 trials of a
     * nominal 95% interval must cover between 85% and 99.5% of the time. */
    struct ab_rng g;
    ab_rng_seed(&g, 123);
    int covered = 0, trials = 400;
    for (int t = 0; t < trials; t++) {
        double x[10], y[10], lo, hi;
        for (int i = 0; i < 10; i++) {
            x[i] = exp(0.02 * ab_rng_normal(&g));
            y[i] = 1.1 * exp(0.02 * ab_rng_normal(&g));
        }
        ab_stats_bootstrap_ci(x, 10, y, 10, AB_STATS_MEDIAN_RATIO, 1000, 2000, 0.05, (uint64_t)t, NULL, &lo,
                              &hi);
        covered += lo <= 1.1 && 1.1 <= hi;
    }
    if (covered < 0.85 * trials || covered > 0.995 * trials)
        fail_msg("covered %d of %d", covered, trials);
}

static void fixed_inputs_give_the_figures_compare_and_amx_timing_gave(void **state)
{
    /* Printed (%.17g) by bench/compare.c and workloads/amx_timing/stats.c before these tests
     * moved here. The tolerance allows only rounding of GSL's moments against the old loops. */
    double a[300], b[300], t, df, p, d, lo, hi;
    fixed_sample(a, 12, 3, 0, 0.1, false);
    fixed_sample(b, 15, 4, 5, 0.1, false);
    assert_double_equal(ab_stats_mann_whitney_p(a, 12, b, 15), 0.10280029866784478, 1e-15);
    fixed_sample(a, 300, 1, 0, 0.05, true);
    fixed_sample(b, 300, 2, 2, 0.05, true);
    assert_double_equal(ab_stats_mann_whitney_p(a, 300, b, 300), 8.5495007200603317e-06, 1e-18);
    ab_stats_welch(a, 300, b, 250, &t, &df, &p);
    assert_double_equal(t, -4.6594661063452651, 1e-12);
    assert_double_equal(df, 536.35791112483639, 1e-9);
    assert_double_equal(p, 4.0039237136354219e-06, 1e-17);
    ab_stats_ks(a, 300, b, 250, &d, &p);
    assert_double_equal(d, 0.16133333333333336, 1e-15);
    assert_double_equal(p, 0.0014106024906764048, 1e-15);
    ab_stats_bootstrap_ci(a, 300, b, 250, AB_STATS_MEDIAN_RATIO, 1000, 2000, 0.05, 77, NULL, &lo, &hi);
    assert_double_equal(lo, 1.01, 1e-15);
    assert_double_equal(hi, 1.0303030303030303, 1e-15);
    double ph[] = { 0.2, 0.001, 0.04, NAN, 0.04, 0.5, 0.012 };
    const double want[] = { 0.4, 0.006, 0.16, NAN, 0.16, 0.5, 0.06 };
    ab_stats_holm(ph, 7);
    for (int i = 0; i < 7; i++)
        if (i == 3)
            assert_true(isnan(ph[i]));
        else
            assert_double_equal(ph[i], want[i], 1e-15);
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
        cmocka_unit_test(median_of_sorted_data_averages_the_middle_pair),
        cmocka_unit_test(mann_whitney_matches_exact_tables),
        cmocka_unit_test(mann_whitney_exact_distribution_matches_the_table_for_4_and_4),
        cmocka_unit_test(mann_whitney_with_ties_uses_the_corrected_normal_approximation),
        cmocka_unit_test(holm_adjusts_and_keeps_order),
        cmocka_unit_test(welch_identical_samples_give_p_one),
        cmocka_unit_test(welch_matches_reference_for_shifted_and_unequal_variances),
        cmocka_unit_test(welch_of_constant_samples_is_decided),
        cmocka_unit_test(kolmogorov_series_matches_reference),
        cmocka_unit_test(ks_identical_samples_give_p_one),
        cmocka_unit_test(ks_matches_reference_for_shifted_samples),
        cmocka_unit_test(ks_of_disjoint_large_samples_is_tiny),
        cmocka_unit_test(bootstrap_interval_covers_the_true_ratio),
        cmocka_unit_test(bootstrap_matches_the_sorting_reference_bit_for_bit),
        cmocka_unit_test(bootstrap_interval_covers_the_true_ratio_at_its_level),
        cmocka_unit_test(median_difference_ci_covers_a_shift),
        cmocka_unit_test(fixed_inputs_give_the_figures_compare_and_amx_timing_gave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
