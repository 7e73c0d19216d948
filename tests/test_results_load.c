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

/* Remove n bytes at s from its string. */
static void cut_bytes(char *s, size_t n)
{
    memmove(s, s + n, strlen(s + n) + 1);
}

/* Merged folders: a samples line names its run, so each row gets its own run's samples; a line
 * without run_id (written before lines carried one) goes to every row of its key. */
/* Write jl as the merged folder's samples.jsonl, then read its four rows into s with the
 * rows that a line vouches for marked in has_line. */
static void reread_merged(const char *jl, struct ab_result_set *s, bool has_line[4])
{
    char p[4300];
    struct ab_error e;
    snprintf(p, sizeof p, "%s/m/samples.jsonl", dir);
    assert_int_equal(test_write_file(p, jl), 0);
    snprintf(p, sizeof p, "%s/m/results.csv", dir);
    assert_int_equal(ab_csv_read(p, s, NULL, 0, &e), AB_OK);
    memset(has_line, 0, 4 * sizeof has_line[0]);
    snprintf(p, sizeof p, "%s/m/samples.jsonl", dir);
    assert_int_equal(ab_json_read_samples_marked(p, s, has_line, &e), AB_OK);
}

static void samples_lines_are_matched_to_rows_by_run_id_and_key(void **state)
{
    write_run("a", 2, "2026-01-01T00:00:00Z", 1e-3);
    write_run("b", 2, "2026-02-01T00:00:00Z", 2e-3);
    char p[4300], *ca, *cb, *ja, *jb;
    snprintf(p, sizeof p, "%s/a/results.csv", dir);
    assert_int_equal(ab_read_file(p, &ca, NULL, NULL), AB_OK);
    snprintf(p, sizeof p, "%s/b/results.csv", dir);
    assert_int_equal(ab_read_file(p, &cb, NULL, NULL), AB_OK);
    snprintf(p, sizeof p, "%s/a/samples.jsonl", dir);
    assert_int_equal(ab_read_file(p, &ja, NULL, NULL), AB_OK);
    snprintf(p, sizeof p, "%s/b/samples.jsonl", dir);
    assert_int_equal(ab_read_file(p, &jb, NULL, NULL), AB_OK);
    snprintf(p, sizeof p, "%s/m", dir);
    assert_int_equal(ab_mkdirs(p, NULL), AB_OK);
    size_t csv_len = strlen(ca) + strlen(cb) + 1, jl_len = strlen(ja) + strlen(jb) + 1;
    char *csv = malloc(csv_len), *jl = malloc(jl_len);
    snprintf(csv, csv_len, "%s%s", ca, strchr(cb, '\n') + 1); /* b's rows without its header */
    snprintf(jl, jl_len, "%s%s", jb, ja);                     /* lines in the other order */
    snprintf(p, sizeof p, "%s/m/results.csv", dir);
    assert_int_equal(test_write_file(p, csv), 0);
    snprintf(p, sizeof p, "%s/m/samples.jsonl", dir);
    assert_int_equal(test_write_file(p, jl), 0);

    struct ab_result_set s = { 0 };
    struct ab_error e;
    snprintf(p, sizeof p, "%s/m/results.csv", dir);
    assert_int_equal(ab_csv_read(p, &s, NULL, 0, &e), AB_OK);
    assert_int_equal(s.n, 4);
    bool has_line[4] = { false };
    snprintf(p, sizeof p, "%s/m/samples.jsonl", dir);
    assert_int_equal(ab_json_read_samples_marked(p, &s, has_line, &e), AB_OK);
    for (int64_t i = 0; i < s.n; i++) {
        assert_true(has_line[i]);
        assert_int_equal(s.rows[i].n_samples, 4);
        assert_true(s.rows[i].samples[0] == (strcmp(s.rows[i].run_id, "run-a") ? 2e-3 : 1e-3));
    }
    ab_result_set_free(&s);

    /* Run a's line for n=2 lost, b's n=2 line written without run_id (an older accelbench). */
    char *cut =
        strstr(jl, "\"run_id\":\"run-b\",\"workload\":\"synthetic\",\"device\":\"cpu\",\"params\":\"n=2\"");
    if (!cut)
        fail();
    cut_bytes(cut, strlen("\"run_id\":\"run-b\","));
    char *a2 =
        strstr(jl, "\"run_id\":\"run-a\",\"workload\":\"synthetic\",\"device\":\"cpu\",\"params\":\"n=2\"");
    assert_non_null(a2);
    char *line = a2;
    while (line > jl && line[-1] != '\n')
        line--;
    cut_bytes(line, (size_t)(strchr(a2, '\n') + 1 - line));
    reread_merged(jl, &s, has_line);
    /* rows: a n=1, a n=2, b n=1, b n=2; the key-only line gives its samples to both rows of
     * n=2 but vouches for one (the first): one line, one row */
    assert_true(has_line[0] && has_line[1] && has_line[2] && !has_line[3]);
    assert_true(s.rows[1].samples[0] == 2e-3 && s.rows[3].samples[0] == 2e-3);
    ab_result_set_free(&s);

    /* Both lines of n=2 gone: neither of its rows has one (--resume runs it again). */
    line = strstr(jl, "\"params\":\"n=2\"");
    assert_non_null(line);
    while (line > jl && line[-1] != '\n')
        line--;
    cut_bytes(line, (size_t)(strchr(line, '\n') + 1 - line));
    reread_merged(jl, &s, has_line);
    assert_true(has_line[0] && !has_line[1] && has_line[2] && !has_line[3]);
    assert_int_equal(s.rows[1].n_samples, 0);
    ab_result_set_free(&s);
    free(ca);
    free(cb);
    free(ja);
    free(jb);
    free(csv);
    free(jl);
}

