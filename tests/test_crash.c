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

#include <cjson/cJSON.h>

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

/* Short measurements: these tests are about what reaches the disk, not about the numbers. */
#define FAST "--min-time", "0.02", "--max-time", "0.1", "--warmup", "0.01", "--min-samples", "3"
/* The two-case run (fma, then stream) that the interrupt and resume tests start from. */
#define FMA_STREAM_RUN                                                                                       \
    "run", "-w", "ceilings", "-d", "cpu", "--quick", "-a", "kind=fma,stream", "-a", "dtype=fp32", FAST

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
    const char *hang[] = { FMA_STREAM_RUN, "-o", out, NULL };
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

/* ---------------------------------------------------------------- resume: one run, one identity */

/* Run accelbench to its end; its stderr goes to DIR/NAME.err. */
static int run_args(const char *const *args, const char *name)
{
    return wait_exit(spawn(args, name, 0));
}

static bool err_has(const char *name, const char *text)
{
    char file[128];
    snprintf(file, sizeof file, "%s.err", name);
    char *t = slurp(file);
    bool has = strstr(t, text) != NULL;
    if (!has)
        print_message("%s.err does not contain \"%s\":\n%s\n", name, text, t);
    free(t);
    return has;
}

/* The rows of a folder as compare and plot read them: the latest of each case. */
static int latest_cases(const char *out, int64_t *n_rows, int *n_ok)
{
    struct ab_result_set set = { 0 };
    struct ab_error e;
    const char *paths[] = { out };
    assert_int_equal(ab_results_load(paths, 1, &set, NULL, 0, &e), AB_OK);
    int n = 0;
    const struct ab_result **lt = ab_results_latest(&set, &n);
    assert_non_null(lt);
    *n_ok = 0;
    for (int i = 0; i < n; i++) {
        *n_ok += lt[i]->status == AB_OK;
        if (lt[i]->status == AB_OK) /* every ok row found its samples */
            assert_true(lt[i]->n_samples > 0);
    }
    *n_rows = set.n;
    free(lt);
    ab_result_set_free(&set);
    return n;
}

static cJSON *read_json(const char *path)
{
    char *text = NULL;
    assert_int_equal(ab_read_file(path, &text, NULL, NULL), AB_OK);
    cJSON *o = cJSON_Parse(text);
    free(text);
    assert_non_null(o);
    return o;
}

static void write_json(const char *path, const cJSON *o)
{
    char *text = cJSON_Print(o);
    assert_int_equal(test_write_file(path, text), 0);
    free(text);
}

/* Keep the first `keep` lines of a file. */
static void keep_lines(const char *path, int keep)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(ab_read_file(path, &text, &len, NULL), AB_OK);
    size_t at = 0;
    for (int n = 0; at < len && n < keep; at++)
        n += text[at] == '\n';
    text[at] = '\0';
    assert_int_equal(test_write_file(path, text), 0);
    free(text);
}

/* Ctrl-C in a case, then a plain --resume: the interrupted case runs again and its new row
 * replaces the `interrupted` one for readers (the CSV keeps both: append-only); plot and compare
 * say they left the earlier row out. run.json keeps both invocations and the run's identity. */
