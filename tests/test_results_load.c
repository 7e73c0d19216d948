/* test_results_load.c — reading results back as compare and plot do: files and folders (every
 * level of subfolders, links followed once), samples.jsonl attached beside each CSV, several paths merged
 * with their warnings, the latest row of a case winning, and errors that name the file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <unistd.h>

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

/* Write results.csv and samples.jsonl into dir/sub: cases n=1..n, started at `started`, with
 * 4 samples each of value `t` seconds. */
static void write_run(const char *sub, int n, const char *started, double t)
{
    char d[4200], csv[4300];
    snprintf(d, sizeof d, "%s/%s", dir, sub);
    struct ab_error err;
    assert_int_equal(ab_mkdirs(d, &err), AB_OK);
    snprintf(csv, sizeof csv, "%s/results.csv", d);
    struct ab_reporter rc, rj;
    assert_int_equal(ab_csv_reporter_open(csv, &rc, &err), AB_OK);
    assert_int_equal(ab_json_reporter_open(d, &rj, &err), AB_OK);
    struct ab_run_info info = { 0 };
    snprintf(info.run_id, sizeof info.run_id, "run-%s", sub);
    assert_int_equal(rj.begin(rj.self, &info, &err), AB_OK);
    double samples[4] = { t, t, t, t };
    for (int i = 1; i <= n; i++) {
        struct ab_result r;
        memset(&r, 0, sizeof r);
        snprintf(r.run_id, sizeof r.run_id, "run-%s", sub);
        strcpy(r.host, "testhost");
        snprintf(r.started_utc, sizeof r.started_utc, "%s", started);
        strcpy(r.workload, "synthetic");
        strcpy(r.device, "cpu");
        strcpy(r.device_name, "Test CPU");
        strcpy(r.backend, "cpu");
        snprintf(r.params, sizeof r.params, "n=%d", i);
        r.status = AB_OK;
        r.samples = samples;
        r.n_samples = 4;
        ab_stats_compute(samples, 4, &r.time_s);
        strcpy(r.power_source, "none");
        r.fraction_of_ceiling = r.avg_power_w = r.energy_j = NAN;
        r.flop_per_j = r.token_per_j = r.byte_per_j = r.usd_per_hour = NAN;
        assert_int_equal(rc.row(rc.self, &r, &err), AB_OK);
        assert_int_equal(rj.row(rj.self, &r, &err), AB_OK);
    }
    assert_int_equal(rc.end(rc.self, &info, &err), AB_OK);
    assert_int_equal(rj.end(rj.self, &info, &err), AB_OK);
    rc.destroy(rc.self);
    rj.destroy(rj.self);
}

static void a_file_brings_the_samples_beside_it(void **state)
{
    write_run("one", 3, "2026-01-01T00:00:00Z", 1e-3);
    char csv[4300];
    snprintf(csv, sizeof csv, "%s/one/results.csv", dir);
    const char *paths[] = { csv };
    struct ab_result_set s = { 0 };
    struct ab_error e;
    char warn[256] = "x";
    assert_int_equal(ab_results_load(paths, 1, &s, warn, sizeof warn, &e), AB_OK);
    assert_string_equal(warn, "");
    assert_int_equal(s.n, 3);
    for (int64_t i = 0; i < s.n; i++) {
        assert_int_equal(s.rows[i].n_samples, 4);
        assert_double_equal(s.rows[i].samples[0], 1e-3, 0);
    }
    ab_result_set_free(&s);
}

static void a_folder_reads_its_results_and_every_level_of_subfolders(void **state)
{
    write_run("top", 2, "2026-01-01T00:00:00Z", 1e-3);
    write_run("top/a", 1, "2026-01-01T00:00:01Z", 2e-3);
    write_run("top/b", 1, "2026-01-01T00:00:02Z", 3e-3);
    write_run("top/b/deep/er", 1, "2026-01-01T00:00:03Z", 4e-3); /* three levels down */
    char top[4300], link[4400];
    snprintf(top, sizeof top, "%s/top", dir);
    /* a link back up the tree and a second name of a folder: each folder is read once */
    snprintf(link, sizeof link, "%s/top/b/deep/er/loop", dir);
    assert_int_equal(symlink("../../..", link), 0);
    snprintf(link, sizeof link, "%s/top/again", dir);
    assert_int_equal(symlink("b", link), 0);
    const char *paths[] = { top };
    struct ab_result_set s = { 0 };
    struct ab_error e;
    assert_int_equal(ab_results_load(paths, 1, &s, NULL, 0, &e), AB_OK);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.rows[0].params, "n=1"); /* the folder's own file comes first */
    assert_string_equal(s.rows[1].params, "n=2");
    int deep = 0;
    for (int64_t i = 0; i < s.n; i++) {
        assert_true(s.rows[i].samples && s.rows[i].samples[0] < 4.5e-3);
        deep += s.rows[i].samples[0] > 3.5e-3;
    }
    assert_int_equal(deep, 1);
    ab_result_set_free(&s);
}

