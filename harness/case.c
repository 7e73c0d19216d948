/* case.c — one case, from setup to teardown: setup -> verify -> (measure.c) -> derive ->
 * teardown, into a row. A failure at any step is the row's status and message; metrics the
 * workload recorded are kept whatever the status. Also the faults a test build injects. */
#include "runner_internal.h"
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if AB_TEST_HOOKS
/* Test-only: ACCELBENCH_TEST_SLOWDOWN="workload=factor" (never compiled into release). */
double ab_test_slowdown(const char *workload)
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
enum test_fault ab_test_fault(const char *workload, const char *params)
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
double ab_test_slowdown(const char *workload)
{
    return 1;
}
enum test_fault ab_test_fault(const char *workload, const char *params)
{
    return FAULT_NONE;
}
#endif

/* What a case of a ceilings provider published (ab_case_publish_ceiling). */
struct ab_case_engine {
    char ceiling[24]; /* "" when nothing was published */
    double value;     /* 0: the rate of the best sample, from work and the fastest time */
    char detail[64];  /* ab_case_ceiling_detail */
    char reason[160]; /* why the value is suspect after its re-measurement; "" when plausible */
};

void ab_case_publish_ceiling(struct ab_case *c, const char *name, double value)
{
    if (!c || !c->engine || !name)
        return;
    snprintf(c->engine->ceiling, sizeof c->engine->ceiling, "%s", name);
    c->engine->value = value;
}

void ab_case_detail(struct ab_case *c, char *json_object)
{
    free(c->detail);
    c->detail = json_object;
}

void ab_case_ceiling_detail(struct ab_case *c, const char *fmt, ...)
{
    if (!c || !c->engine)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->engine->detail, sizeof c->engine->detail, fmt, ap);
    va_end(ap);
}

bool ab_ceiling_plausible(double value, const char *unit, double peak, const char *how,
                          const struct ab_stats *t, char *why, size_t len)
{
    char a[32], b[32];
    if (why && len)
        why[0] = '\0';
    if (!(value > 0)) {
        snprintf(why, len, "no rate was measured");
        return false;
    }
    if (peak > 0 && (value < AB_CEILING_MIN_OF_PEAK * peak || value > AB_CEILING_MAX_OF_PEAK * peak)) {
        snprintf(why, len, "%s is %.3g%% of the theoretical peak %s (%s)",
                 ab_fmt_si(value, unit, a, sizeof a), 100 * value / peak, ab_fmt_si(peak, unit, b, sizeof b),
                 how ? how : "");
        return false;
    }
    if (t && t->min > 0 && t->median > AB_CEILING_MAX_SPREAD * t->min) {
        snprintf(why, len,
                 "the median sample took %.2fx the fastest (more than %.2fx: the timing was disturbed)",
                 t->median / t->min, AB_CEILING_MAX_SPREAD);
        return false;
    }
    return true;
}

/* The rate of a case's fastest sample, and an interval for it: the rates at the ranks that
 * bound the samples' 5th percentile with 95% confidence (normal approximation to the binomial),
 * which says how far the best stands from the fast tail it was drawn from. */
static double best_rate(const struct ab_case *c, const struct ab_result *r, const double *x, double *lo,
                        double *hi)
{
    bool bytes = c->work.rate && strcmp(c->work.rate, "bytes") == 0;
    double work = bytes ? c->work.bytes : c->work.flops;
    *lo = *hi = NAN;
    if (!(r->time_s.min > 0))
        return 0;
    int64_t n = r->n_samples;
    double *sorted = x && n > 0 ? ab_stats_sorted_copy(x, n) : NULL;
    if (sorted) {
        double q = 0.05, mid = (double)n * q, half = 1.96 * sqrt((double)n * q * (1 - q));
        int64_t rl = (int64_t)floor(mid - half), rh = (int64_t)ceil(mid + half);
        rl = rl < 0 ? 0 : rl;
        rh = rh > n - 1 ? n - 1 : rh;
        *hi = sorted[rl] > 0 ? work / sorted[rl] : NAN;
        *lo = sorted[rh] > 0 ? work / sorted[rh] : NAN;
        free(sorted);
    }
    return work / r->time_s.min;
}

/* A ceilings provider's case after its measurement: the ceiling is the best sample (the device
 * can do at least that), checked against the theoretical peak and the samples' own spread; an
 * implausible one is measured again once, and a second failure marks it suspect. */
