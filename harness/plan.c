/* plan.c — what a run will do, before it does any of it: the selected workloads and devices
 * (validated, errors naming the valid choices) and every case, one per point of each
 * workload's axes (its suite's sweeps or the user's -a overrides, less the points its
 * `applies` drops) on each device in use. Cases hold their parameters packed. */
#include "runner_internal.h"

#include <stdlib.h>
#include <string.h>

/* Packed: the count, then per parameter its name and its text (each NUL-terminated) and its
 * number: most values are a few characters, so a case costs bytes, not AB_VALUE_MAX each. */
static size_t params_packed_size(const struct ab_params *ps)
{
    size_t n = sizeof(int);
    for (int i = 0; i < ps->n && i < AB_MAX_AXES; i++)
        n += strnlen(ps->p[i].name, sizeof ps->p[i].name - 1) + 1 +
             strnlen(ps->p[i].val.str, sizeof ps->p[i].val.str - 1) + 1 + sizeof(double);
    return n;
}

static unsigned char *params_pack(const struct ab_params *ps)
{
    if (ps->n <= 0)
        return NULL;
    unsigned char *b = malloc(params_packed_size(ps));
    if (!b)
        return NULL;
    unsigned char *q = b;
    memcpy(q, &ps->n, sizeof(int));
    q += sizeof(int);
    for (int i = 0; i < ps->n && i < AB_MAX_AXES; i++) {
        size_t nl = strnlen(ps->p[i].name, sizeof ps->p[i].name - 1) + 1,
               vl = strnlen(ps->p[i].val.str, sizeof ps->p[i].val.str - 1) + 1;
        memcpy(q, ps->p[i].name, nl);
        q += nl;
        memcpy(q, ps->p[i].val.str, vl);
        q += vl;
        memcpy(q, &ps->p[i].val.num, sizeof(double));
        q += sizeof(double);
    }
    return b;
}

size_t ab_plan_params_size(const unsigned char *packed)
{
    if (!packed)
        return 0;
    int n;
    memcpy(&n, packed, sizeof(int));
    const unsigned char *q = packed + sizeof(int);
    for (int i = 0; i < n; i++) {
        q += strlen((const char *)q) + 1;
        q += strlen((const char *)q) + 1;
        q += sizeof(double);
    }
    return (size_t)(q - packed);
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
    int n;
    memcpy(&n, pc->params, sizeof(int));
    const unsigned char *q = pc->params + sizeof(int);
    for (int i = 0; i < n && i < AB_MAX_AXES; i++) {
        size_t nl = strlen((const char *)q) + 1;
        memcpy(out->p[i].name, q, nl);
        q += nl;
        size_t vl = strlen((const char *)q) + 1;
        memcpy(out->p[i].val.str, q, vl);
        q += vl;
        memcpy(&out->p[i].val.num, q, sizeof(double));
        q += sizeof(double);
        out->n++;
    }
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

/* An axis override "[WORKLOAD:]AXIS=VALUES", split: a scoped one addresses one workload, a
 * plain one every selected workload that has the axis. The values may hold ':' (ranges); the
 * scope is looked for only before the '='. */
struct override {
    const char *scope; /* NULL: plain */
    size_t scope_len;
    const char *axis;
    size_t axis_len;
    const char *values;
};

static bool override_split(const char *ov, struct override *out)
{
    const char *eq = strchr(ov, '=');
    if (!eq)
        return false;
    const char *colon = memchr(ov, ':', (size_t)(eq - ov));
    out->scope = colon ? ov : NULL;
    out->scope_len = colon ? (size_t)(colon - ov) : 0;
    out->axis = colon ? colon + 1 : ov;
    out->axis_len = (size_t)(eq - out->axis);
    out->values = eq + 1;
    return out->axis_len > 0 && (!colon || out->scope_len > 0);
}

static bool override_is_axis(const struct override *v, const char *axis)
{
    return strlen(axis) == v->axis_len && strncmp(axis, v->axis, v->axis_len) == 0;
}

static bool override_is_scope(const struct override *v, const char *workload)
{
    return v->scope && strlen(workload) == v->scope_len && strncmp(workload, v->scope, v->scope_len) == 0;
}

/* The override of a workload's axis: one scoped to it, else a plain one (*plain true); NULL
 * when the user named neither. */
static const char *override_for(const struct ab_run_opts *o, const struct ab_workload *wl, const char *axis,
                                bool *plain)
{
    const char *found = NULL;
    *plain = false;
    for (int i = 0; i < o->n_axis_overrides; i++) {
        struct override v;
        if (!override_split(o->axis_overrides[i], &v) || !override_is_axis(&v, axis))
            continue;
        if (override_is_scope(&v, wl->name)) {
            *plain = false;
            return v.values;
        }
        if (!v.scope && !found) {
            found = v.values;
            *plain = true;
        }
    }
    return found;
}

static bool has_axis(const struct ab_workload *wl, const char *name, size_t nl)
{
    for (int a = 0; a < wl->n_axes; a++)
        if (strlen(wl->axes[a].name) == nl && strncmp(wl->axes[a].name, name, nl) == 0)
            return true;
    return false;
}

/* The items of a plain override's list that an axis accepts, each parsed alone, joined into a
 * new string (*out, NULL when it accepts none); *n_ok of *n_items accepted, the first refusal
 * in *first. An empty item is an error for every workload (a typo), returned as such. */
static ab_status plain_items(const struct ab_axis *ax, const char *values, char **out, int *n_ok,
                             int *n_items, struct ab_error *first)
{
    *out = NULL;
    *n_ok = *n_items = 0;
    size_t len = strlen(values);
    struct ab_values *tmp = malloc(sizeof *tmp);
    char *copy = strdup(values), *acc = calloc(1, len + 1);
    ab_status st = AB_OK;
    if (!tmp || !copy || !acc) {
        st = ab_fail(first, AB_ENOMEM, "out of memory");
        goto done;
    }
    if (len == 0 || values[0] == ',' || values[len - 1] == ',' || strstr(values, ",,")) {
        st = ab_axis_parse(ax, values, tmp, first); /* says "empty item" */
        goto done;
    }
    bool first_set = false;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        struct ab_error e;
        (*n_items)++;
        if (ab_axis_parse(ax, tok, tmp, &e) == AB_OK) {
            size_t l = strlen(acc);
            snprintf(acc + l, len + 1 - l, "%s%s", l ? "," : "", tok);
            (*n_ok)++;
        } else if (!first_set) {
            *first = e;
            first_set = true;
        }
    }
    if (*n_ok) {
        *out = acc;
        acc = NULL;
    }
done:
    free(tmp);
    free(copy);
    free(acc);
    return st;
}

