/* runner.c — the case loop: plan (workloads x devices x axis points), then take each case
 * through setup -> verify -> warm-up -> measure -> record -> teardown.
 * A case that fails becomes a row and the run goes on; each row is on disk when its case
 * ends. Ceilings come first (measured in this run, from --ceilings, or from the rows being
 * resumed) so that every later case can be read as a fraction of one. */
#include "accelbench.h"
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct plan_case {
    const struct ab_workload *wl;
    int dev; /* index into devices, or -1 for an absent backend */
    enum ab_backend_kind backend;
    unsigned char *params; /* packed parameters (params_pack), NULL for none */
    enum ab_suite suite;
    const char *skip; /* non-NULL: record a skipped row with this reason */
};

/* A plan entry holds its parameters packed to the axes the workload has: a whole struct
 * ab_params is 1.4 KB, most of it empty slots, and a sweep may hold many thousand cases. */
#define PARAM_SLOT sizeof(((struct ab_params *)0)->p[0])

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

/* The params text of a case (the CSV column and the identity of a case): every axis but those
 * at the value results from before the axis existed imply. */
static void case_params_text(const struct ab_workload *wl, const struct ab_params *ps, char *buf, size_t len)
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

static void plan_params(const struct plan_case *pc, struct ab_params *out)
{
    memset(out, 0, sizeof *out);
    if (!pc->params)
        return;
    memcpy(&out->n, pc->params, sizeof(int));
    memcpy(out->p, pc->params + sizeof(int), (size_t)out->n * PARAM_SLOT);
}

struct plan {
    struct plan_case *c;
    int n, cap;
    char no_impl[AB_BACKEND_COUNT][64]; /* skip reasons: "no CUDA implementation of this workload" */
};

static ab_status plan_add(struct plan *p, const struct plan_case *pc, struct ab_error *err)
{
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 64;
        if (cap > 10000000)
            return ab_fail(err, AB_EINVAL, "more than 10 million cases: narrow the sweep");
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

/* ------------------------------------------------------------------ ceilings */

/* Take ceilings from the ok rows of ceilings providers in a results file, for devices of the
 * same name. */
static ab_status ceilings_from_file(const char *path, struct ab_device *devs, int n, bool quiet_missing,
                                    struct ab_error *err)
{
    struct ab_result_set set = { 0 };
    ab_status st = ab_csv_read(path, &set, NULL, 0, err);
    if (st) {
        ab_result_set_free(&set);
        return quiet_missing ? AB_OK : st;
    }
    char src[48];
    const char *base = strrchr(path, '/');
    snprintf(src, sizeof src, "file:%s", base ? base + 1 : path);
    for (int64_t i = 0; i < set.n; i++) {
        const struct ab_result *r = &set.rows[i];
        const struct ab_workload *wl = ab_workload_find(r->workload);
        if (!wl || !wl->provides_ceilings || r->status != AB_OK || !r->ceiling[0] || !(r->ceiling_value > 0))
            continue;
        for (int d = 0; d < n; d++)
            if (strcmp(devs[d].name, r->device_name) == 0 && strcmp(devs[d].id, r->device) == 0)
                ab_device_set_ceiling(&devs[d], r->ceiling, r->ceiling_value, src);
    }
    ab_result_set_free(&set);
    return AB_OK;
}

/* ------------------------------------------------------------------ one case */

/* Faults a test build can inject into a case (ACCELBENCH_TEST_FAULT), each standing for a
 * failure a real backend has: an allocation, a kernel launch, a wrong result, a hang. */
enum test_fault {
    FAULT_NONE = 0,
    FAULT_SETUP_OOM,
    FAULT_RUN_FAIL,
    FAULT_MISMATCH,
    FAULT_HANG,
    FAULT_DEVICE_LOST
};

struct case_env {
    const struct ab_run_opts *o;
    struct ab_device *dev;
    struct ab_meter *meter;
    const char *run_id;
    const char *host;
    double slowdown;              /* test hook: >1 stretches every repetition of this workload */
    double idle_w;                /* the device's idle power (--idle-baseline), NaN if not measured */
    struct ab_counters *counters; /* --counters, or NULL */
    enum test_fault fault;        /* test hook: a fault to inject into this case */
    atomic_int *abandoned;        /* set by the watchdog when it gives up on the case */
};

#if AB_TEST_HOOKS
/* Test-only: ACCELBENCH_TEST_SLOWDOWN="workload=factor" (never compiled into release). */
static double test_slowdown(const char *workload)
{
    const char *s = getenv("ACCELBENCH_TEST_SLOWDOWN");
    size_t wl = strlen(workload);
    if (s && strncmp(s, workload, wl) == 0 && s[wl] == '=') {
        double f = atof(s + wl + 1);
        return f > 1 ? f : 1;
    }
    return 1;
}

/* Test-only: ACCELBENCH_TEST_FAULT="WORKLOAD[@PARAMS]:FAULT[,...]" where FAULT is setup_oom,
 * run_fail, mismatch, hang or device_lost (a failure the backend's health check then reports as
 * a lost device), and PARAMS (optional) a substring of the case's params text. */
static enum test_fault test_fault(const char *workload, const char *params)
{
    static const char *const names[] = { "", "setup_oom", "run_fail", "mismatch", "hang", "device_lost" };
    const char *s = getenv("ACCELBENCH_TEST_FAULT");
    char spec[256];
    for (const char *p = s; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] ? 1 : 0)) {
        snprintf(spec, sizeof spec, "%.*s", (int)strcspn(p, ","), p);
        char *colon = strrchr(spec, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *at = strchr(spec, '@');
        if (at)
            *at++ = '\0';
        if (strcmp(spec, workload) != 0 || (at && !strstr(params, at)))
            continue;
        for (int f = FAULT_SETUP_OOM; f <= FAULT_DEVICE_LOST; f++)
            if (strcmp(colon + 1, names[f]) == 0)
                return (enum test_fault)f;
    }
    return FAULT_NONE;
}
#else
static double test_slowdown(const char *workload)
{
    return 1;
}
static enum test_fault test_fault(const char *workload, const char *params)
{
    return FAULT_NONE;
}
#endif

