/* test_crash.c — the real `accelbench run` against what ends runs early: SIGKILL in the middle
 * of a case (finished rows intact, a torn line dropped, --resume completes the run with each
 * case once), SIGINT (an interrupted row, files closed, exit 130), an output folder that cannot
 * be made, a file-size limit reached mid-run, and results of another schema version.
 * Needs a build with -Dtest_hooks=true: a case is made to hang with ACCELBENCH_TEST_FAULT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accelbench.h"
#include "test_util.h"

static char *dir;
static const char *exe;

static int setup(void **state)
{
    exe = getenv("ACCELBENCH_EXE");
    dir = test_tmpdir();
    return exe && dir ? 0 : -1;
}
static int teardown(void **state)
{
    test_rmrf(dir);
    free(dir);
    return 0;
}

/* Short measurements: these tests are about what reaches the disk, not about the numbers. */
#define FAST "--min-time", "0.02", "--max-time", "0.1", "--warmup", "0.01", "--min-samples", "3"

/* Start accelbench with argv (NULL-terminated, without the program), stderr to DIR/NAME.err;
 * fsize_limit > 0 caps the size of every file it writes. */
static pid_t spawn(const char *const *args, const char *name, long fsize_limit)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    char errpath[4400];
    snprintf(errpath, sizeof errpath, "%s/%s.err", dir, name);
    if (!freopen(errpath, "w", stderr))
        _exit(127);
    if (fsize_limit > 0) {
        struct rlimit rl = { .rlim_cur = (rlim_t)fsize_limit, .rlim_max = (rlim_t)fsize_limit };
        setrlimit(RLIMIT_FSIZE, &rl);
    }
    const char *argv[64] = { exe };
    int n = 1;
    while (args[n - 1] && n < 63) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    execv(exe, (char *const *)argv);
    _exit(127);
}

static int wait_exit(pid_t pid)
{
    int ws;
    if (waitpid(pid, &ws, 0) != pid)
        return -1;
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : -1;
}

static char *slurp(const char *name)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = NULL;
    if (ab_read_file(path, &text, NULL, NULL) != AB_OK)
        return strdup("");
    return text;
}

static int count_lines(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    if (ab_read_file(path, &text, &len, NULL) != AB_OK)
        return -1;
    int n = 0;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    free(text);
    return n;
}

/* Wait until path has at least `lines` complete lines (or give up after limit_s). */
static bool wait_lines(const char *path, int lines, double limit_s)
{
    double t0 = ab_now_s();
    while (ab_now_s() - t0 < limit_s) {
        if (count_lines(path) >= lines)
            return true;
        usleep(20000);
    }
    return false;
}

static void sigkill_mid_case_keeps_rows_and_resume_completes(void **state)
{
    char out[4400], csv[4500];
    snprintf(out, sizeof out, "%s/kill", dir);
    snprintf(csv, sizeof csv, "%s/results.csv", out);
    const char *args[] = { "run", "-w",         "ceilings", "-d",
                           "cpu", "--quick",    "-a",       "kind=fma,gemm,stream",
                           "-a",  "dtype=fp32", FAST,       "-o",
                           out,   NULL };
    /* The third case (stream) hangs: the process is killed while it is in flight. */
    setenv("ACCELBENCH_TEST_FAULT", "ceilings@kind=stream:hang", 1);
    pid_t pid = spawn(args, "kill", 0);
    unsetenv("ACCELBENCH_TEST_FAULT");
    bool two_rows = wait_lines(csv, 3, 60);
    usleep(300000);
    kill(pid, SIGKILL);
    assert_int_equal(wait_exit(pid), 128 + SIGKILL);
    assert_true(two_rows);

    struct ab_result_set set = { 0 };
    struct ab_error e;
    char warn[256] = "";
    assert_int_equal(ab_csv_read(csv, &set, warn, sizeof warn, &e), AB_OK);
    assert_int_equal(set.n, 2);
    for (int64_t i = 0; i < set.n; i++) {
        assert_int_equal(set.rows[i].status, AB_OK);
        assert_true(set.rows[i].time_s.median > 0);
    }
    ab_result_set_free(&set);

    /* A row torn by a kill during its write: dropped by the reader, cut before appending. */
    FILE *f = fopen(csv, "a");
    assert_non_null(f);
    fputs("1,torn-run,host,2026-01-01T00:00:00Z,ceilings,cpu,CPU,cpu,kind=stream;dtype=fp32;n=0,o", f);
    fclose(f);
    assert_int_equal(ab_csv_read(csv, &set, warn, sizeof warn, &e), AB_OK);
    assert_int_equal(set.n, 2);
    assert_true(warn[0] != '\0');
    ab_result_set_free(&set);

    const char *resume[] = { "run", "-w",         "ceilings", "-d",
                             "cpu", "--quick",    "-a",       "kind=fma,gemm,stream",
                             "-a",  "dtype=fp32", FAST,       "-o",
                             out,   "--resume",   NULL };
    assert_int_equal(wait_exit(spawn(resume, "resume", 0)), 0);
    warn[0] = '\0';
    assert_int_equal(ab_csv_read(csv, &set, warn, sizeof warn, &e), AB_OK);
    assert_string_equal(warn, "");
    assert_int_equal(set.n, 3);
    for (int64_t i = 0; i < set.n; i++) {
        assert_int_equal(set.rows[i].status, AB_OK);
        char ki[700], kj[700];
        ab_result_key(&set.rows[i], ki, sizeof ki);
        for (int64_t j = i + 1; j < set.n; j++) {
            ab_result_key(&set.rows[j], kj, sizeof kj);
            assert_string_not_equal(ki, kj);
        }
    }
    assert_string_equal(set.rows[2].params, "kind=stream;dtype=fp32;n=0");
    ab_result_set_free(&set);
}