static void sigint_then_resume_leaves_one_row_per_case(void **state)
{
    char out[4400], csv[4500], rj[4500];
    snprintf(out, sizeof out, "%s/int-resume", dir);
    snprintf(csv, sizeof csv, "%s/results.csv", out);
    snprintf(rj, sizeof rj, "%s/run.json", out);
    const char *args[] = { FMA_STREAM_RUN, "-o", out, NULL };
    setenv("ACCELBENCH_TEST_FAULT", "ceilings@kind=stream:hang", 1);
    pid_t pid = spawn(args, "intres", 0);
    unsetenv("ACCELBENCH_TEST_FAULT");
    assert_true(wait_lines(csv, 2, 60));
    usleep(300000);
    kill(pid, SIGINT);
    assert_int_equal(wait_exit(pid), 130);
    int64_t n_rows;
    int n_ok;
    assert_int_equal(latest_cases(out, &n_rows, &n_ok), 2);
    assert_int_equal(n_ok, 1);

    const char *resume[] = { "run", "-o", out, "--resume", NULL };
    assert_int_equal(run_args(resume, "intres2"), 0);
    assert_true(err_has("intres2", "[2/2] ceilings cpu kind=stream")); /* only the missing case ran */
    assert_false(err_has("intres2", "[1/2]"));
    assert_int_equal(latest_cases(out, &n_rows, &n_ok), 2);
    assert_int_equal(n_rows, 3); /* fma ok, stream interrupted, stream ok */
    assert_int_equal(n_ok, 2);

    /* One identity: every row and samples line carries run.json's run_id; two invocations. */
    cJSON *rjo = read_json(rj);
    const char *run_id = cJSON_GetObjectItem(rjo, "run_id")->valuestring;
    struct ab_result_set set = { 0 };
    struct ab_error e;
    assert_int_equal(ab_csv_read(csv, &set, NULL, 0, &e), AB_OK);
    for (int64_t i = 0; i < set.n; i++)
        assert_string_equal(set.rows[i].run_id, run_id);
    ab_result_set_free(&set);
    char jl[4500];
    snprintf(jl, sizeof jl, "%s/samples.jsonl", out);
    char *text = NULL;
    assert_int_equal(ab_read_file(jl, &text, NULL, NULL), AB_OK);
    int n_lines = 0;
    for (char *p = text; (p = strstr(p, "\"run_id\":\"")); p++) {
        assert_int_equal(strncmp(p + 10, run_id, strlen(run_id)), 0);
        n_lines++;
    }
    assert_int_equal(n_lines, 3);
    free(text);
    const cJSON *inv = cJSON_GetObjectItem(rjo, "invocations");
    assert_int_equal(cJSON_GetArraySize(inv), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(inv, 0), "kind")->valuestring, "start");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(inv, 1), "kind")->valuestring, "resume");
    assert_non_null(
        strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(inv, 1), "command_line")->valuestring, "--resume"));
    assert_null(strstr(cJSON_GetObjectItem(rjo, "command_line")->valuestring, "--resume")); /* first start */
    cJSON_Delete(rjo);

    /* Readers: compare and plot take the latest row of each case and say so. */
    const char *cmp[] = { "compare", out, out, NULL };
    run_args(cmp, "intres-cmp");
    assert_true(err_has("intres-cmp", "1 earlier row of repeated cases left out"));
    char figs[4500];
    snprintf(figs, sizeof figs, "%s/figs", out);
    const char *plot[] = { "plot", out, "-o", figs, "--format", "svg", NULL };
    if (run_args(plot, "intres-plot") == 0)
        assert_true(err_has("intres-plot", "1 earlier row of repeated cases left out"));
}

/* A quick run of one workload with a row lost: a plain --resume runs that run's missing case
 * only, with its own options; options given that differ are refused naming the difference;
 * --extend adds cases on purpose. */
static void resume_runs_only_the_original_selection(void **state)
{
    char out[4400], csv[4500], rj[4500];
    snprintf(out, sizeof out, "%s/sel", dir);
    snprintf(csv, sizeof csv, "%s/results.csv", out);
    snprintf(rj, sizeof rj, "%s/run.json", out);
    const char *args[] = { FMA_STREAM_RUN, "-o", out, NULL };
    assert_int_equal(run_args(args, "sel"), 0);
    keep_lines(csv, 2); /* the header and the fma row */
    const char *resume[] = { "run", "-o", out, "--resume", NULL };
    assert_int_equal(run_args(resume, "sel2"), 0);
    assert_true(err_has("sel2", "1 cases:"));
    assert_true(err_has("sel2", "[2/2] ceilings cpu kind=stream;dtype=fp32"));
    int64_t n_rows;
    int n_ok;
    assert_int_equal(latest_cases(out, &n_rows, &n_ok), 2);
    assert_int_equal(n_rows, 2);
    /* Nothing missing: nothing runs. */
    assert_int_equal(run_args(resume, "sel3"), 0);
    assert_true(err_has("sel3", "0 cases:"));

    const char *other_wl[] = { "run", "-o", out, "--resume", "-w", "fp8_gemm", NULL };
    assert_int_equal(run_args(other_wl, "sel-w"), 2);
    assert_true(err_has("sel-w", "-w fp8_gemm (the run has ceilings)"));
    assert_true(err_has("sel-w", "--extend"));
    const char *other_time[] = { "run", "-o", out, "--resume", "--min-time", "1", NULL };
    assert_int_equal(run_args(other_time, "sel-t"), 2);
    assert_true(err_has("sel-t", "--min-time 1 (the run has 0.02)"));
    const char *other_suite[] = { "run", "-o", out, "--resume", "--full", NULL };
    assert_int_equal(run_args(other_suite, "sel-s"), 2);
    assert_true(err_has("sel-s", "suite full (the run has quick)"));
    /* --extend changes the cases, never how they are measured. */
    const char *ext_time[] = { "run", "-o", out, "--resume", "--extend", "--max-time", "5", NULL };
    assert_int_equal(run_args(ext_time, "sel-et"), 2);
    assert_true(err_has("sel-et", "--max-time 5 (the run has 0.1)"));
    assert_int_equal(latest_cases(out, &n_rows, &n_ok), 2);
    assert_int_equal(n_rows, 2); /* nothing ran */

    const char *extend[] = {
        "run", "-o", out, "--resume", "--extend", "-a", "kind=fma,stream", "-a", "dtype=fp32,bf16", NULL
    };
    assert_int_equal(run_args(extend, "sel-e"), 0);
    assert_int_equal(latest_cases(out, &n_rows, &n_ok),
                     3); /* fma bf16 added (skipped here); stream is fp32 only */
    cJSON *rjo = read_json(rj);
    const cJSON *inv = cJSON_GetObjectItem(rjo, "invocations");
    assert_int_equal(cJSON_GetArraySize(inv), 4);
    const cJSON *last = cJSON_GetArrayItem(inv, 3);
    assert_string_equal(cJSON_GetObjectItem(last, "kind")->valuestring, "extend");
    const cJSON *axes = cJSON_GetObjectItem(cJSON_GetObjectItem(last, "selection"), "axes");
    assert_string_equal(cJSON_GetArrayItem(axes, 1)->valuestring, "dtype=fp32,bf16");
    /* The first start's selection stays at the top level, with the run's seed. */
    axes = cJSON_GetObjectItem(cJSON_GetObjectItem(rjo, "selection"), "axes");
    assert_string_equal(cJSON_GetArrayItem(axes, 1)->valuestring, "dtype=fp32");
    assert_true(cJSON_GetObjectItem(rjo, "seed")->valuedouble >= 1);
    assert_double_equal(cJSON_GetObjectItem(rjo, "seed")->valuedouble,
                        cJSON_GetObjectItem(last, "seed")->valuedouble, 0);
    cJSON_Delete(rjo);
}