static bool abandoned(const struct case_env *env)
{
    return env->abandoned && atomic_load(env->abandoned);
}

static ab_status timed_run(const struct case_env *env, const struct ab_impl *impl, struct ab_case *c,
                           int64_t reps, double slowdown, double *t, struct ab_error *err)
{
    if (abandoned(env))
        return ab_fail(err, AB_ETIMEOUT, "abandoned by the watchdog");
    if (env->fault == FAULT_RUN_FAIL)
        return ab_fail(err, AB_EFAIL, "kernel launch failed: injected fault run_fail");
    while (env->fault == FAULT_HANG)
        sleep(1); /* never returns: only the watchdog ends this case */
    ab_status st = impl->run(c, reps, t, err);
    /* A case given up by the watchdog touches nothing shared once it comes back. */
    if (abandoned(env))
        return ab_fail(err, AB_ETIMEOUT, "abandoned by the watchdog");
    if (st == AB_OK && slowdown > 1) {
        double until = ab_now_s() + (slowdown - 1) * *t;
        while (ab_now_s() < until)
            ;
        *t *= slowdown;
    }
    if (st == AB_OK && !(*t >= 0 && isfinite(*t)))
        return ab_fail(err, AB_EFAIL, "run() reported an invalid time %g s", *t);
    return st;
}

static bool interrupted(const struct ab_run_opts *o)
{
    return o->interrupted && *o->interrupted;
}

/* Measure a set-up, verified case; fills r's statistics and energy. */
static ab_status measure(struct case_env *env, const struct ab_impl *impl, struct ab_case *c,
                         struct ab_result *r, double **samples_out, struct ab_error *err)
{
    const struct ab_run_opts *o = env->o;
    const struct ab_stop_rule *rule = &o->stop;
    double t;
    ab_status st = timed_run(env, impl, c, 1, env->slowdown, &t, err);
    if (st)
        return st;
    /* Warm-up, also calibrating how many repetitions make one sample of ~2 ms or more. */
    double target = fmax(2e-3, o->stop.min_time_s / 200.0);
    double w0 = ab_now_s();
    int64_t reps = 1;
    double per = t > 0 ? t : 1e-9;
    while (ab_now_s() - w0 < o->warmup_s && !interrupted(o)) {
        reps = (int64_t)fmin(fmax(1.0, ceil(target / per)), 1e9);
        if ((st = timed_run(env, impl, c, reps, env->slowdown, &t, err)))
            return st;
        per = fmax(t / (double)reps, 1e-12);
    }
    reps = (int64_t)fmin(fmax(1.0, ceil(target / per)), 1e9);

    int64_t cap = 1024, n = 0, total_reps = 0;
    double *x = malloc((size_t)cap * sizeof *x);
    if (!x)
        return ab_fail(err, AB_ENOMEM, "out of memory for samples");
    double timeout = o->case_timeout_s > 0 ? o->case_timeout_s : 10 * rule->max_time_s + 60;
    double min_window = ab_meter_min_window_s(env->meter);
    struct ab_error merr = { { 0 } };
    bool metered = ab_meter_begin(env->meter, &merr) == AB_OK;
    bool counting = env->counters && ab_counters_start(env->counters, &merr) == AB_OK;
    double t0 = ab_now_s(), next_check = 0;
    enum ab_stop stop = AB_STOP_CONTINUE;
    struct ab_stats stats = { 0 };
    while (st == AB_OK) {
        if (interrupted(o)) {
            st = ab_fail(err, AB_EINTR, "interrupted by signal after %lld samples", (long long)n);
            break;
        }
        if ((st = timed_run(env, impl, c, reps, env->slowdown, &t, err)))
            break;
        if (n == cap) {
            double *nx = realloc(x, (size_t)cap * 2 * sizeof *nx);
            if (!nx) {
                st = ab_fail(err, AB_ENOMEM, "out of memory for samples");
                break;
            }
            x = nx;
            cap *= 2;
        }
        x[n++] = t / (double)reps;
        total_reps += reps;
        double elapsed = ab_now_s() - t0;
        if (elapsed > timeout) {
            st = ab_fail(err, AB_ETIMEOUT, "case ran past its %.0f s limit", timeout);
            break;
        }
        /* Statistics cost a sort: check at ~10% growth of n, or every quarter second. */
        if (n >= next_check || elapsed >= rule->max_time_s) {
            ab_stats_compute(x, n, &stats);
            stop = ab_stop_check(rule, &stats, elapsed);
            next_check = fmax((double)n + 1, (double)n * 1.1);
            if (stop != AB_STOP_CONTINUE && (!metered || elapsed >= min_window))
                break;
        }
    }
    double window = ab_now_s() - t0;
    long long counts[16] = { 0 };
    if (counting && !abandoned(env) && ab_counters_stop(env->counters, counts, &merr) == AB_OK &&
        total_reps > 0)
        for (int i = 0; i < ab_counters_n(env->counters) && i < 16; i++) {
            char name[40];
            snprintf(name, sizeof name, "papi_%s_thread0_per_rep", ab_counters_event(env->counters, i));
            ab_case_metric(c, name, (double)counts[i] / (double)total_reps);
        }
    double energy = NAN;
    if (metered && !abandoned(env) && ab_meter_end(env->meter, &energy, &merr) != AB_OK)
        energy = NAN;
    if (st) {
        free(x);
        return st;
    }
    ab_stats_compute(x, n, &r->time_s);
    snprintf(r->stop_reason, sizeof r->stop_reason, "%s", ab_stop_word(stop));
    r->reps_per_sample = reps;
    if (isfinite(energy) && total_reps > 0 && window > 0) {
        r->energy_j = energy / (double)total_reps;
        r->avg_power_w = energy / window;
        if (isfinite(env->idle_w)) {
            /* What the work itself cost: the window's energy less what idling would have. */
            ab_case_metric(c, "idle_power_w", env->idle_w);
            ab_case_metric(c, "dynamic_energy_j", (energy - env->idle_w * window) / (double)total_reps);
        }
    }
    *samples_out = x;
    r->n_samples = n;
    return AB_OK;
}

