/* chart.c — the four chart kinds drawn on a canvas: scaling lines, grouped bars, rooflines and
 * box plots of timing samples. Layout is measured, not guessed: margins grow to the widest tick
 * label and axis title, and the legend sits outside the plot area, so it never covers data.
 * Values arrive in base units; each axis picks an SI prefix so tick labels stay short. */
#include "canvas.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FS_TITLE  10.5
#define FS_AXIS   9.5
#define FS_TICK   8.5
#define FS_LEGEND 8.5
#define FS_NOTE   7.5
#define FS_ROOF   7.5
#define PAD       6.0
#define LINE_W    1.4

static const double BLACK[3] = { 0, 0, 0 };
static const double GREY[3] = { 0.35, 0.35, 0.35 };

const char *ab_plot_kind_name(enum ab_plot_kind k)
{
    static const char *const names[] = { "line", "bars", "roofline", "dist" };
    return (unsigned)k < 4 ? names[k] : "?";
}

bool ab_plot_kind_from_name(const char *name, enum ab_plot_kind *out)
{
    for (int k = 0; k < 4; k++)
        if (!strcmp(name, ab_plot_kind_name((enum ab_plot_kind)k))) {
            *out = (enum ab_plot_kind)k;
            return true;
        }
    return false;
}

ab_status ab_plot_formats_parse(const char *text, unsigned *out, struct ab_error *err)
{
    *out = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL;
    for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (!strcmp(w, "pdf"))
            *out |= AB_FMT_PDF;
        else if (!strcmp(w, "svg"))
            *out |= AB_FMT_SVG;
        else if (!strcmp(w, "png"))
            *out |= AB_FMT_PNG;
        else
            return ab_fail(err, AB_EINVAL, "unknown format \"%s\" (valid: pdf, svg, png)", w);
    }
    if (!*out)
        return ab_fail(err, AB_EINVAL, "no format given (valid: pdf, svg, png)");
    return AB_OK;
}

/* ---------------------------------------------------------------- axes */

struct axis {
    enum ab_plot_scale scale;
    bool binary, categorical;
    double f;      /* values are divided by this (SI prefix) before mapping */
    double lo, hi; /* scaled range */
    double p0, p1; /* page coordinates of lo and hi */
    struct ab_plot_ticks t;
    char title[160];
};

static double axis_t(const struct axis *a, double v)
{
    v /= a->f;
    if (a->scale == AB_SCALE_LINEAR || a->categorical)
        return v;
    return log(v > 0 ? v : 1e-300);
}

static double axis_map(const struct axis *a, double v)
{
    double t0 = axis_t(a, a->lo * a->f), t1 = axis_t(a, a->hi * a->f);
    double t = axis_t(a, v);
    return a->p0 + (t - t0) / (t1 - t0) * (a->p1 - a->p0);
}

/* Units worth an SI prefix (GFLOP/s, ms); others ("tokens/s", "cycles", "") stay as they are. */
static bool unit_takes_prefix(const char *u)
{
    static const char *const units[] = { "FLOP/s", "B/s", "B",    "FLOP/J", "B/J",     "s",
                                         "W",      "J",   "FLOP", "Hz",     "tokens/J" };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(u, units[i]))
            return true;
    return false;
}

static void axis_setup(struct axis *a, enum ab_plot_scale scale, bool binary, double lo, double hi,
                       const char *label, const char *unit, bool from_zero)
{
    memset(a, 0, sizeof *a);
    a->scale = scale;
    a->binary = binary;
    a->f = 1;
    if (!(lo <= hi)) { /* no data */
        lo = scale == AB_SCALE_LINEAR ? 0 : 1;
        hi = scale == AB_SCALE_LINEAR ? 1 : 10;
    }
    if (scale != AB_SCALE_LINEAR && lo <= 0)
        lo = hi > 0 ? hi / 10 : 1;
    if (scale != AB_SCALE_LINEAR && hi <= lo)
        hi = lo * 2;
    if (scale == AB_SCALE_LINEAR && from_zero && lo > 0)
        lo = 0;
    char prefix[4] = "";
    double m = fmax(fabs(lo), fabs(hi));
    if (!binary && unit && unit_takes_prefix(unit) && m > 0) {
        static const char *const pre[] = { "p", "n", "\xc2\xb5", "m", "", "k", "M", "G", "T", "P", "E" };
        int k = (int)floor(log10(m) / 3 + 1e-9);
        if (!strcmp(unit, "s") && k > 0)
            k = 0;
        if (k < -4)
            k = -4;
        if (k > 6)
            k = 6;
        a->f = pow(10, 3 * k);
        snprintf(prefix, sizeof prefix, "%s", pre[k + 4]);
    }
    a->lo = lo / a->f;
    a->hi = hi / a->f;
    ab_plot_ticks_make(&a->lo, &a->hi, scale, binary, &a->t);
    if (unit && *unit)
        snprintf(a->title, sizeof a->title, "%s (%s%s)", label, prefix, unit);
    else
        snprintf(a->title, sizeof a->title, "%s", label);
}