static ab_status settle_ceiling(struct case_env *env, const struct ab_impl *impl, struct ab_case *c,
                                struct ab_result *r, double **samples, struct ab_error *err)
{
    struct ab_case_engine *e = c->engine;
    char how[160], why[sizeof e->reason];
    double peak = ab_device_peak(env->dev, e->ceiling, how, sizeof how);
    for (int attempt = 0;; attempt++) {
        double lo, hi, best = best_rate(c, r, *samples, &lo, &hi);
        double v = e->value > 0 ? e->value : best;
        if (e->value <= 0) {
            ab_case_metric(c, "ceiling_best_rate", best);
            if (isfinite(lo) && isfinite(hi)) {
                ab_case_metric(c, "ceiling_best_rate_ci_lo", lo);
                ab_case_metric(c, "ceiling_best_rate_ci_hi", hi);
            }
        }
        if (peak > 0) {
            ab_case_metric(c, "theoretical_peak", peak);
            ab_case_metric(c, "fraction_of_peak", v / peak);
        }
        const char *unit = c->work.rate && strcmp(c->work.rate, "bytes") == 0 ? "B/s" : "FLOP/s";
        if (ab_ceiling_plausible(v, unit, peak, how, &r->time_s, why, sizeof why)) {
            e->reason[0] = '\0';
            break;
        }
        if (attempt == 1) {
            snprintf(e->reason, sizeof e->reason, "%s", why);
            break;
        }
        free(*samples);
        *samples = NULL;
        ab_status st = ab_measure(env, impl, c, r, samples, err);
        if (st)
            return st;
    }
    if (e->detail[0])
        ab_case_metric_text(c, "ceiling_detail", "%s", e->detail);
    if (e->reason[0]) {
        ab_case_metric(c, "ceiling_suspect", 1);
        ab_case_metric_text(c, "ceiling_suspect_reason", "%.63s", e->reason);
        if (env->o->log && !env->o->quiet)
            fprintf(env->o->log,
                    "warning: ceiling %s of %s is suspect: %s; measured twice; rows held against it say "
                    "ceiling_source suspect:measured\n",
                    e->ceiling, env->dev->id, e->reason);
    }
    return AB_OK;
}

/* Put a provider's ceiling on the device, unless this run already holds a better one of it: a
 * plausible value beats a suspect one, and between equals the higher one wins. */
static void publish(struct ab_device *dev, const char *name, double v, const struct ab_case_engine *e)
{
    const struct ab_ceiling *old = ab_device_ceiling(dev, name);
    bool suspect = e->reason[0] != '\0';
    if (old && strcmp(old->source, "measured") == 0 && !(old->suspect && !suspect) &&
        !(old->suspect == suspect && v > old->value))
        return;
    for (int i = 0; i < dev->n_ceilings; i++)
        if (strcmp(dev->ceilings[i].name, name) == 0)
            dev->ceilings[i].value = 0; /* replaced below whatever its source */
    ab_device_set_ceiling(dev, name, v, "measured");
    ab_device_note_ceiling(dev, name, e->detail, e->reason);
}

/* The ceiling a case is held against: the one it names, except that a memory-bound case whose
 * bytes per repetition fit in the last-level cache (read again every repetition, they stay
 * there) is held against that cache's bandwidth, where the device has measured it. */
static const char *held_against(const struct ab_case *c, const struct ab_device *dev)
{
    const char *name = c->work.ceiling;
    if (name && strcmp(name, "mem_bw") == 0 && dev->l2_bytes > 0 && c->work.bytes > 0 &&
        c->work.bytes <= (double)dev->l2_bytes && ab_device_ceiling(dev, "llc_bw"))
        return "llc_bw";
    return name;
}

