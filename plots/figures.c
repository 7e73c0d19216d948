/* figures.c — from result rows to the standard figures: which metric, against which axis, one
 * series per device x variant, and the file names. It knows workloads only through their rows
 * and their descriptors: axes are read from the `params` column, a metric's unit from the
 * workload's metric declarations and the charts it gets from its chart declaration (struct
 * ab_chart_decl: x axis, facet, metrics), so a new workload gets charts without code here.
 * This file chooses and splits (by unit, then facets); figures_line.c, figures_bars.c and
 * figures_roofline.c fill the charts of their kind.
 * Samples of DIST charts point into the result set, which must outlive the figures. */
#include "figures_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES               8 /* more than this and the chart is split by another axis */
#define MAX_CATEGORIES           16
#define MAX_FIGURES_PER_WORKLOAD 32
#define FIG_W_PT                 432.0 /* 6 x 3.75 inches: a full text width, or shrunk into a column */
#define FIG_H_PT                 270.0

/* ---------------------------------------------------------------- figures of a group of rows */

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
        fig_variant_label(rows[i], axes, na, k, sizeof k);
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
static ab_status build_group(struct fig_plan *P, const char *workload, struct prow **rows, int n,
                             const struct figspec *fsp, const char *unit, struct ab_error *err)
{
    struct axinfo *ax = calloc(AB_MAX_AXES, sizeof *ax);
    if (!ax)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    int na = fig_collect_axes(rows, n, ax, AB_MAX_AXES);
    struct axinfo *vary[AB_MAX_AXES], *facets[AB_MAX_AXES];
    int nv = 0, nf = 0;
    for (int a = 0; a < na; a++)
        if (ax[a].n > 1 && !(fsp->kind == AB_PLOT_LINE && fsp->x && !strcmp(ax[a].name, fsp->x)))
            vary[nv++] = &ax[a];
    /* Facets: the workload's own first, then the string axis with the fewest values, until the
     * series (or the categories) fit. */
    if (fsp->chart && fsp->chart->facet)
        for (int a = 0; a < nv; a++)
            if (!strcmp(vary[a]->name, fsp->chart->facet)) {
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
        fig_variant_label(rows[i0], facets, nf, fkey, sizeof fkey);
        int ns = 0;
        for (int i = i0; i < n; i++) {
            char k[256];
            fig_variant_label(rows[i], facets, nf, k, sizeof k);
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
        const char *mword = fig_metric_word(fsp->metric, unit);
        char stem[256], fstem[200] = "";
        for (int f = 0; f < nf; f++) {
            const char *v = fig_row_param(sub[0], facets[f]->name);
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
        struct ab_figure *fig = fig_new_figure(P, stem);
        if (!fig) {
            st = ab_fail(err, AB_ENOMEM, "out of memory");
            break;
        }
        struct ab_plot_chart *ch = &fig->chart;
        ch->kind = fsp->kind;
        snprintf(ch->ylabel, sizeof ch->ylabel, "%s", fig_metric_title(fsp->metric, unit));
        snprintf(ch->yunit, sizeof ch->yunit, "%s", fsp->kind == AB_PLOT_DIST ? "s" : unit);
        if (fsp->kind == AB_PLOT_DIST)
            snprintf(ch->ylabel, sizeof ch->ylabel, "Time per repetition");
        /* title: workload, facet values, and the device when there is only one */
        int d0 = sub[0]->dev;
        bool one_dev = true;
        for (int i = 0; i < ns; i++)
            one_dev &= sub[i]->dev == d0;
        char fdesc[200];
        fig_variant_label(sub[0], facets, nf, fdesc, sizeof fdesc);
        snprintf(ch->title, sizeof ch->title, "%s%s%s%s%s", workload, fdesc[0] ? " \xc2\xb7 " : "", fdesc,
                 one_dev ? " \xc2\xb7 " : "", one_dev ? P->devs[d0].label : "");
        fig_note_for(P, workload, ch->note, sizeof ch->note);
        if (!strcmp(fsp->metric, "efficiency") || !strcmp(fsp->metric, "energy") ||
            !strcmp(fsp->metric, "power"))
            fig_add_power_note((const struct prow *const *)sub, ns, ch->note, sizeof ch->note);

        struct fig_group g = {
            .ax = ax, .na = na, .vary = vary, .nv = nv, .rows = sub, .n = ns, .one_dev = one_dev
        };
        st = fsp->kind == AB_PLOT_LINE ? fig_line_fill(P, fsp, &g, ch, err)
                                       : fig_bars_fill(P, fsp, &g, ch, err);
    }
    free(done);
    free(sub);
    free(ax);
    return st;
}

/* A chart kind of one metric for one workload's rows: split by the metric's unit, then built. */
static ab_status build_figures(struct fig_plan *P, const char *workload, struct prow **rows, int n,
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
        if (fsp->kind == AB_PLOT_LINE && ok && !fig_row_param(rows[i], fsp->x))
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
            if (fsp->kind == AB_PLOT_LINE && !fig_row_param(rows[i], fsp->x))
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

/* ---------------------------------------------------------------- a workload's figures */

/* The x axis of a workload's line charts: -x, else the one its chart declaration names where it
 * has 3 or more values, else the numeric axis with the most values (3 at least); "" for none
 * (bars). A -x the rows cannot draw a line against is an error only with --kind line. */
static ab_status choose_x(struct fig_plan *P, const char *workload, struct prow **rows, int n,
                          const struct ab_chart_decl *cd, const enum ab_plot_kind *kind, char *x, size_t len,
                          struct ab_error *err)
{
    const struct ab_plot_opts *o = P->o;
    x[0] = 0;
    struct axinfo *ax = calloc(AB_MAX_AXES, sizeof *ax);
    if (!ax)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    int na = fig_collect_axes(rows, n, ax, AB_MAX_AXES);
    ab_status st = AB_OK;
    if (o->x) {
        struct axinfo *a = fig_find_axis(ax, na, o->x);
        if (a && a->numeric && a->n >= 2)
            snprintf(x, len, "%s", o->x);
        else if (kind && *kind == AB_PLOT_LINE)
            st = ab_fail(err, AB_EINVAL, "%s: axis \"%s\" %s", workload, o->x,
                         !a            ? "is not one of its axes"
                         : !a->numeric ? "is not numeric"
                                       : "has one value only");
    } else {
        struct axinfo *a = cd && cd->x ? fig_find_axis(ax, na, cd->x) : NULL;
        if (a && a->numeric && a->n >= 3)
            snprintf(x, len, "%s", cd->x);
        for (int k = 0; !x[0] && k < na; k++)
            if (ax[k].numeric && ax[k].n >= 3 && (!a || ax[k].n > a->n))
                a = &ax[k];
        if (!x[0] && a && a->numeric && a->n >= 3)
            snprintf(x, len, "%s", a->name);
    }
    if (st == AB_OK && kind && *kind == AB_PLOT_LINE && !x[0])
        st = ab_fail(err, AB_EINVAL,
                     "%s: no numeric axis with 3 or more values to draw a line against "
                     "(give one with -x, or use --kind bars)",
                     workload);
    free(ax);
    return st;
}

/* Every figure of one workload's rows: per metric (-y, else those of its chart declaration,
 * else throughput) a line chart against x or bars per case, or with --kind the kind asked for;
 * and the distribution of the samples where its declaration asks for one. kind: --kind, or
 * NULL. only: the workload is the only one plotted (a -y it lacks is an error). */
static ab_status plan_workload(struct fig_plan *P, const char *workload, struct prow **rows, int n,
                               const enum ab_plot_kind *kind, bool only, struct ab_error *err)
{
    const struct ab_plot_opts *o = P->o;
    const struct ab_workload *wl = ab_workload_find(workload); /* NULL: rows of another build */
    const struct ab_chart_decl *cd = wl ? wl->chart : NULL;
    char xname[32];
    ab_status st = choose_x(P, workload, rows, n, cd, kind, xname, sizeof xname, err);
    if (st != AB_OK)
        return st;
    const char *x = xname[0] ? xname : NULL;
    const char *metrics[AB_CHART_MAX_METRICS] = { "throughput" };
    int nm = 1;
    if (o->y)
        metrics[0] = o->y;
    else if (cd && cd->metrics[0])
        for (nm = 0; nm < AB_CHART_MAX_METRICS && cd->metrics[nm]; nm++)
            metrics[nm] = cd->metrics[nm];
    for (int m = 0; st == AB_OK && m < nm; m++) {
        struct figspec fsp = { .metric = metrics[m], .chart = cd, .x = x };
        if (kind)
            fsp.kind = *kind;
        if (fsp.kind == AB_PLOT_DIST) /* samples are times per repetition */
            fsp.metric = "time";
        else
            fsp.kind = x ? AB_PLOT_LINE : AB_PLOT_BARS;
        if (fsp.kind == AB_PLOT_DIST && m > 0)
            break;
        st = build_figures(P, workload, rows, n, &fsp, o->y != NULL && only, err);
    }
    if (st == AB_OK && !kind && cd && cd->dist) {
        struct figspec fsp = { .kind = AB_PLOT_DIST, .metric = "time", .chart = cd };
        st = build_figures(P, workload, rows, n, &fsp, false, err);
    }
    return st;
}

/* ---------------------------------------------------------------- planning */

static ab_status parse_filter(const char *f, char *key, size_t klen, const char **val, struct ab_error *err)
{
    const char *eq = strchr(f, '=');
    if (!eq || eq == f)
        return ab_fail(err, AB_EINVAL, "bad filter \"%s\" (expected KEY=VALUE, e.g. dtype=bf16)", f);
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
    const char *v = fig_row_param(p, key);
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
    if (ab_plot_metric_builtin(m))
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
    const char *const *builtin = ab_plot_metrics_builtin();
    for (int i = 0; builtin[i]; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, len - l, "%s%s", i ? ", " : "", builtin[i]);
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

static ab_status plan_rows_of(struct fig_plan *P, const struct ab_result_set *rs, const bool *latest,
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
        const struct ab_backend *idb = ab_backend_of_id(dv->id);
        if (clash && dv->rank >= 0)
            snprintf(dv->label, sizeof dv->label, "%.60s (%.40s rank %d)", name, dv->host, dv->rank);
        else if (clash)
            snprintf(dv->label, sizeof dv->label, "%.60s (%.60s)", name, dv->host);
        else if (dv->name[0] && !(idb && !idb->indexed)) /* "(cuda:0)": one of several */
            snprintf(dv->label, sizeof dv->label, "%.100s (%.20s)", name, dv->id);
        else
            snprintf(dv->label, sizeof dv->label, "%s", name);
        /* A peer's rows (torch_peers.py: backend=torch) on one of our devices: name the peer. */
        if (dv->backend[0] && !ab_backend_of_id(dv->backend)) {
            size_t l = strlen(dv->label);
            snprintf(dv->label + l, sizeof dv->label - l, " \xc2\xb7 %.15s", dv->backend);
        }
    }
    return AB_OK;
}

/* The rows drawn: the latest row of each case on each host (a resumed case's row replaces its
 * `interrupted` one; a case run twice would otherwise zig-zag), as compare reads them. */
static ab_status plan_rows(struct fig_plan *P, const struct ab_result_set *rs, struct ab_error *err)
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
    struct fig_plan P = { .o = o, .out = out };
    ab_status st = plan_rows(&P, rs, err);
    if (st == AB_OK && P.n == 0)
        st = ab_fail(err, AB_EINVAL, "no rows to plot: none of the %lld rows%s has status ok",
                     (long long)rs->n, o->n_filters ? " that pass the filters" : "");
    if (st == AB_OK && o->x) {
        bool found = false;
        char names[300] = "";
        for (int i = 0; i < P.n; i++) {
            found |= fig_row_param(&P.rows[i], o->x) != NULL;
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
        st = plan_workload(&P, wls[w], rows, n, o->kind ? &kind : NULL, nw == 1, err);
    }
    free(rows);
    if (st == AB_OK && want_roofline)
        st = fig_plan_rooflines(&P, o->kind != NULL, err);
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
