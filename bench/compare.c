/* compare.c — the statistics and the report behind `accelbench compare`.
 * Verdicts are made to be gated on without crying wolf: a change must be significant after
 * Holm's correction for the number of cases compared AND larger than the threshold; a case
 * whose interval is too wide to resolve a threshold-sized change is `noisy`, not `same`. */
#include "compare.h"

#include <cjson/cJSON.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sort.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void cmp_opts_defaults(struct cmp_opts *o)
{
    o->threshold = 0.05;
    o->alpha = 0.05;
    o->metric = CMP_TIME;
    o->bootstrap = 1000;
    o->seed = 0x5eedc0de;
    o->noise = -1;
}

const char *cmp_verdict_word(enum cmp_verdict v)
{
    static const char *const w[] = { "same", "faster", "slower", "noisy", "failed", "fixed", "not-ok" };
    return (unsigned)v < sizeof w / sizeof w[0] ? w[v] : "?";
}

/* ------------------------------------------------------------------ statistics */

static double median_of(double *x, int64_t n)
{
    gsl_sort(x, 1, (size_t)n);
    return ab_stats_median_sorted(x, n);
}

double cmp_noise_estimate(const double *log_ratios, int n)
{
    if (n < 5)
        return NAN;
    double *a = malloc((size_t)n * sizeof *a);
    if (!a)
        return NAN;
    for (int i = 0; i < n; i++)
        a[i] = fabs(log_ratios[i]);
    gsl_sort(a, 1, (size_t)n);
    double q = ab_stats_quantile_sorted(a, n, 0.25);
    free(a);
    return q / 0.3186; /* P(|Z| <= 0.3186) = 0.25 */
}

/* ------------------------------------------------------------------ comparing */

static double metric_value(const struct ab_result *r, enum cmp_metric m)
{
    switch (m) {
    case CMP_THROUGHPUT:
        return r->flop_per_s > 0 ? r->flop_per_s : r->byte_per_s > 0 ? r->byte_per_s : r->token_per_s;
    case CMP_ENERGY: return r->energy_j;
    default: return r->time_s.median;
    }
}

static bool higher_is_better(enum cmp_metric m)
{
    return m == CMP_THROUGHPUT;
}

static bool real_energy(const struct ab_result *a, const struct ab_result *b)
{
    return isfinite(a->energy_j) && isfinite(b->energy_j) && a->energy_j > 0 && b->energy_j > 0 &&
           strcmp(a->power_source, b->power_source) == 0 && strncmp(a->power_source, "nominal", 7) != 0 &&
           strcmp(a->power_source, "none") != 0;
}

/* Samples are a time series: slow drift (frequency, a neighbour on the host) makes
 * consecutive samples alike, and a test that takes them as independent is overconfident.
 * With enough samples, the unit of the test is the median of each of CMP_BLOCKS consecutive
 * blocks; their spread carries the drift. Returns the number of values written to out. */
#define CMP_BLOCKS 10
static int64_t block_medians(const double *x, int64_t n, double *out)
{
    if (n < 2 * CMP_BLOCKS) {
        memcpy(out, x, (size_t)n * sizeof *x);
        return n;
    }
    for (int b = 0; b < CMP_BLOCKS; b++) {
        int64_t lo = n * b / CMP_BLOCKS, hi = n * (b + 1) / CMP_BLOCKS;
        double *tmp = malloc((size_t)(hi - lo) * sizeof *tmp);
        if (!tmp)
            return 0;
        memcpy(tmp, x + lo, (size_t)(hi - lo) * sizeof *tmp);
        out[b] = median_of(tmp, hi - lo);
        free(tmp);
    }
    return CMP_BLOCKS;
}

/* Interval of the time ratio new/base from the two CSV confidence intervals (conservative). */
static void ci_from_rows(const struct ab_result *b, const struct ab_result *n, double *lo, double *hi)
{
    *lo = (n->time_s.ci_lo > 0 && b->time_s.ci_hi > 0) ? n->time_s.ci_lo / b->time_s.ci_hi : NAN;
    *hi = (n->time_s.ci_hi > 0 && b->time_s.ci_lo > 0) ? n->time_s.ci_hi / b->time_s.ci_lo : NAN;
}

/* The interval (time ratio new/base, in ci_lo and ci_hi) and test of one case from its samples;
 * from_samples stays false where a side has too few. */