/* What a case of a ceilings provider published (ab_case_publish_ceiling). */
struct ab_case_engine {
    char ceiling[24]; /* "" when nothing was published */
    double value;     /* 0: the rate computed from work and time */
};

void ab_case_publish_ceiling(struct ab_case *c, const char *name, double value)
{
    if (!c || !c->engine || !name)
        return;
    snprintf(c->engine->ceiling, sizeof c->engine->ceiling, "%s", name);
    c->engine->value = value;
}

static void derive(struct ab_result *r, const struct ab_case *c, const struct ab_device *dev)
{
    double med = r->time_s.median;
    if (med > 0) {
        r->flop_per_s = c->work.flops / med;
        r->byte_per_s = c->work.bytes / med;
        r->token_per_s = c->work.tokens / med;
    }
    if (isfinite(r->energy_j) && r->energy_j > 0) {
        r->flop_per_j = c->work.flops > 0 ? c->work.flops / r->energy_j : NAN;
        r->token_per_j = c->work.tokens > 0 ? c->work.tokens / r->energy_j : NAN;
        r->byte_per_j = c->work.bytes > 0 ? c->work.bytes / r->energy_j : NAN;
    }
    double rate = (c->work.rate && strcmp(c->work.rate, "bytes") == 0) ? r->byte_per_s : r->flop_per_s;
    const char *pub = c->engine && c->engine->ceiling[0] ? c->engine->ceiling : NULL;
    double pub_value = pub ? c->engine->value : 0;
    if (pub) {
        double v = pub_value > 0 ? pub_value : rate;
        ab_device_set_ceiling((struct ab_device *)dev, pub, v, "measured");
    }
    const char *cname = pub ? pub : c->work.ceiling;
    const struct ab_ceiling *ceil_ = ab_device_ceiling(dev, cname);
    if (cname)
        snprintf(r->ceiling, sizeof r->ceiling, "%s", cname);
    if (ceil_) {
        r->ceiling_value = ceil_->value;
        snprintf(r->ceiling_source, sizeof r->ceiling_source, "%s", ceil_->source);
        if (pub && pub_value > 0)
            rate = pub_value;
        r->fraction_of_ceiling = rate / ceil_->value;
    }
}

static void result_init(struct ab_result *r, const struct case_env *env, const struct plan_case *pc,
                        const struct ab_device *dev)
{
    memset(r, 0, sizeof *r);
    snprintf(r->run_id, sizeof r->run_id, "%s", env->run_id);
    snprintf(r->host, sizeof r->host, "%s", env->host);
    ab_utc_now(r->started_utc, sizeof r->started_utc);
    snprintf(r->workload, sizeof r->workload, "%s", pc->wl->name);
    snprintf(r->device, sizeof r->device, "%s", dev ? dev->id : ab_backend_name(pc->backend));
    snprintf(r->device_name, sizeof r->device_name, "%s", dev ? dev->name : "");
    snprintf(r->backend, sizeof r->backend, "%s", ab_backend_name(pc->backend));
    struct ab_params ps;
    plan_params(pc, &ps);
    case_params_text(pc->wl, &ps, r->params, sizeof r->params);
    r->fraction_of_ceiling = r->avg_power_w = r->energy_j = NAN;
    r->flop_per_j = r->token_per_j = r->byte_per_j = r->ceiling_value = NAN;
    r->usd_per_hour =
        (dev && dev->profile && dev->profile->usd_per_hour > 0) ? dev->profile->usd_per_hour : NAN;
    snprintf(r->power_source, sizeof r->power_source, "%s",
             env->meter ? ab_meter_source(env->meter) : "none");
}

