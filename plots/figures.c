/* figures.c — from result rows to the standard figures: which metric, against which axis, one
 * series per device x variant, and the file names. It knows workloads only through their rows
 * and their descriptors: axes are read from the `params` column and a metric's unit from the
 * workload's declaration, so a new workload gets charts without code here; the small table of
 * defaults below only picks nicer axes and metrics for the ones we know.
 * Samples of DIST charts point into the result set, which must outlive the figures. */
#include "plots.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES               8 /* more than this and the chart is split by another axis */
#define MAX_CATEGORIES           16
#define MAX_FIGURES_PER_WORKLOAD 32
#define FIG_W_PT                 432.0 /* 6 x 3.75 inches: a full text width, or shrunk into a column */
#define FIG_H_PT                 270.0

/* ---------------------------------------------------------------- metrics */

static const char *const builtin_metrics[] = { "throughput", "flops", "bandwidth", "tokens",     "time",
                                               "fraction",   "power", "energy",    "efficiency", NULL };

/* A rate with the interval that follows from the time's interval (rate = count / time). */
static void rate_of(const struct ab_result *r, double v, double *lo, double *hi)
{
    double m = r->time_s.median;
    *lo = *hi = NAN;
    if (m > 0 && r->time_s.ci_lo > 0 && r->time_s.ci_hi > 0) {
        *lo = v * m / r->time_s.ci_hi;
        *hi = v * m / r->time_s.ci_lo;
    }
}

/* Which count a row's throughput is: what its ceiling is held against, else what it has. */
static char rate_kind(const struct ab_result *r)
{
    if ((!strcmp(r->ceiling, "mem_bw") || !strcmp(r->ceiling, "llc_bw")) && r->bytes > 0)
        return 'b';
    if (r->flops > 0)
        return 'f';
    if (r->tokens > 0)
        return 't';
    if (r->bytes > 0)
        return 'b';
    return 0;
}

/* The unit a row's workload declares for one of its metrics ("" when undeclared). */
static const char *declared_unit(const struct ab_result *r, const char *metric)
{
    const struct ab_metric_decl *d = ab_metric_decl_find(ab_workload_find(r->workload), metric);
    return d ? d->unit : "";
}

bool ab_plot_row_metric(const struct ab_result *r, const char *metric, double *v, double *lo, double *hi,
                        const char **unit)
{
    *v = *lo = *hi = NAN;
    *unit = "";
    char k = 0;
    if (!strcmp(metric, "throughput") || !strcmp(metric, "efficiency"))
        k = rate_kind(r);
    else if (!strcmp(metric, "flops"))
        k = 'f';
    else if (!strcmp(metric, "bandwidth"))
        k = 'b';
    else if (!strcmp(metric, "tokens"))
        k = 't';
    if (!strcmp(metric, "efficiency")) {
        *v = k == 'f' ? r->flop_per_j : k == 'b' ? r->byte_per_j : k == 't' ? r->token_per_j : NAN;
        *unit = k == 'f' ? "FLOP/J" : k == 'b' ? "B/J" : "tokens/J";
        if (isfinite(*v) && *v > 0)
            rate_of(r, *v, lo, hi);
        return isfinite(*v) && *v > 0;
    }
    if (k) {
        double c = k == 'f' ? r->flops : k == 'b' ? r->bytes : r->tokens;
        *v = k == 'f' ? r->flop_per_s : k == 'b' ? r->byte_per_s : r->token_per_s;
        *unit = k == 'f' ? "FLOP/s" : k == 'b' ? "B/s" : "tokens/s";
        if (!(c > 0 && *v > 0))
            return false;
        rate_of(r, *v, lo, hi);
        return true;
    }
    if (!strcmp(metric, "time")) {
        *v = r->time_s.median;
        *lo = r->time_s.ci_lo > 0 ? r->time_s.ci_lo : NAN;
        *hi = r->time_s.ci_hi > 0 ? r->time_s.ci_hi : NAN;
        *unit = "s";
        return *v > 0;
    }
    if (!strcmp(metric, "fraction")) {
        *v = r->fraction_of_ceiling;
        if (isfinite(*v))
            rate_of(r, *v, lo, hi);
        return isfinite(*v);
    }
    if (!strcmp(metric, "power")) {
        *v = r->avg_power_w;
        *unit = "W";
        return isfinite(*v);
    }
    if (!strcmp(metric, "energy")) {
        *v = r->energy_j;
        *unit = "J";
        return isfinite(*v);
    }
    *v = ab_result_metric(r, metric);
    *unit = declared_unit(r, metric);
    return isfinite(*v);
}

/* How a metric reads on an axis and in a file name (throughput splits by its unit). */
static const char *metric_title(const char *metric, const char *unit)
{
    if (!strcmp(metric, "throughput") || !strcmp(metric, "flops") || !strcmp(metric, "bandwidth") ||
        !strcmp(metric, "tokens"))
        return !strcmp(unit, "B/s") ? "Bandwidth" : !strcmp(unit, "tokens/s") ? "Tokens" : "Throughput";
    if (!strcmp(metric, "time"))
        return "Time per repetition";
    if (!strcmp(metric, "fraction"))
        return "Fraction of ceiling";
    if (!strcmp(metric, "power"))
        return "Average power";
    if (!strcmp(metric, "energy"))
        return "Energy per repetition";
    if (!strcmp(metric, "efficiency"))
        return "Efficiency";
    return metric;
}

static const char *metric_word(const char *metric, const char *unit)
{
    if (!strcmp(metric, "throughput") || !strcmp(metric, "flops") || !strcmp(metric, "bandwidth") ||
        !strcmp(metric, "tokens"))
        return !strcmp(unit, "B/s") ? "bandwidth" : !strcmp(unit, "tokens/s") ? "tokens" : "throughput";
    if (!strcmp(metric, "efficiency"))
        return !strcmp(unit, "B/J")        ? "bandwidth-efficiency"
               : !strcmp(unit, "tokens/J") ? "token-efficiency"
                                           : "efficiency";
    return metric;
}

/* ---------------------------------------------------------------- per-workload defaults */

/* Nicer defaults for the workloads we know; anything else gets the generic choice (the numeric
 * axis with the most values; throughput; no facet). `facet` splits figures by an axis first. */
