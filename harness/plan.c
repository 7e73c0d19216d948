/* plan.c — what a run will do, before it does any of it: the selected workloads and devices
 * (validated, errors naming the valid choices) and every case, one per point of each
 * workload's axes (its suite's sweeps or the user's -a overrides, less the points its
 * `applies` drops) on each device in use. Cases hold their parameters packed. */
#include "runner_internal.h"

#include <stdlib.h>
#include <string.h>

static unsigned char *params_pack(const struct ab_params *ps)
{
    if (ps->n <= 0)
        return NULL;
    unsigned char *b = malloc(sizeof(int) + (size_t)ps->n * PARAM_SLOT);
    if (b) {
        memcpy(b, &ps->n, sizeof(int));
        memcpy(b + sizeof(int), ps->p, (size_t)ps->n * PARAM_SLOT);
    }
    return b;
}

void ab_case_params_text(const struct ab_workload *wl, const struct ab_params *ps, char *buf, size_t len)
{
    struct ab_params shown = { 0 };
    for (int i = 0; i < ps->n; i++) {
        const char *imp = NULL;
        for (int a = 0; a < wl->n_axes; a++)
            if (strcmp(wl->axes[a].name, ps->p[i].name) == 0)
                imp = wl->axes[a].implicit;
        if (!imp || strcmp(imp, ps->p[i].val.str) != 0)
            shown.p[shown.n++] = ps->p[i];
    }
    ab_params_format(&shown, buf, len);
}

void ab_plan_params(const struct plan_case *pc, struct ab_params *out)
{
    memset(out, 0, sizeof *out);
    if (!pc->params)
        return;
    memcpy(&out->n, pc->params, sizeof(int));
    memcpy(out->p, pc->params + sizeof(int), (size_t)out->n * PARAM_SLOT);
}

/* The most cases one run plans (and the most axis points one workload's sweep may have): a
 * sweep beyond it is a typo more often than a plan, and is refused before anything is built. */
#define PLAN_MAX_CASES 10000000

static ab_status plan_add(struct plan *p, const struct plan_case *pc, struct ab_error *err)
{
    if (p->n >= PLAN_MAX_CASES)
        return ab_fail(err, AB_EINVAL, "more than %d cases in all: narrow the sweeps", PLAN_MAX_CASES);
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 64;
        if (cap > PLAN_MAX_CASES)
            cap = PLAN_MAX_CASES;
        struct plan_case *nc = realloc(p->c, (size_t)cap * sizeof *nc);
        if (!nc)
            return ab_fail(err, AB_ENOMEM, "out of memory planning cases");
        p->c = nc;
        p->cap = cap;
    }
    p->c[p->n++] = *pc;
    return AB_OK;
}

/* Values of every axis of a workload: its suite's default sweep, or the user's override. */
static ab_status workload_values(const struct ab_workload *wl, const struct ab_run_opts *o,
                                 enum ab_suite suite, struct ab_values **vals, struct ab_error *err)
{
    for (int a = 0; a < wl->n_axes; a++) {
        const struct ab_axis *ax = &wl->axes[a];
        const char *sweep = ax->sweep[suite];
        if (suite == AB_SUITE_CHECK && !sweep)
            sweep = ax->sweep[AB_SUITE_QUICK];
        for (int i = 0; i < o->n_axis_overrides; i++) {
            const char *ov = o->axis_overrides[i];
            size_t nl = strlen(ax->name);
            if (strncmp(ov, ax->name, nl) == 0 && ov[nl] == '=')
                sweep = ov + nl + 1;
        }
        ab_status st = ab_axis_parse(ax, sweep, vals[a], err);
        if (st)
            return ab_fail_prefix(err, st, "workload %s", wl->name);
    }
    return AB_OK;
}

static bool has_axis(const struct ab_workload *wl, const char *name, size_t nl)
{
    for (int a = 0; a < wl->n_axes; a++)
        if (strlen(wl->axes[a].name) == nl && strncmp(wl->axes[a].name, name, nl) == 0)
            return true;
    return false;
}

/* A skipped row for a workload without an implementation on the backend; the plan holds the
 * reason's text. */