static void run_case(struct case_env *env, const struct plan_case *pc, uint64_t seed, struct ab_result *r,
                     double **samples)
{
    struct ab_device *dev = env->dev;
    result_init(r, env, pc, dev);
    *samples = NULL;
    if (pc->skip) {
        r->status = AB_EUNSUPPORTED;
        snprintf(r->message, sizeof r->message, "%s", pc->skip);
        snprintf(r->power_source, sizeof r->power_source, "none");
        return;
    }
    const struct ab_impl *impl = pc->wl->impl[pc->backend];
    struct ab_case *c = calloc(1, sizeof *c);
    if (!c) {
        r->status = AB_ENOMEM;
        snprintf(r->message, sizeof r->message, "out of memory");
        return;
    }
    struct ab_case_engine engine = { .value = 0 };
    c->workload = pc->wl;
    c->device = dev;
    c->engine = &engine;
    plan_params(pc, &c->params);
    c->suite = pc->suite;
    c->seed = seed;
    struct ab_error err = { { 0 } };
    ab_status st = env->fault == FAULT_SETUP_OOM
                       ? ab_fail(&err, AB_ENOMEM, "device allocation failed: injected fault setup_oom")
                       : impl->setup(c, &err);
    if (st == AB_OK) {
        r->flops = c->work.flops;
        r->bytes = c->work.bytes;
        r->tokens = c->work.tokens;
        if (env->fault == FAULT_MISMATCH)
            st = ab_fail(&err, AB_EMISMATCH,
                         "injected fault mismatch: 1 of 1 elements differ: "
                         "[0] got 2 expected 1");
        else if (impl->verify)
            st = impl->verify(c, &err);
    }
    bool check_only = pc->suite == AB_SUITE_CHECK;
    if (st == AB_OK && check_only && env->fault == FAULT_RUN_FAIL)
        st = ab_fail(&err, AB_EFAIL, "kernel launch failed: injected fault run_fail");
    if (st == AB_OK && env->fault == FAULT_DEVICE_LOST)
        st = ab_fail(&err, AB_EFAIL, "an illegal memory access was encountered: injected fault device_lost");
    if (st == AB_OK && !check_only && !impl->run)
        st = ab_fail(&err, AB_EFAIL, "workload has no run function");
    if (st == AB_OK && !check_only)
        st = measure(env, impl, c, r, samples, &err);
    if (st == AB_OK && !check_only)
        derive(r, c, dev);
    if (st == AB_OK && check_only)
        snprintf(r->stop_reason, sizeof r->stop_reason, "verified");
    if (impl->teardown)
        impl->teardown(c);
    /* Metrics recorded by setup/verify/run are kept whatever the status (errors too). */
    memcpy(r->metrics, c->metrics, sizeof r->metrics);
    r->n_metrics = c->n_metrics;
    r->status = st;
    if (st != AB_OK) {
        snprintf(r->message, sizeof r->message, "%s", err.msg[0] ? err.msg : ab_status_word(st));
        r->time_s = (struct ab_stats){ 0 };
        r->fraction_of_ceiling = r->avg_power_w = r->energy_j = NAN;
    }
    free(c);
}

/* ------------------------------------------------------------------ the watchdog */

/* Cases run on a worker thread while the run's own thread keeps the clock. A case still in
 * a workload call at its time limit (a hung kernel, a deadlock) cannot be stopped from
 * outside, so it is abandoned: recorded as a `timeout` row, its memory left to the stuck
 * thread, and the run goes on with a fresh worker. A case works on its own copies of its
 * device and parameters (ceilings it measures are copied back when it ends); an abandoned
 * case keeps its device's meter (the run opens a new one) and frees it if it ever ends. So
 * nothing the run frees or uses later is shared with a stuck thread. The worker is long-lived otherwise, so
 * thread-local state of the libraries (OpenMP teams, oneDNN caches) survives across cases. */
struct worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a job arrives, when it is done, and to quit */
    bool has_job, done, quit;
    int refs; /* the run's thread and the worker's: whoever lets go last frees */
    atomic_int abandoned;
    struct case_env env;
    struct ab_device dev;      /* the case's copy of its device */
    struct ab_profile profile; /* and of the device's profile */
    struct plan_case pc;
    unsigned char params[sizeof(int) + AB_MAX_AXES * PARAM_SLOT]; /* its packed parameters */
    struct ab_meter *meter; /* an abandoned case's meter, closed with the worker */
    uint64_t seed;
    struct ab_result r;
    double *samples;
};

static void worker_unref(struct worker *w)
{
    pthread_mutex_lock(&w->mu);
    bool last = --w->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (last) {
        ab_meter_close(w->meter);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w->samples);
        free(w);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->has_job && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->quit)
            break;
        pthread_mutex_unlock(&w->mu);
        run_case(&w->env, &w->pc, w->seed, &w->r, &w->samples);
        pthread_mutex_lock(&w->mu);
        w->has_job = false;
        w->done = true;
        pthread_cond_broadcast(&w->cv);
        if (atomic_load(&w->abandoned))
            break;
    }
    pthread_mutex_unlock(&w->mu);
    worker_unref(w);
    return NULL;
}

static struct worker *worker_start(void)
{
    struct worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&w->abandoned, 0);
    w->refs = 2;
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    return w;
}

