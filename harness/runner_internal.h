/* runner_internal.h — what the runner's files share: a plan of cases, a case's environment,
 * and the functions each file gives the others (plan.c, case.c, measure.c, watchdog.c,
 * report_console.c, run.c). Private to the harness: not part of accelbench.h. */
#ifndef AB_RUNNER_INTERNAL_H
#define AB_RUNNER_INTERNAL_H

#include "accelbench.h"

#include <stdatomic.h>

struct plan_case {
    const struct ab_workload *wl;
    int dev; /* index into devices, or -1 for an absent backend */
    enum ab_backend_kind backend;
    unsigned char *params; /* packed parameters (plan.c), NULL for none */
    enum ab_suite suite;
    const char *skip; /* non-NULL: record a skipped row with this reason */
};

/* A plan entry holds its parameters packed to the text they have (plan.c): a whole struct
 * ab_params is 17 KB, most of it empty, and a sweep may hold many thousand cases. */
#define PARAM_SLOT sizeof(((struct ab_params *)0)->p[0])

struct plan {
    struct plan_case *c;
    int n, cap;
    char no_impl[AB_BACKEND_COUNT][64]; /* skip reasons: "no CUDA implementation of this workload" */
};

/* The params text of a case (the CSV column and the identity of a case): every axis but those
 * at the value results from before the axis existed imply. */
void ab_case_params_text(const struct ab_workload *wl, const struct ab_params *ps, char *buf, size_t len);
/* Unpack a plan entry's parameters. */
void ab_plan_params(const struct plan_case *pc, struct ab_params *out);
/* Bytes of a packed parameter block (0 for NULL); at most sizeof(int) + n * PARAM_SLOT. */
size_t ab_plan_params_size(const unsigned char *packed);
/* The selected workloads (none: all), in the order given; unknown workloads and axis overrides
 * naming no axis of them are AB_EINVAL with the valid choices. */
ab_status ab_plan_select_workloads(const struct ab_run_opts *o, const struct ab_workload **sel, int *nsel,
                                   struct ab_error *err);
/* Mark the devices -d selects in use[]; absent[kind]: a backend asked for (or, with no -d, any
 * backend) that has no device, whose cases become skipped rows. */
ab_status ab_plan_select_devices(const struct ab_run_opts *o, struct ab_device *devs, int ndev,
                                 const struct ab_error why[AB_BACKEND_COUNT], bool *use,
                                 bool absent[AB_BACKEND_COUNT], struct ab_error *err);
/* Plan every case: ceilings providers first (in quick form, when other selected workloads need
 * ceilings and no other source was given), then the selected workloads on each device in use,
 * then skipped rows for absent backends (reason why[kind]). */
ab_status ab_plan_cases(struct plan *plan, const struct ab_run_opts *o, const struct ab_workload *const *sel,
                        int nsel, const struct ab_device *devs, int ndev, const bool *use,
                        const bool absent[AB_BACKEND_COUNT], const struct ab_error why[AB_BACKEND_COUNT],
                        struct ab_error *err);
void ab_plan_free(struct plan *plan);

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

static inline bool ab_case_abandoned(const struct case_env *env)
{
    return env->abandoned && atomic_load(env->abandoned);
}

static inline bool ab_run_interrupted(const struct ab_run_opts *o)
{
    return o->interrupted && *o->interrupted;
}

/* Test hooks (AB_TEST_HOOKS builds; else no slowdown and no fault). */
double ab_test_slowdown(const char *workload);
enum test_fault ab_test_fault(const char *workload, const char *params);

/* The plausibility of a measured ceiling (case.c): within [MIN, MAX] of the theoretical peak
 * (when known, peak > 0; how says how it was reckoned) and a median sample at most SPREAD times
 * the fastest. false with the reason (naming the value in unit, "FLOP/s" or "B/s") in why. */
#define AB_CEILING_MIN_OF_PEAK 0.10
#define AB_CEILING_MAX_OF_PEAK 1.10
#define AB_CEILING_MAX_SPREAD  1.50
bool ab_ceiling_plausible(double value, const char *unit, double peak, const char *how,
                          const struct ab_stats *t, char *why, size_t len);

/* A row holding the case's identity, NaN where nothing was measured. */
/* Empty the time and rate fields of a row that was not measured (NaN: empty in the CSV). */
void ab_result_unmeasured(struct ab_result *r);
void ab_result_init(struct ab_result *r, const struct case_env *env, const struct plan_case *pc,
                    const struct ab_device *dev);
/* One case: setup -> verify -> measure -> derive -> teardown, into r (and its raw samples,
 * which the caller frees). Never fails: a failure is the row's status. */
void ab_case_run(struct case_env *env, const struct plan_case *pc, uint64_t seed, struct ab_result *r,
                 double **samples);
/* Warm up, calibrate the repetitions per sample, then take samples until the stop rule ends
 * it, over a meter window; fills r's statistics and energy and *samples_out. */
ab_status ab_measure(struct case_env *env, const struct ab_impl *impl, struct ab_case *c, struct ab_result *r,
                     double **samples_out, struct ab_error *err);

/* Does the engine time this case's batches (impl->launch, and the case did not say
 * ab_case_times_itself), rather than its impl's run()? */
bool ab_case_launches(const struct ab_case *c, const struct ab_impl *impl);
/* One batch of reps repetitions (ab_case_time's work) on a timer the caller opened for the case
 * (NULL where ab_case_launches is false). */