/* plot's rule: the latest row of a case on each host; compare's: of a case. */
static void the_latest_row_per_host_keeps_hosts_apart(void **state)
{
    struct ab_result_set s = { 0 };
    struct ab_result r;
    memset(&r, 0, sizeof r);
    strcpy(r.workload, "synthetic");
    strcpy(r.device, "cpu");
    strcpy(r.device_name, "Test CPU");
    strcpy(r.params, "n=1");
    const char *hosts[] = { "h1", "h2", "h1" };
    const char *times[] = { "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z" };
    for (int i = 0; i < 3; i++) {
        strcpy(r.host, hosts[i]);
        strcpy(r.started_utc, times[i]);
        assert_int_equal(ab_result_set_add(&s, &r, NULL), AB_OK);
    }
    int n = 0;
    const struct ab_result **lt = ab_results_latest_per_host(&s, &n);
    assert_int_equal(n, 2);
    assert_string_equal(lt[0]->host, "h1");
    assert_string_equal(lt[0]->started_utc, times[2]);
    assert_string_equal(lt[1]->host, "h2");
    free(lt);
    lt = ab_results_latest(&s, &n);
    assert_int_equal(n, 1);
    assert_string_equal(lt[0]->started_utc, times[2]);
    free(lt);
    ab_result_set_free(&s);
}

/* Peers' rows (bench/peers: backend=torch, llama.cpp) read back with their backend whole, and
 * each backend keeps its own latest row of a case. */
static void peer_backends_read_back_whole_and_apart(void **state)
{
    char csv[4300];
    snprintf(csv, sizeof csv, "%s/peers.csv", dir);
    struct ab_reporter rc;
    struct ab_error err;
    assert_int_equal(ab_csv_reporter_open(csv, &rc, &err), AB_OK);
    const char *backends[] = { "cpu", "torch", "llama.cpp", "llama.cpp" };
    const char *times[] = { "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z",
                            "2026-01-01T00:00:03Z" };
    for (int i = 0; i < 4; i++) {
        struct ab_result r;
        memset(&r, 0, sizeof r);
        strcpy(r.run_id, "peers");
        strcpy(r.host, "testhost");
        strcpy(r.started_utc, times[i]);
        strcpy(r.workload, "gpt2");
        strcpy(r.device, "cpu");
        strcpy(r.device_name, "Test CPU");
        strcpy(r.backend, backends[i]);
        strcpy(r.params, "phase=decode;batch=1");
        r.status = AB_OK;
        double x[3] = { 1e-3 * (i + 1), 1e-3 * (i + 1), 1e-3 * (i + 1) };
        ab_stats_compute(x, 3, &r.time_s);
        strcpy(r.power_source, "none");
        r.fraction_of_ceiling = r.avg_power_w = r.energy_j = NAN;
        r.flop_per_j = r.token_per_j = r.byte_per_j = r.usd_per_hour = NAN;
        assert_int_equal(rc.row(rc.self, &r, &err), AB_OK);
    }
    rc.destroy(rc.self);
    const char *paths[] = { csv };
    struct ab_result_set s = { 0 };
    char warn[256];
    assert_int_equal(ab_results_load(paths, 1, &s, warn, sizeof warn, &err), AB_OK);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.rows[2].backend, "llama.cpp");
    int n = 0;
    const struct ab_result **lt = ab_results_latest(&s, &n);
    assert_int_equal(n, 3);
    assert_string_equal(lt[2]->backend, "llama.cpp");
    assert_string_equal(lt[2]->started_utc, times[3]);
    assert_double_equal(lt[2]->time_s.median, 4e-3, 1e-12);
    free(lt);
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
        cmocka_unit_test_setup_teardown(samples_lines_are_matched_to_rows_by_run_id_and_key, setup, teardown),
        cmocka_unit_test_setup_teardown(the_latest_row_per_host_keeps_hosts_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(peer_backends_read_back_whole_and_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(a_torn_last_line_is_a_warning_naming_its_file, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_input_names_file_and_line, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
