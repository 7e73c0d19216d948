/* stats.c — the statistics of the paired experiment: the bits per sample a threshold receiver
 * learns telling a level from its reference, the sign-flip randomization test on the pair
 * differences, moving-block bootstrap intervals (pairs are autocorrelated in time), and the
 * per-run Holm verdicts. KS and the median bootstrap are the harness's ab_stats_*. */
#include "amx_timing.h"

#include <gsl/gsl_sort.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    double *a = ab_stats_sorted_copy(x, nx), *b = ab_stats_sorted_copy(y, ny);
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

/* ---------------------------------------------------------------- the paired experiment */

double amx_lag1(const double *x, int64_t n)
{
    if (n < 3)
        return NAN;
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m += x[i];
    m /= (double)n;
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        den += (x[i] - m) * (x[i] - m);
        if (i + 1 < n)
            num += (x[i] - m) * (x[i + 1] - m);
    }
    return den > 0 ? num / den : NAN;
}

int64_t amx_block_length(int64_t n)
{
    int64_t b = (int64_t)ceil(cbrt((double)(n > 0 ? n : 1)));
    return b < 1 ? 1 : b > n ? (n > 0 ? n : 1) : b;
}

double amx_signflip_p(const double *d, int64_t n, int perms, uint64_t seed)
{
    if (n < 1 || perms < 1)
        return NAN;
    double total = 0, scale = 0;
    for (int64_t i = 0; i < n; i++) {
        total += d[i];
        scale += fabs(d[i]);
    }
    if (scale == 0)
        return 1; /* every difference is zero: no evidence at all */
    /* Flipping the set F of signs gives total - 2 sum_F d; ties (common: cycle counts are
     * discrete) count as at least as extreme, with a rounding allowance. */
    double obs = fabs(total) - 1e-9 * scale;
    struct ab_rng rng;
    ab_rng_seed(&rng, seed ^ 0x7369676e666c6970ull);
    int64_t extreme = 0;
    for (int k = 0; k < perms; k++) {
        double flipped = 0;
        for (int64_t i = 0; i < n; i += 64) {
            uint64_t bits = ab_rng_next(&rng);
            int64_t end = i + 64 < n ? i + 64 : n;
            for (int64_t j = i; j < end; j++, bits >>= 1)
                flipped += d[j] * (double)(bits & 1);
        }
        if (fabs(total - 2 * flipped) >= obs)
            extreme++;
    }
    return (double)(extreme + 1) / (double)(perms + 1);
}

/* Percentile of a sorted array, by linear interpolation. */
static double amx_pct(double *x, int n, double q)
{
    gsl_sort(x, 1, (size_t)n);
    return ab_stats_quantile_sorted(x, n, q);
}

/* Start of each block of a moving-block resample: uniform over the n - b + 1 windows. */
static int64_t amx_block_start(struct ab_rng *rng, int64_t n, int64_t b)
{
    return (int64_t)(ab_rng_next(rng) % (uint64_t)(n - b + 1));
}

void amx_block_mean_ci(const double *d, int64_t n, int64_t block, int boots, double conf, uint64_t seed,
                       double *lo, double *hi)
{
    *lo = *hi = NAN;
    if (n < 2 || boots < 10)
        return;
    int64_t b = block < 1 ? 1 : block > n ? n : block;
    double *cum = malloc((size_t)(n + 1) * sizeof *cum), *means = malloc((size_t)boots * sizeof *means);
    if (!cum || !means) {
        free(cum);
        free(means);
        return;
    }
    cum[0] = 0;
    for (int64_t i = 0; i < n; i++)
        cum[i + 1] = cum[i] + d[i];
    struct ab_rng rng;
    ab_rng_seed(&rng, seed ^ 0x626c6f636b6d6eull);
    for (int k = 0; k < boots; k++) {
        double sum = 0;
        int64_t taken = 0;
        while (taken < n) {
            int64_t s = amx_block_start(&rng, n, b), len = n - taken < b ? n - taken : b;
            sum += cum[s + len] - cum[s];
            taken += len;
        }
        means[k] = sum / (double)n;
    }
    *lo = amx_pct(means, boots, (1 - conf) / 2);
    *hi = ab_stats_quantile_sorted(means, boots, 1 - (1 - conf) / 2);
    free(cum);
    free(means);
}

static int amx_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* 1 - H2 of the best threshold error from the two histograms over the same K sorted values:
 * the computation of amx_channel_bits on counts. */
static double amx_bits_from_counts(const int64_t *hx, const int64_t *hy, int64_t k, int64_t nx, int64_t ny)
{
    double best = 0.5;
    int64_t cx = 0, cy = 0;
    for (int64_t i = 0; i < k; i++) {
        cx += hx[i];
        cy += hy[i];
        double e = 0.5 * (1 - (double)cx / (double)nx) + 0.5 * (double)cy / (double)ny;
        double m = e < 1 - e ? e : 1 - e;
        if (m < best)
            best = m;
    }
    return 1 - amx_h2(best);
}

