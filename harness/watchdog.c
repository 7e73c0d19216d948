/* watchdog.c — cases run on a worker thread while the run's thread keeps the clock, so that a
 * case stuck in a workload call can be abandoned at its time limit (or 2 s after a Ctrl-C)
 * and the run goes on with a fresh worker. */
#include "runner_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
        free(w->r.detail);
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
        ab_case_run(&w->env, &w->pc, w->seed, &w->r, &w->samples);
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

struct worker *ab_worker_start(void)
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

void ab_worker_stop(struct worker *w)
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
bool ab_worker_run_case(struct worker **wp, const struct case_env *env, const struct plan_case *pc,
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
        memcpy(w->params, pc->params, ab_plan_params_size(pc->params));
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
        if (ab_run_interrupted(env->o) && interrupted_at == 0)
            interrupted_at = now;
        if (now >= t0 + limit_s || (interrupted_at > 0 && now >= interrupted_at + 2))
            break;
        struct timespec ts = { .tv_sec = (time_t)until, .tv_nsec = (long)((until - floor(until)) * 1e9) };
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    if (w->done) {
        if (env->dev) { /* what the case measured (a ceilings provider) */
            memcpy(env->dev->ceilings, w->dev.ceilings, sizeof w->dev.ceilings);
            env->dev->n_ceilings = w->dev.n_ceilings;
        }
        *r = w->r;
        w->r.detail = NULL; /* moved with the row */
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
    ab_result_init(r, env, pc, env->dev);
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
    *wp = ab_worker_start();
    return *wp != NULL;
}
