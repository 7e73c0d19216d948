/* figures_common.c — what every chart kind of figures.c needs: a row's value of a metric
 * (row figures and workload metrics, with the unit its workload declares), the axes of a group
 * of rows, figures and their series, labels, notes and scales. No workload is named here. */
#include "figures_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- metrics */

static const char *const builtin_metrics[] = { "throughput", "flops", "bandwidth", "tokens",     "time",
                                               "fraction",   "power", "energy",    "efficiency", NULL };

bool ab_plot_metric_builtin(const char *metric)
{
    for (int i = 0; builtin_metrics[i]; i++)
        if (!strcmp(builtin_metrics[i], metric))
            return true;
    return false;
}

const char *const *ab_plot_metrics_builtin(void)
{
    return builtin_metrics;
}

/* A rate with the interval that follows from the time's interval (rate = count / time). */
void fig_rate_of(const struct ab_result *r, double v, double *lo, double *hi)
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
    if (ab_ceiling_is_bandwidth(r->ceiling) && r->bytes > 0)
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
            fig_rate_of(r, *v, lo, hi);
        return isfinite(*v) && *v > 0;
    }
    if (k) {
        double c = k == 'f' ? r->flops : k == 'b' ? r->bytes : r->tokens;
        *v = k == 'f' ? r->flop_per_s : k == 'b' ? r->byte_per_s : r->token_per_s;
        *unit = k == 'f' ? "FLOP/s" : k == 'b' ? "B/s" : "tokens/s";
        if (!(c > 0 && *v > 0))
            return false;
        fig_rate_of(r, *v, lo, hi);
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
            fig_rate_of(r, *v, lo, hi);
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
const char *fig_metric_title(const char *metric, const char *unit)
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

const char *fig_metric_word(const char *metric, const char *unit)
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

static bool is_number(const char *s, double *v)
{
    char *end;
    if (!*s)
        return false;
    *v = strtod(s, &end);
    return *end == 0 && isfinite(*v);
}

const char *fig_row_param(const struct prow *p, const char *name)
{
    const struct ab_value *v = ab_param(&p->ps, name);
    return v ? v->str : NULL;
}

/* Axes of a group of rows, in the order the rows name them. */
int fig_collect_axes(struct prow *const *rows, int n, struct axinfo *ax, int max)
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

struct axinfo *fig_find_axis(struct axinfo *ax, int na, const char *name)
{
    for (int a = 0; a < na; a++)
        if (!strcmp(ax[a].name, name))
            return &ax[a];
    return NULL;
}

/* ---------------------------------------------------------------- building figures */

struct ab_figure *fig_new_figure(struct fig_plan *P, const char *stem)
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

void fig_free_chart(struct ab_plot_chart *ch)
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
        fig_free_chart(&fs->f[i].chart);
    free(fs->f);
    memset(fs, 0, sizeof *fs);
}

/* Find or add a series by label; each holds room for `cap` points. */
int fig_series_get(struct ab_plot_chart *ch, const char *label, int cap)
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

void fig_sort_series_by_x(struct ab_plot_series *se)
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

void fig_note_for(struct fig_plan *P, const char *workload, char *note, size_t len)
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

void fig_add_power_note(const struct prow *const *rows, int n, char *note, size_t len)
{
    for (int i = 0; i < n; i++)
        if (!strncmp(rows[i]->r->power_source, "nominal:", 8)) {
            size_t l = strlen(note);
            snprintf(note + l, len - l, "%senergy is an estimate (%s: nominal power x time)", l ? "; " : "",
                     rows[i]->r->power_source);
            return;
        }
}

enum ab_plot_scale fig_value_scale(double lo, double hi, double decades_for_log, bool *binary)
{
    *binary = false;
    if (!(lo > 0) || !(hi / lo >= decades_for_log))
        return AB_SCALE_LINEAR;
    return AB_SCALE_LOG10;
}

/* Label of a row's variant: the values of the given axes ("bf16 tensor", "heads=8"). */
void fig_variant_label(const struct prow *p, struct axinfo *const *axes, int n, char *buf, size_t len)
{
    buf[0] = 0;
    for (int a = 0; a < n; a++) {
        const char *v = fig_row_param(p, axes[a]->name);
        if (!v)
            v = "-";
        size_t l = strlen(buf);
        if (axes[a]->numeric)
            snprintf(buf + l, len - l, "%s%s=%s", l ? " " : "", axes[a]->name, v);
        else
            snprintf(buf + l, len - l, "%s%s", l ? " " : "", v);
    }
}
