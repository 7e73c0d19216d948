/* test_meters.c — RAPL over a fake powercap tree (with a counter wrap-around), NVML through a
 * fake library built by the tests, the nominal estimate, and device profiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <sys/stat.h>
#include <time.h>

#include "accelbench.h"
#include "test_util.h"

static char *dir;

static int setup(void **state)
{
    dir = test_tmpdir();
    return dir ? 0 : -1;
}
static int teardown(void **state)
{
    test_rmrf(dir);
    free(dir);
    return 0;
}

static void write_zone(const char *root, const char *zone, const char *energy, const char *range)
{
    char p[4300];
    snprintf(p, sizeof p, "%s/%s", root, zone);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/%s/energy_uj", root, zone);
    assert_int_equal(test_write_file(p, energy), 0);
    snprintf(p, sizeof p, "%s/%s/max_energy_range_uj", root, zone);
    assert_int_equal(test_write_file(p, range), 0);
}

static void rapl_sums_packages_and_corrects_wraparound(void **state)
{
    char root[4200];
    snprintf(root, sizeof root, "%s/powercap", dir);
    mkdir(root, 0777);
    write_zone(root, "intel-rapl:0", "999000000\n", "1000000000\n"); /* near the wrap */
    write_zone(root, "intel-rapl:1", "5000000\n", "1000000000\n");
    write_zone(root, "intel-rapl:0:0", "1\n", "1000000000\n"); /* subzone: not added */
    struct ab_meter *m;
    struct ab_error err;
    assert_int_equal(ab_rapl_open(root, &m, &err), AB_OK);
    assert_string_equal(ab_meter_source(m), "rapl");
    assert_int_equal(ab_meter_begin(m, &err), AB_OK);
    /* package 0 wraps: 999 J -> 1000 J (the range) -> 2 J is 3 J;
     * package 1 goes 5 J -> 12 J. */
    write_zone(root, "intel-rapl:0", "2000000\n", "1000000000\n");
    write_zone(root, "intel-rapl:1", "12000000\n", "1000000000\n");
    write_zone(root, "intel-rapl:0:0", "900000000\n", "1000000000\n");
    double e;
    assert_int_equal(ab_meter_end(m, &e, &err), AB_OK);
    assert_double_equal(e, 3.0 + 7.0, 1e-9);
    ab_meter_close(m);
}

static void rapl_absent_tree_is_unsupported(void **state)
{
    struct ab_meter *m;
    struct ab_error err;
    char root[4200];
    snprintf(root, sizeof root, "%s/nothing-here", dir);
    assert_int_equal(ab_rapl_open(root, &m, &err), AB_EUNSUPPORTED);
    snprintf(root, sizeof root, "%s/emptycap", dir);
    mkdir(root, 0777);
    assert_int_equal(ab_rapl_open(root, &m, &err), AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "no RAPL zones"));
}

static void nvml_energy_counter_is_read_in_joules(void **state)
{
    struct ab_meter *m;
    struct ab_error err;
    unsetenv("FAKE_NVML_NO_ENERGY");
    assert_int_equal(ab_nvml_open(FAKE_NVML_PATH, 0, NULL, &m, &err), AB_OK);
    assert_string_equal(ab_meter_source(m), "nvml-energy");
    assert_true(ab_meter_min_window_s(m) >= 0.5);
    double e;
    assert_int_equal(ab_meter_begin(m, &err), AB_OK);
    assert_int_equal(ab_meter_end(m, &e, &err), AB_OK);
    assert_double_equal(e, 1.5, 1e-12); /* one read later: +1500 mJ */
    ab_meter_close(m);
    assert_int_equal(ab_nvml_open(FAKE_NVML_PATH, 3, NULL, &m, &err), AB_EUNSUPPORTED);
}

static void nvml_meter_follows_the_pci_bus_id_not_the_ordinal(void **state)
{
    /* CUDA ordinal 0 is the GPU at 0000:19:00.0, which NVML enumerates second: its energy
     * (7 J per read in the fake) must be the one read, not NVML index 0's (1.5 J). */
    struct ab_meter *m;
    struct ab_error err;
    unsetenv("FAKE_NVML_NO_ENERGY");
    assert_int_equal(ab_nvml_open(FAKE_NVML_PATH, 0, "0000:19:00.0", &m, &err), AB_OK);
    double e;
    assert_int_equal(ab_meter_begin(m, &err), AB_OK);
    assert_int_equal(ab_meter_end(m, &e, &err), AB_OK);
    assert_double_equal(e, 7.0, 1e-12);
    ab_meter_close(m);
    /* A bus id NVML does not know is no meter, not another GPU's meter. */
    assert_int_equal(ab_nvml_open(FAKE_NVML_PATH, 0, "0000:99:00.0", &m, &err), AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "0000:99:00.0"));
    /* Through ab_meter_open, as the runner does it, with the device's bus id. */
    setenv("ACCELBENCH_NVML_LIB", FAKE_NVML_PATH, 1);
    struct ab_device d = { .backend = AB_BACKEND_CUDA, .index = 0 };
    snprintf(d.pci_bus_id, sizeof d.pci_bus_id, "0000:19:00.0");
    assert_int_equal(ab_meter_open(&d, &m, &err), AB_OK);
    assert_string_equal(ab_meter_source(m), "nvml-energy");
    assert_int_equal(ab_meter_begin(m, &err), AB_OK);
    assert_int_equal(ab_meter_end(m, &e, &err), AB_OK);
    assert_double_equal(e, 7.0, 1e-12);
    ab_meter_close(m);
    unsetenv("ACCELBENCH_NVML_LIB");
}

