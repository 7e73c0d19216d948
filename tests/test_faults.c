/* test_faults.c — failures injected into real cases (ACCELBENCH_TEST_FAULT, test builds only)
 * become rows with the right status and message, and the run goes on: an allocation that
 * fails, a verification mismatch, a kernel launch that fails, a run that hangs past its time
 * limit (the watchdog abandons it), then a case that still succeeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/wait.h>

#include "accelbench.h"
#include "test_util.h"

static char *dir;
static const char *exe;

static int setup(void **state)
{
    return test_exe_setup(&exe, &dir);
}
static int teardown(void **state)
{
    test_exe_teardown(&dir);
    return 0;
}

static const struct ab_result *find(const struct ab_result_set *set, const char *params)
{
    for (int64_t i = 0; i < set->n; i++)
        if (strcmp(set->rows[i].params, params) == 0)
            return &set->rows[i];
    fail_msg("no row for %s", params);
    return NULL;
}

static void each_fault_is_a_row_and_the_run_goes_on(void **state)
{
    char cmd[8192], csv[4400];
    snprintf(
        cmd, sizeof cmd,
        "ACCELBENCH_TEST_FAULT='ceilings@kind=fma;dtype=fp32:setup_oom,"
        "ceilings@kind=gemm;dtype=fp32;n=0:mismatch,ceilings@kind=gemm;dtype=fp32;n=128:run_fail,"
        "ceilings@kind=gemm;dtype=fp32;n=256:hang' '%s' run -w ceilings -d cpu --quick "
        "-a kind=fma,gemm,stream -a dtype=fp32 -a n=0,128,256 --min-time 0.02 --max-time 0.1 --warmup 0.01 "
        "--min-samples 1 --case-timeout 8 -o '%s/f' 2>'%s/f.err'",
        exe, dir, dir);
    double t0 = ab_now_s();
    int rc = system(cmd);
    double took = ab_now_s() - t0;
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 1); /* mismatch and failed rows: --fail-on's default */
    assert_true(took < 60);
    snprintf(csv, sizeof csv, "%s/f/results.csv", dir);
    struct ab_result_set set = { 0 };
    struct ab_error e;
    assert_int_equal(ab_csv_read(csv, &set, NULL, 0, &e), AB_OK);
    assert_int_equal(set.n, 5);
    const struct ab_result *r = find(&set, "kind=fma;dtype=fp32;n=0");
    assert_int_equal(r->status, AB_ENOMEM);
    assert_non_null(strstr(r->message, "allocation failed"));
    r = find(&set, "kind=gemm;dtype=fp32;n=0");
    assert_int_equal(r->status, AB_EMISMATCH);
    assert_non_null(strstr(r->message, "[0] got 2 expected 1"));
    r = find(&set, "kind=gemm;dtype=fp32;n=128");
    assert_int_equal(r->status, AB_EFAIL);
    assert_non_null(strstr(r->message, "kernel launch failed"));
    r = find(&set, "kind=gemm;dtype=fp32;n=256");
    assert_int_equal(r->status, AB_ETIMEOUT);
    assert_non_null(strstr(r->message, "8 s limit"));
    r = find(&set, "kind=stream;dtype=fp32;n=0");
    assert_int_equal(r->status, AB_OK); /* after a hung case, the run still measures */
    assert_true(r->byte_per_s > 0);
    for (int64_t i = 0; i < set.n; i++)
        if (set.rows[i].status != AB_OK) {
            assert_int_equal(set.rows[i].time_s.n, 0);
            assert_true(isnan(set.rows[i].energy_j));
        }
    ab_result_set_free(&set);
}

static void a_slow_case_is_cut_at_its_limit(void **state)
{
    /* Not hung, only slow: every repetition stretched 2000x; the case stops as a timeout. */
    char cmd[8192], csv[4400];
    snprintf(cmd, sizeof cmd,
             "ACCELBENCH_TEST_SLOWDOWN='ceilings=2000' '%s' run -w ceilings -d cpu --quick -a kind=fma "
             "-a dtype=fp32 --min-time 5 --max-time 5 --case-timeout 1 -o '%s/s' 2>'%s/s.err'",
             exe, dir, dir);
    double t0 = ab_now_s();
    int rc = system(cmd);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 1); /* a timeout counts as failed */
    assert_true(ab_now_s() - t0 < 10);
    snprintf(csv, sizeof csv, "%s/s/results.csv", dir);
    struct ab_result_set set = { 0 };
    struct ab_error e;
    assert_int_equal(ab_csv_read(csv, &set, NULL, 0, &e), AB_OK);
    assert_int_equal(set.n, 1);
    assert_int_equal(set.rows[0].status, AB_ETIMEOUT);
    assert_non_null(strstr(set.rows[0].message, "1 s limit"));
    ab_result_set_free(&set);
}

static int run_rc(const char *cmd)
{
    int rc = system(cmd);
    assert_true(WIFEXITED(rc));
    return WEXITSTATUS(rc);
}

