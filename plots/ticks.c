/* ticks.c — where the ticks of an axis go and what they read.
 * Linear axes step by 1, 2 or 5 x 10^k so that 4 to 8 ticks fit; log axes tick whole powers of
 * their base (every k-th one when the data spans many decades). Sizes on log2 axes read as
 * 256, 1K, 4K, 1M (powers of 1024, as the sweep syntax writes them). */
#include "plots.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void ab_plot_tick_label(double v, double step, enum ab_plot_scale scale, bool binary, char *buf, size_t len)
{
    if (v == 0) {
        snprintf(buf, len, "0");
        return;
    }
    double a = fabs(v);
    if (binary && a >= 1024 && v == floor(v)) {
        static const char suffix[] = "KMGTPE";
        int k = 0;
        double s = a;
        while (s >= 1024 && fmod(s, 1024) == 0 && k < 6) {
            s /= 1024;
            k++;
        }
        if (k > 0) {
            snprintf(buf, len, "%s%.0f%c", v < 0 ? "-" : "", s, suffix[k - 1]);
            return;
        }
    }
    if (scale != AB_SCALE_LINEAR) {
        double e = log10(a);
        if ((a < 1e-2 || a >= 1e5) && fabs(e - round(e)) < 1e-9) {
            snprintf(buf, len, "%s1e%d", v < 0 ? "-" : "", (int)round(e));
            return;
        }
        if (a < 1e-2 || a >= 1e5) {
            snprintf(buf, len, "%.2g", v);
            return;
        }
        snprintf(buf, len, "%.6g", v);
        return;
    }
    /* Linear: as many decimals as the step needs, scientific outside a readable range. */
    if (a >= 1e6 || a < 1e-3) {
        snprintf(buf, len, "%.3g", v);
        return;
    }
    int decimals = 0;
    if (step > 0 && step < 1)
        decimals = (int)ceil(-log10(step) - 1e-9);
    if (decimals > 6)
        decimals = 6;
    snprintf(buf, len, "%.*f", decimals, v);
}

static void linear_ticks(double *lo, double *hi, struct ab_plot_ticks *t)
{
    double a = *lo, b = *hi;
    if (!(b > a)) {
        double d = a == 0 ? 1 : fabs(a) * 0.1;
        a -= d;
        b += d;
    }
    double span = b - a;
    double raw = span / 5;
    double mag = pow(10, floor(log10(raw)));
    double step = mag;
    static const double mult[] = { 1, 2, 2.5, 5, 10 };
    for (size_t i = 0; i < sizeof mult / sizeof mult[0]; i++) {
        step = mult[i] * mag;
        if (span / step <= 7)
            break;
    }
    double first = floor(a / step + 1e-9) * step;
    double last = ceil(b / step - 1e-9) * step;
    t->n = 0;
    for (double v = first; v <= last + step * 0.5 && t->n < AB_PLOT_MAX_TICKS; v += step) {
        double r = fabs(v) < step * 1e-9 ? 0 : v;
        t->v[t->n] = r;
        ab_plot_tick_label(r, step, AB_SCALE_LINEAR, false, t->label[t->n], sizeof t->label[0]);
        t->n++;
    }
    *lo = first;
    *hi = last;
}

static void log_ticks(double *lo, double *hi, double base, enum ab_plot_scale scale, bool binary,
                      struct ab_plot_ticks *t)
{
    double a = *lo > 0 ? *lo : 1e-300, b = *hi > a ? *hi : a;
    double lb = log(base);
    int e0 = (int)floor(log(a) / lb + 1e-9);
    int e1 = (int)ceil(log(b) / lb - 1e-9);
    if (e1 == e0)
        e1 = e0 + 1;
    /* base 2 steps by 1, 2, 5 or 10 octaves so that 1K and 1M stay on the ticks */
    static const int steps2[] = { 1, 2, 5, 10, 20, 30 };
    int every = 1;
    for (int k = 0; (e1 - e0) / every + 1 > 9; k++)
        every = base == 2 ? (k < 6 ? steps2[k] : every * 2) : every + 1;
    /* Align to multiples of `every` so that 1K, 1M... stay on the ticks. */
    e0 = (int)floor((double)e0 / every) * every;
    e1 = (int)ceil((double)e1 / every) * every;
    t->n = 0;
    for (int e = e0; e <= e1 && t->n < AB_PLOT_MAX_TICKS; e += every) {
        t->v[t->n] = pow(base, e);
        ab_plot_tick_label(t->v[t->n], 0, scale, binary, t->label[t->n], sizeof t->label[0]);
        t->n++;
    }
    *lo = pow(base, e0);
    *hi = pow(base, e1);
}

void ab_plot_ticks_make(double *lo, double *hi, enum ab_plot_scale scale, bool binary,
                        struct ab_plot_ticks *out)
{
    memset(out, 0, sizeof *out);
    if (scale == AB_SCALE_LINEAR)
        linear_ticks(lo, hi, out);
    else
        log_ticks(lo, hi, scale == AB_SCALE_LOG2 ? 2 : 10, scale, binary, out);
}