static void test_case(struct cmp_case *c, const struct cmp_opts *o, uint64_t seed, double per_work)
{
    const struct ab_result *b = c->base, *n = c->new_;
    double *xb = b->n_samples >= 3 ? malloc((size_t)b->n_samples * sizeof *xb) : NULL;
    double *xn = n->n_samples >= 3 ? malloc((size_t)n->n_samples * sizeof *xn) : NULL;
    int64_t nbk = xb ? block_medians(b->samples, b->n_samples, xb) : 0;
    int64_t nnk = xn ? block_medians(n->samples, n->n_samples, xn) : 0;
    for (int64_t k = 0; k < nnk; k++)
        xn[k] *= per_work; /* new's times per base's unit of work */
    if (nbk >= 3 && nnk >= 3) {
        /* Resampling huge sample sets costs sorts: 2000 draws per side describe a median well. */
        ab_stats_bootstrap_ci(xb, nbk, xn, nnk, AB_STATS_MEDIAN_RATIO, o->bootstrap, 2000, 0.05, seed, NULL,
                              &c->ci_lo, &c->ci_hi);
        c->p = ab_stats_mann_whitney_p(xb, nbk, xn, nnk);
        c->from_samples = true;
    }
    free(xb);
    free(xn);
}

ab_status cmp_compare(const struct ab_result_set *base, const struct ab_result_set *new_,
                      const struct cmp_opts *o, struct cmp_report *out, struct ab_error *err)
{
    memset(out, 0, sizeof *out);
    out->metric = o->metric;
    out->threshold = o->threshold;
    out->alpha = o->alpha;
    int nb = 0, nn = 0;
    const struct ab_result **B = ab_results_latest(base, &nb), **N = ab_results_latest(new_, &nn);
    out->cases = calloc((size_t)(nb + 1), sizeof *out->cases);
    out->added = calloc((size_t)(nn + 1), sizeof *out->added);
    out->removed = calloc((size_t)(nb + 1), sizeof *out->removed);
    double *p = calloc((size_t)(nb + 1), sizeof *p);
    if (!B || !N || !out->cases || !out->added || !out->removed || !p) {
        free(B);
        free(N);
        free(p);
        cmp_report_free(out);
        return ab_fail(err, AB_ENOMEM, "out of memory comparing");
    }
    /* The latest rows have one case each, so a key names at most one new row. */
    bool *matched = calloc((size_t)(nn + 1), sizeof *matched);
    int *tested = calloc((size_t)(nb + 1), sizeof *tested), n_tested = 0;
    uint64_t *seed_of = calloc((size_t)(nb + 1), sizeof *seed_of);
    double *work_of = calloc((size_t)(nb + 1), sizeof *work_of);
    struct ab_keymap *new_at = NULL;
    ab_status st = matched && tested && seed_of && work_of
                       ? ab_keymap_create(nn, &new_at, err)
                       : ab_fail(err, AB_ENOMEM, "out of memory comparing");
    for (int j = 0; st == AB_OK && j < nn; j++) {
        char kn[AB_KEY_MAX];
        ab_results_case_key(N[j], kn, sizeof kn);
        if (ab_keymap_get(new_at, kn) < 0)
            st = ab_keymap_put(new_at, kn, j, err);
    }
    if (st) {
        ab_keymap_destroy(new_at);
        free(tested);
        free(seed_of);
        free(work_of);
        free(matched);
        free(B);
        free(N);
        free(p);
        cmp_report_free(out);
        return st;
    }
    for (int i = 0; i < nb; i++) {
        char kb[AB_KEY_MAX];
        ab_results_case_key(B[i], kb, sizeof kb);
        int j = (int)ab_keymap_get(new_at, kb);
        if (j < 0 || matched[j]) {
            out->removed[out->n_removed++] = B[i];
            continue;
        }
        matched[j] = true;
        struct cmp_case *c = &out->cases[out->n++];
        c->base = B[i];
        c->new_ = N[j];
        c->ratio = c->ci_lo = c->ci_hi = c->p = c->p_adj = c->energy_ratio = NAN;
        c->energy_verdict = CMP_NOISY;
        bool bok = B[i]->status == AB_OK, nok = N[j]->status == AB_OK;
        if (!bok || !nok) {
            c->verdict = bok ? CMP_FAILED : nok ? CMP_FIXED : CMP_NOT_OK;
            p[out->n - 1] = NAN;
            continue;
        }
        double vb = metric_value(B[i], o->metric), vn = metric_value(N[j], o->metric);
        /* The same case with other work per repetition (a ceilings GEMM sweep that chose another
         * shape): times and energies compare per unit of work, as rates already do. */
        double wb = B[i]->flops > 0 ? B[i]->flops : B[i]->bytes,
               wn = N[j]->flops > 0 ? N[j]->flops : N[j]->bytes;
        double per_work = wb > 0 && wn > 0 && wb != wn ? wb / wn : 1;
        if (o->metric != CMP_THROUGHPUT)
            vn *= per_work;
        c->ratio = vb > 0 ? vn / vb : NAN;
        if (real_energy(B[i], N[j]))
            c->energy_ratio = N[j]->energy_j / B[i]->energy_j;
        if (o->metric == CMP_ENERGY) {
            p[out->n - 1] = NAN; /* one energy figure per case: no test, threshold only */
            continue;
        }
        tested[n_tested] = out->n - 1;
        work_of[n_tested] = per_work;
        seed_of[n_tested++] = o->seed + (uint64_t)i;
    }
    /* The bootstrap is nearly all of the time: cases in parallel, each seeded by its base row's
     * index as before, so the report is the same whatever the number of threads. */
#pragma omp parallel for schedule(dynamic, 64)
    for (int t = 0; t < n_tested; t++)
        test_case(&out->cases[tested[t]], o, seed_of[t], work_of[t]);
    for (int t = 0; t < n_tested; t++) {
        struct cmp_case *c = &out->cases[tested[t]];
        double lo = c->ci_lo, hi = c->ci_hi;
        if (!c->from_samples) {
            ci_from_rows(c->base, c->new_, &lo, &hi);
            lo *= work_of[t];
            hi *= work_of[t];
            /* No raw samples: significant only if the intervals do not overlap. */
            c->p = (isfinite(lo) && (lo > 1 || hi < 1)) ? 0.0 : 1.0;
        }
        if (higher_is_better(o->metric)) {
            c->ci_lo = hi > 0 ? 1 / hi : NAN;
            c->ci_hi = lo > 0 ? 1 / lo : NAN;
        } else {
            c->ci_lo = lo;
            c->ci_hi = hi;
        }
        p[tested[t]] = c->p;
    }
    for (int j = 0; j < nn; j++)
        if (!matched[j])
            out->added[out->n_added++] = N[j];
    free(tested);
    free(seed_of);
    free(work_of);
    free(matched);
    ab_keymap_destroy(new_at);

    /* Run-to-run noise: samples within one run do not see what changes between runs (page
     * placement, thread placement, neighbours on a shared host), so each case's interval is
     * widened by it and its p-value is the larger of the sample test's and the widened one's. */
    double *lr = calloc((size_t)(out->n + 1), sizeof *lr);
    int n_lr = 0;
    for (int i = 0; lr && i < out->n; i++)
        if (!isnan(p[i]) && out->cases[i].ratio > 0)
            lr[n_lr++] = log(out->cases[i].ratio);
    double sig_env = 0;
    if (o->noise >= 0) {
        sig_env = log1p(o->noise);
    } else {
        double e = lr ? cmp_noise_estimate(lr, n_lr) : NAN;
        if (isfinite(e)) {
            /* Capped at twice the threshold: when (nearly) every case moves, the spread is the
             * change itself, and a change that moves everything must still be caught. */
            sig_env = fmin(e, log1p(2 * o->threshold));
            out->noise_estimated = true;
        }
    }
    free(lr);
    out->noise = expm1(sig_env);
    for (int i = 0; i < out->n; i++) {
        struct cmp_case *c = &out->cases[i];
        if (isnan(p[i]) || !(c->ratio > 0) || !(c->ci_lo > 0) || !(c->ci_hi > 0))
            continue;
        double r = log(c->ratio);
        double sw = (log(c->ci_hi) - log(c->ci_lo)) / (2 * 1.96);
        /* A case whose samples spread widely within a run can shift as much between runs: its
         * own robust spread ((p95 - p05) / 3.29, a sigma for normal data) bounds its noise from
         * below, so one noisy memory-bound case does not ride on the calm ones' estimate. */
        double own = 0;
        const struct ab_result *sides[2] = { c->base, c->new_ };
        for (int k = 0; k < 2; k++)
            if (sides[k]->time_s.median > 0 && sides[k]->time_s.p95 > sides[k]->time_s.p05)
                own = fmax(own, log1p((sides[k]->time_s.p95 - sides[k]->time_s.p05) / 3.29 /
                                      sides[k]->time_s.median));
        double se = fmax(sig_env, own);
        double sg = sqrt(sw * sw + se * se);
        double p_env = sg > 0 ? 2 * gsl_cdf_ugaussian_Q(fabs(r) / sg) : (r != 0 ? 0.0 : 1.0);
        c->ci_lo = exp(r - 1.96 * sg);
        c->ci_hi = exp(r + 1.96 * sg);
        p[i] = fmax(p[i], p_env);
        c->p = p[i];
    }

    /* Holm over the tested cases, then verdicts. */
    ab_stats_holm(p, out->n);
    double log_sum = 0;
    int n_log = 0;
    for (int i = 0; i < out->n; i++) {
        struct cmp_case *c = &out->cases[i];
        if (c->verdict == CMP_FAILED || c->verdict == CMP_FIXED || c->verdict == CMP_NOT_OK)
            continue;
        c->p_adj = p[i];
        double worse = higher_is_better(o->metric) ? 1 / c->ratio : c->ratio; /* >1 is worse */
        double t = o->threshold;
        if (!isfinite(worse)) {
            c->verdict = CMP_NOISY;
        } else if (o->metric == CMP_ENERGY) {
            bool measured = real_energy(c->base, c->new_);
            c->verdict = !measured       ? CMP_NOISY
                         : worse > 1 + t ? CMP_SLOWER
                         : worse < 1 - t ? CMP_FASTER
                                         : CMP_SAME;
        } else {
            bool few = c->base->time_s.n < 3 || c->new_->time_s.n < 3;
            double half = (c->ci_hi - c->ci_lo) / 2 / c->ratio;
            bool significant = c->p_adj < o->alpha;
            if (significant && worse > 1 + t)
                c->verdict = CMP_SLOWER;
            else if (significant && worse < 1 - t)
                c->verdict = CMP_FASTER;
            else if (few || !isfinite(half) || half > t)
                c->verdict = CMP_NOISY; /* cannot resolve a threshold-sized change */
            else
                c->verdict = CMP_SAME;
        }
        if (isfinite(c->energy_ratio))
            c->energy_verdict = c->energy_ratio > 1 + t   ? CMP_SLOWER
                                : c->energy_ratio < 1 - t ? CMP_FASTER
                                                          : CMP_SAME;
        if (c->verdict != CMP_NOISY && c->ratio > 0) {
            log_sum += log(c->ratio);
            n_log++;
        }
    }
    for (int i = 0; i < out->n; i++) {
        switch (out->cases[i].verdict) {
        case CMP_SAME: out->n_same++; break;
        case CMP_FASTER: out->n_faster++; break;
        case CMP_SLOWER: out->n_slower++; break;
        case CMP_NOISY: out->n_noisy++; break;
        case CMP_FAILED: out->n_failed++; break;
        case CMP_FIXED: out->n_fixed++; break;
        case CMP_NOT_OK: out->n_not_ok++; break;
        }
    }
    out->geomean = n_log ? exp(log_sum / n_log) : NAN;
    free(p);
    free(B);
    free(N);
    return AB_OK;
}