/* ---------------------------------------------------------------- data ranges */

static void widen(double *lo, double *hi, double v, bool log_scale)
{
    if (!isfinite(v) || (log_scale && v <= 0))
        return;
    if (v < *lo)
        *lo = v;
    if (v > *hi)
        *hi = v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Box statistics of a sample: p05, q1, median, q3, p95. */
static bool box_stats(const double *x, int64_t n, double q[5])
{
    if (n <= 0)
        return false;
    double *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return false;
    memcpy(s, x, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    static const double qs[5] = { 0.05, 0.25, 0.5, 0.75, 0.95 };
    for (int i = 0; i < 5; i++)
        q[i] = ab_stats_quantile_sorted(s, n, qs[i]);
    free(s);
    return true;
}

/* ---------------------------------------------------------------- pieces */

static void set_rgb(cairo_t *cr, const double c[3])
{
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
}

/* Hatching for bars: grey-scale prints still separate neighbouring series. */
static void hatch(cairo_t *cr, int series, double x, double y, double w, double h)
{
    int k = series % 6;
    if (k == 0 || w <= 0 || h <= 0)
        return;
    cairo_save(cr);
    cairo_rectangle(cr, x, y, w, h);
    cairo_clip(cr);
    cairo_new_path(cr);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.75);
    cairo_set_line_width(cr, 0.7);
    cairo_set_dash(cr, NULL, 0, 0);
    double step = 3.2, span = w + h;
    for (double d = -span; d < span; d += step) {
        if (k == 1 || k == 5) { /* / */
            cairo_move_to(cr, x + d, y + h);
            cairo_line_to(cr, x + d + h, y);
        }
        if (k == 2 || k == 5) { /* \ */
            cairo_move_to(cr, x + d, y);
            cairo_line_to(cr, x + d + h, y + h);
        }
    }
    if (k == 3)
        for (double yy = y + step / 2; yy < y + h; yy += step) {
            cairo_move_to(cr, x, yy);
            cairo_line_to(cr, x + w, yy);
        }
    if (k == 4)
        for (double xx = x + step / 2; xx < x + w; xx += step) {
            cairo_move_to(cr, xx, y);
            cairo_line_to(cr, xx, y + h);
        }
    cairo_stroke(cr);
    cairo_restore(cr);
}

static void error_bar(cairo_t *cr, double x, double y0, double y1, double cap, const double rgb[3])
{
    if (!isfinite(y0) || !isfinite(y1) || fabs(y1 - y0) < 0.5)
        return;
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_line_width(cr, 0.9);
    set_rgb(cr, rgb);
    cairo_move_to(cr, x, y0);
    cairo_line_to(cr, x, y1);
    cairo_move_to(cr, x - cap, y0);
    cairo_line_to(cr, x + cap, y0);
    cairo_move_to(cr, x - cap, y1);
    cairo_line_to(cr, x + cap, y1);
    cairo_stroke(cr);
}

/* Shorten a label to at most max_w points, ending it with an ellipsis. */
static void fit_label(struct canvas *cv, const char *in, double size, double max_w, char *out, size_t len)
{
    snprintf(out, len, "%s", in);
    double w, h;
    canvas_text_size(cv, out, size, &w, &h);
    size_t n = strlen(out);
    while (w > max_w && n > 4) {
        n--;
        while (n > 0 && ((unsigned char)out[n] & 0xC0) == 0x80) /* whole UTF-8 characters */
            n--;
        snprintf(out + n, len - n, "\xe2\x80\xa6");
        canvas_text_size(cv, out, size, &w, &h);
    }
}

/* Minor ticks of a log10 axis: 2..9 x 10^k, only where decades are few enough to show them. */
static void minor_grid(cairo_t *cr, const struct axis *a, bool vertical, double o0, double o1)
{
    if (a->scale != AB_SCALE_LOG10 || a->categorical || log10(a->hi / a->lo) > 6)
        return;
    cairo_set_source_rgb(cr, 0.94, 0.94, 0.94);
    cairo_set_line_width(cr, 0.5);
    for (double d = a->lo; d < a->hi; d *= 10)
        for (int m = 2; m <= 9; m++) {
            double p = axis_map(a, d * m * a->f);
            if (vertical) {
                cairo_move_to(cr, p, o0);
                cairo_line_to(cr, p, o1);
            } else {
                cairo_move_to(cr, o0, p);
                cairo_line_to(cr, o1, p);
            }
        }
    cairo_stroke(cr);
}

/* ---------------------------------------------------------------- the chart */

struct layout {
    double px0, px1, py0, py1; /* plot area: x left..right, y top..bottom */
    double legend_x, legend_y, legend_w, legend_row;
    char (*legend_text)[128];
    bool rotate_cats;
};

static bool chart_has_legend(const struct ab_plot_chart *ch)
{
    return ch->n_series > 1 || (ch->kind == AB_PLOT_ROOFLINE && ch->n_series > 0);
}

static void draw_legend(struct canvas *cv, const struct ab_plot_chart *ch, const struct layout *L)
{
    cairo_t *cr = cv->cr;
    for (int s = 0; s < ch->n_series; s++) {
        double y = L->legend_y + (s + 0.5) * L->legend_row;
        double x = L->legend_x;
        double rgb[3];
        ab_plot_palette(s, rgb);
        if (ch->kind == AB_PLOT_LINE) {
            canvas_dash(cr, s, LINE_W);
            set_rgb(cr, rgb);
            cairo_move_to(cr, x, y);
            cairo_line_to(cr, x + 22, y);
            cairo_stroke(cr);
            canvas_marker(cr, s, x + 11, y, 2.8);
        } else if (ch->kind == AB_PLOT_ROOFLINE) {
            canvas_marker(cr, s, x + 11, y, 3.0);
        } else {
            set_rgb(cr, rgb);
            cairo_rectangle(cr, x + 4, y - 4.5, 14, 9);
            if (ch->kind == AB_PLOT_DIST)
                cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], 0.35);
            cairo_fill(cr);
            if (ch->kind == AB_PLOT_BARS)
                hatch(cr, s, x + 4, y - 4.5, 14, 9);
            cairo_set_dash(cr, NULL, 0, 0);
            cairo_set_line_width(cr, 0.6);
            set_rgb(cr, ch->kind == AB_PLOT_DIST ? rgb : BLACK);
            cairo_rectangle(cr, x + 4, y - 4.5, 14, 9);
            cairo_stroke(cr);
        }
        canvas_text(cv, x + 27, y, L->legend_text[s], FS_LEGEND, 0, 0.5, 0, BLACK);
    }
}

