/* test_schedule.c — a run over several devices (schedule.c, run.c): the test build's fake
 * devices cpu:1..N (ACCELBENCH_TEST_FAKE_DEVICES) beside the host, a test-only workload in this
 * test's own registry whose first case on each device can wait for the others (so that
 * "at the same time" is observed, not timed), rows for each device in the plan's order whether
 * the devices run one at a time or at once, the concurrent_devices metric, and a device lost
 * mid-run that stops only its own cases. Also the real binary's -d all --concurrent-devices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "accelbench.h"
#include "runner_internal.h"
#include "test_util.h"

#include <math.h>
#include <stdatomic.h>
#include <unistd.h>

/* meet: -a n=1,2. Between setup and teardown a case counts as active; with wait_for_others set,
 * the cases n=1 wait in setup (at most 30 s) until `expect` of them have come, so with
 * --concurrent-devices every device's first case runs while the others' do. active_cases: how
 * many it saw (1 when not waiting); most_active: the most active at once. */
static atomic_int active, most_active, arrived;
static int expect = 1;
static bool wait_for_others;

static ab_status meet_setup(struct ab_case *c, struct ab_error *err)
{
    int now = atomic_fetch_add(&active, 1) + 1;
    c->work.flops = 1e6;
    c->work.rate = "flops";
    if (wait_for_others && ab_param_int(&c->params, "n", 0) == 1) {
        /* a barrier: every first case waits in its setup until all have come, so when the last
         * comes all are active at once */
        int came = atomic_fetch_add(&arrived, 1) + 1;
        double t0 = ab_now_s();
        while (came < expect && ab_now_s() - t0 < 30) {
            usleep(1000);
            came = atomic_load(&arrived);
        }
        now = came;
    }
    int seen = atomic_load(&most_active), a = atomic_load(&active);
    while (a > seen && !atomic_compare_exchange_weak(&most_active, &seen, a))
        ;
    ab_case_metric(c, "active_cases", now);
    return AB_OK;
}
static ab_status meet_run(struct ab_case *c, int64_t reps, double *time_s, struct ab_error *err)
{
    *time_s = 1e-6 * (double)reps; /* claimed, not spent */
    return AB_OK;
}
static void meet_teardown(struct ab_case *c)
{
    atomic_fetch_sub(&active, 1);
}
static const struct ab_impl meet_cpu = { .setup = meet_setup, .run = meet_run, .teardown = meet_teardown };
static const struct ab_axis meet_axes[] = {
    { .name = "n", .type = AB_AXIS_INT, .sweep = { "1,2", "1,2", "1,2" } },
};
static const struct ab_metric_decl meet_metrics[] = {
    { "active_cases", "", false, AB_BETTER_NONE, "cases between setup and teardown" },
};
static const struct ab_workload meet_workload = { .name = "meet",
                                                  .summary = "meets the other devices' cases",
                                                  .axes = meet_axes,
                                                  .n_axes = 1,
                                                  .impl = { [AB_BACKEND_CPU] = &meet_cpu },
                                                  .metrics = meet_metrics,
                                                  .n_metrics = 1 };
static const struct ab_workload *const workloads[] = { &meet_workload, NULL };

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

static char *dir;

static int setup(void **state)
{
    dir = test_tmpdir();
    setenv("ACCELBENCH_POWERCAP_ROOT", "/nonexistent", 1);
    setenv("ACCELBENCH_TEST_FAKE_DEVICES", "2", 1);
    return dir ? 0 : -1;
}
static int teardown(void **state)
{
    if (!getenv("KEEP_TMP"))
        test_rmrf(dir);
    free(dir);
    return 0;
}