void cmp_report_free(struct cmp_report *r)
{
    free(r->cases);
    free(r->added);
    free(r->removed);
    memset(r, 0, sizeof *r);
}

int cmp_exit_status(const struct cmp_report *r, enum cmp_fail_on f)
{
    switch (f) {
    case CMP_FAIL_NONE: return 0;
    case CMP_FAIL_ANY:
        return (r->n_slower || r->n_failed || r->n_faster || r->n_noisy || r->n_fixed || r->n_added ||
                r->n_removed)
                   ? 1
                   : 0;
    default: return (r->n_slower || r->n_failed) ? 1 : 0;
    }
}

/* ------------------------------------------------------------------ output */

static const char *metric_word(enum cmp_metric m)
{
    return m == CMP_THROUGHPUT ? "throughput" : m == CMP_ENERGY ? "energy" : "time";
}

static void fmt_num(double v, const char *fmt, char *buf, size_t len)
{
    if (isfinite(v))
        snprintf(buf, len, fmt, v);
    else
        snprintf(buf, len, "-");
}

static void summary_line(const struct cmp_report *r, char *buf, size_t len)
{
    char g[32];
    fmt_num(r->geomean, "%.4f", g, sizeof g);
    snprintf(buf, len,
             "%d compared: %d faster, %d slower, %d same, %d noisy, %d failed, %d fixed; "
             "%d added, %d removed; geometric mean of %s ratios %s (threshold %.1f%%, alpha %.3g, Holm; "
             "run-to-run noise %.1f%% %s)",
             r->n, r->n_faster, r->n_slower, r->n_same, r->n_noisy, r->n_failed, r->n_fixed, r->n_added,
             r->n_removed, metric_word(r->metric), g, 100 * r->threshold, r->alpha, 100 * r->noise,
             r->noise_estimated ? "estimated from the cases"
             : r->noise > 0     ? "given"
                                : "not allowed for: under 5 cases");
}

