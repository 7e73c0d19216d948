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

/* Medians and percentiles here come from counting and selection, not sorting: each resample
 * needs one or two order statistics, and sorting every resample was nearly all of compare's
 * time. The values are exactly those of the sorted formulas (GSL's median and quantile from
 * sorted data) on the same draws, so results for a seed do not change. Inputs with NaN take the
 * sorting path, whose order they define. */

/* Leaves the k-th smallest (0-based) of a[0..n) at a[k], smaller-or-equal values before it and
 * larger-or-equal after. Insertion sort for the small arrays compare's block medians give,
 * Hoare partitioning around a median of three otherwise. */
static void select_kth(double *a, int64_t n, int64_t k)
{
    int64_t l = 0, r = n - 1;
    while (r - l > 24) {
        int64_t m = l + (r - l) / 2;
        double t;
#define SWAP(i, j) (t = a[i], a[i] = a[j], a[j] = t)
        if (a[m] < a[l])
            SWAP(m, l);
        if (a[r] < a[l])
            SWAP(r, l);
        if (a[r] < a[m])
            SWAP(r, m);
        double pivot = a[m];
        int64_t i = l, j = r;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (pivot < a[j])
                j--;
            if (i <= j) {
                SWAP(i, j);
                i++;
                j--;
            }
        }
#undef SWAP
        /* a[l..j] <= pivot <= a[i..r], and a(j..i) == pivot */
        if (k <= j)
            r = j;
        else if (k >= i)
            l = i;
        else
            return;
    }
    for (int64_t i = l + 1; i <= r; i++) {
        double v = a[i];
        int64_t j = i;
        for (; j > l && v < a[j - 1]; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

static double min_of(const double *a, int64_t n)
{
    double m = a[0];
    for (int64_t i = 1; i < n; i++)
        m = a[i] < m ? a[i] : m;
    return m;
}

static double max_of(const double *a, int64_t n)
{
    double m = a[0];
    for (int64_t i = 1; i < n; i++)
        m = a[i] > m ? a[i] : m;
    return m;
}

/* gsl_stats_median_from_sorted_data's value, a reordered. */
static double median_select(double *a, int64_t n)
{
    int64_t hi = n / 2;
    select_kth(a, n, hi);
    if (n % 2)
        return a[hi];
    return (max_of(a, hi) + a[hi]) / 2.0;
}

/* ab_stats_quantile_sorted's value (GSL's interpolation between order statistics), a reordered;
 * a[from..n) must hold the largest n - from values, as a previous call leaves them. */
static double quantile_select(double *a, int64_t n, int64_t from, double q)
{
    if (q <= 0)
        return min_of(a, n);
    if (q >= 1)
        return max_of(a, n);
    double index = q * (double)(n - 1);
    int64_t lhs = (int64_t)index;
    double delta = index - (double)lhs;
    if (lhs < from)
        from = 0;
    select_kth(a + from, n - from, lhs - from);
    if (lhs == n - 1)
        return a[lhs];
    return (1 - delta) * a[lhs] + delta * min_of(a + lhs + 1, n - lhs - 1);
}

static bool any_nan(const double *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (isnan(x[i]))
            return true;
    return false;
}

static double median_in_place(double *x, int64_t n, bool sort)
{
    if (!sort)
        return median_select(x, n);
    gsl_sort(x, 1, (size_t)n);
    return gsl_stats_median_from_sorted_data(x, 1, (size_t)n);
}

/* ab_rng_uniform's stream (xoshiro256**), inlined: the draws are most of a resample's work. */
static inline double rng_uniform(struct ab_rng *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5, out = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return (double)(out >> 11) * 0x1.0p-53;
}

static double contrast(enum ab_stats_contrast c, double mx, double my)
{
    if (c == AB_STATS_MEDIAN_DIFF)
        return mx - my;
    return mx > 0 ? my / mx : NAN;
}

/* One side of the bootstrap. Where the draws are not much fewer than the values, a resample's
 * median is found by counting draws per value and walking the counts in sorted order (the k-th
 * smallest drawn value is sorted[r] for the first rank r whose running count passes k): O(n)
 * with no comparisons of values. Else the drawn values are selected from. */
struct boot_side {
    const double *x;
    int64_t n, draws;
    double *buf;    /* draws values (selection), or n sorted values (counting) */
    size_t *perm;   /* counting: buf[r] == x[perm[r]] */
    int32_t *count; /* counting: draws per value of x */
};

static bool boot_side_open(struct boot_side *s, const double *x, int64_t n, int64_t draws, bool sort)
{
    *s = (struct boot_side){ .x = x, .n = n, .draws = draws };
    bool counting = !sort && n <= 2 * draws;
    s->buf = malloc((size_t)(n > draws ? n : draws) * sizeof *s->buf);
    if (!counting)
        return s->buf != NULL;
    s->perm = malloc((size_t)n * sizeof *s->perm);
    s->count = malloc((size_t)n * sizeof *s->count);
    if (!s->buf || !s->perm || !s->count || draws > INT32_MAX)
        return false;
    gsl_sort_index(s->perm, x, 1, (size_t)n);
    for (int64_t r = 0; r < n; r++)
        s->buf[r] = x[s->perm[r]];
    return true;
}

static void boot_side_close(struct boot_side *s)
{
    free(s->buf);
    free(s->perm);
    free(s->count);
}

static double resample_median(struct boot_side *s, struct ab_rng *g, bool sort)
{
    const int64_t n = s->n, m = s->draws;
    if (!s->count) {
        for (int64_t i = 0; i < m; i++)
            s->buf[i] = s->x[(int64_t)(rng_uniform(g) * (double)n)];
        return median_in_place(s->buf, m, sort);
    }
    memset(s->count, 0, (size_t)n * sizeof *s->count);
    for (int64_t i = 0; i < m; i++)
        s->count[(int64_t)(rng_uniform(g) * (double)n)]++;
    /* order statistics (m - 1) / 2 and m / 2, as gsl_stats_median_from_sorted_data takes them */
    int64_t klo = (m - 1) / 2, khi = m / 2, cum = 0, rlo = -1, r = 0;
    for (;; r++) {
        cum += s->count[s->perm[r]];
        if (rlo < 0 && cum > klo)
            rlo = r;
        if (cum > khi)
            break;
    }
    return rlo == r ? s->buf[r] : (s->buf[rlo] + s->buf[r]) / 2.0;
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
    bool sort = any_nan(x, nx) || any_nan(y, ny);
    struct boot_side sx, sy;
    bool ok = boot_side_open(&sx, x, nx, bx, sort);
    ok = boot_side_open(&sy, y, ny, by, sort) && ok;
    double *stat = malloc((size_t)(resamples > 0 ? resamples : 1) * sizeof *stat);
    if (ok && stat) {
        if (est) {
            double *rx = malloc((size_t)nx * sizeof *rx), *ry = malloc((size_t)ny * sizeof *ry);
            if (rx && ry) {
                memcpy(rx, x, (size_t)nx * sizeof *rx);
                memcpy(ry, y, (size_t)ny * sizeof *ry);
                *est = contrast(c, median_in_place(rx, nx, sort), median_in_place(ry, ny, sort));
            }
            free(rx);
            free(ry);
        }
        if (resamples >= 10) {
            struct ab_rng g;
            ab_rng_seed(&g, seed);
            bool stat_nan = false;
            for (int b = 0; b < resamples; b++) {
                double mx = resample_median(&sx, &g, sort); /* x's draws first, then y's */
                stat[b] = contrast(c, mx, resample_median(&sy, &g, sort));
                stat_nan |= isnan(stat[b]);
            }
            if (sort || stat_nan) {
                gsl_sort(stat, 1, (size_t)resamples);
                *lo = ab_stats_quantile_sorted(stat, resamples, alpha / 2);
                *hi = ab_stats_quantile_sorted(stat, resamples, 1 - alpha / 2);
            } else {
                double qlo = alpha / 2, qhi = 1 - alpha / 2;
                *lo = quantile_select(stat, resamples, 0, qlo);
                /* the lo call leaves stat[lhs + 1..) holding the largest values */
                int64_t above = qlo > 0 && qlo < 1 ? (int64_t)(qlo * (double)(resamples - 1)) + 1 : 0;
                *hi = quantile_select(stat, resamples, above <= resamples ? above : 0, qhi);
            }
        }
    }
    boot_side_close(&sx);
    boot_side_close(&sy);
    free(stat);
}
