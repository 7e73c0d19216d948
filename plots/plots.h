/* plots.h — charts for papers, drawn on cairo with text from pango.
 * Two layers: a chart library that knows nothing of results (ticks, canvas, palette, the four
 * chart kinds, fed plain arrays), and the figure planners (figures*.c), which turn result rows
 * into those charts (which metric, which axis, one series per device x variant, as each
 * workload's chart declaration says) and name the files.
 * Everything renders to a temporary file renamed into place, so a failure leaves no half file. */
#ifndef AB_PLOTS_H
#define AB_PLOTS_H

#include "accelbench.h"

/* ---------------------------------------------------------------- ticks */

enum ab_plot_scale { AB_SCALE_LINEAR = 0, AB_SCALE_LOG2, AB_SCALE_LOG10 };

#define AB_PLOT_MAX_TICKS 24
struct ab_plot_ticks {
    int n;
    double v[AB_PLOT_MAX_TICKS];
    char label[AB_PLOT_MAX_TICKS][24];
};

/* Ticks for data in [*lo, *hi] on a scale; widens *lo and *hi to the outer ticks (linear: nice
 * steps of 1, 2, 5 x 10^k; log: whole powers of the base, every k-th when many decades).
 * Log scales need *lo > 0. `binary` labels powers of two as sizes (256, 1K, 4K, 1M). */
void ab_plot_ticks_make(double *lo, double *hi, enum ab_plot_scale scale, bool binary,
                        struct ab_plot_ticks *out);
/* One tick label: "1K"/"4M" for binary sizes, "1e-3" for powers of ten outside [1e-2, 1e4],
 * "%g" with the step's precision otherwise. step is the linear tick step (0 for log). */
void ab_plot_tick_label(double v, double step, enum ab_plot_scale scale, bool binary, char *buf, size_t len);

/* ---------------------------------------------------------------- charts */

enum ab_plot_kind { AB_PLOT_LINE = 0, AB_PLOT_BARS, AB_PLOT_ROOFLINE, AB_PLOT_DIST };
enum ab_plot_format { AB_FMT_PDF = 1, AB_FMT_SVG = 2, AB_FMT_PNG = 4 };

/* One series: a device x variant. LINE/ROOFLINE: points (x[i], y[i]) with an optional interval
 * [ylo[i], yhi[i]] (NaN: none). BARS: y[j] is the bar of category j (NaN: no bar).
 * DIST: samples[j] (n_samples[j] values) is the distribution of category j. */
struct ab_plot_series {
    char label[128];
    int n;
    double *x, *y, *ylo, *yhi;
    double **samples;
    int64_t *n_samples;
};

/* A ceiling line of a roofline: a flat compute roof or a bandwidth slope, in series colour. */
struct ab_plot_roof {
    char name[24];
    double value;   /* FLOP/s or bytes/s (already in the chart's y units for compute roofs) */
    bool bandwidth; /* value is bytes/s: the line is y = value * x */
    int series;     /* colour index */
};

#define AB_PLOT_MAX_ROOFS 32
struct ab_plot_chart {
    enum ab_plot_kind kind;
    char title[160];
    char xlabel[96], ylabel[96]; /* quantities without units: "Throughput", "Sequence length" */
    char xunit[24], yunit[24];   /* base units ("FLOP/s", "B/s", "s", "" for none); the axis picks
                                    a prefix (GFLOP/s, ms) and shows "Throughput (GFLOP/s)" */
    char note[256];              /* small grey footnote (rows left out), "" for none */
    enum ab_plot_scale xscale, yscale;
    bool xbinary; /* x values are sizes: label 1K, 4K */
    struct ab_plot_series *series;
    int n_series;
    char (*categories)[64]; /* BARS, DIST: category labels */
    int n_categories;
    struct ab_plot_roof roofs[AB_PLOT_MAX_ROOFS];
    int n_roofs;
};

/* Render a chart to `path` in one format. width/height in points; dpi only for PNG.
 * Writes path + ".tmp" and renames it, removing it on failure. */
ab_status ab_plot_render(const struct ab_plot_chart *ch, enum ab_plot_format fmt, const char *path,
                         double width_pt, double height_pt, double dpi, struct ab_error *err);

/* Colour-blind-safe palette (Okabe-Ito, no yellow): the colour of series i. Markers (8 shapes,
 * filled then open) and dash patterns (4) cycle at other periods, so grey-scale prints still
 * tell series apart. */
void ab_plot_palette(int i, double rgb[3]);
/* "line", "bars", "roofline", "dist"; and back (false for an unknown word). */
const char *ab_plot_kind_name(enum ab_plot_kind k);
bool ab_plot_kind_from_name(const char *name, enum ab_plot_kind *out);
/* Parse "pdf,svg,png" into AB_FMT_* bits; AB_EINVAL naming the bad word. */
ab_status ab_plot_formats_parse(const char *text, unsigned *out, struct ab_error *err);

/* ---------------------------------------------------------------- figures from results */

struct ab_plot_opts {
    const char *kind;        /* "line", "bars", "roofline", "dist", or NULL: automatic */
    const char *x;           /* axis name for line/dist charts, NULL: automatic */
    const char *y;           /* metric name, NULL: automatic */
    const char *filters[16]; /* "workload=NAME" or "AXIS=VALUE"; all must hold */
    int n_filters;
    unsigned formats; /* AB_FMT_* bits */
    double dpi;
    const char *out_dir;
    FILE *log; /* what was left out and what was written; may be NULL */
};

/* A planned figure: the chart and its stem ("fp8_gemm-throughput-vs-n"). Owns its arrays. */
struct ab_figure {
    char stem[160];
    struct ab_plot_chart chart;
};
struct ab_figures {
    struct ab_figure *f;
    int n, cap;
};
void ab_figures_free(struct ab_figures *fs);

/* Plan every figure from the rows (validates kind, x, y and filters: AB_EINVAL naming the bad
 * one and the choices). Rows whose status is not ok are left out and listed on opts->log and
 * in the chart's note. No figure at all is AB_EINVAL. */
ab_status ab_figures_plan(const struct ab_result_set *rs, const struct ab_plot_opts *opts,
                          struct ab_figures *out, struct ab_error *err);
/* Render every planned figure in every format into opts->out_dir (created). */
ab_status ab_figures_render(const struct ab_figures *fs, const struct ab_plot_opts *opts,
                            struct ab_error *err);

/* The row figures a metric name may be besides a workload's metrics: throughput, flops,
 * bandwidth, tokens, time, fraction, power, energy, efficiency (NULL-terminated; const). */
const char *const *ab_plot_metrics_builtin(void);
bool ab_plot_metric_builtin(const char *metric);
/* The value of a metric name (throughput, time, efficiency, fraction, power, energy, or a
 * metrics-column name) on a row, with its interval (NaN when none) and unit ("FLOP/s");
 * false when the row does not have it. */
bool ab_plot_row_metric(const struct ab_result *r, const char *metric, double *v, double *lo, double *hi,
                        const char **unit);

#endif