/* Case names in the text and markdown tables are never cut: the parts every row shares (the
 * workload, params items "k=v") are printed once above the table and left out of the names,
 * and a name still wider than the column goes on a line of its own above its row. */
#define NAME_COL_MAX 58

static bool has_item(const char *params, const char *item, size_t il)
{
    for (const char *p = params; *p;) {
        size_t n = strcspn(p, ";");
        if (n == il && strncmp(p, item, il) == 0)
            return true;
        p += n + (p[n] == ';');
    }
    return false;
}

/* Every row of the tables, in order: the compared cases (their base rows), added, removed. */
static const struct ab_result *table_row(const struct cmp_report *r, int i)
{
    if (i < r->n)
        return r->cases[i].base;
    i -= r->n;
    return i < r->n_added ? r->added[i] : r->removed[i - r->n_added];
}

struct common {
    bool workload;                  /* every row has the same workload */
    char items[AB_PARAMS_TEXT_MAX]; /* the params items every row has, ';'-separated */
};

static void find_common(const struct cmp_report *r, struct common *c)
{
    int n = r->n + r->n_added + r->n_removed;
    c->workload = false;
    c->items[0] = '\0';
    if (n < 2)
        return;
    const struct ab_result *first = table_row(r, 0);
    c->workload = true;
    for (int i = 1; i < n; i++)
        c->workload &= strcmp(table_row(r, i)->workload, first->workload) == 0;
    for (const char *p = first->params; *p;) {
        size_t il = strcspn(p, ";");
        bool all = il > 0;
        for (int i = 1; i < n && all; i++)
            all = has_item(table_row(r, i)->params, p, il);
        size_t l = strlen(c->items);
        if (all && l + il + 2 < sizeof c->items)
            snprintf(c->items + l, sizeof c->items - l, "%s%.*s", l ? ";" : "", (int)il, p);
        p += il + (p[il] == ';');
    }
}

