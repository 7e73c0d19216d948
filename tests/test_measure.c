/* test_measure.c — the engine times, the workload launches: a batch is the device timer's begin,
 * exactly reps launches (rep counting on across batches), end and elapsed, whose time is the
 * batch's; a launch's error ends the batch with its message; a case that times itself is given
 * to run(). First on a fake backend's timer (its time is claimed, so it is exact), then through
 * ab_run with test-only workloads in this test's own registry (it replaces
 * workloads/registry.c at link time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "accelbench.h"
#include "config.h"
#include "runner_internal.h"
#include "test_util.h"

#include <math.h>

/* ---------------------------------------------------------------- a fake timer */

static char trace[512];  /* what the timer and the launches did, in order: "B L0 L1 E T" */
static int fail_at = -1; /* the rep whose launch fails, -1: none */
static bool begin_fails; /* the timer's begin fails */
static int64_t run_reps; /* reps run() was called with, -1: not called */
static int fake_timers;  /* fake timers open */

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    size_t used = strlen(trace);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(trace + used, sizeof trace - used, fmt, ap);
    va_end(ap);
}

static ab_status fake_open(const struct ab_device *dev, void *stream, void **out, struct ab_error *err)
{
    fake_timers++;
    *out = &fake_timers;
    note("O%s ", stream ? "s" : "");
    return AB_OK;
}
static ab_status fake_begin(void *t, struct ab_error *err)
{
    if (begin_fails)
        return ab_fail(err, AB_EFAIL, "cudaEventRecord(t->e0, t->stream): an illegal memory access");
    note("B ");
    return AB_OK;
}
static ab_status fake_end(void *t, struct ab_error *err)
{
    note("E ");
    return AB_OK;
}
static ab_status fake_elapsed(void *t, double *time_s, struct ab_error *err)
{
    note("T");
    *time_s = 0.125;
    return AB_OK;
}
static void fake_close(void *t)
{
    fake_timers--;
}
static const struct ab_backend fake_backend = { .name = "fake",
                                                .title = "Fake",
                                                .timer_open = fake_open,
                                                .timer_begin = fake_begin,
                                                .timer_end = fake_end,
                                                .timer_elapsed = fake_elapsed,
                                                .timer_close = fake_close };

static ab_status note_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    note("L%lld ", (long long)rep);
    if (rep == fail_at)
        return ab_fail(err, AB_EFAIL, "launch %lld: the kernel said no", (long long)rep);
    return AB_OK;
}
static ab_status claim_run(struct ab_case *c, int64_t reps, double *time_s, struct ab_error *err)
{
    run_reps = reps;
    *time_s = 3e-6 * (double)reps;
    return AB_OK;
}
static const struct ab_impl launching = { .launch = note_launch };
static const struct ab_impl both = { .launch = note_launch, .run = claim_run };

static int reset(void **state)
{
    trace[0] = '\0';
    fail_at = -1;
    begin_fails = false;
    run_reps = -1;
    return 0;
}

static void batch_launches_reps_times_between_begin_and_end_and_takes_the_timers_time(void **state)
{
    struct ab_device dev = { .backend = AB_BACKEND_CPU };
    struct ab_case c = { .device = &dev };
    int stream;
    ab_case_set_stream(&c, &stream);
    struct ab_timer *t = NULL;
    struct ab_error err = { { 0 } };
    assert_int_equal(ab_timer_open_with(&fake_backend, &dev, c.stream, &t, &err), AB_OK);
    double time_s = -1;
    assert_int_equal(ab_case_batch(&c, &launching, t, 3, &time_s, &err), AB_OK);
    assert_string_equal(trace, "Os B L0 L1 L2 E T");
    assert_double_equal(time_s, 0.125, 0);
    /* the next batch's reps count on: input rotation sees 3, 4 */
    trace[0] = '\0';
    assert_int_equal(ab_case_batch(&c, &launching, t, 2, &time_s, &err), AB_OK);
    assert_string_equal(trace, "B L3 L4 E T");
    assert_int_equal(c.launches, 5);
    ab_timer_close(t);
    assert_int_equal(fake_timers, 0);
}

static void a_launch_error_ends_the_batch_with_its_status_and_message(void **state)
{
    struct ab_device dev = { .backend = AB_BACKEND_CPU };
    struct ab_case c = { .device = &dev };
    struct ab_timer *t = NULL;
    struct ab_error err = { { 0 } };
    assert_int_equal(ab_timer_open_with(&fake_backend, &dev, NULL, &t, &err), AB_OK);
    fail_at = 1;
    double time_s = -1;
    assert_int_equal(ab_case_batch(&c, &launching, t, 5, &time_s, &err), AB_EFAIL);
    assert_string_equal(err.msg, "launch 1: the kernel said no");
    assert_string_equal(trace, "O B L0 L1 "); /* no launch after it, no end */
    assert_double_equal(time_s, -1, 0);
    ab_timer_close(t);
}