static void nvml_without_energy_falls_back_to_sampled_power(void **state)
{
    struct ab_meter *m;
    struct ab_error err;
    setenv("FAKE_NVML_NO_ENERGY", "1", 1);
    assert_int_equal(ab_nvml_open(FAKE_NVML_PATH, 0, NULL, &m, &err), AB_OK);
    assert_string_equal(ab_meter_source(m), "nvml-power");
    double e, t0 = ab_now_s();
    assert_int_equal(ab_meter_begin(m, &err), AB_OK);
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    assert_int_equal(ab_meter_end(m, &e, &err), AB_OK);
    double dt = ab_now_s() - t0;
    /* 250 W over the window the sampler saw: within a couple of 10 ms sampling periods */
    assert_true(e > 250 * (dt - 0.03));
    assert_true(e < 250 * (dt + 0.03));
    ab_meter_close(m);
    unsetenv("FAKE_NVML_NO_ENERGY");
}

static void nvml_missing_library_is_unsupported_not_fatal(void **state)
{
    struct ab_meter *m;
    struct ab_error err;
    assert_int_equal(ab_nvml_open("/nonexistent/libnvidia-ml.so.1", 0, NULL, &m, &err), AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "NVML"));
}

static void nominal_meter_is_labelled_estimate(void **state)
{
    struct ab_meter *m;
    struct ab_error err;
    assert_int_equal(ab_nominal_open("cpu-generic", 20.0, &m, &err), AB_OK);
    assert_string_equal(ab_meter_source(m), "nominal:cpu-generic");
    double e, t0 = ab_now_s();
    ab_meter_begin(m, &err);
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    ab_meter_end(m, &e, &err);
    double dt = ab_now_s() - t0;
    assert_true(e > 0 && e <= 20.0 * dt + 1e-9);
    ab_meter_close(m);
}

static void profiles_parse_and_match_longest(void **state)
{
    struct ab_profile *ps;
    int n;
    struct ab_error err;
    assert_int_equal(ab_profiles_load(NULL, &ps, &n, &err), AB_OK);
    assert_true(n >= 3);
    struct ab_device d = { .backend = AB_BACKEND_CUDA };
    strcpy(d.name, "NVIDIA H100 80GB HBM3");
    const struct ab_profile *p = ab_profile_match(ps, n, &d);
    assert_non_null(p);
    assert_string_equal(p->name, "nvidia-h100-sxm");
    assert_double_equal(p->tdp_w, 700, 0);
    assert_double_equal(p->peak_flops[2], 989.4e12, 1e6);
    strcpy(d.name, "Some Future GPU");
    p = ab_profile_match(ps, n, &d);
    assert_non_null(p);
    assert_string_equal(p->name, "cuda-generic");
    d.backend = AB_BACKEND_CPU;
    strcpy(d.name, "AMD EPYC");
    p = ab_profile_match(ps, n, &d);
    assert_string_equal(p->name, "cpu-generic");
    free(ps);
}

static void bad_profiles_name_the_field(void **state)
{
    struct ab_profile p;
    struct ab_error err;
    assert_int_equal(ab_profile_parse("{\"name\":\"x\",\"match\":\"y\",\"backend\":\"tpu\",\"tdp_w\":1}",
                                      "p.json", &p, &err),
                     AB_EINVAL);
    assert_non_null(strstr(err.msg, "backend"));
    assert_int_equal(
        ab_profile_parse("{\"name\":\"x\",\"match\":\"y\",\"backend\":\"cpu\",\"tdp_w\":\"hot\"}", "p.json",
                         &p, &err),
        AB_EINVAL);
    assert_non_null(strstr(err.msg, "tdp_w"));
    assert_int_equal(ab_profile_parse("{\"name\":\"x\",\n\"match\":", "p.json", &p, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "p.json:2"));
    assert_int_equal(ab_profile_parse("[1]", "p.json", &p, &err), AB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rapl_sums_packages_and_corrects_wraparound),
        cmocka_unit_test(rapl_absent_tree_is_unsupported),
        cmocka_unit_test(nvml_energy_counter_is_read_in_joules),
        cmocka_unit_test(nvml_meter_follows_the_pci_bus_id_not_the_ordinal),
        cmocka_unit_test(nvml_without_energy_falls_back_to_sampled_power),
        cmocka_unit_test(nvml_missing_library_is_unsupported_not_fatal),
        cmocka_unit_test(nominal_meter_is_labelled_estimate),
        cmocka_unit_test(profiles_parse_and_match_longest),
        cmocka_unit_test(bad_profiles_name_the_field),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