static ab_status plan_skip(struct plan *p, struct plan_case *pc, const char *title, struct ab_error *err)
{
    char *why = p->no_impl[pc->backend];
    snprintf(why, sizeof p->no_impl[0], "no %s implementation of this workload", title);
    pc->skip = why;
    return plan_add(p, pc, err);
}

static ab_status plan_workload(struct plan *p, const struct ab_workload *wl, int dev,
                               enum ab_backend_kind backend, const struct ab_run_opts *o, enum ab_suite suite,
                               struct ab_error *err)
{
    const struct ab_impl *impl = wl->impl[backend];
    if (!impl || !impl->setup) {
        struct plan_case pc = { .wl = wl, .dev = dev, .backend = backend, .suite = suite, .skip = NULL };
        return plan_skip(p, &pc, ab_backend_get(backend)->title, err);
    }
    struct ab_values *vals[AB_MAX_AXES] = { 0 };
    ab_status st = AB_OK;
    for (int a = 0; a < wl->n_axes && st == AB_OK; a++)
        if (!(vals[a] = malloc(sizeof *vals[a])))
            st = ab_fail(err, AB_ENOMEM, "out of memory");
    if (st == AB_OK)
        st = workload_values(wl, o, suite, vals, err);
    /* Count the points from the axes' sizes before walking them. */
    double points = 1;
    for (int a = 0; a < wl->n_axes && st == AB_OK; a++)
        points *= vals[a]->n;
    if (st == AB_OK && points > PLAN_MAX_CASES) {
        char sizes[256] = "";
        for (int a = 0; a < wl->n_axes; a++) {
            size_t l = strlen(sizes);
            snprintf(sizes + l, sizeof sizes - l, "%s%s %d", a ? " x " : "", wl->axes[a].name, vals[a]->n);
        }
        st = ab_fail(err, AB_EINVAL,
                     "workload %s: the sweep has %.0f points (%s), more than the limit of %d: narrow it",
                     wl->name, points, sizes, PLAN_MAX_CASES);
    }
    int idx[AB_MAX_AXES] = { 0 }, outside_suite = 0;
    struct ab_params *ps = st == AB_OK ? calloc(1, sizeof *ps) : NULL;
    if (st == AB_OK && !ps)
        st = ab_fail(err, AB_ENOMEM, "out of memory");
    while (st == AB_OK) {
        struct plan_case pc = { .wl = wl, .dev = dev, .backend = backend, .suite = suite };
        ps->n = wl->n_axes;
        for (int a = 0; a < wl->n_axes; a++) {
            snprintf(ps->p[a].name, sizeof ps->p[a].name, "%s", wl->axes[a].name);
            ps->p[a].val = vals[a]->v[idx[a]];
        }
        if (!wl->applies || wl->applies(ps, backend, suite)) {
            pc.params = params_pack(ps);
            if (ps->n > 0 && !pc.params)
                st = ab_fail(err, AB_ENOMEM, "out of memory planning cases");
            else if ((st = plan_add(p, &pc, err)))
                free(pc.params);
        } else if (suite != AB_SUITE_FULL && wl->applies(ps, backend, AB_SUITE_FULL)) {
            outside_suite++;
        }
        /* odometer over the axes, last axis fastest */
        int a = wl->n_axes - 1;
        while (a >= 0 && ++idx[a] == vals[a]->n)
            idx[a--] = 0;
        if (a < 0)
            break;
    }
    /* Points the user asked for with -a that only the full suite runs: say so rather than
     * drop them without a word (the default sweeps themselves are meant to be trimmed). */
    bool overridden = false;
    for (int i = 0; i < o->n_axis_overrides; i++) {
        const char *eq = strchr(o->axis_overrides[i], '=');
        overridden |= eq && has_axis(wl, o->axis_overrides[i], (size_t)(eq - o->axis_overrides[i]));
    }
    if (st == AB_OK && overridden && outside_suite > 0 && o->log && !o->quiet)
        fprintf(o->log, "note: %d %s point%s on %s left out: beyond the %s suite's limits (add --full)\n",
                outside_suite, wl->name, outside_suite == 1 ? "" : "s", ab_backend_name(backend),
                ab_suite_word(suite));
    for (int a = 0; a < wl->n_axes; a++)
        free(vals[a]);
    free(ps);
    return st;
}