static const struct wl_default {
    const char *workload, *x, *xlabel, *xunit, *facet;
    const char *metrics[3];
    bool dist; /* also a distribution chart of the timing samples */
} wl_defaults[] = {
    { "ceilings", NULL, NULL, NULL, NULL, { "throughput", "efficiency" }, false },
    { "fp8_gemm",
      "m",
      "m (square: m = n = k; LLM shapes: tokens)",
      "",
      "shape",
      { "throughput", "max_rel_err" },
      false },
    { "attention_memory",
      "n",
      "Sequence length",
      "tokens",
      "mode",
      { "time", "peak_extra_bytes", "throughput" },
      false },
    { "transformer_block", "seq", "Sequence length", "tokens", NULL, { "throughput", "efficiency" }, false },
    { "gpt2", "batch", "Batch", "sequences", "phase", { "tokens", "efficiency" }, false },
    { "amx_timing",
      "sparsity",
      "Zero fraction of the operands",
      "",
      "instr",
      { "cpi_median_cycles", "time" },
      true },
};

static const struct wl_default *wl_default(const char *workload)
{
    for (size_t i = 0; i < sizeof wl_defaults / sizeof wl_defaults[0]; i++)
        if (!strcmp(wl_defaults[i].workload, workload))
            return &wl_defaults[i];
    return NULL;
}

/* ---------------------------------------------------------------- rows and axes */

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

#define MAX_VALS 256
struct axinfo {
    char name[32];
    int n; /* distinct values */
    char vals[MAX_VALS][48];
    bool numeric;
};

