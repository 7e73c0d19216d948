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
#include "runner_internal.h"
#include "test_util.h"

#include <math.h>

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

/* jitter: publishes "toy_jit" from 1 MFLOP whose calls take, in turn, 1, r and r us per
 * repetition (-a r=R): the best sample is 1 us, the median r. */
static int jitter_calls;
static ab_status jitter_setup(struct ab_case *c, struct ab_error *err)
{
    c->work.flops = 1e6;
    c->work.rate = "flops";
    ab_case_publish_ceiling(c, "toy_jit", 0);
    ab_case_ceiling_detail(c, "toy r=%g", ab_param_real(&c->params, "r", 1));
    return AB_OK;
}
static ab_status jitter_run(struct ab_case *c, int64_t reps, double *time_s, struct ab_error *err)
{
    double r = ab_param_real(&c->params, "r", 1);
    *time_s = (jitter_calls++ % 3 == 0 ? 1e-6 : r * 1e-6) * (double)reps;
    return AB_OK;
}
/* jit_user: 1 MFLOP in 2 us against toy_jit. */
static ab_status jit_user_setup(struct ab_case *c, struct ab_error *err)
{
    c->work.flops = 1e6;
    c->work.ceiling = "toy_jit";
    c->work.rate = "flops";
    return AB_OK;
}
/* bw: publishes mem_bw (1 MB in 2 us) or llc_bw (1 MB in 1 us) by -a level=mem|llc. */
static ab_status bw_setup(struct ab_case *c, struct ab_error *err)
{
    bool llc = ab_param_is(&c->params, "level", "llc");
    c->work.bytes = 1e6;
    c->work.rate = "bytes";
    ab_case_publish_ceiling(c, llc ? "llc_bw" : "mem_bw", llc ? 1e12 : 5e11);
    return AB_OK;
}
/* bw_user: -a bytes=B in 4 us, memory-bound (held against mem_bw, or llc_bw when B fits). */
static ab_status bw_user_setup(struct ab_case *c, struct ab_error *err)
{
    c->work.bytes = ab_param_real(&c->params, "bytes", 1024);
    c->work.ceiling = "mem_bw";
    c->work.rate = "bytes";
    return AB_OK;
}
static ab_status four_us(struct ab_case *c, int64_t reps, double *time_s, struct ab_error *err)
{
    *time_s = 4e-6 * (double)reps;
    return AB_OK;
}
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
static const struct ab_impl jitter_cpu = { .setup = jitter_setup, .run = jitter_run, .teardown = nothing };
static const struct ab_impl jit_user_cpu = { .setup = jit_user_setup, .run = user_run, .teardown = nothing };
static const struct ab_impl bw_cpu = { .setup = bw_setup, .run = peak_run, .teardown = nothing };
static const struct ab_impl bw_user_cpu = { .setup = bw_user_setup, .run = four_us, .teardown = nothing };
static const struct ab_axis jitter_axes[] = {
    { .name = "r", .type = AB_AXIS_REAL, .sweep = { "1.25", "1.25", "1.25" } },
};
static const struct ab_axis bw_axes[] = {
    { .name = "level", .type = AB_AXIS_STR, .sweep = { "mem,llc", "mem,llc", "mem,llc" } },
};
static const struct ab_axis bw_user_axes[] = {
    { .name = "bytes", .type = AB_AXIS_REAL, .sweep = { "1024,1e15", "1024,1e15", "1024,1e15" } },
};
static const struct ab_workload jitter_workload = { .name = "jitter",
                                                    .summary = "publishes its best sample",
                                                    .axes = jitter_axes,
                                                    .n_axes = 1,
                                                    .impl = { [AB_BACKEND_CPU] = &jitter_cpu },
                                                    .provides_ceilings = true };
static const struct ab_workload jit_user_workload = { .name = "jit_user",
                                                      .summary = "is read against toy_jit",
                                                      .axes = user_axes,
                                                      .n_axes = 1,
                                                      .impl = { [AB_BACKEND_CPU] = &jit_user_cpu } };