/* Run meet on -d devices (comma list) into dir/name, at once or not; read the rows back. */
static ab_status run(const char *name, const char *devices, bool concurrent, struct ab_result_set *rows,
                     struct ab_error *err)
{
    char out[4400], csv[4500], l[128];
    snprintf(out, sizeof out, "%s/%s", dir, name);
    snprintf(l, sizeof l, "%s", devices);
    struct ab_run_opts o;
    ab_run_opts_defaults(&o);
    o.workloads[o.n_workloads++] = "meet";
    for (char *save = NULL, *d = strtok_r(l, ",", &save); d; d = strtok_r(NULL, ",", &save))
        o.devices[o.n_devices++] = d;
    o.suite = AB_SUITE_QUICK;
    o.stop.min_samples = 1;
    o.stop.min_time_s = 0;
    o.stop.max_time_s = 0;
    o.warmup_s = 0;
    o.out_dir = out;
    o.quiet = true;
    o.log = NULL;
    o.seed = 1;
    o.no_ceilings = true;
    o.concurrent_devices = concurrent;
    atomic_store(&active, 0);
    atomic_store(&most_active, 0);
    atomic_store(&arrived, 0);
    struct ab_run_info info;
    ab_status st = ab_run(&o, &info, err);
    memset(rows, 0, sizeof *rows);
    if (st != AB_OK)
        return st;
    snprintf(csv, sizeof csv, "%s/results.csv", out);
    assert_int_equal(ab_csv_read(csv, rows, NULL, 0, err), AB_OK);
    assert_int_equal(rows->n, info.n_cases);
    return AB_OK;
}

/* The plan's order: each device's cases n=1, n=2, devices as discovered. */
static void assert_plan_order(const struct ab_result_set *rows)
{
    static const char *const dev[] = { "cpu", "cpu", "cpu:1", "cpu:1", "cpu:2", "cpu:2" };
    assert_int_equal(rows->n, 6);
    for (int i = 0; i < 6; i++) {
        assert_string_equal(rows->rows[i].device, dev[i]);
        assert_string_equal(rows->rows[i].params, i % 2 ? "n=2" : "n=1");
    }
}

static void all_devices_run_one_at_a_time_by_default(void **state)
{
    struct ab_result_set rows;
    struct ab_error err = { { 0 } };
    wait_for_others = false;
    assert_int_equal(run("seq", "all", false, &rows, &err), AB_OK);
    assert_plan_order(&rows);
    for (int i = 0; i < rows.n; i++) {
        assert_int_equal(rows.rows[i].status, AB_OK);
        assert_double_equal(ab_result_metric(&rows.rows[i], "concurrent_devices"), 1, 0);
        assert_double_equal(ab_result_metric(&rows.rows[i], "active_cases"), 1, 0);
    }
    assert_string_equal(rows.rows[2].device_name, "test device 1");
    assert_int_equal(atomic_load(&most_active), 1);
    ab_result_set_free(&rows);
}

static void concurrent_devices_run_at_once_and_rows_keep_the_plan_order(void **state)
{
    struct ab_result_set rows, seq;
    struct ab_error err = { { 0 } };
    wait_for_others = true;
    expect = 3;
    assert_int_equal(run("conc", "all", true, &rows, &err), AB_OK);
    wait_for_others = false;
    assert_plan_order(&rows);
    /* every device's first case ran while the other two devices' did */
    assert_int_equal(atomic_load(&most_active), 3);
    for (int i = 0; i < rows.n; i++) {
        const struct ab_result *r = &rows.rows[i];
        assert_int_equal(r->status, AB_OK);
        double k = ab_result_metric(r, "concurrent_devices");
        if (i % 2 == 0) {
            assert_double_equal(k, 3, 0);
            assert_double_equal(ab_result_metric(r, "active_cases"), 3, 0);
        } else {
            assert_true(k >= 1 && k <= 3);
        }
    }
    /* the same cases, with the same ids and seeds' inputs, as one device at a time */
    assert_int_equal(run("conc_seq", "all", false, &seq, &err), AB_OK);
    for (int i = 0; i < rows.n; i++)
        assert_string_equal(rows.rows[i].case_id, seq.rows[i].case_id);
    ab_result_set_free(&rows);
    ab_result_set_free(&seq);
}

