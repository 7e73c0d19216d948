/* stats.c — is the timing at a sparsity level told apart from dense, and how fast could it
 * leak: Welch's t-test (means), the two-sample Kolmogorov–Smirnov test (whole distributions),
 * a bootstrap CI of the difference of medians, and the bits per sample a threshold receiver
 * learns. Cycle counts are discrete with many ties: KS is then conservative. */
#include "amx_timing.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void amx_mean_var(const double *x, int64_t n, double *mean, double *var)
{
    double m = 0, s = 0;
    for (int64_t i = 0; i < n; i++)
        m += x[i];
    m /= (double)n;
    for (int64_t i = 0; i < n; i++)
        s += (x[i] - m) * (x[i] - m);
    *mean = m;
    *var = n > 1 ? s / (double)(n - 1) : 0;
}

void amx_welch(const double *x, int64_t nx, const double *y, int64_t ny, double *t, double *df, double *p)
{
    *t = 0;
    *df = 0;
    *p = NAN;
    if (nx < 2 || ny < 2)
        return;
    double mx, vx, my, vy;
    amx_mean_var(x, nx, &mx, &vx);
    amx_mean_var(y, ny, &my, &vy);
    double ax = vx / (double)nx, ay = vy / (double)ny, se2 = ax + ay;
    if (se2 <= 0) { /* both constant: equal or certainly different */
        *p = mx == my ? 1.0 : 0.0;
        *t = mx == my ? 0 : (mx > my ? INFINITY : -INFINITY);
        return;
    }
    *t = (mx - my) / sqrt(se2);
    *df = se2 * se2 / (ax * ax / (double)(nx - 1) + ay * ay / (double)(ny - 1));
    *p = fmin(1.0, 2 * gsl_cdf_tdist_Q(fabs(*t), *df));
}

static int amx_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double *amx_sorted_copy(const double *x, int64_t n)
{
    double *s = malloc((size_t)(n > 0 ? n : 1) * sizeof *s);
    if (s) {
        memcpy(s, x, (size_t)n * sizeof *s);
        qsort(s, (size_t)n, sizeof *s, amx_cmp_double);
    }
    return s;
}

double amx_kolmogorov_q(double lambda)
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
static double amx_ks_d_sorted(const double *a, int64_t na, const double *b, int64_t nb)
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

void amx_ks(const double *x, int64_t nx, const double *y, int64_t ny, double *d, double *p)
{
    *d = 0;
    *p = NAN;
    if (nx < 1 || ny < 1)
        return;
    double *a = amx_sorted_copy(x, nx), *b = amx_sorted_copy(y, ny);
    if (a && b) {
        *d = amx_ks_d_sorted(a, nx, b, ny);
        double ne = (double)nx * (double)ny / (double)(nx + ny), sq = sqrt(ne);
        *p = amx_kolmogorov_q((sq + 0.12 + 0.11 / sq) * *d);
    }
    free(a);
    free(b);
}

static double amx_h2(double p)
{
    if (p <= 0 || p >= 1)
        return 0;
    return -p * log2(p) - (1 - p) * log2(1 - p);
}

double amx_channel_bits(const double *x, int64_t nx, const double *y, int64_t ny)
{
    if (nx < 1 || ny < 1)
        return 0;
    double *a = amx_sorted_copy(x, nx), *b = amx_sorted_copy(y, ny);
    double best = 0.5;
    if (a && b) {
        /* For each threshold between distinct values, the error of saying "x" below it (and of
         * the opposite rule): P(x > t)/2 + P(y <= t)/2. */
        int64_t i = 0, j = 0;
        while (i < nx || j < ny) {
            double v = (j >= ny || (i < nx && a[i] <= b[j])) ? a[i] : b[j];
            while (i < nx && a[i] <= v)
                i++;
            while (j < ny && b[j] <= v)
                j++;
            double e = 0.5 * (1 - (double)i / (double)nx) + 0.5 * (double)j / (double)ny;
            double m = e < 1 - e ? e : 1 - e;
            if (m < best)
                best = m;
        }
    }
    free(a);
    free(b);
    return 1 - amx_h2(best);
}

static double amx_median_sorted(const double *s, int64_t n)
{
    return ab_stats_quantile_sorted(s, n, 0.5);
}

void amx_median_diff_ci(const double *x, int64_t nx, const double *y, int64_t ny, double conf, int boots,
                        uint64_t seed, double *diff, double *lo, double *hi)
{
    *diff = *lo = *hi = NAN;
    if (nx < 1 || ny < 1)
        return;
    double *a = amx_sorted_copy(x, nx), *b = amx_sorted_copy(y, ny);
    double *ra = malloc((size_t)nx * sizeof *ra), *rb = malloc((size_t)ny * sizeof *rb);
    double *d = malloc((size_t)(boots > 0 ? boots : 1) * sizeof *d);
    if (a && b && ra && rb && d) {
        *diff = amx_median_sorted(a, nx) - amx_median_sorted(b, ny);
        struct ab_rng rng;
        ab_rng_seed(&rng, seed);
        for (int k = 0; k < boots; k++) {
            for (int64_t i = 0; i < nx; i++)
                ra[i] = a[ab_rng_next(&rng) % (uint64_t)nx];
            for (int64_t i = 0; i < ny; i++)
                rb[i] = b[ab_rng_next(&rng) % (uint64_t)ny];
            qsort(ra, (size_t)nx, sizeof *ra, amx_cmp_double);
            qsort(rb, (size_t)ny, sizeof *rb, amx_cmp_double);
            d[k] = amx_median_sorted(ra, nx) - amx_median_sorted(rb, ny);
        }
        if (boots > 0) {
            qsort(d, (size_t)boots, sizeof *d, amx_cmp_double);
            *lo = ab_stats_quantile_sorted(d, boots, (1 - conf) / 2);
            *hi = ab_stats_quantile_sorted(d, boots, 1 - (1 - conf) / 2);
        }
    }
    free(a);
    free(b);
    free(ra);
    free(rb);
    free(d);
}