void ab_plan_free(struct plan *plan)
{
    for (int i = 0; i < plan->n; i++)
        free(plan->c[i].params);
    free(plan->c);
    plan->c = NULL;
    plan->n = plan->cap = 0;
}

ab_status ab_plan_select_workloads(const struct ab_run_opts *o, const struct ab_workload **sel, int *nsel_out,
                                   struct ab_error *err)
{
    ab_status st = AB_OK;
    int nsel = 0;
    /* Workloads first: a typo should fail before any device is touched. */
    const struct ab_workload *const *all = ab_workloads();
    char valid[512] = "";
    for (int i = 0; all[i]; i++) {
        size_t l = strlen(valid);
        snprintf(valid + l, sizeof valid - l, "%s%s", i ? ", " : "", all[i]->name);
    }
    if (o->n_workloads == 0) {
        for (int i = 0; all[i] && nsel < 64; i++)
            sel[nsel++] = all[i];
    } else {
        for (int i = 0; i < o->n_workloads; i++) {
            const struct ab_workload *wl = ab_workload_find(o->workloads[i]);
            if (!wl) {
                st = ab_fail(err, AB_EINVAL, "unknown workload \"%s\" (valid: %s)", o->workloads[i], valid);
                goto out;
            }
            bool dup = false;
            for (int k = 0; k < nsel; k++)
                dup |= sel[k] == wl;
            if (!dup && nsel < 64)
                sel[nsel++] = wl;
        }
    }
    for (int i = 0; i < o->n_axis_overrides; i++) {
        const char *ov = o->axis_overrides[i];
        const char *eq = strchr(ov, '=');
        if (!eq || eq == ov) {
            st = ab_fail(err, AB_EINVAL, "axis override \"%s\": expected NAME=VALUES", ov);
            goto out;
        }
        bool known = false;
        for (int k = 0; k < nsel; k++)
            known |= has_axis(sel[k], ov, (size_t)(eq - ov));
        if (!known) {
            char axes[512] = "";
            for (int k = 0; k < nsel; k++)
                for (int a = 0; a < sel[k]->n_axes; a++) {
                    if (strstr(axes, sel[k]->axes[a].name))
                        continue;
                    size_t l = strlen(axes);
                    snprintf(axes + l, sizeof axes - l, "%s%s", l ? ", " : "", sel[k]->axes[a].name);
                }
            st = ab_fail(err, AB_EINVAL, "unknown axis \"%.*s\" for the selected workloads (valid: %s)",
                         (int)(eq - ov), ov, axes);
            goto out;
        }
    }

out:
    *nsel_out = nsel;
    return st;
}

ab_status ab_plan_select_devices(const struct ab_run_opts *o, struct ab_device *devs, int ndev,
                                 const struct ab_error why[AB_BACKEND_COUNT], bool *use,
                                 bool absent[AB_BACKEND_COUNT], struct ab_error *err)
{
    for (int d = 0; d < ndev; d++)
        use[d] = o->n_devices == 0;
    for (int k = 0; k < AB_BACKEND_COUNT; k++)
        absent[k] = false;
    if (o->n_devices == 0) {
        for (int k = 0; k < AB_BACKEND_COUNT; k++) {
            bool any = false;
            for (int d = 0; d < ndev; d++)
                any |= devs[d].backend == (enum ab_backend_kind)k;
            absent[k] = !any;
        }
        return AB_OK;
    }
    /* Valid: every backend's name, then the ids that differ from them ("cuda:0"). */
    char valid[512] = "";
    for (int k = 0; k < AB_BACKEND_COUNT; k++) {
        size_t l = strlen(valid);
        snprintf(valid + l, sizeof valid - l, "%s%s", l ? ", " : "",
                 ab_backend_name((enum ab_backend_kind)k));
    }
    for (int d = 0; d < ndev; d++)
        if (strcmp(devs[d].id, ab_backend_name(devs[d].backend)) != 0) {
            size_t l = strlen(valid);
            snprintf(valid + l, sizeof valid - l, ", %s", devs[d].id);
        }
    for (int i = 0; i < o->n_devices; i++) {
        int none_of = -1;
        if (ab_devices_select(devs, ndev, o->devices[i], use, &none_of))
            continue;
        if (none_of >= 0) {
            absent[none_of] = true; /* reported as skipped rows, not an error */
            continue;
        }
        return ab_fail(err, AB_EINVAL, "unknown device \"%s\" (valid: %s)", o->devices[i], valid);
    }
    return AB_OK;
}