static void check_interrupted_run(const char *out, const char *err_name, int64_t want_rows)
{
    char csv[4500], rj[4500];
    snprintf(csv, sizeof csv, "%s/results.csv", out);
    snprintf(rj, sizeof rj, "%s/run.json", out);
    struct ab_result_set set = { 0 };
    struct ab_error e;
    char warn[256] = "";
    assert_int_equal(ab_csv_read(csv, &set, warn, sizeof warn, &e), AB_OK);
    assert_string_equal(warn, ""); /* closed cleanly: no torn line */
    assert_int_equal(set.n, want_rows);
    assert_int_equal(set.rows[set.n - 1].status, AB_EINTR);
    assert_non_null(strstr(set.rows[set.n - 1].message, "interrupted"));
    ab_result_set_free(&set);
    int v = 0;
    assert_int_equal(ab_json_read_run(rj, &v, &e), AB_OK);
    char *text = slurp(err_name);
    assert_non_null(strstr(text, "interrupted"));
    free(text);
}

static void sigint_records_an_interrupted_row_and_exits_130(void **state)
{
    char out[4400], csv[4500];
    snprintf(out, sizeof out, "%s/int", dir);
    snprintf(csv, sizeof csv, "%s/results.csv", out);
    /* A case that measures for 30 s, interrupted after its first second. */
    const char *args[] = { "run",
                           "-w",
                           "ceilings",
                           "-d",
                           "cpu",
                           "-a",
                           "kind=fma",
                           "-a",
                           "dtype=fp32,bf16",
                           "--min-time",
                           "30",
                           "--max-time",
                           "30",
                           "--target-rel-ci",
                           "1e-9",
                           "-o",
                           out,
                           NULL };
    pid_t pid = spawn(args, "int", 0);
    sleep(1);
    double t0 = ab_now_s();
    kill(pid, SIGINT);
    assert_int_equal(wait_exit(pid), 130);
    assert_true(ab_now_s() - t0 < 5);
    check_interrupted_run(out, "int.err", 1);

    /* A case stuck in a call that never returns is given up 2 s after the signal. */
    snprintf(out, sizeof out, "%s/int-hang", dir);
    snprintf(csv, sizeof csv, "%s/results.csv", out);
    const char *hang[] = { "run", "-w",         "ceilings", "-d", "cpu", "--quick", "-a", "kind=fma,stream",
                           "-a",  "dtype=fp32", FAST,       "-o", out,   NULL };
    setenv("ACCELBENCH_TEST_FAULT", "ceilings@kind=stream:hang", 1);
    pid = spawn(hang, "int-hang", 0);
    unsetenv("ACCELBENCH_TEST_FAULT");
    assert_true(wait_lines(csv, 2, 60));
    usleep(300000);
    t0 = ab_now_s();
    kill(pid, SIGINT);
    assert_int_equal(wait_exit(pid), 130);
    assert_true(ab_now_s() - t0 < 6);
    check_interrupted_run(out, "int-hang.err", 2);
}

/* SIGTERM (a scheduler ending a job) and SIGHUP (a closed terminal) stop the run as Ctrl-C does,
 * with an interrupted row, a finished run.json and the exit status 128 + the signal. */
static void sigterm_and_sighup_stop_cleanly_with_their_exit_status(void **state)
{
    const int sigs[] = { SIGTERM, SIGHUP };
    for (int k = 0; k < 2; k++) {
        char out[4400], name[32];
        snprintf(out, sizeof out, "%s/sig%d", dir, sigs[k]);
        snprintf(name, sizeof name, "sig%d", sigs[k]);
        const char *args[] = {
            "run",  "-w",         "ceilings",   "-d", "cpu",        "-a", "kind=fma",
            "-a",   "dtype=fp32", "--min-time", "30", "--max-time", "30", "--target-rel-ci",
            "1e-9", "-o",         out,          NULL
        };
        pid_t pid = spawn(args, name, 0);
        sleep(1);
        kill(pid, sigs[k]);
        assert_int_equal(wait_exit(pid), 128 + sigs[k]);
        char err_name[40];
        snprintf(err_name, sizeof err_name, "%s.err", name);
        check_interrupted_run(out, err_name, 1);
    }
}