static void a_timer_error_is_the_batchs_error_and_nothing_is_launched(void **state)
{
    struct ab_device dev = { .backend = AB_BACKEND_CPU };
    struct ab_case c = { .device = &dev };
    struct ab_timer *t = NULL;
    struct ab_error err = { { 0 } };
    assert_int_equal(ab_timer_open_with(&fake_backend, &dev, NULL, &t, &err), AB_OK);
    begin_fails = true;
    double time_s = -1;
    assert_int_equal(ab_case_batch(&c, &launching, t, 5, &time_s, &err), AB_EFAIL);
    assert_string_equal(err.msg, "cudaEventRecord(t->e0, t->stream): an illegal memory access");
    assert_string_equal(trace, "O ");
    assert_int_equal(c.launches, 0);
    ab_timer_close(t);
}

static void a_case_that_times_itself_is_given_to_run(void **state)
{
    struct ab_device dev = { .backend = AB_BACKEND_CPU };
    struct ab_case c = { .device = &dev };
    struct ab_error err = { { 0 } };
    double time_s = -1;
    assert_true(ab_case_launches(&c, &both)); /* launch wins unless the case says otherwise */
    ab_case_times_itself(&c);
    assert_false(ab_case_launches(&c, &both));
    assert_true(ab_case_launches(&c, &launching)); /* no run() to give it to */
    assert_int_equal(ab_case_time(&c, &both, 7, &time_s, &err), AB_OK);
    assert_int_equal(run_reps, 7);
    assert_double_equal(time_s, 21e-6, 1e-18);
    assert_string_equal(trace, ""); /* no timer, no launch */
}

static void case_time_on_the_cpu_uses_its_monotonic_clock(void **state)
{
    struct ab_device dev = { .backend = AB_BACKEND_CPU };
    struct ab_case c = { .device = &dev };
    struct ab_error err = { { 0 } };
    double time_s = -1;
    assert_int_equal(ab_case_time(&c, &launching, 4, &time_s, &err), AB_OK);
    assert_string_equal(trace, "L0 L1 L2 L3 ");
    assert_true(time_s >= 0 && isfinite(time_s));
}

static void a_backend_without_a_timer_is_refused_by_name(void **state)
{
    struct ab_backend none = { .name = "none" };
    struct ab_device dev = { .backend = AB_BACKEND_CPU };
    struct ab_timer *t = (struct ab_timer *)&dev;
    struct ab_error err = { { 0 } };
    assert_int_equal(ab_timer_open_with(&none, &dev, NULL, &t, &err), AB_EUNSUPPORTED);
    assert_null(t);
    assert_string_equal(err.msg, "the none backend has no timer in this build");
#if !HAVE_CUDA
    struct ab_device gpu = { .backend = AB_BACKEND_CUDA };
    assert_int_equal(ab_timer_open(&gpu, NULL, &t, &err), AB_EUNSUPPORTED);
    assert_string_equal(err.msg, "the cuda backend has no timer in this build");
#endif
}

/* ---------------------------------------------------------------- through ab_run */

/* counted: each launch must be the next rep; teardown records how many there were. */
static int64_t counted;
static ab_status counted_setup(struct ab_case *c, struct ab_error *err)
{
    counted = 0;
    c->work.flops = 1e3;
    c->work.rate = "flops";
    return AB_OK;
}
static ab_status counted_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    if (rep != counted)
        return ab_fail(err, AB_EFAIL, "rep %lld launched after %lld", (long long)rep, (long long)counted);
    counted++;
    return AB_OK;
}
static void counted_teardown(struct ab_case *c)
{
    ab_case_metric(c, "launches", (double)counted);
}
/* failing: its third launch fails. */
static ab_status failing_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    if (rep == 2)
        return ab_fail(err, AB_EFAIL, "kernel launch 2 failed: out of resources (test)");
    return AB_OK;
}
/* itself: launch and run both given; setup says run() times it, at a claimed 3 us. */
static ab_status itself_setup(struct ab_case *c, struct ab_error *err)
{
    c->work.flops = 1e3;
    c->work.rate = "flops";
    ab_case_times_itself(c);
    return AB_OK;
}
static ab_status never_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    return ab_fail(err, AB_EFAIL, "launch() was called for a case that times itself");
}
static void nothing(struct ab_case *c) {}

static const struct ab_impl counted_cpu = { .setup = counted_setup,
                                            .launch = counted_launch,
                                            .teardown = counted_teardown };
static const struct ab_impl failing_cpu = { .setup = counted_setup,
                                            .launch = failing_launch,
                                            .teardown = nothing };
static const struct ab_impl itself_cpu = {
    .setup = itself_setup, .launch = never_launch, .run = claim_run, .teardown = nothing
};
static const struct ab_axis one_axis[] = {
    { .name = "m", .type = AB_AXIS_INT, .sweep = { "1", "1", "1" } },
};
static const struct ab_workload counted_workload = { .name = "counted",
                                                     .summary = "counts its launches",
                                                     .axes = one_axis,
                                                     .n_axes = 1,
                                                     .impl = { [AB_BACKEND_CPU] = &counted_cpu } };
