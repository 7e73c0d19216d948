/* measure.c — timing one set-up, verified case: warm-up that also calibrates how many
 * repetitions make one sample, then samples until the stop rule is met (min samples, min time,
 * the CI target, or max time), stretched to cover the meter's window; PAPI counters and energy
 * over the same window. A sample is a batch of the workload's launch()es between the device
 * timer's begin and end (ab_case_batch); a workload that times itself gives run() instead. */
#include "runner_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ab_case_set_stream(struct ab_case *c, void *stream)
{
    c->stream = stream;
}

void ab_case_times_itself(struct ab_case *c)
{
    c->times_itself = true;
}

bool ab_case_launches(const struct ab_case *c, const struct ab_impl *impl)
{
    return impl->launch && !(c->times_itself && impl->run);
}

ab_status ab_case_batch(struct ab_case *c, const struct ab_impl *impl, struct ab_timer *timer, int64_t reps,
                        double *time_s, struct ab_error *err)
{
    if (!ab_case_launches(c, impl))
        return impl->run(c, reps, time_s, err);
    ab_status st = ab_timer_begin(timer, err);
    for (int64_t r = 0; st == AB_OK && r < reps; r++)
        st = impl->launch(c, c->launches++, err);
    if (st == AB_OK)
        st = ab_timer_end(timer, err);
    if (st == AB_OK)
        st = ab_timer_elapsed(timer, time_s, err);
    return st;
}

ab_status ab_case_time(struct ab_case *c, const struct ab_impl *impl, int64_t reps, double *time_s,
                       struct ab_error *err)
{
    struct ab_timer *timer = NULL;
    ab_status st = ab_case_launches(c, impl) ? ab_timer_open(c->device, c->stream, &timer, err) : AB_OK;
    if (st == AB_OK)
        st = ab_case_batch(c, impl, timer, reps, time_s, err);
    ab_timer_close(timer);
    return st;
}

static ab_status timed_run(const struct case_env *env, const struct ab_impl *impl, struct ab_case *c,
                           struct ab_timer *timer, int64_t reps, double slowdown, double *t,
                           struct ab_error *err)
{
    if (ab_case_abandoned(env))
        return ab_fail(err, AB_ETIMEOUT, "abandoned by the watchdog");
    if (env->fault == FAULT_RUN_FAIL)
        return ab_fail(err, AB_EFAIL, "kernel launch failed: injected fault run_fail");
    while (env->fault == FAULT_HANG)
        sleep(1); /* never returns: only the watchdog ends this case */
    ab_status st = ab_case_batch(c, impl, timer, reps, t, err);
    /* A case given up by the watchdog touches nothing shared once it comes back. */
    if (ab_case_abandoned(env))
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

static ab_status measure_timed(struct case_env *env, const struct ab_impl *impl, struct ab_case *c,
                               struct ab_timer *timer, struct ab_result *r, double **samples_out,
                               struct ab_error *err)
{
    const struct ab_run_opts *o = env->o;
    const struct ab_stop_rule *rule = &o->stop;
    double t;
    ab_status st = timed_run(env, impl, c, timer, 1, env->slowdown, &t, err);
    if (st)
        return st;
    /* Warm-up, also calibrating how many repetitions make one sample of ~2 ms or more. */
    double target = fmax(2e-3, o->stop.min_time_s / 200.0);
    double w0 = ab_now_s();
    int64_t reps = 1;
    double per = t > 0 ? t : 1e-9;
    while (ab_now_s() - w0 < o->warmup_s && !ab_run_interrupted(o)) {
        reps = (int64_t)fmin(fmax(1.0, ceil(target / per)), 1e9);
        if ((st = timed_run(env, impl, c, timer, reps, env->slowdown, &t, err)))
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
        if (ab_run_interrupted(o)) {
            st = ab_fail(err, AB_EINTR, "interrupted by signal after %lld samples", (long long)n);
            break;
        }
        if ((st = timed_run(env, impl, c, timer, reps, env->slowdown, &t, err)))
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
    if (counting && !ab_case_abandoned(env) && ab_counters_stop(env->counters, counts, &merr) == AB_OK &&
        total_reps > 0)
        for (int i = 0; i < ab_counters_n(env->counters) && i < 16; i++) {
            char name[40];
            snprintf(name, sizeof name, "papi_%s_thread0_per_rep", ab_counters_event(env->counters, i));
            ab_case_metric(c, name, (double)counts[i] / (double)total_reps);
        }
    double energy = NAN;
    if (metered && !ab_case_abandoned(env) && ab_meter_end(env->meter, &energy, &merr) != AB_OK)
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

/* Measure a set-up, verified case; fills r's statistics and energy. The timer is opened once
 * for the measurement, after setup has named the case's stream. */
ab_status ab_measure(struct case_env *env, const struct ab_impl *impl, struct ab_case *c, struct ab_result *r,
                     double **samples_out, struct ab_error *err)
{
    struct ab_timer *timer = NULL;
    ab_status st = ab_case_launches(c, impl) ? ab_timer_open(c->device, c->stream, &timer, err) : AB_OK;
    if (st == AB_OK)
        st = measure_timed(env, impl, c, timer, r, samples_out, err);
    ab_timer_close(timer);
    return st;
}