/* A folder of another host is refused (its ceilings would be used here) unless asked for. */
static void resume_of_another_hosts_folder_is_refused_unless_asked(void **state)
{
    char out[4400], rj[4500];
    snprintf(out, sizeof out, "%s/host", dir);
    snprintf(rj, sizeof rj, "%s/run.json", out);
    const char *args[] = { "run",      "-w", "ceilings",   "-d", "cpu", "--quick", "-a",
                           "kind=fma", "-a", "dtype=fp32", FAST, "-o",  out,       NULL };
    assert_int_equal(run_args(args, "host"), 0);
    cJSON *rjo = read_json(rj);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(rjo, "host"), "name", cJSON_CreateString("gpu-node-17"));
    write_json(rj, rjo);
    cJSON_Delete(rjo);
    const char *resume[] = { "run", "-o", out, "--resume", NULL };
    assert_int_equal(run_args(resume, "host2"), 2);
    assert_true(err_has("host2", "was run on host gpu-node-17"));
    assert_true(err_has("host2", "--other-host"));
    const char *other[] = { "run", "-o", out, "--resume", "--other-host", NULL };
    assert_int_equal(run_args(other, "host3"), 0);
    const char *stray[] = { "run", "-o", out, "--other-host", NULL };
    assert_int_equal(run_args(stray, "host4"), 2);
    assert_true(err_has("host4", "--resume"));
}

/* Two processes on one folder: the second stops at once, naming the first's pid, whether it
 * starts a run or resumes one. */
static void second_process_on_a_folder_stops_naming_the_first(void **state)
{
    char out[4400], rj[4500];
    snprintf(out, sizeof out, "%s/lock", dir);
    snprintf(rj, sizeof rj, "%s/run.json", out);
    const char *args[] = { "run",  "-w",         "ceilings",   "-d", "cpu",        "-a", "kind=fma",
                           "-a",   "dtype=fp32", "--min-time", "30", "--max-time", "30", "--target-rel-ci",
                           "1e-9", "-o",         out,          NULL };
    pid_t first = spawn(args, "lock1", 0);
    double t0 = ab_now_s();
    while (access(rj, F_OK) != 0 && ab_now_s() - t0 < 60)
        usleep(20000);
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "(pid %ld)", (long)first);
    const char *fresh[] = { "run", "-w", "ceilings", "-d", "cpu", "--quick", FAST, "-o", out, NULL };
    assert_int_equal(run_args(fresh, "lock2"), 2);
    assert_true(err_has("lock2", pid_text));
    assert_true(err_has("lock2", "in use by another accelbench run"));
    const char *resume[] = { "run", "-o", out, "--resume", NULL };
    assert_int_equal(run_args(resume, "lock3"), 2);
    assert_true(err_has("lock3", pid_text));
    kill(first, SIGINT);
    assert_int_equal(wait_exit(first), 130);
    check_interrupted_run(out, "lock1.err", 1); /* the second touched nothing */
}

