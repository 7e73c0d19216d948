/* schedule.c — --concurrent-devices: every device of the run works through its own cases at the
 * same time, a thread per device (each with its own watchdog worker), while the run's thread
 * hands the finished rows to the reporters in the plan's order, so results.csv reads the same
 * whichever device finishes first. Each row says how many devices were busy while it ran: shared
 * power and thermals change the numbers, and a reader must be able to tell. */
#include "runner_internal.h"
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum slot_state { SLOT_PENDING = 0, SLOT_RUNNING, SLOT_DONE, SLOT_NOT_RUN };

struct sched {
    struct run_ctx *x;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a slot changed state */
    int n;
    enum slot_state *state;
    struct ab_result **rows;
    double **samples;
    bool *ran;
    double *start, *end; /* CLOCK_MONOTONIC seconds; NaN: not started / still running */
    int *dev_of;
    bool stop;          /* the run's thread: start no more cases */
    bool thread_failed; /* a device could not start a worker for a case */
};

struct device_runner {
    struct sched *s;
    int dev;
    pthread_t thread;
    bool started;
};

int ab_schedule_overlap(int dev, double t0, double t1, const int *dev_of, const double *start,
                        const double *end, int n)
{
    bool seen[AB_MAX_DEVICES] = { false };
    int k = 1;
    for (int j = 0; j < n; j++) {
        int d = dev_of[j];
        if (d < 0 || d >= AB_MAX_DEVICES || d == dev || seen[d] || isnan(start[j]))
            continue;
        double e = isnan(end[j]) ? INFINITY : end[j];
        if (start[j] < t1 && e > t0) {
            seen[d] = true;
            k++;
        }
    }
    return k;
}