struct plan {
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

static bool is_number(const char *s, double *v)
{
    char *end;
    if (!*s)
        return false;
    *v = strtod(s, &end);
    return *end == 0 && isfinite(*v);
}

static const char *row_param(const struct prow *p, const char *name)
{
    const struct ab_value *v = ab_param(&p->ps, name);
    return v ? v->str : NULL;
}

/* Axes of a group of rows, in the order the rows name them. */
static int collect_axes(struct prow *const *rows, int n, struct axinfo *ax, int max)
{
    int na = 0;
    for (int i = 0; i < n; i++) {
        const struct ab_params *ps = &rows[i]->ps;
        for (int j = 0; j < ps->n; j++) {
            int a = 0;
            while (a < na && strcmp(ax[a].name, ps->p[j].name))
                a++;
            if (a == na) {
                if (na == max)
                    continue;
                memset(&ax[a], 0, sizeof ax[a]);
                snprintf(ax[a].name, sizeof ax[a].name, "%s", ps->p[j].name);
                ax[a].numeric = true;
                na++;
            }
            const char *s = ps->p[j].val.str;
            int k = 0;
            while (k < ax[a].n && strcmp(ax[a].vals[k], s))
                k++;
            if (k == ax[a].n && k < MAX_VALS) {
                snprintf(ax[a].vals[k], sizeof ax[a].vals[k], "%s", s);
                ax[a].n++;
                double d;
                if (!is_number(s, &d))
                    ax[a].numeric = false;
            }
        }
    }
    return na;
}

static struct axinfo *find_axis(struct axinfo *ax, int na, const char *name)
{
    for (int a = 0; a < na; a++)
        if (!strcmp(ax[a].name, name))
            return &ax[a];
    return NULL;
}

/* ---------------------------------------------------------------- building figures */

static struct ab_figure *new_figure(struct plan *P, const char *stem)
{
    struct ab_figures *fs = P->out;
    if (fs->n == fs->cap) {
        int cap = fs->cap ? 2 * fs->cap : 16;
        struct ab_figure *f = realloc(fs->f, (size_t)cap * sizeof *f);
        if (!f)
            return NULL;
        fs->f = f;
        fs->cap = cap;
    }
    struct ab_figure *f = &fs->f[fs->n];
    memset(f, 0, sizeof *f);
    /* stable, file-system-safe, unique */
    char s[160];
    size_t j = 0;
    for (const char *c = stem; *c && j + 1 < sizeof s; c++)
        s[j++] = (char)((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                                *c == '_' || *c == '-' || *c == '.'
                            ? *c
                            : '_');
    s[j] = 0;
    snprintf(f->stem, sizeof f->stem, "%s", s);
    for (int dup = 2;; dup++) {
        bool clash = false;
        for (int i = 0; i < fs->n; i++)
            clash |= !strcmp(fs->f[i].stem, f->stem);
        if (!clash)
            break;
        snprintf(f->stem, sizeof f->stem, "%.150s-%d", s, dup);
    }
    fs->n++;
    return f;
}

static void free_chart(struct ab_plot_chart *ch)
{
    for (int s = 0; s < ch->n_series; s++) {
        struct ab_plot_series *se = &ch->series[s];
        free(se->x);
        free(se->y);
        free(se->ylo);
        free(se->yhi);
        free(se->samples);
        free(se->n_samples);
    }
    free(ch->series);
    free(ch->categories);
    memset(ch, 0, sizeof *ch);
}

void ab_figures_free(struct ab_figures *fs)
{
    for (int i = 0; i < fs->n; i++)
        free_chart(&fs->f[i].chart);
    free(fs->f);
    memset(fs, 0, sizeof *fs);
}

/* Find or add a series by label; each holds room for `cap` points. */
static int series_get(struct ab_plot_chart *ch, const char *label, int cap)
{
    for (int s = 0; s < ch->n_series; s++)
        if (!strcmp(ch->series[s].label, label))
            return s;
    struct ab_plot_series *ns = realloc(ch->series, (size_t)(ch->n_series + 1) * sizeof *ns);
    if (!ns)
        return -1;
    ch->series = ns;
    struct ab_plot_series *se = &ch->series[ch->n_series];
    memset(se, 0, sizeof *se);
    snprintf(se->label, sizeof se->label, "%s", label);
    se->x = malloc((size_t)cap * sizeof *se->x);
    se->y = malloc((size_t)cap * sizeof *se->y);
    se->ylo = malloc((size_t)cap * sizeof *se->ylo);
    se->yhi = malloc((size_t)cap * sizeof *se->yhi);
    se->samples = calloc((size_t)cap, sizeof *se->samples);
    se->n_samples = calloc((size_t)cap, sizeof *se->n_samples);
    ch->n_series++;
    if (!se->x || !se->y || !se->ylo || !se->yhi || !se->samples || !se->n_samples)
        return -1;
    for (int i = 0; i < cap; i++)
        se->x[i] = se->y[i] = se->ylo[i] = se->yhi[i] = NAN;
    return ch->n_series - 1;
}

static void sort_series_by_x(struct ab_plot_series *se)
{
    for (int i = 1; i < se->n; i++)
        for (int j = i; j > 0 && se->x[j] < se->x[j - 1]; j--) {
            double t;
#define SWAP(a) (t = a[j], a[j] = a[j - 1], a[j - 1] = t)
            SWAP(se->x);
            SWAP(se->y);
            SWAP(se->ylo);
            SWAP(se->yhi);
#undef SWAP
        }
}

static void note_for(struct plan *P, const char *workload, char *note, size_t len)
{
    /* one total (over every workload when NULL) keeps the note on one line */
    int total = 0;
    for (int i = 0; i < P->nok_wl_n; i++)
        if (!workload || !strcmp(P->nok_wl[i], workload))
            total += P->nok_n[i];
    note[0] = 0;
    if (total)
        snprintf(note, len, "%d case%s not ok (skipped or failed) left out, listed on stderr", total,
                 total == 1 ? "" : "s");
}

static void add_power_note(const struct prow *const *rows, int n, char *note, size_t len)
{
    for (int i = 0; i < n; i++)
        if (!strncmp(rows[i]->r->power_source, "nominal:", 8)) {
            size_t l = strlen(note);
            snprintf(note + l, len - l, "%senergy is an estimate (%s: nominal power x time)", l ? "; " : "",
                     rows[i]->r->power_source);
            return;
        }
}

static enum ab_plot_scale value_scale(double lo, double hi, double decades_for_log, bool *binary)
{
    *binary = false;
    if (!(lo > 0) || !(hi / lo >= decades_for_log))
        return AB_SCALE_LINEAR;
    return AB_SCALE_LOG10;
}

/* Label of a row's variant: the values of the given axes ("bf16 tensor", "heads=8"). */
static void variant_label(const struct prow *p, struct axinfo *const *axes, int n, char *buf, size_t len)
{
    buf[0] = 0;
    for (int a = 0; a < n; a++) {
        const char *v = row_param(p, axes[a]->name);
        if (!v)
            v = "-";
        size_t l = strlen(buf);
        if (axes[a]->numeric)
            snprintf(buf + l, len - l, "%s%s=%s", l ? " " : "", axes[a]->name, v);
        else
            snprintf(buf + l, len - l, "%s%s", l ? " " : "", v);
    }
}

struct figspec {
    enum ab_plot_kind kind;
    const char *metric;
    const char *x; /* LINE */
    const struct wl_default *def;
};

/* Count distinct keys among rows, up to limit + 1: the caller only asks whether they fit in
 * limit, and stopping there keeps this rows x limit rather than rows x rows. */
static int count_keys(struct prow *const *rows, int n, bool with_dev, struct axinfo *const *axes, int na,
                      int limit)
{
    char(*keys)[256] = malloc((size_t)(n > 0 ? n : 1) * sizeof *keys);
    if (!keys)
        return n;
    int nk = 0;
    for (int i = 0; i < n && nk <= limit; i++) {
        char k[256];
        variant_label(rows[i], axes, na, k, sizeof k);
        if (with_dev) {
            size_t l = strlen(k);
            snprintf(k + l, sizeof k - l, "|%d", rows[i]->dev);
        }
        int j = 0;
        while (j < nk && strcmp(keys[j], k))
            j++;
        if (j == nk)
            snprintf(keys[nk++], sizeof keys[0], "%s", k);
    }
    free(keys);
    return nk;
}

/* One figure (or one per facet value) of a group of rows sharing a metric unit. */
static ab_status build_group(struct plan *P, const char *workload, struct prow **rows, int n,
                             const struct figspec *fsp, const char *unit, struct ab_error *err)
{
    struct axinfo *ax = calloc(AB_MAX_AXES, sizeof *ax);
    if (!ax)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    int na = collect_axes(rows, n, ax, AB_MAX_AXES);
    struct axinfo *vary[AB_MAX_AXES], *facets[AB_MAX_AXES];
    int nv = 0, nf = 0;
    for (int a = 0; a < na; a++)
        if (ax[a].n > 1 && !(fsp->kind == AB_PLOT_LINE && fsp->x && !strcmp(ax[a].name, fsp->x)))
            vary[nv++] = &ax[a];
    /* Facets: the workload's own first, then the string axis with the fewest values, until the
     * series (or the categories) fit. */
    if (fsp->def && fsp->def->facet)
        for (int a = 0; a < nv; a++)
            if (!strcmp(vary[a]->name, fsp->def->facet)) {
                facets[nf++] = vary[a];
                memmove(&vary[a], &vary[a + 1], (size_t)(nv - a - 1) * sizeof vary[0]);
                nv--;
                break;
            }
    for (;;) {
        bool by_dev = fsp->kind == AB_PLOT_LINE;
        int limit = fsp->kind == AB_PLOT_LINE ? MAX_SERIES : MAX_CATEGORIES;
        int count = count_keys(rows, n, by_dev, vary, nv, limit);
        if (count <= limit || nv == 0)
            break;
        int best = -1;
        for (int a = 0; a < nv; a++)
            if (best < 0 || (!vary[a]->numeric && vary[best]->numeric) ||
                (vary[a]->numeric == vary[best]->numeric && vary[a]->n < vary[best]->n))
                best = a;
        facets[nf++] = vary[best];
        memmove(&vary[best], &vary[best + 1], (size_t)(nv - best - 1) * sizeof vary[0]);
        nv--;
    }
    /* One figure per combination of facet values. */
    int nfig = 0;
    bool *done = calloc((size_t)n, sizeof *done);
    struct prow **sub = malloc((size_t)n * sizeof *sub);
    ab_status st = AB_OK;
    if (!done || !sub)
        st = ab_fail(err, AB_ENOMEM, "out of memory");
    for (int i0 = 0; st == AB_OK && i0 < n; i0++) {
        if (done[i0])
            continue;
        char fkey[256];
        variant_label(rows[i0], facets, nf, fkey, sizeof fkey);
        int ns = 0;
        for (int i = i0; i < n; i++) {
            char k[256];
            variant_label(rows[i], facets, nf, k, sizeof k);
            if (!done[i] && !strcmp(k, fkey)) {
                done[i] = true;
                sub[ns++] = rows[i];
            }
        }
        if (++nfig > MAX_FIGURES_PER_WORKLOAD) {
            if (P->o->log)
                fprintf(P->o->log, "plot: %s: more than %d figures of %s; narrow them with --filter\n",
                        workload, MAX_FIGURES_PER_WORKLOAD, fsp->metric);
            break;
        }
        const char *mword = metric_word(fsp->metric, unit);
        char stem[256], fstem[200] = "";
        for (int f = 0; f < nf; f++) {
            const char *v = row_param(sub[0], facets[f]->name);
            size_t l = strlen(fstem);
            if (facets[f]->numeric)
                snprintf(fstem + l, sizeof fstem - l, "-%s%s", facets[f]->name, v ? v : "");
            else
                snprintf(fstem + l, sizeof fstem - l, "-%s", v ? v : "");
        }
        if (fsp->kind == AB_PLOT_LINE)
            snprintf(stem, sizeof stem, "%s-%s-vs-%s%s", workload, mword, fsp->x, fstem);
        else
            snprintf(stem, sizeof stem, "%s-%s-%s%s", workload, mword,
                     fsp->kind == AB_PLOT_DIST ? "dist" : "bars", fstem);
        struct ab_figure *fig = new_figure(P, stem);
        if (!fig) {
            st = ab_fail(err, AB_ENOMEM, "out of memory");
            break;
        }
        struct ab_plot_chart *ch = &fig->chart;
        ch->kind = fsp->kind;
        snprintf(ch->ylabel, sizeof ch->ylabel, "%s", metric_title(fsp->metric, unit));
        snprintf(ch->yunit, sizeof ch->yunit, "%s", fsp->kind == AB_PLOT_DIST ? "s" : unit);
        if (fsp->kind == AB_PLOT_DIST)
            snprintf(ch->ylabel, sizeof ch->ylabel, "Time per repetition");
        /* title: workload, facet values, and the device when there is only one */
        int d0 = sub[0]->dev;
        bool one_dev = true;
        for (int i = 0; i < ns; i++)
            one_dev &= sub[i]->dev == d0;
        char fdesc[200];
        variant_label(sub[0], facets, nf, fdesc, sizeof fdesc);
        snprintf(ch->title, sizeof ch->title, "%s%s%s%s%s", workload, fdesc[0] ? " \xc2\xb7 " : "", fdesc,
                 one_dev ? " \xc2\xb7 " : "", one_dev ? P->devs[d0].label : "");
        note_for(P, workload, ch->note, sizeof ch->note);
        if (!strcmp(fsp->metric, "efficiency") || !strcmp(fsp->metric, "energy") ||
            !strcmp(fsp->metric, "power"))
            add_power_note((const struct prow *const *)sub, ns, ch->note, sizeof ch->note);

        if (fsp->kind == AB_PLOT_LINE) {
            const struct axinfo *xa = find_axis(ax, na, fsp->x);
            snprintf(ch->xlabel, sizeof ch->xlabel, "%s",
                     fsp->def && fsp->def->xlabel && fsp->def->x && !strcmp(fsp->def->x, fsp->x)
                         ? fsp->def->xlabel
                         : fsp->x);
            snprintf(ch->xunit, sizeof ch->xunit, "%s",
                     fsp->def && fsp->def->xunit && fsp->def->x && !strcmp(fsp->def->x, fsp->x)
                         ? fsp->def->xunit
                         : "");
            double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
            int pow2 = 0, nx = 0;
            for (int k = 0; xa && k < xa->n; k++) {
                double v = strtod(xa->vals[k], NULL);
                xlo = fmin(xlo, v);
                xhi = fmax(xhi, v);
                nx++;
                pow2 += v >= 1 && v == floor(v) && ((int64_t)v & ((int64_t)v - 1)) == 0;
            }
            for (int i = 0; i < ns; i++) {
                char lab[256] = "", var[200];
                variant_label(sub[i], vary, nv, var, sizeof var);
                snprintf(lab, sizeof lab, "%s%s%s", one_dev ? "" : P->devs[sub[i]->dev].label,
                         !one_dev && var[0] ? " " : "", var);
                if (!lab[0])
                    snprintf(lab, sizeof lab, "%s", P->devs[sub[i]->dev].label);
                int s = series_get(ch, lab, ns);
                if (s < 0) {
                    st = ab_fail(err, AB_ENOMEM, "out of memory");
                    break;
                }
                struct ab_plot_series *se = &ch->series[s];
                const char *u;
                ab_plot_row_metric(sub[i]->r, fsp->metric, &se->y[se->n], &se->ylo[se->n], &se->yhi[se->n],
                                   &u);
                se->x[se->n] = strtod(row_param(sub[i], fsp->x), NULL);
                ylo = fmin(ylo, se->y[se->n]);
                yhi = fmax(yhi, se->y[se->n]);
                se->n++;
            }
            for (int s = 0; s < ch->n_series; s++)
                sort_series_by_x(&ch->series[s]);
            if (xlo > 0 && xhi / xlo >= 16) {
                ch->xscale = pow2 * 2 >= nx ? AB_SCALE_LOG2 : AB_SCALE_LOG10;
                ch->xbinary = ch->xscale == AB_SCALE_LOG2 && xhi >= 1024;
            }
            bool b;
            ch->yscale = value_scale(ylo, yhi, 30, &b);
        } else {
            /* BARS and DIST: a category per variant, a series per device */
            snprintf(ch->xlabel, sizeof ch->xlabel, "%s", "");
            char(*cats)[64] = calloc((size_t)ns, sizeof *cats);
            if (!cats) {
                st = ab_fail(err, AB_ENOMEM, "out of memory");
                break;
            }
            ch->categories = cats;
            double ylo = INFINITY, yhi = -INFINITY;
            for (int i = 0; i < ns; i++) {
                char c[256];
                variant_label(sub[i], vary, nv, c, sizeof c);
                if (!c[0]) { /* a single case: name it by its string axes */
                    struct axinfo *strs[AB_MAX_AXES];
                    int nstr = 0;
                    for (int a = 0; a < na; a++)
                        if (!ax[a].numeric)
                            strs[nstr++] = &ax[a];
                    variant_label(sub[i], strs, nstr, c, sizeof c);
                }
                int ci = 0;
                while (ci < ch->n_categories && strcmp(ch->categories[ci], c))
                    ci++;
                if (ci == ch->n_categories)
                    snprintf(ch->categories[ch->n_categories++], sizeof cats[0], "%s", c);
                int s = series_get(ch, P->devs[sub[i]->dev].label, ns);
                if (s < 0) {
                    st = ab_fail(err, AB_ENOMEM, "out of memory");
                    break;
                }
                struct ab_plot_series *se = &ch->series[s];
                if (fsp->kind == AB_PLOT_DIST) {
                    se->samples[ci] = sub[i]->r->samples;
                    se->n_samples[ci] = sub[i]->r->n_samples;
                    for (int64_t j = 0; j < sub[i]->r->n_samples; j++) {
                        ylo = fmin(ylo, sub[i]->r->samples[j]);
                        yhi = fmax(yhi, sub[i]->r->samples[j]);
                    }
                } else {
                    const char *u;
                    ab_plot_row_metric(sub[i]->r, fsp->metric, &se->y[ci], &se->ylo[ci], &se->yhi[ci], &u);
                    ylo = fmin(ylo, se->y[ci]);
                    yhi = fmax(yhi, se->y[ci]);
                }
            }
            for (int s = 0; s < ch->n_series; s++)
                ch->series[s].n = ch->n_categories;
            bool b;
            ch->yscale = value_scale(ylo, yhi, fsp->kind == AB_PLOT_DIST ? 10 : 100, &b);
        }
    }
    free(done);
    free(sub);
    free(ax);
    return st;
}

/* A chart kind of one metric for one workload's rows: split by the metric's unit, then built. */
static ab_status build_figures(struct plan *P, const char *workload, struct prow **rows, int n,
                               const struct figspec *fsp, bool explicit_ask, struct ab_error *err)
{
    struct prow **grp = malloc((size_t)(n > 0 ? n : 1) * sizeof *grp);
    const char **units = malloc((size_t)(n > 0 ? n : 1) * sizeof *units);
    if (!grp || !units) {
        free(grp);
        free(units);
        return ab_fail(err, AB_ENOMEM, "out of memory");
    }
    int nu = 0, have = 0;
    for (int i = 0; i < n; i++) {
        double v, lo, hi;
        const char *u;
        bool ok = fsp->kind == AB_PLOT_DIST ? rows[i]->r->n_samples > 0
                                            : ab_plot_row_metric(rows[i]->r, fsp->metric, &v, &lo, &hi, &u);
        if (fsp->kind == AB_PLOT_DIST)
            u = "s";
        if (fsp->kind == AB_PLOT_LINE && ok && !row_param(rows[i], fsp->x))
            ok = false;
        if (!ok)
            continue;
        have++;
        int k = 0;
        while (k < nu && strcmp(units[k], u))
            k++;
        if (k == nu)
            units[nu++] = u;
    }
    ab_status st = AB_OK;
    if (!have && explicit_ask)
        st = ab_fail(err, AB_EINVAL, "%s: no ok row has %s", workload,
                     fsp->kind == AB_PLOT_DIST ? "timing samples (samples.jsonl beside the CSV)"
                                               : fsp->metric);
    for (int k = 0; st == AB_OK && k < nu; k++) {
        int ng = 0;
        for (int i = 0; i < n; i++) {
            double v, lo, hi;
            const char *u = "s";
            bool ok = fsp->kind == AB_PLOT_DIST
                          ? rows[i]->r->n_samples > 0
                          : ab_plot_row_metric(rows[i]->r, fsp->metric, &v, &lo, &hi, &u);
            if (fsp->kind == AB_PLOT_LINE && !row_param(rows[i], fsp->x))
                ok = false;
            if (ok && !strcmp(u, units[k]))
                grp[ng++] = rows[i];
        }
        st = build_group(P, workload, grp, ng, fsp, units[k], err);
    }
    free(grp);
    free(units);
    return st;
}

/* Rooflines: one per device that has ceilings, with every case whose FLOPs and bytes are known. */
static ab_status build_rooflines(struct plan *P, bool explicit_ask, struct ab_error *err)
{
    int made = 0;
    for (int d = 0; d < P->n_devs; d++) {
        struct ab_plot_roof roofs[AB_PLOT_MAX_ROOFS];
        int nr = 0, npts = 0;
        for (int i = 0; i < P->n; i++) {
            const struct ab_result *r = P->rows[i].r;
            if (P->rows[i].dev != d)
                continue;
            if (r->flops > 0 && r->bytes > 0 && r->flop_per_s > 0)
                npts++;
            if (!r->ceiling[0] || !(r->ceiling_value > 0))
                continue;
            bool bw = !strcmp(r->ceiling, "mem_bw");
            size_t cl = strlen(r->ceiling);
            if (!bw &&
                !(cl > 5 && (!strcmp(r->ceiling + cl - 5, "_gemm") || !strcmp(r->ceiling + cl - 4, "_fma"))))
                continue;
            int k = 0;
            while (k < nr && strcmp(roofs[k].name, r->ceiling))
                k++;
            if (k == nr) {
                if (nr == AB_PLOT_MAX_ROOFS)
                    continue;
                memset(&roofs[k], 0, sizeof roofs[k]);
                snprintf(roofs[k].name, sizeof roofs[k].name, "%s", r->ceiling);
                roofs[k].bandwidth = bw;
                nr++;
            }
            roofs[k].value = fmax(roofs[k].value, r->ceiling_value);
        }
        if (!nr || !npts)
            continue;
        char stem[160];
        char rk[24] = "";
        if (P->devs[d].rank >= 0) /* each rank of a merged run its own chart */
            snprintf(rk, sizeof rk, "-rank%d", P->devs[d].rank);
        snprintf(stem, sizeof stem, "roofline-%s%s%s%s", P->devs[d].id, P->many_hosts ? "-" : "",
                 P->many_hosts ? P->devs[d].host : "", rk);
        struct ab_figure *fig = new_figure(P, stem);
        if (!fig)
            return ab_fail(err, AB_ENOMEM, "out of memory");
        struct ab_plot_chart *ch = &fig->chart;
        ch->kind = AB_PLOT_ROOFLINE;
        ch->xscale = ch->yscale = AB_SCALE_LOG10;
        snprintf(ch->title, sizeof ch->title, "Roofline \xc2\xb7 %s", P->devs[d].label);
        snprintf(ch->xlabel, sizeof ch->xlabel, "Arithmetic intensity");
        snprintf(ch->xunit, sizeof ch->xunit, "FLOP/B");
        snprintf(ch->ylabel, sizeof ch->ylabel, "Performance");
        snprintf(ch->yunit, sizeof ch->yunit, "FLOP/s");
        memcpy(ch->roofs, roofs, (size_t)nr * sizeof roofs[0]);
        ch->n_roofs = nr;
        note_for(P, NULL, ch->note, sizeof ch->note);
        /* series: workload and dtype; just the workload when that makes too many */
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < P->n; i++) {
                const struct ab_result *r = P->rows[i].r;
                if (P->rows[i].dev != d || !(r->flops > 0 && r->bytes > 0 && r->flop_per_s > 0))
                    continue;
                char lab[128];
                const char *dt = row_param(&P->rows[i], "dtype");
                const char *kind = row_param(&P->rows[i], "kind");
                snprintf(lab, sizeof lab, "%s", r->workload);
                if (pass == 0 && kind) {
                    size_t l = strlen(lab);
                    snprintf(lab + l, sizeof lab - l, " %s", kind);
                }
                if (pass == 0 && dt) {
                    size_t l = strlen(lab);
                    snprintf(lab + l, sizeof lab - l, " %s", dt);
                }
                int s = series_get(ch, lab, npts);
                if (s < 0)
                    return ab_fail(err, AB_ENOMEM, "out of memory");
                struct ab_plot_series *se = &ch->series[s];
                se->x[se->n] = r->flops / r->bytes;
                se->y[se->n] = r->flop_per_s;
                rate_of(r, r->flop_per_s, &se->ylo[se->n], &se->yhi[se->n]);
                se->n++;
            }
            if (ch->n_series <= 10 || pass == 1)
                break;
            struct ab_plot_roof keep[AB_PLOT_MAX_ROOFS];
            memcpy(keep, ch->roofs, sizeof keep);
            free_chart(ch);
            ch->kind = AB_PLOT_ROOFLINE;
            ch->xscale = ch->yscale = AB_SCALE_LOG10;
            snprintf(ch->title, sizeof ch->title, "Roofline \xc2\xb7 %s", P->devs[d].label);
            snprintf(ch->xlabel, sizeof ch->xlabel, "Arithmetic intensity");
            snprintf(ch->xunit, sizeof ch->xunit, "FLOP/B");
            snprintf(ch->ylabel, sizeof ch->ylabel, "Performance");
            snprintf(ch->yunit, sizeof ch->yunit, "FLOP/s");
            memcpy(ch->roofs, keep, sizeof keep);
            ch->n_roofs = nr;
            note_for(P, NULL, ch->note, sizeof ch->note);
        }
        made++;
    }
    if (!made && explicit_ask)
        return ab_fail(err, AB_EINVAL,
                       "no roofline to draw: it needs a device ceiling (run the ceilings workload) "
                       "and cases whose FLOPs and bytes are both known");
    return AB_OK;
}