static void derive(struct ab_result *r, struct ab_case *c, const struct ab_device *dev)
{
    double med = r->time_s.median;
    /* Empty means not measured: a count the workload has no formula for (0) and its rates. */
    if (med > 0) {
        r->flop_per_s = c->work.flops > 0 ? c->work.flops / med : NAN;
        r->byte_per_s = c->work.bytes > 0 ? c->work.bytes / med : NAN;
        r->token_per_s = c->work.tokens > 0 ? c->work.tokens / med : NAN;
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
        double lo, hi, v = pub_value > 0 ? pub_value : best_rate(c, r, NULL, &lo, &hi);
        publish((struct ab_device *)dev, pub, v, c->engine);
    }
    const char *cname = pub ? pub : held_against(c, dev);
    const struct ab_ceiling *ceil_ = ab_device_ceiling(dev, cname);
    if (cname)
        snprintf(r->ceiling, sizeof r->ceiling, "%s", cname);
    if (ceil_) {
        r->ceiling_value = ceil_->value;
        snprintf(r->ceiling_source, sizeof r->ceiling_source, "%s%.*s", ceil_->suspect ? "suspect:" : "",
                 (int)(sizeof r->ceiling_source - 9), ceil_->source);
        if (pub && pub_value > 0)
            rate = pub_value;
        r->fraction_of_ceiling = rate / ceil_->value;
    }
}

void ab_result_unmeasured(struct ab_result *r)
{
    struct ab_stats *t = &r->time_s;
    t->n = 0;
    t->median = t->mean = t->stdev = t->min = t->max = t->p05 = t->p95 = t->ci_lo = t->ci_hi = NAN;
    r->flop_per_s = r->byte_per_s = r->token_per_s = NAN;
    r->flop_per_j = r->token_per_j = r->byte_per_j = NAN;
}

void ab_result_init(struct ab_result *r, const struct case_env *env, const struct plan_case *pc,
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
    ab_plan_params(pc, &ps);
    ab_case_params_text(pc->wl, &ps, r->params, sizeof r->params);
    ab_case_id(pc->wl, r->workload, r->device, r->device_name, r->params, r->case_id, sizeof r->case_id);
    ab_result_unmeasured(r);
    r->flops = r->bytes = r->tokens = NAN;
    r->fraction_of_ceiling = r->avg_power_w = r->energy_j = NAN;
    r->flop_per_j = r->token_per_j = r->byte_per_j = r->ceiling_value = NAN;
    r->usd_per_hour =
        (dev && dev->profile && dev->profile->usd_per_hour > 0) ? dev->profile->usd_per_hour : NAN;
    snprintf(r->power_source, sizeof r->power_source, "%s",
             env->meter ? ab_meter_source(env->meter) : "none");
}

void ab_case_run(struct case_env *env, const struct plan_case *pc, uint64_t seed, struct ab_result *r,
                 double **samples)
{
    struct ab_device *dev = env->dev;
    ab_result_init(r, env, pc, dev);
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
    ab_plan_params(pc, &c->params);
    c->suite = pc->suite;
    c->seed = seed;
    struct ab_error err = { { 0 } };
    ab_status st = env->fault == FAULT_SETUP_OOM
                       ? ab_fail(&err, AB_ENOMEM, "device allocation failed: injected fault setup_oom")
                       : impl->setup(c, &err);
    if (st == AB_OK) {
        r->flops = c->work.flops > 0 ? c->work.flops : NAN;
        r->bytes = c->work.bytes > 0 ? c->work.bytes : NAN;
        r->tokens = c->work.tokens > 0 ? c->work.tokens : NAN;
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
    if (st == AB_OK && !check_only && !impl->run && !impl->launch)
        st = ab_fail(&err, AB_EFAIL, "workload has neither a launch nor a run function");
    if (st == AB_OK && !check_only)
        st = ab_measure(env, impl, c, r, samples, &err);
    if (st == AB_OK && !check_only && engine.ceiling[0])
        st = settle_ceiling(env, impl, c, r, samples, &err);
    if (st == AB_OK && !check_only)
        derive(r, c, dev);
    if (st == AB_OK && check_only)
        snprintf(r->stop_reason, sizeof r->stop_reason, "verified");
    if (impl->teardown)
        impl->teardown(c);
    r->detail = c->detail; /* moved: the runner frees it once the row is written */
    c->detail = NULL;
    /* Metrics recorded by setup/verify/run are kept whatever the status (errors too). */
    memcpy(r->metrics, c->metrics, sizeof r->metrics);
    r->n_metrics = c->n_metrics;
    r->extra_json = c->extra_json;
    r->status = st;
    if (st != AB_OK) {
        snprintf(r->message, sizeof r->message, "%s", err.msg[0] ? err.msg : ab_status_word(st));
        ab_result_unmeasured(r);
        r->fraction_of_ceiling = r->avg_power_w = r->energy_j = NAN;
    }
    free(c);
}
