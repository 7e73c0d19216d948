/* test_runner.c — the runner's handling of ceilings providers: a workload whose descriptor
 * says it provides ceilings is planned first when another selected workload needs one, what
 * its cases publish is what later cases are read against, and --ceilings takes its rows from
 * an earlier results file. The workloads are test-only, listed by this test's own registry
 * (it replaces workloads/registry.c at link time); their times are claimed, not spent, so the
 * fractions are exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "accelbench.h"
#include "test_util.h"

/* peak: publishes "toy_gemm" at -a v=RATE, or (v=0) at the rate of its 1 MFLOP in 1 us. */
static ab_status peak_setup(struct ab_case *c, struct ab_error *err)
{
    c->work.flops = 1e6;
    c->work.rate = "flops";
    ab_case_publish_ceiling(c, "toy_gemm", ab_param_real(&c->params, "v", 0));
    return AB_OK;
}
static ab_status peak_run(struct ab_case *c, int64_t reps, double *time_s, struct ab_error *err)
{
    *time_s = 1e-6 * (double)reps;
    return AB_OK;
}
/* user: 1 MFLOP in 2 us, held against toy_gemm: half of peak's own rate. */
static ab_status user_setup(struct ab_case *c, struct ab_error *err)
{
    c->work.flops = 1e6;
    c->work.ceiling = "toy_gemm";
    c->work.rate = "flops";
    return AB_OK;
}
static ab_status user_run(struct ab_case *c, int64_t reps, double *time_s, struct ab_error *err)
{
    *time_s = 2e-6 * (double)reps;
    return AB_OK;
}
static void nothing(struct ab_case *c) {}

static const struct ab_impl peak_cpu = { .setup = peak_setup, .run = peak_run, .teardown = nothing };
static const struct ab_impl user_cpu = { .setup = user_setup, .run = user_run, .teardown = nothing };
static const struct ab_axis peak_axes[] = {
    { .name = "v", .type = AB_AXIS_REAL, .sweep = { "0", "0", "0" } },
};
static const struct ab_axis user_axes[] = {
    { .name = "m", .type = AB_AXIS_INT, .sweep = { "1", "1", "1" } },
};
static const struct ab_workload peak_workload = { .name = "peak",
                                                  .summary = "publishes a ceiling",
                                                  .axes = peak_axes,
                                                  .n_axes = 1,
                                                  .impl = { [AB_BACKEND_CPU] = &peak_cpu },
                                                  .provides_ceilings = true };
static const struct ab_workload user_workload = { .name = "user",
                                                  .summary = "is read against it",
                                                  .axes = user_axes,
                                                  .n_axes = 1,
                                                  .impl = { [AB_BACKEND_CPU] = &user_cpu } };
static const struct ab_workload *const workloads[] = { &peak_workload, &user_workload, NULL };

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
    return dir ? 0 : -1;
}
static int teardown(void **state)
{
    test_rmrf(dir);
    free(dir);
    return 0;
}

/* Run the given workloads (comma list) on the CPU into dir/name; read the rows back. */
static void run(const char *name, const char *wls, const char *axis, const char *ceilings_file,
                struct ab_result_set *rows)
{
    char out[4400], csv[4500], list[128];
    snprintf(out, sizeof out, "%s/%s", dir, name);
    snprintf(list, sizeof list, "%s", wls);
    struct ab_run_opts o;
    ab_run_opts_defaults(&o);
    for (char *save = NULL, *w = strtok_r(list, ",", &save); w; w = strtok_r(NULL, ",", &save))
        o.workloads[o.n_workloads++] = w;
    o.devices[o.n_devices++] = "cpu";
    if (axis)
        o.axis_overrides[o.n_axis_overrides++] = axis;
    o.ceilings_file = ceilings_file;
    o.suite = AB_SUITE_QUICK;
    o.stop.min_samples = 1;
    o.stop.min_time_s = 0;
    o.stop.max_time_s = 0;
    o.warmup_s = 0;
    o.out_dir = out;
    o.quiet = true;
    o.log = NULL;
    o.seed = 1;
    struct ab_run_info info;
    struct ab_error err = { { 0 } };
    ab_status st = ab_run(&o, &info, &err);
    if (st != AB_OK)
        fail_msg("run %s: %s", name, err.msg);
    snprintf(csv, sizeof csv, "%s/results.csv", out);
    memset(rows, 0, sizeof *rows);
    assert_int_equal(ab_csv_read(csv, rows, NULL, 0, &err), AB_OK);
    assert_int_equal(rows->n, info.n_cases);
}

static void provider_is_planned_first_and_its_rate_is_the_later_cases_ceiling(void **state)
{
    struct ab_result_set rows;
    run("auto", "user", NULL, NULL, &rows);
    assert_int_equal(rows.n, 2);
    assert_string_equal(rows.rows[0].workload, "peak");
    assert_int_equal(rows.rows[0].status, AB_OK);
    assert_string_equal(rows.rows[0].ceiling, "toy_gemm");
    assert_double_equal(rows.rows[0].ceiling_value, 1e12, 1e3);
    assert_double_equal(rows.rows[0].fraction_of_ceiling, 1.0, 1e-9);
    assert_string_equal(rows.rows[1].workload, "user");
    assert_string_equal(rows.rows[1].ceiling, "toy_gemm");
    assert_string_equal(rows.rows[1].ceiling_source, "measured");
    assert_double_equal(rows.rows[1].fraction_of_ceiling, 0.5, 1e-9);
    ab_result_set_free(&rows);
}

static void published_value_replaces_the_rate_from_work_and_time(void **state)
{
    struct ab_result_set rows;
    run("value", "peak,user", "v=4e12", NULL, &rows);
    assert_int_equal(rows.n, 2);
    assert_string_equal(rows.rows[0].workload, "peak");
    assert_double_equal(rows.rows[0].ceiling_value, 4e12, 1e3);
    assert_double_equal(rows.rows[0].fraction_of_ceiling, 1.0, 1e-9);
    assert_string_equal(rows.rows[1].workload, "user");
    assert_double_equal(rows.rows[1].fraction_of_ceiling, 0.125, 1e-9);
    ab_result_set_free(&rows);
}

static void ceilings_file_takes_the_rows_of_any_provider(void **state)
{
    struct ab_result_set first, rows;
    run("measured", "peak", "v=2e12", NULL, &first);
    assert_int_equal(first.n, 1);
    ab_result_set_free(&first);
    char csv[4500];
    snprintf(csv, sizeof csv, "%s/measured/results.csv", dir);
    run("from-file", "user", NULL, csv, &rows);
    assert_int_equal(rows.n, 1); /* no provider planned: the file gave the ceiling */
    assert_string_equal(rows.rows[0].workload, "user");
    assert_string_equal(rows.rows[0].ceiling_source, "file:results.csv");
    assert_double_equal(rows.rows[0].ceiling_value, 2e12, 1e3);
    assert_double_equal(rows.rows[0].fraction_of_ceiling, 0.25, 1e-9);
    ab_result_set_free(&rows);
}

static void publishing_outside_a_run_does_nothing(void **state)
{
    struct ab_case c = { 0 };
    ab_case_publish_ceiling(&c, "toy_gemm", 1);
    ab_case_publish_ceiling(NULL, "toy_gemm", 1);
    assert_null(c.engine);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(provider_is_planned_first_and_its_rate_is_the_later_cases_ceiling),
        cmocka_unit_test(published_value_replaces_the_rate_from_work_and_time),
        cmocka_unit_test(ceilings_file_takes_the_rows_of_any_provider),
        cmocka_unit_test(publishing_outside_a_run_does_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
