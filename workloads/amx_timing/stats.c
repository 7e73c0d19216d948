/* stats.c — how fast a timing difference could leak: the bits per sample a threshold receiver
 * learns telling a sparsity level from dense. The significance tests themselves (Welch, KS,
 * the bootstrap of the median difference) are the harness's ab_stats_*. */
#include "amx_timing.h"

#include <math.h>
#include <stdlib.h>

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