static void the_latest_row_of_a_case_wins(void **state)
{
    write_run("old", 2, "2026-01-01T00:00:00Z", 1e-3);
    write_run("new", 1, "2026-02-01T00:00:00Z", 2e-3);
    char p_old[4300], p_new[4300];
    snprintf(p_old, sizeof p_old, "%s/old", dir);
    snprintf(p_new, sizeof p_new, "%s/new", dir);
    /* the newer run listed first: the rule is by start time, not by order */
    const char *paths[] = { p_new, p_old };
    struct ab_result_set s = { 0 };
    struct ab_error e;
    assert_int_equal(ab_results_load(paths, 2, &s, NULL, 0, &e), AB_OK);
    assert_int_equal(s.n, 3); /* every row kept */
    int n = 0;
    const struct ab_result **latest = ab_results_latest(&s, &n);
    assert_non_null(latest);
    assert_int_equal(n, 2);
    assert_string_equal(latest[0]->params, "n=1");
    assert_string_equal(latest[0]->started_utc, "2026-02-01T00:00:00Z");
    assert_string_equal(latest[1]->params, "n=2");
    assert_string_equal(latest[1]->started_utc, "2026-01-01T00:00:00Z");
    char k[800];
    ab_results_case_key(latest[0], k, sizeof k);
    assert_string_equal(k, "synthetic|cpu|Test CPU|n=1");
    free(latest);
    ab_result_set_free(&s);
}

static void a_torn_last_line_is_a_warning_naming_its_file(void **state)
{
    write_run("torn", 2, "2026-01-01T00:00:00Z", 1e-3);
    char csv[4300];
    snprintf(csv, sizeof csv, "%s/torn/results.csv", dir);
    FILE *f = fopen(csv, "a");
    assert_non_null(f);
    fputs("partial,row", f); /* no newline: a crash mid-write */
    fclose(f);
    const char *paths[] = { csv };
    struct ab_result_set s = { 0 };
    struct ab_error e;
    char warn[512];
    assert_int_equal(ab_results_load(paths, 1, &s, warn, sizeof warn, &e), AB_OK);
    assert_int_equal(s.n, 2);
    assert_non_null(strstr(warn, "results.csv"));
    ab_result_set_free(&s);
}

static void malformed_input_names_file_and_line(void **state)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    const char *const *cols = ab_csv_columns();
    char text[8192] = "";
    for (int i = 0; cols[i]; i++) {
        strcat(text, i ? "," : "");
        strcat(text, cols[i]);
    }
    strcat(text, "\n1,2,3\n");
    assert_int_equal(test_write_file(path, text), 0);
    struct ab_result_set s = { 0 };
    struct ab_error e;
    char warn[256];
    const char *paths[] = { path };
    assert_int_equal(ab_results_load(paths, 1, &s, warn, sizeof warn, &e), AB_EINVAL);
    assert_non_null(strstr(e.msg, "bad.csv:2"));
    snprintf(path, sizeof path, "%s/nothing-here", dir);
    assert_int_equal(ab_results_load(paths, 1, &s, warn, sizeof warn, &e), AB_EIO);
    char empty[4300];
    snprintf(empty, sizeof empty, "%s/empty", dir);
    struct ab_error err;
    assert_int_equal(ab_mkdirs(empty, &err), AB_OK);
    paths[0] = empty;
    assert_int_equal(ab_results_load(paths, 1, &s, warn, sizeof warn, &e), AB_EINVAL); /* no results */
    assert_non_null(strstr(e.msg, "no results.csv"));
    ab_result_set_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_file_brings_the_samples_beside_it, setup, teardown),
        cmocka_unit_test_setup_teardown(a_folder_reads_its_results_and_every_level_of_subfolders, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_latest_row_of_a_case_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(a_torn_last_line_is_a_warning_naming_its_file, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_input_names_file_and_line, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
