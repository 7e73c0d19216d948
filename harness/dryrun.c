/* dryrun.c — `run --dry-run`: the plan ab_run would make (the same validation, the same cases)
 * printed with an estimate of its time, instead of run. Nothing is created, opened for writing
 * or measured. The estimate is a budget, not a forecast: each case measures between
 * --min-time and --max-time after its warm-up; where the workload states its work without
 * setup and a ceiling is known, the time of one repetition at the ceiling says which end of
 * that budget to expect (a repetition slower than min-time / min-samples stretches it). */
#include "runner_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A device's ceiling by name: one read from --ceilings, else the datasheet figure of its
 * profile. *source says which. 0 when neither knows. */
static double ceiling_of(const struct ab_device *dev, const char *name, const char **source)
{
    const struct ab_ceiling *c = ab_device_ceiling(dev, name);
    if (c && c->value > 0) {
        *source = c->source;
        return c->value;
    }
    const struct ab_profile *p = dev->profile;
    *source = p ? p->name : "";
    if (!p)
        return 0;
    if (strcmp(name, "mem_bw") == 0)
        return p->peak_mem_bw;
    /* peak_flops: fp32, tf32, bf16, fp16, fp8, int8 */
    static const char *const prefix[] = { "fp32_", "tf32_", "bf16_", "fp16_", "fp8_", "int8_" };
    for (int i = 0; i < 6; i++)
        if (strncmp(name, prefix[i], strlen(prefix[i])) == 0)
            return p->peak_flops[i];
    return 0;
}

struct estimate {
    double lo_s, hi_s; /* the case's time, warm-up and measurement */
    double rep_s;      /* one repetition at the ceiling; NaN when unknown */
    char why[200];     /* how rep_s was found, or why it is not known */
};

static void estimate_case(const struct ab_run_opts *o, const struct plan_case *pc,
                          const struct ab_device *dev, struct estimate *e)
{
    const struct ab_stop_rule *s = &o->stop;
    e->rep_s = NAN;
    e->why[0] = '\0';
    if (pc->skip) {
        e->lo_s = e->hi_s = 0;
        snprintf(e->why, sizeof e->why, "skipped: %s", pc->skip);
        return;
    }
    if (pc->suite == AB_SUITE_CHECK) { /* setup, verify, teardown: no timing */
        e->lo_s = e->hi_s = 0;
        snprintf(e->why, sizeof e->why, "verified only");
        return;
    }
    e->lo_s = o->warmup_s + s->min_time_s;
    e->hi_s = o->warmup_s + s->max_time_s;
    if (!pc->wl->work) {
        snprintf(e->why, sizeof e->why, "work known only once set up");
        return;
    }
    struct ab_params ps;
    struct ab_work w = { 0 };
    struct ab_error err;
    ab_plan_params(pc, &ps);
    if (pc->wl->work(&ps, pc->backend, &w, &err) != AB_OK) {
        snprintf(e->why, sizeof e->why, "work not stated: %.150s", err.msg);
        return;
    }
    const char *name = w.ceiling;
    bool by_bytes = w.rate && strcmp(w.rate, "bytes") == 0;
    double amount = by_bytes ? w.bytes : w.flops;
    const char *src = "";
    double ceil = name && dev ? ceiling_of(dev, name, &src) : 0;
    char a[32], c[32];
    if (!(amount > 0) || !(ceil > 0)) {
        snprintf(e->why, sizeof e->why, "%s/rep; no %s ceiling known (--ceilings FILE gives one)",
                 ab_fmt_si(amount, by_bytes ? "B" : "FLOP", a, sizeof a), name ? name : "");
        return;
    }
    e->rep_s = amount / ceil;
    snprintf(e->why, sizeof e->why, "%s/rep at %s (%s, %s)",
             ab_fmt_si(amount, by_bytes ? "B" : "FLOP", a, sizeof a),
             ab_fmt_si(ceil, by_bytes ? "B/s" : "FLOP/s", c, sizeof c), name, src);
    /* At the ceiling the case needs min-samples repetitions and min-time; a CI that converges
     * at once stops it there, else max-time does. One repetition longer than max-time is one
     * sample. */
    double need = fmax(s->min_time_s, (double)s->min_samples * e->rep_s);
    e->lo_s = o->warmup_s + fmin(need, fmax(s->max_time_s, e->rep_s));
    e->hi_s = o->warmup_s + fmax(s->max_time_s, e->rep_s);
}