/* ---------------------------------------------------------------- planning */

static ab_status parse_filter(const char *f, char *key, size_t klen, const char **val, struct ab_error *err)
{
    const char *eq = strchr(f, '=');
    if (!eq || eq == f)
        return ab_fail(err, AB_EINVAL, "bad filter \"%s\" (expected KEY=VALUE, e.g. workload=ceilings)", f);
    snprintf(key, klen, "%.*s", (int)(eq - f), f);
    *val = eq + 1;
    return AB_OK;
}

static const char *field_of(const struct prow *p, const char *key, bool *known)
{
    *known = true;
    if (!strcmp(key, "workload"))
        return p->r->workload;
    if (!strcmp(key, "device"))
        return p->r->device;
    if (!strcmp(key, "host"))
        return p->r->host;
    if (!strcmp(key, "backend"))
        return p->r->backend;
    const char *v = row_param(p, key);
    *known = v != NULL;
    return v;
}

/* Filter values may be lists: dtype=bf16,fp32. */
static bool value_in(const char *v, const char *list)
{
    size_t n = strlen(v);
    for (const char *p = list; *p;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l == n && !strncmp(p, v, n))
            return true;
        p += l + (c ? 1 : 0);
        if (!c)
            break;
    }
    return false;
}

static bool metric_known(const struct ab_result_set *rs, const char *m)
{
    for (int i = 0; builtin_metrics[i]; i++)
        if (!strcmp(builtin_metrics[i], m))
            return true;
    for (int64_t i = 0; i < rs->n; i++)
        for (int j = 0; j < rs->rows[i].n_metrics; j++)
            if (!strcmp(rs->rows[i].metrics[j].name, m))
                return true;
    return false;
}