static void fail_on_chooses_which_statuses_exit_1(void **state)
{
    char cmd[8192];
    const char *common = "run -w ceilings -d cpu --quick -a kind=fma,stream -a dtype=fp32 --min-time 0.02 "
                         "--max-time 0.1 --warmup 0.01 --min-samples 1";
    snprintf(
        cmd, sizeof cmd,
        "ACCELBENCH_TEST_FAULT='ceilings@kind=stream:mismatch' '%s' %s --fail-on none -o '%s/n' 2>/dev/null",
        exe, common, dir);
    assert_int_equal(run_rc(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "ACCELBENCH_TEST_FAULT='ceilings@kind=stream:mismatch' '%s' %s --fail-on failed -o '%s/n2' "
             "2>/dev/null",
             exe, common, dir);
    assert_int_equal(run_rc(cmd), 0); /* a mismatch is not a failure */
    snprintf(cmd, sizeof cmd,
             "ACCELBENCH_TEST_FAULT='ceilings@kind=stream:mismatch' '%s' %s --fail-on mismatch -o '%s/n3' "
             "2>'%s/n3.err'",
             exe, common, dir, dir);
    assert_int_equal(run_rc(cmd), 1);
    char path[4400], *text = NULL;
    size_t len;
    struct ab_error e;
    snprintf(path, sizeof path, "%s/n3.err", dir);
    assert_int_equal(ab_read_file(path, &text, &len, &e), AB_OK);
    assert_non_null(strstr(text, "1 mismatch"));
    free(text);
    snprintf(cmd, sizeof cmd, "'%s' %s --fail-on sometimes -o '%s/n4' 2>/dev/null", exe, common, dir);
    assert_int_equal(run_rc(cmd), 2);
}

static void a_lost_device_skips_its_remaining_cases(void **state)
{
    /* The first case loses the device: the others on it become skipped rows naming that case. */
    char cmd[8192], csv[4400];
    snprintf(cmd, sizeof cmd,
             "ACCELBENCH_TEST_FAULT='ceilings@kind=fma;dtype=fp32:device_lost' '%s' run -w ceilings -d cpu "
             "--quick -a kind=fma,gemm,stream -a dtype=fp32 -a n=0,128 --min-time 0.02 --max-time 0.1 "
             "--warmup 0.01 --min-samples 1 -o '%s/l' 2>/dev/null",
             exe, dir);
    assert_int_equal(run_rc(cmd), 1);
    snprintf(csv, sizeof csv, "%s/l/results.csv", dir);
    struct ab_result_set set = { 0 };
    struct ab_error e;
    assert_int_equal(ab_csv_read(csv, &set, NULL, 0, &e), AB_OK);
    assert_int_equal(set.n, 4);
    const struct ab_result *r = find(&set, "kind=fma;dtype=fp32;n=0");
    assert_int_equal(r->status, AB_EFAIL);
    assert_non_null(strstr(r->message, "illegal memory access"));
    for (int64_t i = 0; i < set.n; i++) {
        if (&set.rows[i] == r)
            continue;
        assert_int_equal(set.rows[i].status, AB_EUNSUPPORTED);
        assert_non_null(strstr(set.rows[i].message, "device lost after ceilings kind=fma;dtype=fp32;n=0"));
    }
    ab_result_set_free(&set);
}

static void check_suite_verifies_without_timing(void **state)
{
    char cmd[8192], csv[4400];
    snprintf(cmd, sizeof cmd,
             "'%s' run --check -w ceilings -d cpu -a kind=fma,stream -a dtype=fp32 -o '%s/c' 2>/dev/null",
             exe, dir);
    assert_int_equal(run_rc(cmd), 0);
    snprintf(csv, sizeof csv, "%s/c/results.csv", dir);
    struct ab_result_set set = { 0 };
    struct ab_error e;
    assert_int_equal(ab_csv_read(csv, &set, NULL, 0, &e), AB_OK);
    assert_true(set.n >= 2);
    for (int64_t i = 0; i < set.n; i++) {
        assert_int_equal(set.rows[i].status, AB_OK);
        assert_string_equal(set.rows[i].stop_reason, "verified");
        assert_int_equal(set.rows[i].time_s.n, 0);
    }
    ab_result_set_free(&set);
    /* A mismatch found by the check suite is exit 1. */
    snprintf(cmd, sizeof cmd,
             "ACCELBENCH_TEST_FAULT='ceilings@kind=stream:mismatch' '%s' run --check -w ceilings -d cpu "
             "-a kind=fma,stream -a dtype=fp32 -o '%s/c2' 2>/dev/null",
             exe, dir);
    assert_int_equal(run_rc(cmd), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_fault_is_a_row_and_the_run_goes_on),
        cmocka_unit_test(a_slow_case_is_cut_at_its_limit),
        cmocka_unit_test(fail_on_chooses_which_statuses_exit_1),
        cmocka_unit_test(a_lost_device_skips_its_remaining_cases),
        cmocka_unit_test(check_suite_verifies_without_timing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