static void fmt_time(double s, char *buf, size_t len)
{
    if (s == 0)
        snprintf(buf, len, "0 s");
    else if (s < 1e-3)
        snprintf(buf, len, "%.3g us", s * 1e6);
    else if (s < 1)
        snprintf(buf, len, "%.3g ms", s * 1e3);
    else if (s < 600)
        snprintf(buf, len, "%.3g s", s);
    else
        snprintf(buf, len, "%.3g h", s / 3600);
}

ab_status ab_run_dry(const struct ab_run_opts *o, FILE *out, struct ab_error *err)
{
    ab_status st;
    struct ab_device *devs = calloc(AB_MAX_DEVICES, sizeof *devs);
    struct ab_error why[AB_BACKEND_COUNT];
    int ndev = 0, nprof = 0, nsel = 0;
    struct ab_profile *profiles = NULL;
    struct plan plan = { 0 };
    bool use[AB_MAX_DEVICES] = { 0 }, absent[AB_BACKEND_COUNT];
    const struct ab_workload *sel[64];
    struct ab_keymap *done = NULL;
    struct ab_result_set prev = { 0 };
    if (!devs)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    if ((st = ab_plan_select_workloads(o, sel, &nsel, err)))
        goto out;
    ab_devices_discover(devs, AB_MAX_DEVICES, &ndev, why, NULL);
    if ((st = ab_profiles_load(NULL, &profiles, &nprof, err)))
        goto out;
    for (int d = 0; d < ndev; d++)
        devs[d].profile = ab_profile_match(profiles, nprof, &devs[d]);
    if ((st = ab_plan_select_devices(o, devs, ndev, why, use, absent, err)))
        goto out;
    if (o->ceilings_file && (st = ab_ceilings_from_file(o->ceilings_file, devs, ndev, false, err, NULL)))
        goto out;
    if ((st = ab_plan_cases(&plan, o, sel, nsel, devs, ndev, use, absent, why, err)))
        goto out;
    /* --resume: the cases recorded are not run again, by the rule the run applies */
    char csv[4200], jl[4200];
    snprintf(csv, sizeof csv, "%s/results.csv", o->out_dir);
    snprintf(jl, sizeof jl, "%s/samples.jsonl", o->out_dir);
    int64_t n_unpaired = 0;
    if (o->resume && ab_csv_read(csv, &prev, NULL, 0, NULL) == AB_OK &&
        (st = ab_resume_done(&prev, jl, &done, &n_unpaired, err)))
        goto out;

    /* Counts per workload and device, in plan order. */
    struct group {
        const struct ab_workload *wl;
        const char *dev;
        int n, n_skip;
        double lo, hi;
    } *g = calloc((size_t)plan.n + 1, sizeof *g);
    struct estimate *est = calloc((size_t)plan.n + 1, sizeof *est);
    char *run_it = calloc((size_t)plan.n + 1, 1);
    if (!g || !est || !run_it) {
        free(g);
        free(est);
        free(run_it);
        st = ab_fail(err, AB_ENOMEM, "out of memory");
        goto out;
    }
    int ng = 0, n_run = 0, n_done = 0, n_known = 0;
    double lo = 0, hi = 0;
    double dev_lo[AB_MAX_DEVICES] = { 0 }, dev_hi[AB_MAX_DEVICES] = { 0 }; /* --concurrent-devices */
    for (int i = 0; i < plan.n; i++) {
        const struct plan_case *pc = &plan.c[i];
        const struct ab_device *dev = pc->dev >= 0 ? &devs[pc->dev] : NULL;
        const char *dev_id = dev ? dev->id : ab_backend_name(pc->backend);
        struct ab_params ps;
        char params[AB_PARAMS_TEXT_MAX], key[AB_KEY_MAX];
        ab_plan_params(pc, &ps);
        ab_case_params_text(pc->wl, &ps, params, sizeof params);
        snprintf(key, sizeof key, "%s|%s|%s", pc->wl->name, dev_id, params);
        if (done && ab_keymap_get(done, key) >= 0) {
            n_done++;
            continue;
        }
        run_it[i] = 1;
        n_run++;
        estimate_case(o, pc, dev, &est[i]);
        n_known += isfinite(est[i].rep_s);
        int k = 0;
        while (k < ng && !(g[k].wl == pc->wl && strcmp(g[k].dev, dev_id) == 0))
            k++;
        if (k == ng) {
            g[ng].wl = pc->wl;
            g[ng].dev = dev_id;
            ng++;
        }
        g[k].n++;
        g[k].n_skip += pc->skip != NULL;
        g[k].lo += est[i].lo_s;
        g[k].hi += est[i].hi_s;
        lo += est[i].lo_s;
        hi += est[i].hi_s;
        if (pc->dev >= 0 && pc->dev < AB_MAX_DEVICES) {
            dev_lo[pc->dev] += est[i].lo_s;
            dev_hi[pc->dev] += est[i].hi_s;
        }
    }
    char a[32], b[32];
    fprintf(out, "dry run: %d case%s would run in the %s suite", n_run, n_run == 1 ? "" : "s",
            ab_suite_word(o->suite));
    if (o->resume)
        fprintf(out, "; %d already in %s", n_done, csv);
    fprintf(out, " (nothing is run or written)\n");
    for (int k = 0; k < ng; k++) {
        fmt_time(g[k].lo, a, sizeof a);
        fmt_time(g[k].hi, b, sizeof b);
        fprintf(out, "  %-20s %-8s %6d case%s", g[k].wl->name, g[k].dev, g[k].n, g[k].n == 1 ? " " : "s");
        if (g[k].n_skip)
            fprintf(out, " (%d skipped)", g[k].n_skip);
        fprintf(out, "  %s to %s\n", a, b);
    }
    fprintf(out, "cases (time: warm-up and measurement, without setup and verification):\n");
    for (int i = 0, shown = 0; i < plan.n; i++) {
        if (!run_it[i])
            continue;
        const struct plan_case *pc = &plan.c[i];
        struct ab_params ps;
        char params[AB_PARAMS_TEXT_MAX];
        ab_plan_params(pc, &ps);
        ab_case_params_text(pc->wl, &ps, params, sizeof params);
        fmt_time(est[i].lo_s, a, sizeof a);
        fmt_time(est[i].hi_s, b, sizeof b);
        fprintf(out, "  [%d/%d] %s %s %s: ", ++shown, n_run, pc->wl->name,
                pc->dev >= 0 ? devs[pc->dev].id : ab_backend_name(pc->backend), params[0] ? params : "-");
        if (est[i].hi_s > 0)
            fprintf(out, "%s to %s", a, b);
        if (isfinite(est[i].rep_s)) {
            char r[32];
            fmt_time(est[i].rep_s, r, sizeof r);
            fprintf(out, "; expected %s/rep: %s", r, est[i].why);
        } else if (est[i].why[0]) {
            fprintf(out, "%s%s", est[i].hi_s > 0 ? "; " : "", est[i].why);
        }
        fprintf(out, "\n");
    }
    fmt_time(lo, a, sizeof a);
    fmt_time(hi, b, sizeof b);
    fprintf(
        out,
        "estimated time: %s to %s of warm-up and measurement, plus setup and verification; %d of %d cases "
        "with an expected time per repetition\n",
        a, b, n_known, n_run);
    int n_busy = 0;
    double most_lo = 0, most_hi = 0;
    for (int d = 0; d < AB_MAX_DEVICES; d++) {
        n_busy += dev_hi[d] > 0;
        most_lo = fmax(most_lo, dev_lo[d]);
        most_hi = fmax(most_hi, dev_hi[d]);
    }
    if (o->concurrent_devices && n_busy > 1) {
        fmt_time(most_lo, a, sizeof a);
        fmt_time(most_hi, b, sizeof b);
        fprintf(out,
                "with --concurrent-devices the %d devices run at once: %s to %s (the busiest device's)\n",
                n_busy, a, b);
    }
    free(g);
    free(est);
    free(run_it);
out:
    ab_keymap_destroy(done);
    ab_result_set_free(&prev);
    ab_plan_free(&plan);
    free(profiles);
    free(devs);
    return st;
}