static void metric_choices(const struct ab_result_set *rs, char *buf, size_t len)
{
    buf[0] = 0;
    for (int i = 0; builtin_metrics[i]; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, len - l, "%s%s", i ? ", " : "", builtin_metrics[i]);
    }
    for (int64_t i = 0; i < rs->n; i++)
        for (int j = 0; j < rs->rows[i].n_metrics; j++) {
            const struct ab_metric *m = &rs->rows[i].metrics[j];
            if (m->text[0] || strstr(buf, m->name))
                continue;
            size_t l = strlen(buf);
            snprintf(buf + l, len - l, ", %s", m->name);
        }
}

static ab_status plan_rows_of(struct plan *P, const struct ab_result_set *rs, const bool *latest,
                              struct ab_error *err)
{
    const struct ab_plot_opts *o = P->o;
    P->rows = calloc((size_t)(rs->n > 0 ? rs->n : 1), sizeof *P->rows);
    if (!P->rows)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    int matched[16] = { 0 };
    int n_nok = 0;
    for (int64_t i = 0; i < rs->n; i++) {
        if (!latest[i])
            continue;
        struct prow p = { .r = &rs->rows[i] };
        struct ab_error perr;
        if (ab_params_parse(p.r->params, &p.ps, &perr) != AB_OK)
            p.ps.n = 0;
        bool keep = true;
        for (int f = 0; f < o->n_filters; f++) {
            char key[64];
            const char *val = "";
            ab_status st = parse_filter(o->filters[f], key, sizeof key, &val, err);
            if (st != AB_OK)
                return st;
            bool known;
            const char *v = field_of(&p, key, &known);
            if (known && value_in(v, val))
                matched[f]++;
            else
                keep = false;
        }
        if (!keep)
            continue;
        if (p.r->status != AB_OK) {
            n_nok++;
            int w = 0;
            while (w < P->nok_wl_n && strcmp(P->nok_wl[w], p.r->workload))
                w++;
            if (w == P->nok_wl_n && w < 32) {
                snprintf(P->nok_wl[w], sizeof P->nok_wl[w], "%s", p.r->workload);
                P->nok_wl_n++;
            }
            if (w < 32)
                P->nok_n[w]++;
            if (o->log && n_nok <= 20)
                fprintf(o->log, "plot: left out (%s): %s %s %s: %s\n", ab_status_word(p.r->status),
                        p.r->workload, p.r->device, p.r->params[0] ? p.r->params : "-", p.r->message);
            continue;
        }
        int d = 0;
        double rk = ab_result_metric(p.r, "rank");
        int rank = isfinite(rk) ? (int)rk : -1;
        while (d < P->n_devs && (strcmp(P->devs[d].host, p.r->host) || strcmp(P->devs[d].id, p.r->device) ||
                                 strcmp(P->devs[d].name, p.r->device_name) || P->devs[d].rank != rank ||
                                 strcmp(P->devs[d].backend, p.r->backend)))
            d++;
        if (d == P->n_devs) {
            if (d == 64)
                return ab_fail(err, AB_EINVAL,
                               "more than 64 devices in the results; narrow them with --filter");
            snprintf(P->devs[d].host, sizeof P->devs[d].host, "%s", p.r->host);
            snprintf(P->devs[d].id, sizeof P->devs[d].id, "%s", p.r->device);
            snprintf(P->devs[d].name, sizeof P->devs[d].name, "%s", p.r->device_name);
            P->devs[d].rank = rank;
            snprintf(P->devs[d].backend, sizeof P->devs[d].backend, "%s", p.r->backend);
            P->n_devs++;
        }
        p.dev = d;
        P->rows[P->n++] = p;
    }
    if (o->log && n_nok > 20)
        fprintf(o->log, "plot: ... and %d more rows not ok left out\n", n_nok - 20);
    /* A filter that matched nothing names its key's valid values. */
    for (int f = 0; f < o->n_filters; f++) {
        if (matched[f])
            continue;
        char key[64], vals[400] = "";
        const char *val = "";
        parse_filter(o->filters[f], key, sizeof key, &val, err);
        int seen = 0;
        for (int64_t i = 0; i < rs->n && strlen(vals) < 300; i++) {
            struct prow p = { .r = &rs->rows[i] };
            struct ab_error perr;
            if (ab_params_parse(p.r->params, &p.ps, &perr) != AB_OK)
                continue;
            bool known;
            const char *v = field_of(&p, key, &known);
            if (!known || strstr(vals, v))
                continue;
            size_t l = strlen(vals);
            snprintf(vals + l, sizeof vals - l, "%s%s", seen++ ? ", " : "", v);
        }
        if (!seen)
            return ab_fail(err, AB_EINVAL,
                           "unknown filter key \"%s\" in \"%s\" (valid: workload, device, host, "
                           "backend, or an axis of the results)",
                           key, o->filters[f]);
        return ab_fail(err, AB_EINVAL, "filter \"%s\" matches no rows (%s values: %s)", o->filters[f], key,
                       vals);
    }
    /* Series labels: the device name, with the host where two hosts share it. */
    for (int d = 0; d < P->n_devs; d++) {
        struct dev *dv = &P->devs[d];
        bool clash = false;
        for (int e = 0; e < P->n_devs; e++)
            clash |= e != d && !strcmp(P->devs[e].name, dv->name) && !strcmp(P->devs[e].id, dv->id) &&
                     !strcmp(P->devs[e].backend, dv->backend);
        P->many_hosts |= strcmp(dv->host, P->devs[0].host) != 0;
        const char *name = dv->name[0] ? dv->name : dv->id;
        if (clash && dv->rank >= 0)
            snprintf(dv->label, sizeof dv->label, "%.60s (%.40s rank %d)", name, dv->host, dv->rank);
        else if (clash)
            snprintf(dv->label, sizeof dv->label, "%.60s (%.60s)", name, dv->host);
        else if (strcmp(dv->id, "cpu") && dv->name[0])
            snprintf(dv->label, sizeof dv->label, "%.100s (%.20s)", name, dv->id);
        else
            snprintf(dv->label, sizeof dv->label, "%s", name);
        /* A peer's rows (torch_peers.py: backend=torch) on one of our devices: name the peer. */
        if (dv->backend[0] && strcmp(dv->backend, "cpu") && strcmp(dv->backend, "cuda")) {
            size_t l = strlen(dv->label);
            snprintf(dv->label + l, sizeof dv->label - l, " \xc2\xb7 %.15s", dv->backend);
        }
    }
    return AB_OK;
}

