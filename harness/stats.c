/* stats.c — robust statistics of timing samples and the stopping rule.
 * The median's confidence interval is distribution-free: order statistics whose ranks come
 * from the binomial(n, 1/2) distribution (GSL), so skewed timing noise does not fool it. */
#include "accelbench.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double ab_stats_quantile_sorted(const double *sorted, int64_t n, double q)
{
    if (n <= 0)
        return NAN;
    if (q <= 0)
        return sorted[0];
    if (q >= 1)
        return sorted[n - 1];
    return gsl_stats_quantile_from_sorted_data(sorted, 1, (size_t)n, q);
}

bool ab_stats_median_ci_ranks(int64_t n, double conf, int64_t *lo, int64_t *hi)
{
    /* Find the largest j (1-based) with P(B <= j-1) <= alpha/2, B ~ Binom(n, 1/2); the
     * interval [x_(j), x_(n-j+1)] then covers the median with probability >= conf. */
    double half_alpha = (1.0 - conf) / 2.0;
    if (n < 2 || gsl_cdf_binomial_P(0, 0.5, (unsigned)n) > half_alpha)
        return false;
    double approx = (double)n / 2.0 - 1.96 * sqrt((double)n) / 2.0 - 2.0;
    int64_t j = approx < 1.0 ? 1 : (int64_t)approx;
    while (j > 1 && gsl_cdf_binomial_P((unsigned)(j - 1), 0.5, (unsigned)n) > half_alpha)
        j--;
    while (j + 1 <= n / 2 && gsl_cdf_binomial_P((unsigned)j, 0.5, (unsigned)n) <= half_alpha)
        j++;
    *lo = j - 1; /* 0-based */
    *hi = n - j; /* 0-based index of x_(n-j+1) */
    return true;
}

void ab_stats_compute(const double *x, int64_t n, struct ab_stats *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n <= 0)
        return;
    double *s = malloc((size_t)n * sizeof *s);
    if (!s) { /* degrade to what needs no copy */
        out->median = out->mean = out->min = out->max = out->p05 = out->p95 = x[0];
        out->ci_lo = out->ci_hi = x[0];
        return;
    }
    memcpy(s, x, (size_t)n * sizeof *s);
    gsl_sort(s, 1, (size_t)n);
    /* GSL's running mean and variance: stable for many near-equal samples. */
    double mean = gsl_stats_mean(s, 1, (size_t)n);
    out->mean = mean;
    out->stdev = n > 1 ? gsl_stats_sd_m(s, 1, (size_t)n, mean) : 0.0;
    out->min = s[0];
    out->max = s[n - 1];
    out->median = ab_stats_quantile_sorted(s, n, 0.5);
    out->p05 = ab_stats_quantile_sorted(s, n, 0.05);
    out->p95 = ab_stats_quantile_sorted(s, n, 0.95);
    int64_t lo, hi;
    if (ab_stats_median_ci_ranks(n, 0.95, &lo, &hi)) {
        out->ci_lo = s[lo];
        out->ci_hi = s[hi];
    } else { /* too few samples for a 95% interval: the whole range, honestly wide */
        out->ci_lo = s[0];
        out->ci_hi = s[n - 1];
    }
    free(s);
}

void ab_stop_rule_defaults(struct ab_stop_rule *rule)
{
    rule->min_samples = 10;
    rule->max_samples = 100000;
    rule->min_time_s = 0.5;
    rule->max_time_s = 10.0;
    rule->target_rel_ci = 0.02;
}

enum ab_stop ab_stop_check(const struct ab_stop_rule *rule, const struct ab_stats *st, double elapsed_s)
{
    if (st->n >= rule->max_samples)
        return AB_STOP_MAX_SAMPLES;
    bool enough = st->n >= rule->min_samples && elapsed_s >= rule->min_time_s;
    if (enough && st->median > 0) {
        double half = (st->ci_hi - st->ci_lo) / 2.0;
        if (half / st->median <= rule->target_rel_ci)
            return AB_STOP_CONVERGED;
    }
    if (elapsed_s >= rule->max_time_s && st->n >= 1)
        return AB_STOP_MAX_TIME;
    return AB_STOP_CONTINUE;
}

const char *ab_stop_word(enum ab_stop s)
{
    switch (s) {
    case AB_STOP_CONVERGED: return "converged";
    case AB_STOP_MAX_TIME: return "max_time";
    case AB_STOP_MAX_SAMPLES: return "max_samples";
    default: return "";
    }
}