ab_status ab_case_batch(struct ab_case *c, const struct ab_impl *impl, struct ab_timer *timer, int64_t reps,
                        double *time_s, struct ab_error *err);

/* ab_timer_open with the backend given (tests: a fake one) instead of the device's own. */
ab_status ab_timer_open_with(const struct ab_backend *b, const struct ab_device *dev, void *stream,
                             struct ab_timer **out, struct ab_error *err);

/* The watchdog: a worker thread that runs cases and can be abandoned (watchdog.c). */
/* --ceilings FILE (and the rows a --resume finds): take the ceilings of the ok rows of ceilings
 * providers in a results file for devices of the same id and name, with what gave each value and
 * a suspect mark. quiet_missing: an unreadable file is no ceilings, not an error. *matched (may
 * be NULL): how many ceilings were taken. */
ab_status ab_ceilings_from_file(const char *path, struct ab_device *devs, int n, bool quiet_missing,
                                struct ab_error *err, int *matched);
/* --resume: the keys (ab_result_key) of the cases prev records as done, in *done: every row but
 * interrupted ones and those without their samples.jsonl line at samples_path (their samples are
 * lost, so the case runs again; *n_unpaired counts them). Attaches the samples to prev. A
 * samples.jsonl the readers reject is AB_EINVAL with their message. */
ab_status ab_resume_done(struct ab_result_set *prev, const char *samples_path, struct ab_keymap **done,
                         int64_t *n_unpaired, struct ab_error *err);

struct worker;
struct worker *ab_worker_start(void);
void ab_worker_stop(struct worker *w);
/* Run one case on *wp within limit_s; on time-out or an interrupt the case becomes a `timeout`
 * (or `interrupted`) row, the worker is abandoned and *wp replaced (*gave_up). Returns false
 * when a replacement worker cannot be started. */
bool ab_worker_run_case(struct worker **wp, const struct case_env *env, const struct plan_case *pc,
                        uint64_t seed, double limit_s, struct ab_result *r, double **samples, bool *gave_up);

/* The rows of workloads with a `summarize` hook, kept for the run's end (summary.c). keep
 * copies r without its samples (nothing if wl has no hook); build returns the JSON object text
 * {"workload": summary, ...} for run.json (NULL: none), the hooks writing their lines to log. */
struct ab_summary_rows {
    struct ab_result *rows;
    const struct ab_workload **wl;
    int n, cap;
    bool failed;
};
void ab_summary_keep(struct ab_summary_rows *s, const struct ab_workload *wl, const struct ab_result *r);
char *ab_summary_build(struct ab_summary_rows *s, FILE *log);
void ab_summary_free(struct ab_summary_rows *s);

/* Several devices in one run (schedule.c, run.c). Every device runs its cases in the plan's
 * order on a worker of its own (the watchdog's, so the time limit stays per case); by default
 * one device at a time, with --concurrent-devices all at once, their rows still written in the
 * plan's order. What a case needs from the run: */
struct run_ctx {
    const struct ab_run_opts *o;
    const struct plan *plan;
    struct ab_device *devs;
    struct ab_meter **meters; /* per device; reopened by the device's own runner after a timeout */
    const double *idle_w;
    struct ab_counters *counters;
    const char *run_id, *host;
    uint64_t seed;
    char (*lost)[AB_ERR_LEN]; /* per device: why it runs no more cases ("" while usable) */
    const bool *done;         /* per plan case: recorded by the run being resumed, not run */
    int n_in_use;             /* devices the run uses */
};
/* Plan case i into r (and *samples, the caller's): on *wp (started when NULL; NULL wp: on the
 * calling thread, for cases of no device), skipped when its device is lost, the device checked
 * after a failure. *ran: false when the case was a skipped row without being set up. Returns
 * false when no worker thread could be started. */
bool ab_run_case_at(struct run_ctx *x, int i, struct worker **wp, struct ab_result *r, double **samples,
                    bool *ran);
/* A case's finished row, handed over in the plan's order (samples freed by the callee);
 * concurrent: how many devices ran cases while it ran (itself included), 0 when it did not run. */
typedef ab_status (*ab_row_fn)(void *self, int i, struct ab_result *r, double *samples, int concurrent,
                               struct ab_error *err);
/* Run the plan's cases of every device at once, a thread per device, and hand each row to emit
 * in the plan's order (awaiting(self, i), may be NULL: the run's thread now waits for case i). A device that
 * fails or is lost stops only its own cases. Returns AB_OK, AB_EINTR when interrupted (the rows finished are
 * handed over first), or emit's error. */
ab_status ab_schedule_concurrent(struct run_ctx *x, ab_row_fn emit, void (*awaiting)(void *self, int i),
                                 void *self, struct ab_error *err);
/* How many devices were running a case during [t0, t1] of a case on device dev: 1 + the other
 * devices with a case j (dev_of[j], [start[j], end[j]], end NaN while running, start NaN when
 * not started) overlapping it. n: cases. */
int ab_schedule_overlap(int dev, double t0, double t1, const int *dev_of, const double *start,
                        const double *end, int n);
/* Test hook: may an injected fault hit a case on this device (ACCELBENCH_TEST_FAULT_DEVICE=ID
 * limits them to one device; unset: every device)? Always true outside test builds. */
bool ab_test_fault_on_device(const char *device);

#endif