/* The rows drawn: the latest row of each case on each host (a resumed case's row replaces its
 * `interrupted` one; a case run twice would otherwise zig-zag), as compare reads them. */
static ab_status plan_rows(struct plan *P, const struct ab_result_set *rs, struct ab_error *err)
{
    int n = 0;
    const struct ab_result **lt = ab_results_latest_per_host(rs, &n);
    bool *latest = calloc((size_t)(rs->n > 0 ? rs->n : 1), sizeof *latest);
    if (!lt || !latest) {
        free(lt);
        free(latest);
        return ab_fail(err, AB_ENOMEM, "out of memory");
    }
    for (int k = 0; k < n; k++)
        latest[lt[k] - rs->rows] = true;
    free(lt);
    if (P->o->log && n < rs->n)
        fprintf(P->o->log,
                "plot: note: %lld earlier row%s of repeated cases left out (the latest row of each case is "
                "drawn)\n",
                (long long)(rs->n - n), rs->n - n == 1 ? "" : "s");
    ab_status st = plan_rows_of(P, rs, latest, err);
    free(latest);
    return st;
}

ab_status ab_figures_plan(const struct ab_result_set *rs, const struct ab_plot_opts *o,
                          struct ab_figures *out, struct ab_error *err)
{
    memset(out, 0, sizeof *out);
    enum ab_plot_kind kind = AB_PLOT_LINE;
    if (o->kind && !ab_plot_kind_from_name(o->kind, &kind))
        return ab_fail(err, AB_EINVAL, "unknown chart kind \"%s\" (valid: line, bars, roofline, dist)",
                       o->kind);
    if (o->y && !metric_known(rs, o->y)) {
        char ch[400];
        metric_choices(rs, ch, sizeof ch);
        return ab_fail(err, AB_EINVAL, "unknown metric \"%s\" (valid: %s)", o->y, ch);
    }
    if (rs->n == 0)
        return ab_fail(err, AB_EINVAL, "no rows to plot: the results are empty");
    if (o->n_filters > 16)
        return ab_fail(err, AB_EINVAL, "too many filters (at most 16)");
    struct plan P = { .o = o, .out = out };
    ab_status st = plan_rows(&P, rs, err);
    if (st == AB_OK && P.n == 0)
        st = ab_fail(err, AB_EINVAL, "no rows to plot: none of the %lld rows%s has status ok",
                     (long long)rs->n, o->n_filters ? " that pass the filters" : "");
    if (st == AB_OK && o->x) {
        bool found = false;
        char names[300] = "";
        for (int i = 0; i < P.n; i++) {
            found |= row_param(&P.rows[i], o->x) != NULL;
            for (int j = 0; j < P.rows[i].ps.n && strlen(names) < 250; j++)
                if (!strstr(names, P.rows[i].ps.p[j].name)) {
                    size_t l = strlen(names);
                    snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "", P.rows[i].ps.p[j].name);
                }
        }
        if (!found)
            st = ab_fail(err, AB_EINVAL, "unknown axis \"%s\" for -x (valid: %s)", o->x, names);
    }
    /* Workloads in order of appearance. */
    const char *wls[64];
    int nw = 0;
    for (int i = 0; st == AB_OK && i < P.n; i++) {
        int w = 0;
        while (w < nw && strcmp(wls[w], P.rows[i].r->workload))
            w++;
        if (w == nw && nw < 64)
            wls[nw++] = P.rows[i].r->workload;
    }
    struct prow **rows = malloc((size_t)P.n * sizeof *rows + 1);
    if (!rows && st == AB_OK)
        st = ab_fail(err, AB_ENOMEM, "out of memory");
    bool want_roofline = !o->kind || kind == AB_PLOT_ROOFLINE;
    for (int w = 0; st == AB_OK && w < nw && !(o->kind && kind == AB_PLOT_ROOFLINE); w++) {
        int n = 0;
        for (int i = 0; i < P.n; i++)
            if (!strcmp(P.rows[i].r->workload, wls[w]))
                rows[n++] = &P.rows[i];
        const struct wl_default *def = wl_default(wls[w]);
        /* the x axis: asked for, the workload's default, or the numeric axis with most values */
        struct axinfo *ax = calloc(AB_MAX_AXES, sizeof *ax);
        if (!ax) {
            st = ab_fail(err, AB_ENOMEM, "out of memory");
            break;
        }
        int na = collect_axes(rows, n, ax, AB_MAX_AXES);
        const char *x = NULL;
        if (o->x) {
            struct axinfo *a = find_axis(ax, na, o->x);
            x = a && a->numeric && a->n >= 2 ? o->x : NULL;
            if (!x && o->kind && kind == AB_PLOT_LINE)
                st = ab_fail(err, AB_EINVAL, "%s: axis \"%s\" %s", wls[w], o->x,
                             !a            ? "is not one of its axes"
                             : !a->numeric ? "is not numeric"
                                           : "has one value only");
        } else {
            struct axinfo *a = def && def->x ? find_axis(ax, na, def->x) : NULL;
            if (a && a->numeric && a->n >= 3)
                x = def->x;
            for (int k = 0; !x && k < na; k++)
                if (ax[k].numeric && ax[k].n >= 3 && (!a || ax[k].n > a->n))
                    a = &ax[k];
            if (!x && a && a->numeric && a->n >= 3)
                x = a->name;
        }
        char xname[32] = "";
        if (x) { /* ax is freed below */
            snprintf(xname, sizeof xname, "%s", x);
            x = xname;
        }
        if (st == AB_OK && o->kind && kind == AB_PLOT_LINE && !x)
            st = ab_fail(err, AB_EINVAL,
                         "%s: no numeric axis with 3 or more values to draw a line against "
                         "(give one with -x, or use --kind bars)",
                         wls[w]);
        free(ax);
        if (st != AB_OK)
            break;
        const char *metrics[3] = { "throughput" };
        int nm = 1;
        if (o->y)
            metrics[0] = o->y;
        else if (def)
            for (nm = 0; nm < 3 && def->metrics[nm]; nm++)
                metrics[nm] = def->metrics[nm];
        for (int m = 0; st == AB_OK && m < nm; m++) {
            struct figspec fsp = { .metric = metrics[m], .def = def, .x = x };
            if (o->kind)
                fsp.kind = kind;
            if (fsp.kind == AB_PLOT_DIST) /* samples are times per repetition */
                fsp.metric = "time";
            else
                fsp.kind = x ? AB_PLOT_LINE : AB_PLOT_BARS;
            if (fsp.kind == AB_PLOT_DIST && m > 0)
                break;
            st = build_figures(&P, wls[w], rows, n, &fsp, o->y != NULL && nw == 1, err);
        }
        if (st == AB_OK && !o->kind && def && def->dist) {
            struct figspec fsp = { .kind = AB_PLOT_DIST, .metric = "time", .def = def };
            st = build_figures(&P, wls[w], rows, n, &fsp, false, err);
        }
    }
    free(rows);
    if (st == AB_OK && want_roofline)
        st = build_rooflines(&P, o->kind != NULL, err);
    if (st == AB_OK && out->n == 0)
        st = ab_fail(err, AB_EINVAL, "nothing to plot: no ok row has %s%s%s",
                     o->y ? "metric " : "a throughput, time or metric", o->y ? o->y : "",
                     o->kind ? " for this --kind" : "");
    free(P.rows);
    if (st != AB_OK)
        ab_figures_free(out);
    return st;
}

ab_status ab_figures_render(const struct ab_figures *fs, const struct ab_plot_opts *o, struct ab_error *err)
{
    const char *dir = o->out_dir ? o->out_dir : ".";
    ab_status st = ab_mkdirs(dir, err);
    if (st != AB_OK)
        return st;
    static const struct {
        enum ab_plot_format f;
        const char *ext;
    } fmts[] = { { AB_FMT_PDF, "pdf" }, { AB_FMT_SVG, "svg" }, { AB_FMT_PNG, "png" } };
    for (int i = 0; i < fs->n; i++)
        for (size_t k = 0; k < 3; k++) {
            if (!(o->formats & fmts[k].f))
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.%s", dir, fs->f[i].stem, fmts[k].ext);
            st = ab_plot_render(&fs->f[i].chart, fmts[k].f, path, FIG_W_PT, FIG_H_PT,
                                o->dpi > 0 ? o->dpi : 200, err);
            if (st != AB_OK)
                return st;
            if (o->log)
                fprintf(o->log, "plot: wrote %s\n", path);
        }
    return AB_OK;
}