static void worker_stop(struct worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    worker_unref(w);
}

/* Run one case on *wp within limit_s (the whole case: setup, verify, measure, teardown).
 * On time-out or an interrupt the case does not answer, r becomes a `timeout` (or
 * `interrupted`) row, the worker is abandoned and *wp replaced. Returns false when a
 * replacement worker cannot be started. */
static bool case_watched(struct worker **wp, const struct case_env *env, const struct plan_case *pc,
                         uint64_t seed, double limit_s, struct ab_result *r, double **samples, bool *gave_up)
{
    *gave_up = false;
    struct worker *w = *wp;
    pthread_mutex_lock(&w->mu);
    w->env = *env;
    w->env.abandoned = &w->abandoned;
    if (env->dev) {
        w->dev = *env->dev;
        w->env.dev = &w->dev;
        if (env->dev->profile) {
            w->profile = *env->dev->profile;
            w->dev.profile = &w->profile;
        }
    }
    w->pc = *pc;
    if (pc->params) {
        int n;
        memcpy(&n, pc->params, sizeof n);
        memcpy(w->params, pc->params, sizeof(int) + (size_t)n * PARAM_SLOT);
        w->pc.params = w->params;
    }
    w->seed = seed;
    w->samples = NULL;
    w->done = false;
    w->has_job = true;
    pthread_cond_broadcast(&w->cv);
    double t0 = ab_now_s(), interrupted_at = 0;
    while (!w->done) {
        /* Wake at least every 0.2 s to see a Ctrl-C: a case that ignores it for 2 s is given up. */
        double now = ab_now_s(), until = fmin(t0 + limit_s, now + 0.2);
        if (interrupted(env->o) && interrupted_at == 0)
            interrupted_at = now;
        if (now >= t0 + limit_s || (interrupted_at > 0 && now >= interrupted_at + 2))
            break;
        struct timespec ts = { .tv_sec = (time_t)until, .tv_nsec = (long)((until - floor(until)) * 1e9) };
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    if (w->done) {
        if (env->dev) { /* what the case measured (the ceilings workload) */
            memcpy(env->dev->ceilings, w->dev.ceilings, sizeof w->dev.ceilings);
            env->dev->n_ceilings = w->dev.n_ceilings;
        }
        *r = w->r;
        *samples = w->samples;
        w->samples = NULL;
        pthread_mutex_unlock(&w->mu);
        return true;
    }
    atomic_store(&w->abandoned, 1);
    w->meter = env->meter; /* the caller opens a new one for the device */
    *gave_up = true;
    pthread_mutex_unlock(&w->mu);
    pthread_detach(w->thread);
    worker_unref(w);
    result_init(r, env, pc, env->dev);
    *samples = NULL;
    if (interrupted_at > 0) {
        r->status = AB_EINTR;
        snprintf(r->message, sizeof r->message,
                 "interrupted by signal; the case did not stop "
                 "within 2 s and was abandoned");
    } else {
        r->status = AB_ETIMEOUT;
        snprintf(r->message, sizeof r->message,
                 "case ran past its %.0f s limit and was abandoned "
                 "(stuck in a workload call; later timings on this device may be disturbed)",
                 limit_s);
    }
    *wp = worker_start();
    return *wp != NULL;
}

/* ------------------------------------------------------------------ progress */

static void fmt_dur(double s, char *buf, size_t len)
{
    if (!isfinite(s) || s < 0)
        s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

static void progress_start(const struct ab_run_opts *o, int i, int n, const struct plan_case *pc,
                           const char *dev, const char *params, double elapsed)
{
    if (o->quiet || !o->log || !o->progress_tty)
        return;
    char el[16], eta[16];
    fmt_dur(elapsed, el, sizeof el);
    fmt_dur(i > 0 ? elapsed / i * (n - i) : NAN, eta, sizeof eta);
    fprintf(o->log, "\r\033[K[%d/%d] %s %s %.60s  elapsed %s  ETA %s", i + 1, n, pc->wl->name, dev, params,
            el, i > 0 ? eta : "?");
    fflush(o->log);
}

static void progress_done(const struct ab_run_opts *o, int i, int n, const struct ab_result *r, double case_s)
{
    if (o->quiet || !o->log)
        return;
    char what[128] = "";
    if (r->status == AB_OK && strcmp(r->stop_reason, "verified") == 0) {
        snprintf(what, sizeof what, "verified");
    } else if (r->status == AB_OK) {
        char a[32], b[32];
        bool bytes = r->ceiling[0] && strcmp(r->ceiling, "mem_bw") == 0;
        if (r->flops > 0 && !bytes)
            ab_fmt_si(r->flop_per_s, "FLOP/s", a, sizeof a);
        else if (r->bytes > 0)
            ab_fmt_si(r->byte_per_s, "B/s", a, sizeof a);
        else
            ab_fmt_si(r->time_s.median, "s", a, sizeof a);
        if (isfinite(r->fraction_of_ceiling))
            snprintf(b, sizeof b, " (%.0f%% of %s)", 100 * r->fraction_of_ceiling, r->ceiling);
        else
            b[0] = '\0';
        snprintf(what, sizeof what, "%s%s", a, b);
    } else {
        snprintf(what, sizeof what, "%.100s", r->message);
    }
    fprintf(o->log, "%s[%d/%d] %s %s %s: %s %s [%.1f s]\n", o->progress_tty ? "\r\033[K" : "", i + 1, n,
            r->workload, r->device, r->params, ab_status_word(r->status), what, case_s);
    fflush(o->log);
}

/* ------------------------------------------------------------------ the run */

void ab_run_opts_defaults(struct ab_run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->suite = AB_SUITE_DEFAULT;
    ab_stop_rule_defaults(&o->stop);
    o->warmup_s = 0.1;
    o->out_dir = "results/latest";
    o->log = stderr;
}

static ab_status select_devices(const struct ab_run_opts *o, struct ab_device *devs, int ndev,
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

/* After a case that failed or timed out on a device, ask its backend whether the device is
 * still usable; if not, fill why (non-empty) so the device's remaining cases are skipped. */
static void device_check(const struct ab_device *dev, enum test_fault fault, const struct plan_case *pc,
                         const char *params, const struct ab_result *r, char why[AB_ERR_LEN])
{
    if (r->status != AB_EFAIL && r->status != AB_ETIMEOUT)
        return;
    const struct ab_backend *b = ab_backend_get(dev->backend);
    struct ab_error e = { { 0 } };
    const char *what = "lost";
    if (fault == FAULT_DEVICE_LOST)
        ab_fail(&e, AB_EFAIL, "%s", r->message);
    else if (r->status == AB_ETIMEOUT && b && b->health) {
        /* The stuck case's kernels may still run and hold memory: nothing measured after it
         * on this device could be trusted. */
        what = "in doubt";
        ab_fail(&e, AB_EFAIL, "the case timed out with work possibly still running");
    } else if (!b || !b->health || b->health(dev, &e) == AB_OK)
        return;
    snprintf(why, AB_ERR_LEN, "device %s after %s %s: %s", what, pc->wl->name, params,
             e.msg[0] ? e.msg : "unusable");
}

ab_status ab_run(const struct ab_run_opts *o, struct ab_run_info *info, struct ab_error *err)
{
    memset(info, 0, sizeof *info);
    ab_status st;
    struct ab_device *devs = calloc(AB_MAX_DEVICES, sizeof *devs);
    struct ab_error why[AB_BACKEND_COUNT];
    int ndev = 0;
    struct ab_profile *profiles = NULL;
    int nprof = 0;
    struct plan plan = { 0 };
    struct ab_reporter rep[2] = { { 0 } };
    int nrep = 0;
    struct ab_meter *meters[AB_MAX_DEVICES] = { 0 };
    struct ab_counters *counters = NULL;
    struct ab_result *r = NULL;
    struct worker *worker = NULL;
    char(*lost)[AB_ERR_LEN] = NULL;
    char **done_keys = NULL;
    int64_t n_done = 0;
    bool use[AB_MAX_DEVICES] = { 0 }, absent[AB_BACKEND_COUNT];
    const struct ab_workload *sel[64];
    int nsel = 0;
    if (!devs)
        return ab_fail(err, AB_ENOMEM, "out of memory");

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

    ab_devices_discover(devs, AB_MAX_DEVICES, &ndev, why, NULL);
    if ((st = ab_profiles_load(NULL, &profiles, &nprof, err)))
        goto out;
    for (int d = 0; d < ndev; d++)
        devs[d].profile = ab_profile_match(profiles, nprof, &devs[d]);
    if ((st = select_devices(o, devs, ndev, why, use, absent, err)))
        goto out;

    /* Plan: ceilings first (automatically, in quick form, when other workloads need them and
     * no other source was given), then the selected workloads in registry order. */
    bool want_ceilings = false, has_ceilings = false;
    for (int k = 0; k < nsel; k++) {
        has_ceilings |= sel[k]->provides_ceilings;
        want_ceilings |= !sel[k]->provides_ceilings;
    }
    if (o->suite == AB_SUITE_CHECK)
        want_ceilings = false; /* verification reads no ceiling */
    if (o->ceilings_file && (st = ceilings_from_file(o->ceilings_file, devs, ndev, false, err)))
        goto out;
    bool auto_ceilings = want_ceilings && !has_ceilings && !o->ceilings_file && !o->no_ceilings;
    for (int d = 0; d < ndev && auto_ceilings; d++) {
        if (!use[d])
            continue;
        for (int w = 0; all[w]; w++) {
            if (!all[w]->provides_ceilings)
                continue;
            struct ab_run_opts plain = *o;
            plain.n_axis_overrides = 0; /* user overrides address the chosen workloads */
            if ((st = plan_workload(&plan, all[w], d, devs[d].backend, &plain, AB_SUITE_QUICK, err)))
                goto out;
        }
    }
    for (int k = 0; k < nsel; k++) {
        int before = plan.n;
        for (int d = 0; d < ndev; d++)
            if (use[d] && (st = plan_workload(&plan, sel[k], d, devs[d].backend, o, o->suite, err)))
                goto out;
        /* Axis values that combine into no case anywhere (e.g. an FP8 dtype with scaling=none)
         * are a usage error, not a silent empty run; a backend that is merely absent still
         * gets its skipped rows below. */
        bool absent_any = false;
        for (int b = 0; b < AB_BACKEND_COUNT; b++)
            absent_any |= absent[b];
        if (plan.n == before && o->n_axis_overrides > 0 && !absent_any) {
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
            if ((st = plan_add(&plan, &pc, err)))
                goto out;
        }
    }

    /* Output: everything that can fail does so before the first case runs. */
    if ((st = ab_mkdirs(o->out_dir, err)))
        goto out;
    char csv_path[4200];
    snprintf(csv_path, sizeof csv_path, "%s/results.csv", o->out_dir);
    if (access(csv_path, F_OK) == 0) {
        if (!o->resume) {
            FILE *f = fopen(csv_path, "r");
            bool empty = f && fgetc(f) == EOF;
            if (f)
                fclose(f);
            if (!empty) {
                st = ab_fail(err, AB_EINVAL,
                             "%s already exists: use --resume to continue that run, or "
                             "another output folder (-o)",
                             csv_path);
                goto out;
            }
        } else {
            struct ab_result_set prev = { 0 };
            char warn[256];
            if ((st = ab_csv_read(csv_path, &prev, warn, sizeof warn, err))) {
                ab_result_set_free(&prev);
                goto out;
            }
            if (warn[0] && o->log && !o->quiet)
                fprintf(o->log, "warning: %s\n", warn);
            done_keys = calloc((size_t)prev.n + 1, sizeof *done_keys);
            for (int64_t i = 0; done_keys && i < prev.n; i++) {
                if (prev.rows[i].status == AB_EINTR)
                    continue; /* an interrupted case runs again */
                char key[700];
                ab_result_key(&prev.rows[i], key, sizeof key);
                done_keys[n_done++] = strdup(key);
            }
            ab_result_set_free(&prev);
            ceilings_from_file(csv_path, devs, ndev, true, NULL);
        }
    }
    if (o->counters && (st = ab_counters_open(o->counters, &counters, err))) {
        if (st == AB_EUNSUPPORTED)
            st = AB_EINVAL; /* asked for explicitly: a usage error before anything runs */
        goto out;
    }
    if ((st = ab_csv_reporter_open(csv_path, &rep[nrep], err)))
        goto out;
    nrep++;
    if ((st = ab_json_reporter_open(o->out_dir, &rep[nrep], err)))
        goto out;
    nrep++;

    /* Metadata. */
    ab_sysinfo_collect(&info->sys);
    ab_utc_now(info->started_utc, sizeof info->started_utc);
    /* Other work on the machine skews every timing and, worst, the ceilings the fractions are
     * read against (threaded loops wait on descheduled threads): say so before the first case. */
    if (isfinite(info->sys.load_avg_1m) && info->sys.cpu_cores_online > 0 &&
        info->sys.load_avg_1m > 0.5 * info->sys.cpu_cores_online && o->log && !o->quiet)
        fprintf(o->log,
                "warning: load average %.1f on %d CPUs: other work is running; timings and fractions of "
                "ceiling will be unreliable (recorded in run.json)\n",
                info->sys.load_avg_1m, info->sys.cpu_cores_online);
    {
        struct ab_rng g;
        ab_rng_seed(&g, (uint64_t)(ab_now_s() * 1e9) ^ (uint64_t)getpid());
        snprintf(info->run_id, sizeof info->run_id, "%s-%08llx", info->started_utc,
                 (unsigned long long)(ab_rng_next(&g) & 0xffffffffu));
    }
    snprintf(info->command_line, sizeof info->command_line, "%s", o->command_line);
    info->devices = devs;
    info->n_devices = ndev;
    info->suite = o->suite;
    for (int d = 0; d < ndev; d++) {
        if (!use[d])
            continue;
        struct ab_error me;
        if (ab_meter_open(&devs[d], &meters[d], &me) != AB_OK)
            meters[d] = NULL;
        size_t l = strlen(info->meters);
        snprintf(info->meters + l, sizeof info->meters - l, "%s%s=%s", l ? " " : "", devs[d].id,
                 ab_meter_source(meters[d]));
    }
    double idle_w[AB_MAX_DEVICES];
    for (int d = 0; d < AB_MAX_DEVICES; d++)
        idle_w[d] = NAN;
    for (int d = 0; d < ndev && o->idle_baseline_s > 0; d++) {
        /* Only a real meter has an idle draw worth subtracting; an estimate has none. */
        const char *src = ab_meter_source(meters[d]);
        if (!use[d] || !meters[d] || !strncmp(src, "nominal", 7) || !strcmp(src, "none"))
            continue;
        struct ab_error me;
        double e = NAN, t0 = ab_now_s();
        if (ab_meter_begin(meters[d], &me) == AB_OK) {
            while (ab_now_s() - t0 < o->idle_baseline_s && !interrupted(o))
                usleep(10000);
            if (ab_meter_end(meters[d], &e, &me) == AB_OK && isfinite(e))
                idle_w[d] = e / (ab_now_s() - t0);
        }
        if (isfinite(idle_w[d])) {
            size_t l = strlen(info->meters);
            snprintf(info->meters + l, sizeof info->meters - l, " %s_idle_w=%.2f", devs[d].id, idle_w[d]);
        }
    }
    for (int i = 0; i < nrep; i++)
        if ((st = rep[i].begin(rep[i].self, info, err)))
            goto out;

    uint64_t seed = o->seed ? o->seed : (uint64_t)(ab_now_s() * 1e9) ^ ((uint64_t)getpid() << 32);
    r = calloc(1, sizeof *r);
    worker = worker_start();
    if (!r || !worker) {
        st = ab_fail(err, AB_ENOMEM, "out of memory");
        goto out;
    }
    double run_t0 = ab_now_s();
    st = AB_OK;
    /* A device that is lost (a sticky CUDA error) or in doubt (a case timed out with kernels
     * perhaps still running) runs no more cases: they become skipped rows naming the case. */
    lost = calloc(AB_MAX_DEVICES, sizeof *lost);
    if (!lost) {
        st = ab_fail(err, AB_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < plan.n && st == AB_OK; i++) {
        struct plan_case lost_pc;
        const struct plan_case *pc = &plan.c[i];
        if (pc->dev >= 0 && lost[pc->dev][0] && !pc->skip) {
            lost_pc = *pc;
            lost_pc.skip = lost[pc->dev];
            pc = &lost_pc;
        }
        struct case_env env = { .o = o,
                                .dev = pc->dev >= 0 ? &devs[pc->dev] : NULL,
                                .meter = pc->dev >= 0 ? meters[pc->dev] : NULL,
                                .run_id = info->run_id,
                                .host = info->sys.host,
                                .slowdown = test_slowdown(pc->wl->name),
                                .idle_w = pc->dev >= 0 ? idle_w[pc->dev] : NAN,
                                .counters = pc->backend == AB_BACKEND_CPU ? counters : NULL };
        char params[512], key[700];
        struct ab_params ps;
        plan_params(pc, &ps);
        case_params_text(pc->wl, &ps, params, sizeof params);
        env.fault = test_fault(pc->wl->name, params);
        snprintf(key, sizeof key, "%s|%s|%s", pc->wl->name,
                 env.dev ? env.dev->id : ab_backend_name(pc->backend), params);
        bool done = false;
        for (int64_t k = 0; k < n_done && !done; k++)
            done = done_keys[k] && strcmp(done_keys[k], key) == 0;
        if (done)
            continue;
        if (interrupted(o)) {
            st = AB_EINTR;
            break;
        }
        progress_start(o, i, plan.n, pc, env.dev ? env.dev->id : ab_backend_name(pc->backend), params,
                       ab_now_s() - run_t0);
        double c0 = ab_now_s();
        double *samples = NULL;
        /* Each case gets its own seed, derived from the run's and its position. */
        uint64_t case_seed = seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
        double limit = o->case_timeout_s > 0 ? o->case_timeout_s : 10 * o->stop.max_time_s + 60;
        if (pc->skip || env.counters) {
            /* PAPI counts the thread that opened the counters: such cases stay on this one. */
            run_case(&env, pc, case_seed, r, &samples);
        } else {
            bool gave_up;
            if (!case_watched(&worker, &env, pc, case_seed, limit, r, &samples, &gave_up))
                st = ab_fail(err, AB_EFAIL, "could not start a thread for the next case");
            if (gave_up && pc->dev >= 0) {
                struct ab_error me;
                if (ab_meter_open(&devs[pc->dev], &meters[pc->dev], &me) != AB_OK)
                    meters[pc->dev] = NULL;
            }
        }
        if (pc->dev >= 0 && !pc->skip && !lost[pc->dev][0])
            device_check(&devs[pc->dev], env.fault, pc, params, r, lost[pc->dev]);
        r->samples = samples;
        info->n_cases++;
        if ((unsigned)r->status <= AB_EFAIL)
            info->n_by_status[r->status]++;
        if (r->status == AB_OK)
            info->n_ok++;
        else if (r->status == AB_EUNSUPPORTED)
            info->n_skipped++;
        else
            info->n_failed++;
        for (int k = 0; k < nrep && st == AB_OK; k++)
            st = rep[k].row(rep[k].self, r, err);
        free(samples);
        r->samples = NULL;
        progress_done(o, i, plan.n, r, ab_now_s() - c0);
        if (st == AB_OK && r->status == AB_EINTR)
            st = ab_fail(err, AB_EINTR, "interrupted");
    }
    ab_utc_now(info->finished_utc, sizeof info->finished_utc);
    for (int k = 0; k < nrep; k++) {
        struct ab_error e2;
        ab_status s2 = rep[k].end(rep[k].self, info, &e2);
        if (s2 != AB_OK && st == AB_OK) {
            st = s2;
            *err = e2;
        }
    }
    if (st == AB_EINTR)
        ab_fail(err, AB_EINTR, "interrupted: %d cases recorded in %s", info->n_cases, csv_path);
out:
    free(lost);
    worker_stop(worker);
    for (int k = 0; k < nrep; k++)
        if (rep[k].destroy)
            rep[k].destroy(rep[k].self);
    for (int d = 0; d < AB_MAX_DEVICES; d++)
        ab_meter_close(meters[d]);
    ab_counters_close(counters);
    for (int64_t k = 0; k < n_done; k++)
        free(done_keys[k]);
    free(done_keys);
    free(r);
    for (int i = 0; i < plan.n; i++)
        free(plan.c[i].params);
    free(plan.c);
    free(profiles);
    /* info->devices points into devs: the caller is done with info when we return, so keep
     * only what it needs: counts and strings. */
    info->devices = NULL;
    info->n_devices = 0;
    free(devs);
    return st;
}