/* The row and its samples line are one commit: a row whose samples line is missing is run
 * again on --resume; a samples.jsonl the readers reject is refused with their message. */
static void row_without_its_samples_line_is_run_again(void **state)
{
    char out[4400], csv[4500], jl[4500];
    snprintf(out, sizeof out, "%s/pair", dir);
    snprintf(csv, sizeof csv, "%s/results.csv", out);
    snprintf(jl, sizeof jl, "%s/samples.jsonl", out);
    const char *args[] = { FMA_STREAM_RUN, "-o", out, NULL };
    assert_int_equal(run_args(args, "pair"), 0);
    keep_lines(jl, 1); /* the stream case's line is lost, its row kept */
    const char *resume[] = { "run", "-o", out, "--resume", NULL };
    assert_int_equal(run_args(resume, "pair2"), 0);
    assert_true(err_has("pair2", "1 row of"));
    assert_true(err_has("pair2", "has no line in samples.jsonl"));
    assert_true(err_has("pair2", "[2/2] ceilings cpu kind=stream"));
    int64_t n_rows;
    int n_ok;
    assert_int_equal(latest_cases(out, &n_rows, &n_ok), 2);
    assert_int_equal(n_rows, 3);
    assert_int_equal(n_ok, 2); /* and each latest row has its samples (latest_cases) */
    assert_int_equal(count_lines(jl), 2);

    /* A line the readers reject: --resume refuses with their message, appending nothing. */
    FILE *f = fopen(jl, "a");
    assert_non_null(f);
    fputs("{\"schema_version\":1,\"workload\":\"ceilings\"}\n", f);
    fclose(f);
    assert_int_equal(run_args(resume, "pair3"), 2);
    assert_true(err_has("pair3", "samples.jsonl:3: field \"device\""));
    assert_int_equal(count_lines(csv), 4);
    assert_int_equal(count_lines(jl), 3);
}

/* A folder written before run.json kept its selection: resumed as before, with a warning, and
 * its run.json gains the list of invocations (the old start first) keeping its run_id. */
static void old_run_json_without_a_selection_resumes_as_before(void **state)
{
    char out[4400], rj[4500];
    snprintf(out, sizeof out, "%s/old", dir);
    snprintf(rj, sizeof rj, "%s/run.json", out);
    const char *args[] = { "run",      "-w", "ceilings",   "-d", "cpu", "--quick", "-a",
                           "kind=fma", "-a", "dtype=fp32", FAST, "-o",  out,       NULL };
    assert_int_equal(run_args(args, "old"), 0);
    cJSON *rjo = read_json(rj);
    cJSON_DeleteItemFromObject(rjo, "selection");
    cJSON_DeleteItemFromObject(rjo, "invocations");
    cJSON_DeleteItemFromObject(rjo, "seed");
    cJSON_ReplaceItemInObject(rjo, "run_id", cJSON_CreateString("2025-01-01T00:00:00Z-0000beef"));
    write_json(rj, rjo);
    cJSON_Delete(rjo);
    const char *resume[] = { "run", "-o",      out,  "--resume",        "-w", "ceilings",   "-d",
                             "cpu", "--quick", "-a", "kind=fma,stream", "-a", "dtype=fp32", FAST,
                             NULL };
    assert_int_equal(run_args(resume, "old2"), 0);
    assert_true(err_has("old2", "records no selection"));
    assert_true(err_has("old2", "1 cases:"));
    rjo = read_json(rj);
    assert_string_equal(cJSON_GetObjectItem(rjo, "run_id")->valuestring, "2025-01-01T00:00:00Z-0000beef");
    const cJSON *inv = cJSON_GetObjectItem(rjo, "invocations");
    assert_int_equal(cJSON_GetArraySize(inv), 2);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(inv, 0), "kind")->valuestring, "start");
    assert_null(cJSON_GetObjectItem(cJSON_GetArrayItem(inv, 0), "selection"));
    assert_non_null(cJSON_GetObjectItem(cJSON_GetArrayItem(inv, 1), "selection"));
    cJSON_Delete(rjo);
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
        cmocka_unit_test(sigint_then_resume_leaves_one_row_per_case),
        cmocka_unit_test(resume_runs_only_the_original_selection),
        cmocka_unit_test(resume_of_another_hosts_folder_is_refused_unless_asked),
        cmocka_unit_test(second_process_on_a_folder_stops_naming_the_first),
        cmocka_unit_test(row_without_its_samples_line_is_run_again),
        cmocka_unit_test(old_run_json_without_a_selection_resumes_as_before),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