static void output_folder_that_cannot_be_made_fails_before_any_case(void **state)
{
    char file[4400], out[4500];
    snprintf(file, sizeof file, "%s/plainfile", dir);
    assert_int_equal(test_write_file(file, "x\n"), 0);
    snprintf(out, sizeof out, "%s/sub", file);
    const char *args[] = { "run", "-w", "ceilings", "-d", "cpu", "--quick", FAST, "-o", out, NULL };
    int rc = wait_exit(spawn(args, "nodir", 0));
    assert_true(rc == 1 || rc == 2);
    char *text = slurp("nodir.err");
    assert_non_null(strstr(text, "plainfile"));
    assert_null(strstr(text, "[1/")); /* no case ran */
    free(text);

    if (geteuid() != 0) { /* root writes anywhere: the permission check means nothing there */
        char ro[4400];
        snprintf(ro, sizeof ro, "%s/readonly", dir);
        assert_int_equal(mkdir(ro, 0555), 0);
        const char *args2[] = { "run", "-w", "ceilings", "-d", "cpu", "--quick", FAST, "-o", ro, NULL };
        rc = wait_exit(spawn(args2, "ro", 0));
        assert_true(rc == 1 || rc == 2);
        text = slurp("ro.err");
        assert_non_null(strstr(text, "readonly"));
        free(text);
    }
}

static void file_size_limit_stops_the_run_and_keeps_whole_rows(void **state)
{
    char out[4400], csv[4500];
    snprintf(out, sizeof out, "%s/full", dir);
    snprintf(csv, sizeof csv, "%s/results.csv", out);
    /* Room for run.json and a few rows, not for twelve cases (as a full disk would do). */
    const char *args[] = { "run", "-w",        "ceilings", "-d",         "cpu", "--quick",
                           "-a",  "kind=gemm", "-a",       "dtype=fp32", "-a",  "n=16:192:+16",
                           FAST,  "-o",        out,        NULL };
    int rc = wait_exit(spawn(args, "full", 2500));
    assert_int_equal(rc, 1);
    char *text = slurp("full.err");
    assert_true(strstr(text, "write failed") || strstr(text, "too large"));
    free(text);
    struct ab_result_set set = { 0 };
    struct ab_error e;
    char warn[256] = "";
    assert_int_equal(ab_csv_read(csv, &set, warn, sizeof warn, &e), AB_OK);
    assert_string_equal(warn, ""); /* the row cut short was taken back */
    assert_true(set.n >= 1 && set.n < 12);
    for (int64_t i = 0; i < set.n; i++)
        assert_int_equal(set.rows[i].status, AB_OK);
    ab_result_set_free(&set);
}

static void results_of_another_schema_version_are_refused_before_any_case(void **state)
{
    char out[4400], csv[4500];
    snprintf(out, sizeof out, "%s/v2", dir);
    snprintf(csv, sizeof csv, "%s/results.csv", out);
    assert_int_equal(ab_mkdirs(out, NULL), AB_OK);
    /* Our header plus a column: what a later schema could look like. */
    char header[8192] = "";
    for (const char *const *c = ab_csv_columns(); *c; c++) {
        strcat(header, *c);
        strcat(header, ",");
    }
    strcat(header, "joules_per_widget\n");
    assert_int_equal(test_write_file(csv, header), 0);
    const char *args[] = {
        "run", "-w", "ceilings", "-d", "cpu", "--quick", FAST, "-o", out, "--resume", NULL
    };
    int rc = wait_exit(spawn(args, "v2", 0));
    assert_true(rc == 1 || rc == 2);
    char *text = slurp("v2.err");
    assert_non_null(strstr(text, "schema"));
    assert_null(strstr(text, "[1/"));
    free(text);
    text = NULL;
    assert_int_equal(ab_read_file(csv, &text, NULL, NULL), AB_OK);
    assert_string_equal(text, header); /* untouched */
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sigkill_mid_case_keeps_rows_and_resume_completes),
        cmocka_unit_test(sigint_records_an_interrupted_row_and_exits_130),
        cmocka_unit_test(sigterm_and_sighup_stop_cleanly_with_their_exit_status),
        cmocka_unit_test(output_folder_that_cannot_be_made_fails_before_any_case),
        cmocka_unit_test(file_size_limit_stops_the_run_and_keeps_whole_rows),
        cmocka_unit_test(results_of_another_schema_version_are_refused_before_any_case),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