/* A row's name without the common parts ("-" when nothing is left); md escapes '|'. */
static void case_name(const struct ab_result *row, const struct common *c, bool md, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    if (!c->workload)
        o += (size_t)snprintf(buf, len, "%s", row->workload);
    bool item = false; /* the workload and the first item apart by ' ', items by ';' */
    for (const char *p = row->params; *p && o + 1 < len;) {
        size_t il = strcspn(p, ";");
        if (il && !has_item(c->items, p, il)) {
            if (o)
                buf[o++] = item ? ';' : ' ';
            item = true;
            for (size_t k = 0; k < il && o + 2 < len; k++) {
                if (md && p[k] == '|')
                    buf[o++] = '\\';
                buf[o++] = p[k];
            }
            buf[o] = '\0';
        }
        p += il + (p[il] == ';');
    }
    if (!buf[0])
        snprintf(buf, len, "-");
}

static void print_text(const struct cmp_report *r, bool color, bool md, FILE *f)
{
    const char *sep = md ? " | " : "  ";
    struct common common;
    find_common(r, &common);
    int n_rows = r->n + r->n_added + r->n_removed;
    if (common.workload || common.items[0]) {
        const struct ab_result *first = table_row(r, 0);
        fprintf(f, "every case: %s%s%s\n\n", common.workload ? first->workload : "",
                common.workload && common.items[0] ? " " : "", common.items);
    }
    /* the name column: as wide as the widest name, up to NAME_COL_MAX */
    int width = 4;
    char name[AB_KEY_MAX];
    for (int i = 0; i < n_rows; i++) {
        case_name(table_row(r, i), &common, md, name, sizeof name);
        int l = (int)strlen(name);
        if (l > width)
            width = l > NAME_COL_MAX ? NAME_COL_MAX : l;
    }
    if (md)
        fprintf(f, "| case | device | base median | new median | ratio | 95%% CI | p (Holm) | verdict |\n"
                   "| --- | --- | ---: | ---: | ---: | --- | ---: | --- |\n");
    else
        fprintf(f, "%-*s %-8s %12s %12s %8s %17s %9s  %s\n", width, "case", "device", "base", "new", "ratio",
                "95% CI", "p(Holm)", "verdict");
    for (int i = 0; i < r->n; i++) {
        const struct cmp_case *c = &r->cases[i];
        char bm[32], nm[32], ra[32], lo[32], hi[32], pp[32];
        case_name(c->base, &common, md, name, sizeof name);
        double vb = metric_value(c->base, r->metric), vn = metric_value(c->new_, r->metric);
        ab_fmt_si(vb, r->metric == CMP_TIME ? "s" : r->metric == CMP_ENERGY ? "J" : "/s", bm, sizeof bm);
        ab_fmt_si(vn, r->metric == CMP_TIME ? "s" : r->metric == CMP_ENERGY ? "J" : "/s", nm, sizeof nm);
        fmt_num(c->ratio, "%.3f", ra, sizeof ra);
        fmt_num(c->ci_lo, "%.3f", lo, sizeof lo);
        fmt_num(c->ci_hi, "%.3f", hi, sizeof hi);
        fmt_num(c->p_adj, "%.2g", pp, sizeof pp);
        const char *v = cmp_verdict_word(c->verdict);
        const char *on = "", *off = "";
        if (color && !md) {
            off = "\033[0m";
            on = (c->verdict == CMP_SLOWER || c->verdict == CMP_FAILED) ? "\033[31m"
                 : c->verdict == CMP_FASTER || c->verdict == CMP_FIXED  ? "\033[32m"
                 : c->verdict == CMP_NOISY                              ? "\033[33m"
                                                                        : "";
            if (!*on)
                off = "";
        }
        if (md) {
            fprintf(f, "| %s%s%s%s%s%s%s%s%s%s[%s, %s]%s%s%s**%s** |\n", name, sep, c->base->device, sep, bm,
                    sep, nm, sep, ra, sep, lo, hi, sep, pp, sep, v);
            continue;
        }
        bool own_line = (int)strlen(name) > width;
        if (own_line)
            fprintf(f, "%s\n", name);
        fprintf(f, "%-*s %-8s %12s %12s %8s  [%6s, %6s] %9s  %s%s%s\n", width, own_line ? "" : name,
                c->base->device, bm, nm, ra, lo, hi, pp, on, v, off);
    }
    for (int k = 0; k < 2; k++) {
        const struct ab_result **rows = k ? r->removed : r->added;
        int n = k ? r->n_removed : r->n_added;
        const char *what = k ? "removed" : "added";
        for (int i = 0; i < n; i++) {
            case_name(rows[i], &common, md, name, sizeof name);
            if (md) {
                fprintf(f, "| %s | %s | | | | | | %s |\n", name, rows[i]->device, what);
                continue;
            }
            bool own_line = (int)strlen(name) > width;
            if (own_line)
                fprintf(f, "%s\n", name);
            fprintf(f, "%-*s %-8s %67s%s\n", width, own_line ? "" : name, rows[i]->device, "", what);
        }
    }
    char s[512];
    summary_line(r, s, sizeof s);
    fprintf(f, md ? "\n%s\n" : "\n%s\n", s);
}