static const struct ab_workload bw_workload = { .name = "bw",
                                                .summary = "publishes mem_bw and llc_bw",
                                                .axes = bw_axes,
                                                .n_axes = 1,
                                                .impl = { [AB_BACKEND_CPU] = &bw_cpu },
                                                .provides_ceilings = true };
static const struct ab_workload bw_user_workload = { .name = "bw_user",
                                                     .summary = "memory-bound",
                                                     .axes = bw_user_axes,
                                                     .n_axes = 1,
                                                     .impl = { [AB_BACKEND_CPU] = &bw_user_cpu } };

static const struct ab_workload *const workloads[] = { &peak_workload,
                                                       &user_workload,
                                                       &jitter_workload,
                                                       &jit_user_workload,
                                                       &bw_workload,
                                                       &bw_user_workload,
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

static char *dir;
static int64_t min_samples = 1; /* of the next run() */

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
    o.stop.min_samples = min_samples;
    o.stop.min_time_s = 0;
    o.stop.max_time_s = min_samples > 1 ? 30 : 0; /* then exactly 30 samples: see below */
    if (min_samples > 1)
        o.stop.max_samples = 30;
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
    assert_int_equal(rows.n, 5); /* every provider first (peak, jitter, bw x 2), then user */
    assert_string_equal(rows.rows[0].workload, "peak");
    rows.rows[1] = rows.rows[4];
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

static const char *metric_text(const struct ab_result *r, const char *name)
{
    const char *t = ab_result_metric_text(r, name);
    return t ? t : "";
}

static void a_ceiling_is_its_best_sample_and_names_what_gave_it(void **state)
{
    struct ab_result_set rows;
    min_samples = 9;
    jitter_calls = 0;
    run("best", "jitter,jit_user", NULL, NULL, &rows);
    min_samples = 1;
    assert_int_equal(rows.n, 2);
    const struct ab_result *j = &rows.rows[0], *u = &rows.rows[1];
    assert_string_equal(j->workload, "jitter");
    assert_int_equal(j->status, AB_OK);
    assert_int_equal(j->time_s.n, 30); /* 10 at 1 us, 20 at 1.25 us */
    /* the fastest sample (1 us), not the median (1.25 us), is the ceiling */
    assert_double_equal(j->ceiling_value, 1e12, 1e3);
    assert_double_equal(ab_result_metric(j, "ceiling_best_rate"), 1e12, 1e3);
    assert_double_equal(j->flop_per_s, 0.8e12, 1e3);
    assert_double_equal(j->fraction_of_ceiling, 0.8, 1e-9);
    assert_string_equal(metric_text(j, "ceiling_detail"), "toy r=1.25");
    assert_string_equal(j->ceiling_source, "measured"); /* 1.25x spread is plausible */
    assert_true(isnan(ab_result_metric(j, "ceiling_suspect")));
    assert_true(isnan(ab_result_metric(j, "theoretical_peak"))); /* none known for toy_jit */
    /* the interval of the fast tail: its rates lie between the median's and the best's */
    double lo = ab_result_metric(j, "ceiling_best_rate_ci_lo"),
           hi = ab_result_metric(j, "ceiling_best_rate_ci_hi");
    assert_true(lo >= 0.8e12 * (1 - 1e-9) && lo <= hi && hi <= 1e12 * (1 + 1e-9));
    assert_string_equal(u->ceiling, "toy_jit");
    assert_double_equal(u->fraction_of_ceiling, 0.5, 1e-9);
    ab_result_set_free(&rows);
    /* run.json keeps what gave the ceiling, and that it is not suspect */
    char path[4500], *json = NULL;
    snprintf(path, sizeof path, "%s/best/run.json", dir);
    assert_int_equal(ab_read_file(path, &json, NULL, NULL), AB_OK);
    assert_non_null(strstr(json, "\"detail\":\t\"toy r=1.25\""));
    assert_non_null(strstr(json, "\"suspect\":\tfalse"));
    free(json);
}

static void a_wide_spread_twice_marks_the_ceiling_and_its_readers_suspect(void **state)
{
    struct ab_result_set rows, again;
    min_samples = 9;
    jitter_calls = 0;
    run("spread", "jitter,jit_user", "r=3", NULL, &rows);
    min_samples = 1;
    assert_int_equal(rows.n, 2);
    const struct ab_result *j = &rows.rows[0], *u = &rows.rows[1];
    assert_int_equal(j->status, AB_OK); /* a suspect ceiling is still a measurement */
    assert_double_equal(ab_result_metric(j, "ceiling_suspect"), 1, 0);
    assert_non_null(strstr(metric_text(j, "ceiling_suspect_reason"), "3.00x the fastest"));
    assert_string_equal(j->ceiling_source, "suspect:measured");
    assert_string_equal(u->ceiling_source, "suspect:measured");
    assert_double_equal(u->fraction_of_ceiling, 0.5, 1e-9);
    char path[4500], *json = NULL;
    snprintf(path, sizeof path, "%s/spread/run.json", dir);
    assert_int_equal(ab_read_file(path, &json, NULL, NULL), AB_OK);
    assert_non_null(strstr(json, "\"suspect\":\ttrue"));
    assert_non_null(strstr(json, "\"reason\":\t\"the median sample took 3.00x the fastest"));
    free(json);
    /* --ceilings from that file keeps the mark */
    char csv[4500];
    snprintf(csv, sizeof csv, "%s/spread/results.csv", dir);
    run("spread-file", "jit_user", NULL, csv, &again);
    assert_int_equal(again.n, 1);
    assert_string_equal(again.rows[0].ceiling_source, "suspect:file:results.csv");
    ab_result_set_free(&again);
    ab_result_set_free(&rows);
}

static void cache_resident_memory_cases_are_held_against_llc_bw(void **state)
{
    struct ab_device devs[AB_MAX_DEVICES];
    int n = 0;
    ab_devices_discover(devs, AB_MAX_DEVICES, &n, NULL, NULL);
    assert_true(n >= 1);
    uint64_t llc = devs[0].l2_bytes;
    struct ab_result_set rows;
    run("llc", "bw,bw_user", NULL, NULL, &rows);
    assert_int_equal(rows.n, 4);
    assert_string_equal(rows.rows[1].ceiling, "llc_bw");
    assert_string_equal(rows.rows[2].workload, "bw_user");
    /* 1 KB fits any last-level cache: held against llc_bw where the size is known */
    if (llc > 0) {
        assert_string_equal(rows.rows[2].ceiling, "llc_bw");
        assert_double_equal(rows.rows[2].fraction_of_ceiling, 1024 / 4e-6 / 1e12, 1e-12);
    } else {
        assert_string_equal(rows.rows[2].ceiling, "mem_bw");
    }
    /* 1 PB fits none: DRAM bandwidth */
    assert_string_equal(rows.rows[3].ceiling, "mem_bw");
    assert_double_equal(rows.rows[3].fraction_of_ceiling, 1e15 / 4e-6 / 5e11, 1e-3);
    ab_result_set_free(&rows);
}

static void plausibility_needs_the_peak_band_and_a_narrow_spread(void **state)
{
    char why[256];
    struct ab_stats t = { .n = 10, .median = 1.2, .min = 1.0 };
    assert_true(ab_ceiling_plausible(100e9, "FLOP/s", 200e9, "p", &t, why, sizeof why));
    assert_string_equal(why, "");
    assert_true(ab_ceiling_plausible(100e9, "FLOP/s", 0, NULL, &t, why, sizeof why)); /* peak unknown */
    assert_false(ab_ceiling_plausible(8.4e9, "FLOP/s", 200e9, "2 threads", &t, why, sizeof why));
    assert_non_null(strstr(why, "8.4 GFLOP/s is 4.2% of the theoretical peak 200 GFLOP/s (2 threads)"));
    assert_false(ab_ceiling_plausible(230e9, "FLOP/s", 200e9, "p", &t, why, sizeof why));
    assert_non_null(strstr(why, "115%"));
    t.median = 1.6;
    assert_false(ab_ceiling_plausible(100e9, "B/s", 0, NULL, &t, why, sizeof why));
    assert_non_null(strstr(why, "1.60x the fastest"));
    assert_false(ab_ceiling_plausible(0, "B/s", 0, NULL, &t, why, sizeof why));
}

static void theoretical_peak_comes_from_the_profile_else_cpuid(void **state)
{
    struct ab_device d = { .backend = AB_BACKEND_CPU, .compute_units = 2, .clock_mhz = 2000 };
    char how[256];
    snprintf(d.features, sizeof d.features, "avx2 fma");
    /* no profile: 2 threads x 1.5 x 2000 MHz x (2 pipes x 8 lanes x 2) */
    assert_double_equal(ab_device_peak(&d, "fp32_fma", how, sizeof how), 2 * 3000e6 * 32, 1);
    assert_non_null(strstr(how, "AVX2"));
    assert_double_equal(ab_device_peak(&d, "fp32_gemm", how, sizeof how), 2 * 3000e6 * 32, 1);
    assert_double_equal(ab_device_peak(&d, "mem_bw", how, sizeof how), 0, 0); /* unknown */
    assert_double_equal(ab_device_peak(&d, "llc_bw", how, sizeof how), 0, 0);
    assert_double_equal(ab_device_peak(&d, "fp16_gemm", how, sizeof how), 0, 0);
    snprintf(d.features, sizeof d.features, "avx2 fma avx512f avx512_bf16");
    assert_double_equal(ab_device_peak(&d, "fp32_fma", how, sizeof how), 2 * 3000e6 * 64, 1);
    assert_double_equal(ab_device_peak(&d, "bf16_gemm", how, sizeof how), 2 * 3000e6 * 128, 1);
    /* a profile's boost clock, pipes and datasheet figures win */
    struct ab_profile p;
    struct ab_error err;
    assert_int_equal(ab_profile_parse("{\"name\":\"x\",\"match\":\"\",\"backend\":\"cpu\",\"tdp_w\":1,"
                                      "\"max_clock_mhz\":3500,\"fma_units\":1,\"peak_mem_gbps\":100}",
                                      "p.json", &p, &err),
                     AB_OK);
    d.profile = &p;
    assert_double_equal(ab_device_peak(&d, "fp32_fma", how, sizeof how), 2 * 3500e6 * 32, 1);
    assert_double_equal(ab_device_peak(&d, "mem_bw", how, sizeof how), 100e9, 1);
    assert_non_null(strstr(how, "profile x"));
    assert_int_equal(ab_profile_parse("{\"name\":\"x\",\"match\":\"\",\"backend\":\"cpu\",\"tdp_w\":1,"
                                      "\"fma_units\":1.5}",
                                      "p.json", &p, &err),
                     AB_EINVAL);
    assert_non_null(strstr(err.msg, "p.json: field \"fma_units\""));
    struct ab_device g = { .backend = AB_BACKEND_CUDA, .compute_units = 132, .clock_mhz = 1980 };
    assert_double_equal(ab_device_peak(&g, "fp32_fma", how, sizeof how), 0, 0); /* no profile */
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
        cmocka_unit_test(a_ceiling_is_its_best_sample_and_names_what_gave_it),
        cmocka_unit_test(a_wide_spread_twice_marks_the_ceiling_and_its_readers_suspect),
        cmocka_unit_test(cache_resident_memory_cases_are_held_against_llc_bw),
        cmocka_unit_test(plausibility_needs_the_peak_band_and_a_narrow_spread),
        cmocka_unit_test(theoretical_peak_comes_from_the_profile_else_cpuid),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