/* The roofs of a roofline: compute roofs start where they meet the highest bandwidth slope. */
static void draw_roofs(struct canvas *cv, const struct ab_plot_chart *ch, const struct axis *ax,
                       const struct axis *ay, const struct layout *L)
{
    cairo_t *cr = cv->cr;
    double bw = 0, top = 0;
    for (int i = 0; i < ch->n_roofs; i++) {
        if (ch->roofs[i].bandwidth)
            bw = fmax(bw, ch->roofs[i].value);
        else
            top = fmax(top, ch->roofs[i].value);
    }
    double xlo = ax->lo * ax->f, xhi = ax->hi * ax->f;
    int order[AB_PLOT_MAX_ROOFS], n_flat = 0;
    cairo_save(cr);
    cairo_rectangle(cr, L->px0, L->py0, L->px1 - L->px0, L->py1 - L->py0);
    cairo_clip(cr);
    for (int i = 0; i < ch->n_roofs; i++) {
        const struct ab_plot_roof *r = &ch->roofs[i];
        cairo_set_dash(cr, NULL, 0, 0);
        cairo_set_line_width(cr, 1.1);
        set_rgb(cr, GREY);
        if (r->bandwidth) {
            double xe = top > 0 ? top / r->value : xhi;
            cairo_move_to(cr, axis_map(ax, xlo), axis_map(ay, r->value * xlo));
            cairo_line_to(cr, axis_map(ax, xe), axis_map(ay, r->value * xe));
            cairo_stroke(cr);
        } else {
            double xs = bw > 0 ? r->value / bw : xlo;
            cairo_move_to(cr, axis_map(ax, fmax(xs, xlo)), axis_map(ay, r->value));
            cairo_line_to(cr, axis_map(ax, xhi), axis_map(ay, r->value));
            cairo_stroke(cr);
            order[n_flat++] = i;
        }
    }
    cairo_restore(cr);
    /* Labels of flat roofs: the first of four places (after the knee or at the right end,
     * above or below the line) that covers no case and no other label. */
    for (int a = 1; a < n_flat; a++) /* sort by value, highest first */
        for (int b = a; b > 0 && ch->roofs[order[b]].value > ch->roofs[order[b - 1]].value; b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    double boxes[AB_PLOT_MAX_ROOFS][4];
    for (int k = 0; k < n_flat; k++) {
        const struct ab_plot_roof *r = &ch->roofs[order[k]];
        char val[48], txt[96];
        ab_fmt_si(r->value, "FLOP/s", val, sizeof val);
        snprintf(txt, sizeof txt, "%s %s", r->name, val);
        double xs = bw > 0 ? fmax(r->value / bw, xlo) : xlo;
        double lw, lh;
        canvas_text_size(cv, txt, FS_ROOF, &lw, &lh);
        double yl = axis_map(ay, r->value);
        /* Left of the knee, above the roof, nothing can lie: every case is under its roofline. */
        double kx = axis_map(ax, xs);
        double cx[5] = { kx - 2 - lw, fmin(kx + 4, L->px1 - 3 - lw), L->px1 - 3 - lw, 0, 0 };
        cx[3] = cx[1];
        cx[4] = cx[2];
        double cy[5] = { yl - 1.5 - lh, yl - 1.5 - lh, yl - 1.5 - lh, yl + 1.5, yl + 1.5 };
        int pick = 1;
        for (int c = 0; c < 5; c++) {
            bool hit = cy[c] < L->py0 || cy[c] + lh > L->py1 || cx[c] < L->px0 + 2;
            for (int s = 0; !hit && s < ch->n_series; s++)
                for (int i = 0; !hit && i < ch->series[s].n; i++) {
                    double px = axis_map(ax, ch->series[s].x[i]), py = axis_map(ay, ch->series[s].y[i]);
                    hit = px > cx[c] - 4 && px < cx[c] + lw + 4 && py > cy[c] - 4 && py < cy[c] + lh + 4;
                }
            for (int j = 0; !hit && j < k; j++)
                hit = cx[c] < boxes[j][2] && cx[c] + lw > boxes[j][0] && cy[c] < boxes[j][3] &&
                      cy[c] + lh > boxes[j][1];
            if (!hit) {
                pick = c;
                break;
            }
        }
        boxes[k][0] = cx[pick];
        boxes[k][1] = cy[pick];
        boxes[k][2] = cx[pick] + lw;
        boxes[k][3] = cy[pick] + lh;
        canvas_text(cv, cx[pick], cy[pick], txt, FS_ROOF, 0, 0, 0, GREY);
    }
    for (int i = 0; i < ch->n_roofs; i++) {
        const struct ab_plot_roof *r = &ch->roofs[i];
        if (!r->bandwidth)
            continue;
        /* label along the slope, near its lower-left end */
        double x0 = xlo * pow(xhi / xlo, 0.04), x1 = x0 * 2;
        double sx0 = axis_map(ax, x0), sy0 = axis_map(ay, r->value * x0);
        double sx1 = axis_map(ax, x1), sy1 = axis_map(ay, r->value * x1);
        double ang = atan2(-(sy1 - sy0), sx1 - sx0) * 180 / M_PI;
        char val[48], txt[96];
        ab_fmt_si(r->value, "B/s", val, sizeof val);
        snprintf(txt, sizeof txt, "%s %s", r->name, val);
        if (sy0 < L->py1 - 4 && sy0 > L->py0)
            canvas_text(cv, sx0, sy0 - 2, txt, FS_ROOF, 0, 1, ang, GREY);
    }
}

static ab_status draw_chart(struct canvas *cv, const struct ab_plot_chart *ch, struct ab_error *err)
{
    cairo_t *cr = cv->cr;
    bool categorical = ch->kind == AB_PLOT_BARS || ch->kind == AB_PLOT_DIST;
    bool ylog = ch->yscale != AB_SCALE_LINEAR, xlog = ch->xscale != AB_SCALE_LINEAR;

    /* Data ranges. */
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int s = 0; s < ch->n_series; s++) {
        const struct ab_plot_series *se = &ch->series[s];
        for (int i = 0; i < se->n; i++) {
            if (ch->kind == AB_PLOT_DIST) {
                if (se->samples && se->samples[i])
                    for (int64_t j = 0; j < se->n_samples[i]; j++)
                        widen(&ylo, &yhi, se->samples[i][j], ylog);
                continue;
            }
            if (!isfinite(se->y[i]) || (ylog && se->y[i] <= 0))
                continue;
            if (!categorical) {
                if (!isfinite(se->x[i]) || (xlog && se->x[i] <= 0))
                    continue;
                widen(&xlo, &xhi, se->x[i], xlog);
            }
            widen(&ylo, &yhi, se->y[i], ylog);
            if (se->ylo)
                widen(&ylo, &yhi, se->ylo[i], ylog);
            if (se->yhi)
                widen(&ylo, &yhi, se->yhi[i], ylog);
        }
    }
    if (ch->kind == AB_PLOT_ROOFLINE) {
        double bw = 0;
        for (int i = 0; i < ch->n_roofs; i++)
            if (ch->roofs[i].bandwidth)
                bw = fmax(bw, ch->roofs[i].value);
        for (int i = 0; i < ch->n_roofs; i++)
            if (!ch->roofs[i].bandwidth) {
                widen(&ylo, &yhi, ch->roofs[i].value, true);
                if (bw > 0) {
                    double knee = ch->roofs[i].value / bw;
                    widen(&xlo, &xhi, knee / 4, true);
                    widen(&xlo, &xhi, knee * 4, true);
                }
            }
        if (xhi >= xlo && ylo > 0) /* headroom above the top roof for its label */
            yhi *= 2;
        if (bw > 0 && xlo < INFINITY)
            widen(&ylo, &yhi, bw * xlo, true);
    }
    if (!(yhi >= ylo))
        return ab_fail(err, AB_EINVAL, "chart \"%s\": no data to draw", ch->title);

    /* Axes (ranges and ticks first, page positions after the margins are known). */
    struct axis ax, ay;
    if (categorical) {
        memset(&ax, 0, sizeof ax);
        ax.categorical = true;
        ax.f = 1;
        ax.lo = -0.5;
        ax.hi = ch->n_categories - 0.5;
        snprintf(ax.title, sizeof ax.title, "%s", ch->xlabel);
    } else {
        axis_setup(&ax, ch->xscale, ch->xbinary, xlo, xhi, ch->xlabel, ch->xunit, false);
    }
    axis_setup(&ay, ch->yscale, false, ylo, yhi, ch->ylabel, ch->yunit,
               ch->kind == AB_PLOT_BARS || (ch->kind == AB_PLOT_LINE && ylo >= 0));

    /* Margins. */
    double w, h, th_tick, tw;
    canvas_text_size(cv, "0123456789", FS_TICK, &tw, &th_tick);
    double ytick_w = 0;
    for (int i = 0; i < ay.t.n; i++) {
        canvas_text_size(cv, ay.t.label[i], FS_TICK, &w, &h);
        ytick_w = fmax(ytick_w, w);
    }
    double title_h = 0, axis_h, note_h = 0;
    if (ch->title[0])
        canvas_text_size(cv, ch->title, FS_TITLE, &w, &title_h);
    canvas_text_size(cv, "Hg", FS_AXIS, &w, &axis_h);
    if (ch->note[0])
        canvas_text_size(cv, ch->note, FS_NOTE, &w, &note_h);

    struct layout L;
    memset(&L, 0, sizeof L);
    L.legend_text = calloc((size_t)(ch->n_series > 0 ? ch->n_series : 1), sizeof *L.legend_text);
    if (!L.legend_text)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    double legend_w = 0;
    bool legend = chart_has_legend(ch);
    if (legend) {
        for (int s = 0; s < ch->n_series; s++) {
            fit_label(cv, ch->series[s].label, FS_LEGEND, cv->w * 0.3, L.legend_text[s],
                      sizeof L.legend_text[s]);
            canvas_text_size(cv, L.legend_text[s], FS_LEGEND, &w, &h);
            legend_w = fmax(legend_w, w);
            L.legend_row = fmax(L.legend_row, h * 1.35);
        }
        legend_w += 27 + PAD;
    }
    L.px0 = PAD + axis_h + 4 + ytick_w + 5;
    L.px1 = cv->w - PAD - (legend ? legend_w + 8 : 4);
    L.py0 = PAD + (title_h > 0 ? title_h + PAD : 4);
    double xtick_h = th_tick;
    if (categorical && ch->n_categories > 0) {
        double slot = (L.px1 - L.px0) / ch->n_categories, cw = 0;
        for (int c = 0; c < ch->n_categories; c++) {
            canvas_text_size(cv, ch->categories[c], FS_TICK, &w, &h);
            cw = fmax(cw, w);
        }
        if (cw > slot - 4) {
            L.rotate_cats = true;
            double a = 35 * M_PI / 180;
            xtick_h = cw * sin(a) + th_tick * cos(a);
        }
    }
    L.py1 = cv->h - PAD - (note_h > 0 ? note_h + 3 : 0) - (ax.title[0] ? axis_h + 3 : 0) - xtick_h - 5;
    if (L.px1 - L.px0 < 60 || L.py1 - L.py0 < 40) {
        free(L.legend_text);
        return ab_fail(err, AB_EINVAL, "chart \"%s\": page too small for its labels", ch->title);
    }
    ax.p0 = L.px0;
    ax.p1 = L.px1;
    ay.p0 = L.py1;
    ay.p1 = L.py0;
    L.legend_x = L.px1 + 10;
    L.legend_y = L.py0;

    /* Grid, then ticks and their labels. */
    minor_grid(cr, &ay, false, L.px0, L.px1);
    if (!categorical)
        minor_grid(cr, &ax, true, L.py0, L.py1);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
    cairo_set_line_width(cr, 0.6);
    for (int i = 0; i < ay.t.n; i++) {
        double y = axis_map(&ay, ay.t.v[i] * ay.f);
        cairo_move_to(cr, L.px0, y);
        cairo_line_to(cr, L.px1, y);
    }
    if (!categorical)
        for (int i = 0; i < ax.t.n; i++) {
            double x = axis_map(&ax, ax.t.v[i] * ax.f);
            cairo_move_to(cr, x, L.py0);
            cairo_line_to(cr, x, L.py1);
        }
    cairo_stroke(cr);

    set_rgb(cr, BLACK);
    cairo_set_line_width(cr, 0.8);
    cairo_move_to(cr, L.px0, L.py0);
    cairo_line_to(cr, L.px0, L.py1);
    cairo_line_to(cr, L.px1, L.py1);
    for (int i = 0; i < ay.t.n; i++) {
        double y = axis_map(&ay, ay.t.v[i] * ay.f);
        cairo_move_to(cr, L.px0 - 3, y);
        cairo_line_to(cr, L.px0, y);
    }
    if (categorical)
        for (int c = 0; c < ch->n_categories; c++) {
            double x = axis_map(&ax, c);
            cairo_move_to(cr, x, L.py1);
            cairo_line_to(cr, x, L.py1 + 3);
        }
    else
        for (int i = 0; i < ax.t.n; i++) {
            double x = axis_map(&ax, ax.t.v[i] * ax.f);
            cairo_move_to(cr, x, L.py1);
            cairo_line_to(cr, x, L.py1 + 3);
        }
    cairo_stroke(cr);
    for (int i = 0; i < ay.t.n; i++)
        canvas_text(cv, L.px0 - 5, axis_map(&ay, ay.t.v[i] * ay.f), ay.t.label[i], FS_TICK, 1, 0.5, 0, BLACK);
    if (categorical) {
        for (int c = 0; c < ch->n_categories; c++) {
            double x = axis_map(&ax, c);
            if (L.rotate_cats)
                canvas_text(cv, x + 2, L.py1 + 4, ch->categories[c], FS_TICK, 1, 0, 35, BLACK);
            else
                canvas_text(cv, x, L.py1 + 4, ch->categories[c], FS_TICK, 0.5, 0, 0, BLACK);
        }
    } else {
        /* Drop every other label if neighbours would touch. */
        double maxw = 0;
        for (int i = 0; i < ax.t.n; i++) {
            canvas_text_size(cv, ax.t.label[i], FS_TICK, &w, &h);
            maxw = fmax(maxw, w);
        }
        int every = 1;
        while (ax.t.n > 1 && every < ax.t.n && (L.px1 - L.px0) / (ax.t.n - 1) * every < maxw + 6)
            every++;
        for (int i = 0; i < ax.t.n; i += every)
            canvas_text(cv, axis_map(&ax, ax.t.v[i] * ax.f), L.py1 + 4, ax.t.label[i], FS_TICK, 0.5, 0, 0,
                        BLACK);
    }
    /* Axis titles and the chart title. */
    canvas_text(cv, (L.px0 + L.px1) / 2, L.py1 + 5 + xtick_h + 2, ax.title, FS_AXIS, 0.5, 0, 0, BLACK);
    canvas_text(cv, PAD, (L.py0 + L.py1) / 2, ay.title, FS_AXIS, 0.5, 0, 90, BLACK);
    if (ch->title[0])
        canvas_text(cv, (L.px0 + L.px1) / 2, PAD, ch->title, FS_TITLE, 0.5, 0, 0, BLACK);
    if (ch->note[0])
        canvas_text(cv, PAD, cv->h - PAD, ch->note, FS_NOTE, 0, 1, 0, GREY);

    /* Data, clipped to the plot area. */
    cairo_save(cr);
    cairo_rectangle(cr, L.px0 - 4, L.py0 - 4, L.px1 - L.px0 + 8, L.py1 - L.py0 + 8);
    cairo_clip(cr);
    int ns = ch->n_series > 0 ? ch->n_series : 1;
    double slot = categorical && ch->n_categories > 0 ? (L.px1 - L.px0) / ch->n_categories : 0;
    double bw = slot * 0.8 / ns;
    for (int s = 0; s < ch->n_series; s++) {
        const struct ab_plot_series *se = &ch->series[s];
        double rgb[3];
        ab_plot_palette(s, rgb);
        if (ch->kind == AB_PLOT_LINE) {
            canvas_dash(cr, s, LINE_W);
            set_rgb(cr, rgb);
            bool pen = false;
            for (int i = 0; i < se->n; i++) {
                if (!isfinite(se->y[i]) || !isfinite(se->x[i]) || (ylog && se->y[i] <= 0) ||
                    (xlog && se->x[i] <= 0)) {
                    pen = false;
                    continue;
                }
                double x = axis_map(&ax, se->x[i]), y = axis_map(&ay, se->y[i]);
                if (pen)
                    cairo_line_to(cr, x, y);
                else
                    cairo_move_to(cr, x, y);
                pen = true;
            }
            cairo_stroke(cr);
        }
        for (int i = 0; i < se->n; i++) {
            if (ch->kind == AB_PLOT_DIST) {
                double q[5];
                if (!se->samples || !se->samples[i] || !box_stats(se->samples[i], se->n_samples[i], q))
                    continue;
                double xc = axis_map(&ax, i) - slot * 0.4 + bw * (s + 0.5);
                double bx = xc - bw * 0.35, bwid = bw * 0.7;
                double y1 = axis_map(&ay, q[1]), y3 = axis_map(&ay, q[3]);
                cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], 0.3);
                cairo_rectangle(cr, bx, y3, bwid, y1 - y3);
                cairo_fill(cr);
                cairo_set_dash(cr, NULL, 0, 0);
                cairo_set_line_width(cr, 0.9);
                set_rgb(cr, rgb);
                cairo_rectangle(cr, bx, y3, bwid, y1 - y3);
                cairo_move_to(cr, xc, y1);
                cairo_line_to(cr, xc, axis_map(&ay, q[0]));
                cairo_move_to(cr, xc, y3);
                cairo_line_to(cr, xc, axis_map(&ay, q[4]));
                cairo_stroke(cr);
                error_bar(cr, xc, axis_map(&ay, q[0]), axis_map(&ay, q[4]), bwid * 0.25, rgb);
                cairo_set_line_width(cr, 2.0);
                set_rgb(cr, rgb);
                cairo_move_to(cr, bx, axis_map(&ay, q[2]));
                cairo_line_to(cr, bx + bwid, axis_map(&ay, q[2]));
                cairo_stroke(cr);
                continue;
            }
            if (!isfinite(se->y[i]) || (ylog && se->y[i] <= 0))
                continue;
            double ylo_i = se->ylo ? se->ylo[i] : NAN, yhi_i = se->yhi ? se->yhi[i] : NAN;
            if (ylog && !(ylo_i > 0))
                ylo_i = NAN;
            if (ch->kind == AB_PLOT_BARS) {
                double x = axis_map(&ax, i) - slot * 0.4 + bw * s;
                double y = axis_map(&ay, se->y[i]), y0 = ylog ? L.py1 : axis_map(&ay, 0);
                set_rgb(cr, rgb);
                cairo_rectangle(cr, x, y, bw, y0 - y);
                cairo_fill(cr);
                hatch(cr, s, x, y, bw, y0 - y);
                cairo_set_dash(cr, NULL, 0, 0);
                cairo_set_line_width(cr, 0.5);
                set_rgb(cr, BLACK);
                cairo_rectangle(cr, x, y, bw, y0 - y);
                cairo_stroke(cr);
                if (isfinite(ylo_i) && isfinite(yhi_i))
                    error_bar(cr, x + bw / 2, axis_map(&ay, ylo_i), axis_map(&ay, yhi_i), fmin(3, bw / 4),
                              BLACK);
                continue;
            }
            if (!isfinite(se->x[i]) || (xlog && se->x[i] <= 0))
                continue;
            double x = axis_map(&ax, se->x[i]), y = axis_map(&ay, se->y[i]);
            if (isfinite(ylo_i) && isfinite(yhi_i))
                error_bar(cr, x, axis_map(&ay, ylo_i), axis_map(&ay, yhi_i), 2.5, rgb);
            canvas_marker(cr, s, x, y, ch->kind == AB_PLOT_ROOFLINE ? 3.2 : 2.6);
        }
    }
    cairo_restore(cr);
    if (ch->kind == AB_PLOT_ROOFLINE)
        draw_roofs(cv, ch, &ax, &ay, &L);
    if (legend)
        draw_legend(cv, ch, &L);
    free(L.legend_text);
    return AB_OK;
}