static void print_csv(const struct cmp_report *r, FILE *f)
{
    fprintf(f, "workload,device,params,metric,base,new,ratio,ci_lo,ci_hi,p,p_holm,verdict,energy_ratio,"
               "energy_verdict\n");
    for (int i = 0; i < r->n; i++) {
        const struct cmp_case *c = &r->cases[i];
        /* params hold ';' and '=' but never ',' or '"', so they need no quoting */
        const char *ps = c->base->params;
        fprintf(f, "%s,%s,%s,%s,%.9g,%.9g,%.6g,%.6g,%.6g,%.6g,%.6g,%s,%.6g,%s\n", c->base->workload,
                c->base->device, ps, metric_word(r->metric), metric_value(c->base, r->metric),
                metric_value(c->new_, r->metric), c->ratio, c->ci_lo, c->ci_hi, c->p, c->p_adj,
                cmp_verdict_word(c->verdict), c->energy_ratio,
                isfinite(c->energy_ratio) ? cmp_verdict_word(c->energy_verdict) : "");
    }
    for (int i = 0; i < r->n_added; i++)
        fprintf(f, "%s,%s,%s,%s,,,,,,,,added,,\n", r->added[i]->workload, r->added[i]->device,
                r->added[i]->params, metric_word(r->metric));
    for (int i = 0; i < r->n_removed; i++)
        fprintf(f, "%s,%s,%s,%s,,,,,,,,removed,,\n", r->removed[i]->workload, r->removed[i]->device,
                r->removed[i]->params, metric_word(r->metric));
}

