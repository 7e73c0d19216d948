/* stats_tests.c — two-sample tests and intervals: Mann-Whitney U (exact and normal), Welch's t,
 * two-sample Kolmogorov-Smirnov, Holm's correction, and a percentile bootstrap of medians.
 * The one place these live: compare's verdicts and amx_timing's leak tests both call them.
 * Distributions, sorts and moments come from GSL; what GSL lacks (the exact U distribution,
 * the Kolmogorov series, Holm) is written here once. */
#include "accelbench.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double *ab_stats_sorted_copy(const double *x, int64_t n)
{
    double *s = malloc((size_t)(n > 0 ? n : 1) * sizeof *s);
    if (s && n > 0) {
        memcpy(s, x, (size_t)n * sizeof *s);
        gsl_sort(s, 1, (size_t)n);
    }
    return s;
}

double ab_stats_median_sorted(const double *sorted, int64_t n)
{
    return n > 0 ? gsl_stats_median_from_sorted_data(sorted, 1, (size_t)n) : NAN;
}

/* ------------------------------------------------------------------ Mann-Whitney U */

double ab_stats_mann_whitney_exact_p(int m, int n, double u)
{
    /* Counts of arrangements of i x's and j y's with U = k, by the recursion
     * c(i, j, k) = c(i-1, j, k-j) + c(i, j-1, k): the last element is an x (it beats all j y's)
     * or a y. Two rows over i, each (n+1) x (mn+1). */
    int umax = m * n;
    double *prev = calloc((size_t)(n + 1) * (umax + 1), sizeof *prev);
    double *cur = calloc((size_t)(n + 1) * (umax + 1), sizeof *cur);
    if (!prev || !cur) {
        free(prev);
        free(cur);
        return NAN;
    }
#define AT(a, j, k) a[(size_t)(j) * (umax + 1) + (k)]
    for (int j = 0; j <= n; j++)
        AT(prev, j, 0) = 1; /* i = 0 */
    for (int i = 1; i <= m; i++) {
        memset(cur, 0, (size_t)(n + 1) * (umax + 1) * sizeof *cur);
        AT(cur, 0, 0) = 1;
        for (int j = 1; j <= n; j++)
            for (int k = 0; k <= i * j; k++) {
                double v = AT(cur, j - 1, k);
                if (k >= j)
                    v += AT(prev, j, k - j);
                AT(cur, j, k) = v;
            }
        double *t = prev;
        prev = cur;
        cur = t;
    }
    double total = 0, tail = 0;
    double mean = m * (double)n / 2;
    double d = fabs(u - mean);
    for (int k = 0; k <= umax; k++) {
        double c = AT(prev, n, k);
        total += c;
        if (fabs(k - mean) >= d - 1e-9)
            tail += c;
    }
#undef AT
    free(prev);
    free(cur);
    return fmin(1.0, tail / total);
}

double ab_stats_mann_whitney_p(const double *x, int64_t nx, const double *y, int64_t ny)
{
    if (nx < 1 || ny < 1)
        return NAN;
    int64_t n = nx + ny;
    double *all = malloc((size_t)n * sizeof *all);
    size_t *order = malloc((size_t)n * sizeof *order);
    if (!all || !order) {
        free(all);
        free(order);
        return NAN;
    }
    memcpy(all, x, (size_t)nx * sizeof *all);
    memcpy(all + nx, y, (size_t)ny * sizeof *all);
    gsl_sort_index(order, all, 1, (size_t)n); /* indices below nx are x's */
    double rank_x = 0, ties = 0;
    bool any_tie = false;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j + 1 < n && all[order[j + 1]] == all[order[i]])
            j++;
        double avg = (double)(i + j + 2) / 2.0; /* 1-based ranks i+1..j+1 */
        int64_t t = j - i + 1;
        if (t > 1) {
            any_tie = true;
            ties += (double)t * t * t - (double)t;
        }
        for (int64_t k = i; k <= j; k++)
            if ((int64_t)order[k] < nx)
                rank_x += avg;
        i = j + 1;
    }
    free(all);
    free(order);
    double u = rank_x - (double)nx * (nx + 1) / 2.0;
    if (!any_tie && nx * ny <= 400)
        return ab_stats_mann_whitney_exact_p((int)nx, (int)ny, u);
    double mu = (double)nx * ny / 2.0;
    double var = (double)nx * ny / 12.0 * ((double)(n + 1) - ties / ((double)n * (n - 1)));
    if (var <= 0)
        return 1.0;                              /* all values equal */
    double z = (fabs(u - mu) - 0.5) / sqrt(var); /* continuity correction */
    if (z < 0)
        z = 0;
    return fmin(1.0, 2.0 * gsl_cdf_ugaussian_Q(z));
}

/* ------------------------------------------------------------------ Holm */

void ab_stats_holm(double *p, int n)
{
    double *v = calloc((size_t)(n > 0 ? n : 1), sizeof *v);
    int *at = malloc((size_t)(n > 0 ? n : 1) * sizeof *at);
    size_t *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    if (!v || !at || !order) {
        free(v);
        free(at);
        free(order);
        return;
    }
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(p[i])) {
            v[m] = p[i];
            at[m++] = i;
        }
    /* The order of tied p-values does not matter: the running maximum gives them one value. */
    gsl_sort_index(order, v, 1, (size_t)m);
    double running = 0;
    for (int r = 0; r < m; r++) {
        double adj = fmin(1.0, (double)(m - r) * v[order[r]]);
        running = fmax(running, adj); /* adjusted p-values never decrease with rank */
        p[at[order[r]]] = running;
    }
    free(v);
    free(at);
    free(order);
}