void amx_channel_bits_ci(const double *x, const double *y, int64_t n, int64_t block, int boots, double conf,
                         uint64_t seed, double *lo, double *hi)
{
    *lo = *hi = NAN;
    if (n < 2 || boots < 10)
        return;
    int64_t b = block < 1 ? 1 : block > n ? n : block;
    double *u = malloc((size_t)(2 * n) * sizeof *u), *bits = malloc((size_t)boots * sizeof *bits);
    int64_t *code = malloc((size_t)(2 * n) * sizeof *code), *hx = calloc((size_t)(2 * n), sizeof *hx),
            *hy = calloc((size_t)(2 * n), sizeof *hy);
    if (!u || !bits || !code || !hx || !hy)
        goto out;
    /* Each sample becomes the index of its value among the distinct values of both sides, so a
     * resample is two histograms and a sweep, not two sorts. */
    memcpy(u, x, (size_t)n * sizeof *u);
    memcpy(u + n, y, (size_t)n * sizeof *u);
    gsl_sort(u, 1, (size_t)(2 * n));
    int64_t k = 0;
    for (int64_t i = 0; i < 2 * n; i++)
        if (k == 0 || u[i] != u[k - 1])
            u[k++] = u[i];
    for (int64_t i = 0; i < 2 * n; i++) {
        double v = i < n ? x[i] : y[i - n];
        code[i] = (const double *)bsearch(&v, u, (size_t)k, sizeof *u, amx_cmp_double) - u;
    }
    struct ab_rng rng;
    ab_rng_seed(&rng, seed ^ 0x6269747363690aull);
    for (int r = 0; r < boots; r++) {
        memset(hx, 0, (size_t)k * sizeof *hx);
        memset(hy, 0, (size_t)k * sizeof *hy);
        int64_t taken = 0;
        while (taken < n) { /* whole pairs, in blocks: both sides of a pair travel together */
            int64_t s = amx_block_start(&rng, n, b), len = n - taken < b ? n - taken : b;
            for (int64_t i = s; i < s + len; i++) {
                hx[code[i]]++;
                hy[code[n + i]]++;
            }
            taken += len;
        }
        bits[r] = amx_bits_from_counts(hx, hy, k, n, n);
    }
    *lo = amx_pct(bits, boots, (1 - conf) / 2);
    *hi = ab_stats_quantile_sorted(bits, boots, 1 - (1 - conf) / 2);
out:
    free(u);
    free(bits);
    free(code);
    free(hx);
    free(hy);
}

void amx_paired(const double *ref_all, const double *level_all, int64_t n_all, double cut_factor, int perms,
                int boots, uint64_t seed, struct amx_paired *out)
{
    memset(out, 0, sizeof *out);
    out->mean_diff = out->ci_lo = out->ci_hi = out->pct = out->pct_lo = out->pct_hi = NAN;
    out->lag1 = out->p = out->bits = out->bits_lo = out->bits_hi = out->cut = NAN;
    size_t sz = (size_t)(n_all > 0 ? n_all : 1) * sizeof(double);
    double *pool = malloc(2 * sz), *ref = malloc(sz), *level = malloc(sz), *d = malloc(sz);
    if (!pool || !ref || !level || !d || n_all < 2)
        goto out;
    /* A burst the OS interrupted (a timer tick, a preemption: thousands of ticks) swamps any
     * data effect; a pair goes when either burst took over cut_factor x the median of all
     * bursts. The rule reads both sides alike, so under "no effect" the coin that ordered the
     * pair still decides its sign: the randomization test stays exact on the pairs kept. */
    memcpy(pool, ref_all, sz);
    memcpy(pool + n_all, level_all, sz);
    gsl_sort(pool, 1, (size_t)(2 * n_all));
    out->cut = cut_factor * ab_stats_quantile_sorted(pool, 2 * n_all, 0.5);
    int64_t n = 0;
    for (int64_t i = 0; i < n_all; i++)
        if (!(ref_all[i] > out->cut || level_all[i] > out->cut)) {
            ref[n] = ref_all[i];
            level[n++] = level_all[i];
        }
    out->n = n;
    out->dropped = n_all - n;
    if (n < 2)
        goto out;
    double sr = 0, sum = 0;
    for (int64_t i = 0; i < n; i++) {
        d[i] = ref[i] - level[i];
        sum += d[i];
        sr += ref[i];
    }
    double ref_mean = sr / (double)n;
    out->block = amx_block_length(n);
    out->mean_diff = sum / (double)n;
    out->lag1 = amx_lag1(d, n);
    out->p = amx_signflip_p(d, n, perms, seed);
    amx_block_mean_ci(d, n, out->block, boots, 0.95, seed, &out->ci_lo, &out->ci_hi);
    out->pct = 100 * out->mean_diff / ref_mean;
    out->pct_lo = 100 * out->ci_lo / ref_mean;
    out->pct_hi = 100 * out->ci_hi / ref_mean;
    out->bits = amx_channel_bits(ref, n, level, n);
    amx_channel_bits_ci(ref, level, n, out->block, boots, 0.95, seed, &out->bits_lo, &out->bits_hi);
out:
    free(pool);
    free(ref);
    free(level);
    free(d);
}

void amx_verdicts(const double *p, const double *pct, int n, double alpha, double min_effect_pct,
                  double *p_holm, bool *claimed)
{
    for (int i = 0; i < n; i++)
        p_holm[i] = p[i];
    ab_stats_holm(p_holm, n);
    for (int i = 0; i < n; i++)
        claimed[i] =
            isfinite(p_holm[i]) && p_holm[i] < alpha && isfinite(pct[i]) && fabs(pct[i]) >= min_effect_pct;
}