ab_status ab_plot_render(const struct ab_plot_chart *ch, enum ab_plot_format fmt, const char *path,
                         double width_pt, double height_pt, double dpi, struct ab_error *err)
{
    if (fmt == AB_FMT_PNG && !(dpi >= 10 && dpi <= 2400))
        return ab_fail(err, AB_EINVAL, "dpi %g out of range (10 to 2400)", dpi);
    char tmp[4300];
    int tfd;
    ab_status st = ab_temp_beside(path, tmp, sizeof tmp, &tfd, err);
    if (st != AB_OK)
        return st;
    close(tfd); /* cairo writes by name: a new file only we created, under a name nobody guessed */
    struct canvas cv;
    st = canvas_open(&cv, fmt, tmp, width_pt, height_pt, dpi, err);
    if (st != AB_OK) {
        unlink(tmp);
        return st;
    }
    st = draw_chart(&cv, ch, err);
    struct ab_error cerr;
    ab_status cst = canvas_close(&cv, tmp, &cerr);
    if (st == AB_OK && cst != AB_OK) {
        st = cst;
        *err = cerr;
    }
    if (st == AB_OK && rename(tmp, path) != 0)
        st = ab_fail(err, AB_EIO, "%s: cannot rename into place: %s", path, strerror(errno));
    if (st != AB_OK)
        unlink(tmp);
    return st;
}