/* ------------------------------------------------------------------ Welch */

void ab_stats_welch(const double *x, int64_t nx, const double *y, int64_t ny, double *t, double *df,
                    double *p)
{
    *t = 0;
    *df = 0;
    *p = NAN;
    if (nx < 2 || ny < 2)
        return;
    double mx = gsl_stats_mean(x, 1, (size_t)nx), my = gsl_stats_mean(y, 1, (size_t)ny);
    double vx = gsl_stats_variance_m(x, 1, (size_t)nx, mx), vy = gsl_stats_variance_m(y, 1, (size_t)ny, my);
    double ax = vx / (double)nx, ay = vy / (double)ny, se2 = ax + ay;
    if (se2 <= 0) { /* both constant: equal or certainly different */
        *p = mx == my ? 1.0 : 0.0;
        *t = mx == my ? 0 : (mx > my ? INFINITY : -INFINITY);
        return;
    }
    *t = (mx - my) / sqrt(se2);
    /* Welch-Satterthwaite degrees of freedom */
    *df = se2 * se2 / (ax * ax / (double)(nx - 1) + ay * ay / (double)(ny - 1));
    *p = fmin(1.0, 2 * gsl_cdf_tdist_Q(fabs(*t), *df));
}

/* ------------------------------------------------------------------ Kolmogorov-Smirnov */

double ab_stats_kolmogorov_q(double lambda)
{
    if (lambda < 0.2)
        return 1.0; /* the series converges slowly there and the tail is 1 to 1e-6 */
    double sum = 0, sign = 1;
    for (int j = 1; j <= 100; j++) {
        double term = sign * exp(-2.0 * j * j * lambda * lambda);
        sum += term;
        if (fabs(term) < 1e-16 * fabs(sum))
            break;
        sign = -sign;
    }
    double q = 2 * sum;
    return q < 0 ? 0 : q > 1 ? 1 : q;
}

/* Largest gap between the empirical CDFs of two sorted samples. */
static double ks_d_sorted(const double *a, int64_t na, const double *b, int64_t nb)
{
    int64_t i = 0, j = 0;
    double d = 0;
    while (i < na && j < nb) {
        double v = a[i] < b[j] ? a[i] : b[j];
        while (i < na && a[i] <= v)
            i++;
        while (j < nb && b[j] <= v)
            j++;
        double g = fabs((double)i / (double)na - (double)j / (double)nb);
        if (g > d)
            d = g;
    }
    return d;
}

void ab_stats_ks(const double *x, int64_t nx, const double *y, int64_t ny, double *d, double *p)
{
    *d = 0;
    *p = NAN;
    if (nx < 1 || ny < 1)
        return;
    double *a = ab_stats_sorted_copy(x, nx), *b = ab_stats_sorted_copy(y, ny);
    if (a && b) {
        *d = ks_d_sorted(a, nx, b, ny);
        /* Stephens' small-sample correction of the asymptotic distribution */
        double ne = (double)nx * (double)ny / (double)(nx + ny), sq = sqrt(ne);
        *p = ab_stats_kolmogorov_q((sq + 0.12 + 0.11 / sq) * *d);
    }
    free(a);
    free(b);
}

/* ------------------------------------------------------------------ bootstrap */

static double median_in_place(double *x, int64_t n)
{
    gsl_sort(x, 1, (size_t)n);
    return gsl_stats_median_from_sorted_data(x, 1, (size_t)n);
}

static double contrast(enum ab_stats_contrast c, double mx, double my)
{
    if (c == AB_STATS_MEDIAN_DIFF)
        return mx - my;
    return mx > 0 ? my / mx : NAN;
}

void ab_stats_bootstrap_ci(const double *x, int64_t nx, const double *y, int64_t ny, enum ab_stats_contrast c,
                           int resamples, int64_t max_draws, double alpha, uint64_t seed, double *est,
                           double *lo, double *hi)
{
    *lo = *hi = NAN;
    if (est)
        *est = NAN;
    if (nx < 1 || ny < 1)
        return;
    int64_t bx = max_draws > 0 && nx > max_draws ? max_draws : nx;
    int64_t by = max_draws > 0 && ny > max_draws ? max_draws : ny;
    double *rx = malloc((size_t)(nx > bx ? nx : bx) * sizeof *rx);
    double *ry = malloc((size_t)(ny > by ? ny : by) * sizeof *ry);
    double *stat = malloc((size_t)(resamples > 0 ? resamples : 1) * sizeof *stat);
    if (rx && ry && stat) {
        if (est) {
            memcpy(rx, x, (size_t)nx * sizeof *rx);
            memcpy(ry, y, (size_t)ny * sizeof *ry);
            *est = contrast(c, median_in_place(rx, nx), median_in_place(ry, ny));
        }
        if (resamples >= 10) {
            struct ab_rng g;
            ab_rng_seed(&g, seed);
            for (int b = 0; b < resamples; b++) {
                for (int64_t i = 0; i < bx; i++)
                    rx[i] = x[(int64_t)(ab_rng_uniform(&g) * nx)];
                for (int64_t i = 0; i < by; i++)
                    ry[i] = y[(int64_t)(ab_rng_uniform(&g) * ny)];
                double mx = median_in_place(rx, bx);
                stat[b] = contrast(c, mx, median_in_place(ry, by));
            }
            gsl_sort(stat, 1, (size_t)resamples);
            *lo = ab_stats_quantile_sorted(stat, resamples, alpha / 2);
            *hi = ab_stats_quantile_sorted(stat, resamples, 1 - alpha / 2);
        }
    }
    free(rx);
    free(ry);
    free(stat);
}