static void *device_main(void *arg)
{
    struct device_runner *dr = arg;
    struct sched *s = dr->s;
    struct run_ctx *x = s->x;
    struct worker *worker = NULL;
    for (int i = 0; i < s->n; i++) {
        if (s->dev_of[i] != dr->dev || x->done[i])
            continue;
        const struct plan_case *pc = &x->plan->c[i];
        pthread_mutex_lock(&s->mu);
        if (s->stop || ab_run_interrupted(x->o)) {
            s->state[i] = SLOT_NOT_RUN;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        /* only this thread writes its device's lost reason */
        bool will_run = !pc->skip && !x->lost[dr->dev][0];
        s->state[i] = SLOT_RUNNING;
        s->start[i] = will_run ? ab_now_s() : NAN;
        pthread_mutex_unlock(&s->mu);
        struct ab_result *r = calloc(1, sizeof *r);
        double *samples = NULL;
        bool ran = false, ok = r != NULL;
        if (r)
            ok = ab_run_case_at(x, i, &worker, r, &samples, &ran);
        pthread_mutex_lock(&s->mu);
        s->end[i] = will_run ? ab_now_s() : NAN;
        if (!ok) {
            s->thread_failed = true;
            s->stop = true;
            s->state[i] = SLOT_NOT_RUN;
            free(samples);
            free(r);
        } else {
            s->rows[i] = r;
            s->samples[i] = samples;
            s->ran[i] = ran;
            s->state[i] = SLOT_DONE;
        }
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    ab_worker_stop(worker);
    return NULL;
}

/* Wait (with the lock held) until slot i is done or will not run. */
static void wait_slot(struct sched *s, int i)
{
    while (s->state[i] == SLOT_PENDING || s->state[i] == SLOT_RUNNING) {
        double until = ab_now_s() + 0.2;
        struct timespec ts = { .tv_sec = (time_t)until, .tv_nsec = (long)((until - floor(until)) * 1e9) };
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
}

ab_status ab_schedule_concurrent(struct run_ctx *x, ab_row_fn emit, void (*awaiting)(void *self, int i),
                                 void *self, struct ab_error *err)
{
    struct sched s = { .x = x, .n = x->plan->n };
    size_t n = (size_t)s.n + 1;
    s.state = calloc(n, sizeof *s.state);
    s.rows = calloc(n, sizeof *s.rows);
    s.samples = calloc(n, sizeof *s.samples);
    s.ran = calloc(n, sizeof *s.ran);
    s.start = malloc(n * sizeof *s.start);
    s.end = malloc(n * sizeof *s.end);
    s.dev_of = malloc(n * sizeof *s.dev_of);
    struct device_runner *dr = calloc(AB_MAX_DEVICES, sizeof *dr);
    struct ab_result *inline_row = calloc(1, sizeof *inline_row);
    ab_status st = AB_OK;
    if (!s.state || !s.rows || !s.samples || !s.ran || !s.start || !s.end || !s.dev_of || !dr ||
        !inline_row) {
        st = ab_fail(err, AB_ENOMEM, "out of memory");
        goto out;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, &ca);
    pthread_condattr_destroy(&ca);
    bool has_cases[AB_MAX_DEVICES] = { false };
    for (int i = 0; i < s.n; i++) {
        s.dev_of[i] = x->plan->c[i].dev;
        s.start[i] = s.end[i] = NAN;
        if (s.dev_of[i] >= 0 && s.dev_of[i] < AB_MAX_DEVICES && !x->done[i])
            has_cases[s.dev_of[i]] = true;
    }
    for (int d = 0; d < AB_MAX_DEVICES; d++) {
        if (!has_cases[d])
            continue;
        dr[d] = (struct device_runner){ .s = &s, .dev = d };
        if (pthread_create(&dr[d].thread, NULL, device_main, &dr[d]) != 0) {
            /* its cases are never started: not run, like an interrupted run's */
            pthread_mutex_lock(&s.mu);
            for (int i = 0; i < s.n; i++)
                if (s.dev_of[i] == d && !x->done[i])
                    s.state[i] = SLOT_NOT_RUN;
            s.thread_failed = true;
            pthread_mutex_unlock(&s.mu);
            continue;
        }
        dr[d].started = true;
    }
    bool not_run = false, interrupted_row = false;
    for (int i = 0; i < s.n && st == AB_OK; i++) {
        if (x->done[i])
            continue;
        struct ab_result *r = inline_row;
        double *samples = NULL;
        int k = 0;
        if (awaiting)
            awaiting(self, i);
        if (s.dev_of[i] < 0) { /* a backend with no device: a skipped row, made here */
            bool ran;
            ab_run_case_at(x, i, NULL, r, &samples, &ran);
        } else {
            pthread_mutex_lock(&s.mu);
            wait_slot(&s, i);
            if (s.state[i] == SLOT_NOT_RUN) {
                pthread_mutex_unlock(&s.mu);
                not_run = true;
                continue;
            }
            if (s.ran[i])
                k = ab_schedule_overlap(s.dev_of[i], s.start[i], s.end[i], s.dev_of, s.start, s.end, s.n);
            r = s.rows[i];
            samples = s.samples[i];
            s.rows[i] = NULL;
            s.samples[i] = NULL;
            pthread_mutex_unlock(&s.mu);
        }
        ab_status e = emit(self, i, r, samples, k, err);
        if (r != inline_row)
            free(r);
        if (e == AB_EINTR)
            interrupted_row = true; /* the other devices' finished rows still go out */
        else
            st = e;
    }
    pthread_mutex_lock(&s.mu);
    s.stop = true;
    pthread_cond_broadcast(&s.cv);
    pthread_mutex_unlock(&s.mu);
    for (int d = 0; d < AB_MAX_DEVICES; d++)
        if (dr[d].started)
            pthread_join(dr[d].thread, NULL);
    for (int i = 0; i < s.n; i++) {
        free(s.samples[i]);
        if (s.rows[i]) {
            free(s.rows[i]->extra_json);
            free(s.rows[i]->detail);
        }
        free(s.rows[i]);
    }
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
    if (st == AB_OK && s.thread_failed)
        st = ab_fail(err, AB_EFAIL, "could not start a thread for a device's next case");
    else if (st == AB_OK && (interrupted_row || (not_run && ab_run_interrupted(x->o))))
        st = ab_fail(err, AB_EINTR, "interrupted");
out:
    free(inline_row);
    free(dr);
    free(s.state);
    free(s.rows);
    free(s.samples);
    free(s.ran);
    free(s.start);
    free(s.end);
    free(s.dev_of);
    return st;
}

#if AB_TEST_HOOKS
bool ab_test_fault_on_device(const char *device)
{
    const char *d = getenv("ACCELBENCH_TEST_FAULT_DEVICE");
    return !d || !d[0] || strcmp(d, device) == 0;
}
#else
bool ab_test_fault_on_device(const char *device)
{
    return true;
}
#endif