static void a_list_of_devices_runs_those_only(void **state)
{
    struct ab_result_set rows;
    struct ab_error err = { { 0 } };
    assert_int_equal(run("list", "cpu:2,cpu:1", true, &rows, &err), AB_OK);
    assert_int_equal(rows.n, 4);
    /* discovery order, not the order of -d */
    assert_string_equal(rows.rows[0].device, "cpu:1");
    assert_string_equal(rows.rows[3].device, "cpu:2");
    ab_result_set_free(&rows);
}

static void one_device_carries_no_concurrency_metric(void **state)
{
    struct ab_result_set rows;
    struct ab_error err = { { 0 } };
    assert_int_equal(run("one", "cpu", true, &rows, &err), AB_OK);
    /* "cpu" names the backend: the host and its fake devices alike */
    assert_int_equal(rows.n, 6);
    ab_result_set_free(&rows);
    assert_int_equal(run("one1", "cpu:1", true, &rows, &err), AB_OK);
    assert_int_equal(rows.n, 2);
    assert_true(isnan(ab_result_metric(&rows.rows[0], "concurrent_devices")));
    ab_result_set_free(&rows);
}

static void a_lost_device_stops_only_its_own_cases(void **state)
{
    struct ab_result_set rows;
    struct ab_error err = { { 0 } };
    setenv("ACCELBENCH_TEST_FAULT", "meet@n=1:device_lost", 1);
    setenv("ACCELBENCH_TEST_FAULT_DEVICE", "cpu:1", 1);
    for (int conc = 0; conc < 2; conc++) {
        assert_int_equal(run(conc ? "lost_conc" : "lost_seq", "all", conc, &rows, &err), AB_OK);
        assert_plan_order(&rows);
        for (int i = 0; i < rows.n; i++) {
            const struct ab_result *r = &rows.rows[i];
            if (strcmp(r->device, "cpu:1") != 0) {
                assert_int_equal(r->status, AB_OK);
                continue;
            }
            assert_int_equal(r->status, i == 2 ? AB_EFAIL : AB_EUNSUPPORTED);
            if (i == 3) {
                assert_non_null(strstr(r->message, "device lost"));
                /* a case skipped without being set up did not run alongside anything */
                assert_true(isnan(ab_result_metric(r, "concurrent_devices")));
            }
        }
        ab_result_set_free(&rows);
    }
    unsetenv("ACCELBENCH_TEST_FAULT");
    unsetenv("ACCELBENCH_TEST_FAULT_DEVICE");
}

static void counters_and_concurrent_devices_exclude_each_other(void **state)
{
    struct ab_run_opts o;
    ab_run_opts_defaults(&o);
    o.workloads[o.n_workloads++] = "meet";
    o.counters = "PAPI_TOT_CYC";
    o.concurrent_devices = true;
    char out[4400];
    snprintf(out, sizeof out, "%s/counters", dir);
    o.out_dir = out;
    o.quiet = true;
    o.log = NULL;
    struct ab_run_info info;
    struct ab_error err = { { 0 } };
    assert_int_equal(ab_run(&o, &info, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "--concurrent-devices"));
}

static void a_dry_run_estimates_the_busiest_device_when_at_once(void **state)
{
    struct ab_run_opts o;
    ab_run_opts_defaults(&o);
    o.workloads[o.n_workloads++] = "meet";
    o.devices[o.n_devices++] = "all";
    o.no_ceilings = true;
    o.quiet = true;
    o.log = NULL;
    char text[8192];
    for (int conc = 0; conc < 2; conc++) {
        o.concurrent_devices = conc;
        FILE *f = tmpfile();
        assert_non_null(f);
        struct ab_error err = { { 0 } };
        assert_int_equal(ab_run_dry(&o, f, &err), AB_OK);
        rewind(f);
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
        assert_non_null(strstr(text, "dry run: 6 cases"));
        assert_true((strstr(text, "the 3 devices run at once") != NULL) == conc);
    }
}