/* Values of every axis of a workload: its suite's default sweep, or the user's override (of a
 * plain one, the items this workload's axis accepts; none: the default). named[a]: the user
 * named the values of axis a. */
static ab_status workload_values(const struct ab_workload *wl, const struct ab_run_opts *o,
                                 enum ab_suite suite, struct ab_values **vals, bool *named,
                                 struct ab_error *err)
{
    for (int a = 0; a < wl->n_axes; a++) {
        const struct ab_axis *ax = &wl->axes[a];
        const char *sweep = ax->sweep[suite];
        if (suite == AB_SUITE_CHECK && !sweep)
            sweep = ax->sweep[AB_SUITE_QUICK];
        bool plain;
        const char *ov = override_for(o, wl, ax->name, &plain);
        char *filtered = NULL;
        named[a] = false;
        if (ov && plain) {
            int n_ok, n_items;
            struct ab_error ignored;
            ab_status st = plain_items(ax, ov, &filtered, &n_ok, &n_items, &ignored);
            if (st)
                return ab_fail(err, st, "workload %s: %s", wl->name, ignored.msg);
            if (filtered)
                sweep = filtered, named[a] = true;
        } else if (ov) {
            sweep = ov;
            named[a] = true;
        }
        ab_status st = ab_axis_parse(ax, sweep, vals[a], err);
        free(filtered);
        if (st)
            return ab_fail_prefix(err, st, "workload %s", wl->name);
    }
    return AB_OK;
}

/* The sweep an axis has in a suite (check: its own, else the quick one). */
static const char *suite_sweep(const struct ab_axis *ax, enum ab_suite suite)
{
    const char *sweep = ax->sweep[suite];
    return suite == AB_SUITE_CHECK && !sweep ? ax->sweep[AB_SUITE_QUICK] : sweep;
}

/* A point the suite's `applies` refuses although the full suite would run it: does the refusal
 * come from a value the user named? It does when putting one named axis at another value of
 * the suite's own sweep (defs[a]) makes the suite accept the point: the suite's limits refuse
 * that value, not the combination. Otherwise the suite is thinning the axes the user did not
 * name, as it does without -a. */