ab_status ab_plan_cases(struct plan *plan, const struct ab_run_opts *o, const struct ab_workload *const *sel,
                        int nsel, const struct ab_device *devs, int ndev, const bool *use,
                        const bool absent[AB_BACKEND_COUNT], const struct ab_error why[AB_BACKEND_COUNT],
                        struct ab_error *err)
{
    const struct ab_workload *const *all = ab_workloads();
    ab_status st = AB_OK;
    /* Plan: ceilings first (automatically, in quick form, when other workloads need them and
     * no other source was given), then the selected workloads in registry order. */
    bool want_ceilings = false, has_ceilings = false;
    for (int k = 0; k < nsel; k++) {
        has_ceilings |= sel[k]->provides_ceilings;
        want_ceilings |= !sel[k]->provides_ceilings;
    }
    if (o->suite == AB_SUITE_CHECK)
        want_ceilings = false; /* verification reads no ceiling */
    bool auto_ceilings = want_ceilings && !has_ceilings && !o->ceilings_file && !o->no_ceilings;
    for (int d = 0; d < ndev && auto_ceilings; d++) {
        if (!use[d])
            continue;
        for (int w = 0; all[w]; w++) {
            if (!all[w]->provides_ceilings)
                continue;
            struct ab_run_opts plain = *o;
            plain.n_axis_overrides = 0; /* user overrides address the chosen workloads */
            if ((st = plan_workload(plan, all[w], d, devs[d].backend, &plain, AB_SUITE_QUICK, err)))
                goto out;
        }
    }
    for (int k = 0; k < nsel; k++) {
        int before = plan->n;
        for (int d = 0; d < ndev; d++)
            if (use[d] && (st = plan_workload(plan, sel[k], d, devs[d].backend, o, o->suite, err)))
                goto out;
        /* Axis values that combine into no case anywhere (e.g. an FP8 dtype with scaling=none)
         * are a usage error, not a silent empty run; a backend that is merely absent still
         * gets its skipped rows below. */
        bool absent_any = false;
        for (int b = 0; b < AB_BACKEND_COUNT; b++)
            absent_any |= absent[b];
        if (plan->n == before && o->n_axis_overrides > 0 && !absent_any) {
            char given[256] = "";
            for (int i = 0; i < o->n_axis_overrides; i++) {
                const char *ov = o->axis_overrides[i], *eq = strchr(ov, '=');
                size_t l = strlen(given);
                if (eq && has_axis(sel[k], ov, (size_t)(eq - ov)))
                    snprintf(given + l, sizeof given - l, "%s-a %s", l ? " " : "", ov);
            }
            st = ab_fail(err, AB_EINVAL,
                         "workload %s: %s combine into no case on the devices "
                         "selected in this suite (`accelbench list` shows the axes and each suite's sweeps)",
                         sel[k]->name, given[0] ? given : "the axis values given");
            goto out;
        }
    }
    for (int k = 0; k < AB_BACKEND_COUNT; k++) {
        if (!absent[k])
            continue;
        for (int w = 0; w < nsel; w++) {
            struct plan_case pc = { .wl = sel[w],
                                    .dev = -1,
                                    .backend = (enum ab_backend_kind)k,
                                    .suite = o->suite,
                                    .skip = why[k].msg[0] ? why[k].msg : "no device" };
            if ((st = plan_add(plan, &pc, err)))
                goto out;
        }
    }
out:
    return st;
}