static cJSON *jnum(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static void print_json(const struct cmp_report *r, FILE *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "metric", metric_word(r->metric));
    cJSON_AddNumberToObject(o, "threshold", r->threshold);
    cJSON_AddNumberToObject(o, "alpha", r->alpha);
    cJSON *s = cJSON_AddObjectToObject(o, "summary");
    cJSON_AddNumberToObject(s, "compared", r->n);
    cJSON_AddNumberToObject(s, "faster", r->n_faster);
    cJSON_AddNumberToObject(s, "slower", r->n_slower);
    cJSON_AddNumberToObject(s, "same", r->n_same);
    cJSON_AddNumberToObject(s, "noisy", r->n_noisy);
    cJSON_AddNumberToObject(s, "failed", r->n_failed);
    cJSON_AddNumberToObject(s, "fixed", r->n_fixed);
    cJSON_AddNumberToObject(s, "added", r->n_added);
    cJSON_AddNumberToObject(s, "removed", r->n_removed);
    cJSON_AddItemToObject(s, "geomean_ratio", jnum(r->geomean));
    cJSON_AddNumberToObject(s, "noise", r->noise);
    cJSON_AddBoolToObject(s, "noise_estimated", r->noise_estimated);
    cJSON *a = cJSON_AddArrayToObject(o, "cases");
    for (int i = 0; i < r->n; i++) {
        const struct cmp_case *c = &r->cases[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "workload", c->base->workload);
        cJSON_AddStringToObject(j, "device", c->base->device);
        cJSON_AddStringToObject(j, "params", c->base->params);
        cJSON_AddItemToObject(j, "base", jnum(metric_value(c->base, r->metric)));
        cJSON_AddItemToObject(j, "new", jnum(metric_value(c->new_, r->metric)));
        cJSON_AddItemToObject(j, "ratio", jnum(c->ratio));
        cJSON_AddItemToObject(j, "ci_lo", jnum(c->ci_lo));
        cJSON_AddItemToObject(j, "ci_hi", jnum(c->ci_hi));
        cJSON_AddItemToObject(j, "p", jnum(c->p));
        cJSON_AddItemToObject(j, "p_holm", jnum(c->p_adj));
        cJSON_AddBoolToObject(j, "from_samples", c->from_samples);
        cJSON_AddStringToObject(j, "verdict", cmp_verdict_word(c->verdict));
        cJSON_AddItemToObject(j, "energy_ratio", jnum(c->energy_ratio));
        cJSON_AddItemToArray(a, j);
    }
    cJSON *ad = cJSON_AddArrayToObject(o, "added"), *rm = cJSON_AddArrayToObject(o, "removed");
    for (int i = 0; i < r->n_added; i++) {
        char k[AB_KEY_MAX];
        ab_result_key(r->added[i], k, sizeof k);
        cJSON_AddItemToArray(ad, cJSON_CreateString(k));
    }
    for (int i = 0; i < r->n_removed; i++) {
        char k[AB_KEY_MAX];
        ab_result_key(r->removed[i], k, sizeof k);
        cJSON_AddItemToArray(rm, cJSON_CreateString(k));
    }
    char *t = cJSON_Print(o);
    if (t)
        fprintf(f, "%s\n", t);
    free(t);
    cJSON_Delete(o);
}

void cmp_print(const struct cmp_report *r, const char *format, bool color, FILE *f)
{
    if (!strcmp(format, "md"))
        print_text(r, false, true, f);
    else if (!strcmp(format, "csv"))
        print_csv(r, f);
    else if (!strcmp(format, "json"))
        print_json(r, f);
    else
        print_text(r, color, false, f);
}