static const struct ab_workload failing_workload = { .name = "failing",
                                                     .summary = "its third launch fails",
                                                     .axes = one_axis,
                                                     .n_axes = 1,
                                                     .impl = { [AB_BACKEND_CPU] = &failing_cpu } };
static const struct ab_workload itself_workload = { .name = "itself",
                                                    .summary = "times itself",
                                                    .axes = one_axis,
                                                    .n_axes = 1,
                                                    .impl = { [AB_BACKEND_CPU] = &itself_cpu } };
static const struct ab_workload *const workloads[] = { &counted_workload, &failing_workload, &itself_workload,
                                                       NULL };

const struct ab_workload *const *ab_workloads(void)
{
    return workloads;
}
const struct ab_workload *ab_workload_find(const char *name)
{
    for (int i = 0; workloads[i]; i++)
        if (strcmp(workloads[i]->name, name) == 0)
            return workloads[i];
    return NULL;
}

/* Run one workload on the CPU (10 samples of at least 2 ms) into a fresh folder; its row. */
static void run_one(const char *wl, struct ab_result_set *rows)
{
    char *dir = test_tmpdir();
    assert_non_null(dir);
    setenv("ACCELBENCH_POWERCAP_ROOT", "/nonexistent", 1);
    char out[4200], csv[4300];
    snprintf(out, sizeof out, "%s/%s", dir, wl);
    struct ab_run_opts o;
    ab_run_opts_defaults(&o);
    o.workloads[o.n_workloads++] = wl;
    o.devices[o.n_devices++] = "cpu";
    o.suite = AB_SUITE_QUICK;
    o.stop.min_samples = 10;
    o.stop.max_samples = 10;
    o.stop.min_time_s = 0;
    o.warmup_s = 0;
    o.no_ceilings = true;
    o.out_dir = out;
    o.quiet = true;
    o.log = NULL;
    o.seed = 1;
    struct ab_run_info info;
    struct ab_error err = { { 0 } };
    if (ab_run(&o, &info, &err) != AB_OK)
        fail_msg("run %s: %s", wl, err.msg);
    snprintf(csv, sizeof csv, "%s/results.csv", out);
    memset(rows, 0, sizeof *rows);
    assert_int_equal(ab_csv_read(csv, rows, NULL, 0, &err), AB_OK);
    assert_int_equal(rows->n, 1);
    test_rmrf(dir);
    free(dir);
}

static void the_runner_launches_each_rep_once_in_order(void **state)
{
    struct ab_result_set rows;
    run_one("counted", &rows);
    const struct ab_result *r = &rows.rows[0];
    if (r->status != AB_OK)
        fail_msg("counted: %s", r->message);
    assert_true(r->time_s.n >= 10); /* more where the meter's window asks for more */
    assert_true(r->reps_per_sample >= 1);
    /* the first, calibrating launch and then exactly the samples' */
    assert_double_equal(ab_result_metric(r, "launches"), 1 + (double)r->time_s.n * (double)r->reps_per_sample,
                        0);
    ab_result_set_free(&rows);
}

static void a_failing_launch_is_the_rows_status_and_message(void **state)
{
    struct ab_result_set rows;
    run_one("failing", &rows);
    assert_int_equal(rows.rows[0].status, AB_EFAIL);
    assert_string_equal(rows.rows[0].message, "kernel launch 2 failed: out of resources (test)");
    assert_true(isnan(rows.rows[0].time_s.median));
    ab_result_set_free(&rows);
}

static void a_case_that_times_itself_reports_runs_time(void **state)
{
    struct ab_result_set rows;
    run_one("itself", &rows);
    const struct ab_result *r = &rows.rows[0];
    if (r->status != AB_OK)
        fail_msg("itself: %s", r->message);
    assert_double_equal(r->time_s.median, 3e-6, 1e-15);
    ab_result_set_free(&rows);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(batch_launches_reps_times_between_begin_and_end_and_takes_the_timers_time,
                               reset),
        cmocka_unit_test_setup(a_launch_error_ends_the_batch_with_its_status_and_message, reset),
        cmocka_unit_test_setup(a_timer_error_is_the_batchs_error_and_nothing_is_launched, reset),
        cmocka_unit_test_setup(a_case_that_times_itself_is_given_to_run, reset),
        cmocka_unit_test_setup(case_time_on_the_cpu_uses_its_monotonic_clock, reset),
        cmocka_unit_test_setup(a_backend_without_a_timer_is_refused_by_name, reset),
        cmocka_unit_test_setup(the_runner_launches_each_rep_once_in_order, reset),
        cmocka_unit_test_setup(a_failing_launch_is_the_rows_status_and_message, reset),
        cmocka_unit_test_setup(a_case_that_times_itself_reports_runs_time, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