static bool refused_for_named_value(const struct ab_workload *wl, struct ab_params *ps, const bool *named,
                                    struct ab_values *const *defs, enum ab_backend_kind backend,
                                    enum ab_suite suite)
{
    for (int a = 0; a < wl->n_axes; a++) {
        if (!named[a] || !defs[a])
            continue;
        struct ab_value keep = ps->p[a].val;
        bool ok = false;
        for (int k = 0; k < defs[a]->n && !ok; k++) {
            if (strcmp(defs[a]->v[k].str, keep.str) == 0)
                continue;
            ps->p[a].val = defs[a]->v[k];
            ok = wl->applies(ps, backend, suite);
        }
        ps->p[a].val = keep;
        if (ok)
            return true;
    }
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
    bool named[AB_MAX_AXES] = { false }, any_named = false;
    struct ab_values *defs[AB_MAX_AXES] = { 0 }; /* the suite's own values of the named axes */
    if (st == AB_OK)
        st = workload_values(wl, o, suite, vals, named, err);
    for (int a = 0; a < wl->n_axes && st == AB_OK; a++) {
        any_named |= named[a];
        if (named[a] && wl->applies && suite != AB_SUITE_FULL) {
            if (!(defs[a] = malloc(sizeof *defs[a])))
                st = ab_fail(err, AB_ENOMEM, "out of memory");
            else if (ab_axis_parse(&wl->axes[a], suite_sweep(&wl->axes[a], suite), defs[a], NULL) != AB_OK)
                defs[a]->n = 0;
        }
    }
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
    int idx[AB_MAX_AXES] = { 0 }, outside_suite = 0, beyond_suite = 0;
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
        bool run = !wl->applies || wl->applies(ps, backend, suite);
        /* A point named with -a runs whatever the suite, as long as some suite runs it: the
         * suite's limits only thin the axes not named. */
        if (!run && any_named && suite != AB_SUITE_FULL && wl->applies(ps, backend, AB_SUITE_FULL) &&
            refused_for_named_value(wl, ps, named, defs, backend, suite))
            run = true, beyond_suite++;
        size_t text_len = 0;
        for (int a = 0; a < ps->n; a++)
            text_len += strlen(ps->p[a].name) + strlen(ps->p[a].val.str) + 2;
        if (run && text_len >= AB_PARAMS_TEXT_MAX) {
            st = ab_fail(err, AB_EINVAL,
                         "workload %s: a case's parameters take %zu characters, more than the limit of %d",
                         wl->name, text_len, AB_PARAMS_TEXT_MAX - 1);
        } else if (run) {
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
    /* Say what the suite did to the points the user named, rather than nothing: those it runs
     * beyond its limits, and the combinations with axes not named that it still thins. */
    if (st == AB_OK && any_named && beyond_suite > 0 && o->log && !o->quiet)
        fprintf(o->log, "note: %d %s point%s on %s beyond the %s suite's limits run%s: -a names them\n",
                beyond_suite, wl->name, beyond_suite == 1 ? "" : "s", ab_backend_name(backend),
                ab_suite_word(suite), beyond_suite == 1 ? "s" : "");
    if (st == AB_OK && any_named && outside_suite > 0 && o->log && !o->quiet)
        fprintf(o->log,
                "note: %d %s point%s on %s left out: the %s suite thins the axes not named with -a "
                "(name them too, or add --full)\n",
                outside_suite, wl->name, outside_suite == 1 ? "" : "s", ab_backend_name(backend),
                ab_suite_word(suite));
    for (int a = 0; a < wl->n_axes; a++) {
        free(vals[a]);
        free(defs[a]);
    }
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
        struct override v;
        if (!override_split(ov, &v)) {
            st = ab_fail(err, AB_EINVAL, "axis override \"%s\": expected [WORKLOAD:]NAME=VALUES", ov);
            goto out;
        }
        if (v.scope) { /* WORKLOAD:AXIS=VALUES: that workload, selected, with that axis */
            const struct ab_workload *wl = NULL;
            for (int k = 0; all[k]; k++)
                if (override_is_scope(&v, all[k]->name))
                    wl = all[k];
            if (!wl) {
                st = ab_fail(err, AB_EINVAL, "-a %s: unknown workload \"%.*s\" (valid: %s)", ov,
                             (int)v.scope_len, v.scope, valid);
                goto out;
            }
            bool selected = false;
            for (int k = 0; k < nsel; k++)
                selected |= sel[k] == wl;
            if (!selected) {
                st = ab_fail(err, AB_EINVAL, "-a %s: workload %s is not selected (add it to -w)", ov,
                             wl->name);
                goto out;
            }
            if (!has_axis(wl, v.axis, v.axis_len)) {
                char axes[512] = "";
                for (int a = 0; a < wl->n_axes; a++) {
                    size_t l = strlen(axes);
                    snprintf(axes + l, sizeof axes - l, "%s%s", a ? ", " : "", wl->axes[a].name);
                }
                st = ab_fail(err, AB_EINVAL, "-a %s: workload %s has no axis \"%.*s\" (valid: %s)", ov,
                             wl->name, (int)v.axis_len, v.axis, axes);
                goto out;
            }
            continue;
        }
        bool known = false;
        for (int k = 0; k < nsel; k++)
            known |= has_axis(sel[k], v.axis, v.axis_len);
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
                         (int)v.axis_len, v.axis, axes);
            goto out;
        }
        /* A plain -a goes to every selected workload that has the axis (and no -a of its own
         * for it), each taking the values its axis accepts; a value none of them accepts is an
         * error, one that only some accept a note. */
        int takers = 0, n_items = 0, accepted_by_some = 0;
        char notes[2048] = "";
        char *item_ok = NULL;
        struct ab_error first = { { 0 } };
        const struct ab_workload *first_wl = NULL;
        for (int k = 0; k < nsel && st == AB_OK; k++) {
            const struct ab_axis *ax = NULL;
            for (int a = 0; a < sel[k]->n_axes; a++)
                if (override_is_axis(&v, sel[k]->axes[a].name))
                    ax = &sel[k]->axes[a];
            bool plain;
            if (!ax || !override_for(o, sel[k], ax->name, &plain) || !plain)
                continue;
            takers++;
            char *ok_list = NULL;
            int n_ok = 0;
            struct ab_error e = { { 0 } };
            if ((st = plain_items(ax, v.values, &ok_list, &n_ok, &n_items, &e))) {
                ab_fail(err, st, "workload %s: %s", sel[k]->name, e.msg);
                break;
            }
            if (!item_ok && n_items > 0 && !(item_ok = calloc((size_t)n_items, 1))) {
                free(ok_list);
                st = ab_fail(err, AB_ENOMEM, "out of memory");
                break;
            }
            /* which items this workload took: walk both lists in step */
            const char *p = v.values, *q = ok_list ? ok_list : "";
            for (int t = 0; t < n_items; t++) {
                size_t pl = strcspn(p, ","), ql = strcspn(q, ",");
                if (*q && pl == ql && strncmp(p, q, pl) == 0) {
                    accepted_by_some += !item_ok[t];
                    item_ok[t] = 1;
                    q += ql + (q[ql] == ',');
                }
                p += pl + (p[pl] == ',');
            }
            if (n_ok < n_items && !first_wl) {
                first = e;
                first_wl = sel[k];
            }
            size_t nl = strlen(notes);
            if (n_ok < n_items && n_ok == 0)
                snprintf(notes + nl, sizeof notes - nl,
                         "note: -a %s does not apply to %s (%s): its %s keeps its sweep\n", ov, sel[k]->name,
                         e.msg, ax->name);
            else if (n_ok < n_items)
                snprintf(notes + nl, sizeof notes - nl, "note: -a %s: %s takes only %s (%s)\n", ov,
                         sel[k]->name, ok_list, e.msg);
            free(ok_list);
        }
        free(item_ok);
        if (st)
            goto out;
        if (takers == 0) {
            st = ab_fail(err, AB_EINVAL,
                         "-a %s applies to no workload: each selected one with axis %.*s has its own -a", ov,
                         (int)v.axis_len, v.axis);
            goto out;
        }
        if (accepted_by_some < n_items) {
            st = ab_fail(err, AB_EINVAL, "workload %s: %s", first_wl ? first_wl->name : "?", first.msg);
            goto out;
        }
        /* the notes only once the values are known good: an error stays one line */
        if (notes[0] && o->log && !o->quiet)
            fputs(notes, o->log);
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
        has_ceilings |= sel[k]->provides_ceilings && !sel[k]->own_ceilings_only;
        want_ceilings |= !sel[k]->provides_ceilings;
    }
    if (o->suite == AB_SUITE_CHECK)
        want_ceilings = false; /* verification reads no ceiling */
    bool auto_ceilings = want_ceilings && !has_ceilings && !o->ceilings_file && !o->no_ceilings;
    for (int d = 0; d < ndev && auto_ceilings; d++) {
        if (!use[d])
            continue;
        for (int w = 0; all[w]; w++) {
            if (!all[w]->provides_ceilings || all[w]->own_ceilings_only)
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
                const char *ov = o->axis_overrides[i];
                struct override v;
                size_t l = strlen(given);
                if (override_split(ov, &v) &&
                    (v.scope ? override_is_scope(&v, sel[k]->name) : has_axis(sel[k], v.axis, v.axis_len)))
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