static void overlap_counts_other_devices_busy_during_a_case(void **state)
{
    /* cases: dev 0 [0,10]; dev 1 [2,3] and [4,5] (one device, counted once); dev 2 [10,12]
     * (touches the end only); dev 3 still running since 9; dev 4 never started */
    const int dev_of[] = { 0, 1, 1, 2, 3, 4, -1 };
    const double start[] = { 0, 2, 4, 10, 9, NAN, NAN };
    const double end[] = { 10, 3, 5, 12, NAN, NAN, NAN };
    assert_int_equal(ab_schedule_overlap(0, 0, 10, dev_of, start, end, 7), 3);  /* itself, 1, 3 */
    assert_int_equal(ab_schedule_overlap(1, 2, 3, dev_of, start, end, 7), 2);   /* itself, 0 */
    assert_int_equal(ab_schedule_overlap(2, 10, 12, dev_of, start, end, 7), 2); /* itself, 3 */
    assert_int_equal(ab_schedule_overlap(4, 20, 21, dev_of, start, end, 7), 2); /* 3 runs on */
}

static void the_binary_runs_every_device_at_once(void **state)
{
    const char *exe = getenv("ACCELBENCH_EXE");
    assert_non_null(exe);
    char cmd[9000], out[4400], csv[4500], help[8192];
    snprintf(out, sizeof out, "%s/bin", dir);
    snprintf(cmd, sizeof cmd,
             "ACCELBENCH_TEST_FAKE_DEVICES=1 '%s' run -w interconnect -a op=memcpy -a bytes=4K -d all "
             "--concurrent-devices --quick --no-ceilings -q -o '%s' 2>'%s.err'",
             exe, out, out);
    assert_int_equal(system(cmd), 0);
    snprintf(csv, sizeof csv, "%s/results.csv", out);
    struct ab_result_set rows = { 0 };
    struct ab_error err;
    assert_int_equal(ab_csv_read(csv, &rows, NULL, 0, &err), AB_OK);
    assert_int_equal(rows.n, 2);
    assert_string_equal(rows.rows[0].device, "cpu");
    assert_string_equal(rows.rows[1].device, "cpu:1");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(rows.rows[i].status, AB_OK);
        double k = ab_result_metric(&rows.rows[i], "concurrent_devices");
        assert_true(k == 1 || k == 2);
    }
    ab_result_set_free(&rows);
    /* run.json's selection says the devices ran at once */
    char rj[4500], text[65536];
    snprintf(rj, sizeof rj, "%s/run.json", out);
    test_read_into(rj, text, sizeof text);
    const char *p = strstr(text, "\"concurrent_devices\":");
    assert_non_null(p);
    p += strlen("\"concurrent_devices\":");
    p += strspn(p, " \t");
    assert_int_equal(strncmp(p, "true", 4), 0);
    /* --counters cannot count a device's own thread: a usage error naming both */
    snprintf(cmd, sizeof cmd,
             "'%s' run -w interconnect -d all --concurrent-devices --counters PAPI_TOT_CYC -o '%s/c' "
             "2>'%s.err2'",
             exe, dir, out);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 2);
    snprintf(cmd, sizeof cmd, "%s.err2", out);
    test_read_into(cmd, help, sizeof help);
    assert_non_null(strstr(help, "--concurrent-devices"));
    snprintf(cmd, sizeof cmd, "'%s' run --help > '%s.help'", exe, out);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s.help", out);
    test_read_into(cmd, help, sizeof help);
    assert_non_null(strstr(help, "--concurrent-devices"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_devices_run_one_at_a_time_by_default),
        cmocka_unit_test(concurrent_devices_run_at_once_and_rows_keep_the_plan_order),
        cmocka_unit_test(a_list_of_devices_runs_those_only),
        cmocka_unit_test(one_device_carries_no_concurrency_metric),
        cmocka_unit_test(a_lost_device_stops_only_its_own_cases),
        cmocka_unit_test(counters_and_concurrent_devices_exclude_each_other),
        cmocka_unit_test(a_dry_run_estimates_the_busiest_device_when_at_once),
        cmocka_unit_test(overlap_counts_other_devices_busy_during_a_case),
        cmocka_unit_test(the_binary_runs_every_device_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
