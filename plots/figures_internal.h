/* figures_internal.h — what the figure planners share: the rows drawn, their devices and axes,
 * the plan of one `plot` call, and the helpers every chart kind uses. figures.c picks what to
 * chart from each workload's chart declaration (struct ab_chart_decl) and splits rows into
 * figures; one file per chart kind fills a figure: figures_line.c (a metric against an axis),
 * figures_bars.c (bars per case, and the distributions of their samples), figures_roofline.c.
 * Private to plots/: not part of plots.h. */
#ifndef AB_FIGURES_INTERNAL_H
#define AB_FIGURES_INTERNAL_H

#include "plots.h"

/* A row that is drawn, with its parsed params and its device (index into fig_plan.devs). */
struct prow {
    const struct ab_result *r;
    struct ab_params ps;
    int dev;
};

struct dev {
    char host[64], id[16], name[128], label[128];
    int rank;         /* the launcher's rank of a merged run's rows; -1 for rows of one process */
    char backend[16]; /* a peer's rows (backend=torch on device cpu) are a series of their own */
};

/* An axis of a group of rows: its distinct values, in the order the rows give them. */
#define MAX_VALS 256
struct axinfo {
    char name[32];
    int n; /* distinct values */
    char vals[MAX_VALS][48];
    bool numeric;
};

/* One call of ab_figures_plan: the rows that pass the filters and the figures made of them. */
struct fig_plan {
    const struct ab_plot_opts *o;
    struct prow *rows; /* ok rows that pass the filters */
    int n;
    struct dev devs[64];
    int n_devs;
    bool many_hosts;
    struct ab_figures *out;
    /* not-ok rows per workload, for the notes */
    char nok_wl[32][32];
    int nok_n[32], nok_wl_n;
};

/* What one set of figures of a workload shows: a chart kind of a metric (against x for LINE),
 * with the workload's chart declaration (NULL: none) for the x axis's label and the facet. */
struct figspec {
    enum ab_plot_kind kind;
    const char *metric;
    const char *x; /* LINE */
    const struct ab_chart_decl *chart;
};

/* The rows of one figure: its axes (ax, na), those that tell its series or categories apart
 * (vary, nv), and whether they are all of one device. */
struct fig_group {
    struct axinfo *ax;
    int na;
    struct axinfo *const *vary;
    int nv;
    struct prow **rows;
    int n;
    bool one_dev;
};

/* ---------------------------------------------------------------- figures_common.c */

/* A rate with the interval that follows from the time's interval (rate = count / time). */
void fig_rate_of(const struct ab_result *r, double v, double *lo, double *hi);
/* How a metric reads on an axis, and in a file name (throughput splits by its unit). */
const char *fig_metric_title(const char *metric, const char *unit);
const char *fig_metric_word(const char *metric, const char *unit);
/* A row's value of an axis, NULL when the row has none. */
const char *fig_row_param(const struct prow *p, const char *name);
/* Axes of a group of rows, in the order the rows name them; returns how many (at most max). */
int fig_collect_axes(struct prow *const *rows, int n, struct axinfo *ax, int max);
struct axinfo *fig_find_axis(struct axinfo *ax, int na, const char *name);
/* A new figure in P->out with a file-system-safe stem, made unique; NULL if out of memory. */
struct ab_figure *fig_new_figure(struct fig_plan *P, const char *stem);
void fig_free_chart(struct ab_plot_chart *ch);
/* Find or add a series by label; each holds room for `cap` points. -1 if out of memory. */
int fig_series_get(struct ab_plot_chart *ch, const char *label, int cap);
void fig_sort_series_by_x(struct ab_plot_series *se);
/* The chart's note: rows left out (of the workload; of all when NULL), and estimated energy. */
void fig_note_for(struct fig_plan *P, const char *workload, char *note, size_t len);
void fig_add_power_note(const struct prow *const *rows, int n, char *note, size_t len);
/* Log10 when the values span at least decades_for_log (a ratio), else linear. */
enum ab_plot_scale fig_value_scale(double lo, double hi, double decades_for_log, bool *binary);
/* Label of a row's variant: the values of the given axes ("bf16 tensor", "heads=8"). */
void fig_variant_label(const struct prow *p, struct axinfo *const *axes, int n, char *buf, size_t len);

/* ---------------------------------------------------------------- one file per chart kind */

/* figures_line.c: fill ch (a LINE chart, title and note set) with the group's rows: fsp->metric
 * against fsp->x, a series per device x variant. */
ab_status fig_line_fill(struct fig_plan *P, const struct figspec *fsp, const struct fig_group *g,
                        struct ab_plot_chart *ch, struct ab_error *err);
/* figures_bars.c: fill ch (BARS or DIST) with the group's rows: a category per variant, a
 * series per device; DIST charts point at the rows' samples. */
ab_status fig_bars_fill(struct fig_plan *P, const struct figspec *fsp, const struct fig_group *g,
                        struct ab_plot_chart *ch, struct ab_error *err);
/* figures_roofline.c: one roofline per device that has ceilings, with every case whose FLOPs and
 * bytes are known. explicit_ask: none to draw is an error (--kind roofline). */
ab_status fig_plan_rooflines(struct fig_plan *P, bool explicit_ask, struct ab_error *err);

#endif
