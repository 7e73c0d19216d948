/* test_cluster.c — the real binary as ranks of a launched job: ranks simulated by setting Open
 * MPI's variables (every build) and merged into one set; a rank missing or unfinished marked
 * so with exit 1; merge's bad input; and with Open MPI's mpirun where it is installed and the
 * build has MPI: two ranks measuring ping-pong and collectives, and a rank killed mid-run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accelbench.h"
#include "config.h"
#include "test_util.h"

static char *dir;
static const char *exe;

static int setup(void **state)
{
    /* the test itself may run under a launcher (CI under srun): its ranks are not ours */
    unsetenv("SLURM_PROCID");
    unsetenv("OMPI_COMM_WORLD_RANK");
    unsetenv("PMI_RANK");
    return test_exe_setup(&exe, &dir);
}
static int teardown(void **state)
{
    test_exe_teardown(&dir);
    return 0;
}

/* Run `sh -c CMD` with EXE set to the binary; stderr into err; the exit status. */
static int sh(const char *cmd, char *err, size_t errlen)
{
    char full[12288];
    snprintf(full, sizeof full, "export EXE='%s' D='%s'; %s", exe, dir, cmd);
    return test_shell(dir, full, NULL, 0, err, errlen);
}

/* A rank of a simulated Open MPI job of `size` ranks in namespace ns. */
static int sim_rank(const char *out, int rank, int size, const char *ns, const char *extra, char *err,
                    size_t errlen)
{
    char cmd[8192];
    snprintf(
        cmd, sizeof cmd,
        "OMPI_COMM_WORLD_RANK=%d OMPI_COMM_WORLD_SIZE=%d OMPI_COMM_WORLD_LOCAL_RANK=%d PMIX_NAMESPACE=%s "
        "\"$EXE\" run -w interconnect -a op=memcpy -a bytes=4K %s --quick --no-ceilings --min-time 0.01 "
        "--max-time 0.2 -o \"$D/%s\"",
        rank, size, rank, ns, extra ? extra : "", out);
    return sh(cmd, err, errlen);
}

static void load(const char *path, struct ab_result_set *set)
{
    struct ab_error e;
    memset(set, 0, sizeof *set);
    assert_int_equal(ab_csv_read(path, set, NULL, 0, &e), AB_OK);
}

static const struct ab_result *row_of(const struct ab_result_set *s, const char *params, int rank)
{
    for (int64_t i = 0; i < s->n; i++)
        if (!strcmp(s->rows[i].params, params) && ab_result_metric(&s->rows[i], "rank") == rank)
            return &s->rows[i];
    return NULL;
}

static void simulated_ranks_merge_into_one_set_with_rank_and_host(void **state)
{
    char err[4096], path[4400];
    assert_int_equal(sim_rank("sim", 0, 2, "job77", NULL, err, sizeof err), 0);
    assert_int_equal(sim_rank("sim", 1, 2, "job77", NULL, err, sizeof err), 0);
    /* no GPU here: both ranks take the cpu, and each says it is shared */
    assert_non_null(strstr(err, "shares"));
    struct ab_sysinfo si;
    ab_sysinfo_collect(&si);
    char host[64];
    snprintf(host, sizeof host, "%s", si.host);
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            *p = '_';
    snprintf(path, sizeof path, "%s/sim/rank-1-%s/results.csv", dir, host);
    assert_int_equal(access(path, R_OK), 0);
    snprintf(path, sizeof path, "merge '%s/sim'", dir);
    char cmd[4500];
    snprintf(cmd, sizeof cmd, "\"$EXE\" %s", path);
    assert_int_equal(sh(cmd, err, sizeof err), 0);
    assert_non_null(strstr(err, "merged 2 of 2 ranks"));
    struct ab_result_set m;
    snprintf(path, sizeof path, "%s/sim/merged/results.csv", dir);
    load(path, &m);
    assert_int_equal(m.n, 2);
    for (int r = 0; r < 2; r++) {
        const struct ab_result *x = row_of(&m, "op=memcpy;bytes=4096", r);
        assert_non_null(x);
        assert_int_equal(x->status, AB_OK);
        assert_string_equal(x->run_id, "openmpi-job77"); /* one run_id, from the job */
        assert_string_equal(x->host, si.host);
        assert_double_equal(ab_result_metric(x, "world_size"), 2, 0);
        assert_true(x->byte_per_s > 0);
    }
    /* compare and plot keep the ranks apart */
    char k0[1024], k1[1024];
    ab_results_case_key(&m.rows[0], k0, sizeof k0);
    ab_results_case_key(&m.rows[1], k1, sizeof k1);
    assert_string_not_equal(k0, k1);
    ab_result_set_free(&m);
    snprintf(path, sizeof path, "%s/sim/merged/ranks.json", dir);
    char *text = NULL;
    assert_int_equal(ab_read_file(path, &text, NULL, NULL), AB_OK);
    assert_non_null(strstr(text, "\"finished\""));
    free(text);
    /* a second merge replaces its output instead of appending to it */
    assert_int_equal(sh(cmd, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/sim/merged/results.csv", dir);
    load(path, &m);
    assert_int_equal(m.n, 2);
    ab_result_set_free(&m);
}

static void a_missing_or_unfinished_rank_is_marked_and_exits_1(void **state)
{
    char err[4096], cmd[4500], path[4400];
    /* a job of three ranks of which rank 2 never ran */
    assert_int_equal(sim_rank("gap", 0, 3, "job78", NULL, err, sizeof err), 0);
    assert_int_equal(sim_rank("gap", 1, 3, "job78", NULL, err, sizeof err), 0);
    snprintf(cmd, sizeof cmd, "\"$EXE\" merge \"$D/gap\" -o \"$D/gap-merged\"");
    assert_int_equal(sh(cmd, err, sizeof err), 1);
    assert_non_null(strstr(err, "rank 2 wrote no folder"));
    struct ab_result_set m;
    snprintf(path, sizeof path, "%s/gap-merged/results.csv", dir);
    load(path, &m);
    assert_int_equal(m.n, 3);
    const struct ab_result *x = row_of(&m, "op=memcpy;bytes=4096", 2);
    assert_non_null(x);
    assert_int_equal(x->status, AB_EFAIL);
    assert_true(!strncmp(x->message, "missing: rank 2", 15));
    assert_string_equal(x->device, "cpu");
    assert_string_equal(x->run_id, "openmpi-job78");
    ab_result_set_free(&m);
    /* rank 1 stopped before its run.json was finished: its rows stay, the rank is reported */
    snprintf(cmd, sizeof cmd, "rm \"$D\"/gap/rank-1-*/run.json && \"$EXE\" merge \"$D/gap\"");
    assert_int_equal(sh(cmd, err, sizeof err), 1);
    assert_non_null(strstr(err, "rank 1"));
    assert_non_null(strstr(err, "no readable run.json"));
    snprintf(path, sizeof path, "%s/gap/merged/results.csv", dir);
    load(path, &m);
    x = row_of(&m, "op=memcpy;bytes=4096", 1);
    assert_non_null(x);
    assert_int_equal(x->status, AB_OK);
    ab_result_set_free(&m);
}

static void merge_refuses_bad_input_with_exit_2(void **state)
{
    char err[4096], cmd[4500];
    snprintf(cmd, sizeof cmd, "\"$EXE\" merge \"$D/nothing-here\"");
    assert_int_equal(sh(cmd, err, sizeof err), 2);
    assert_non_null(strstr(err, "nothing-here"));
    snprintf(cmd, sizeof cmd, "mkdir -p \"$D/plain/sub\" && \"$EXE\" merge \"$D/plain\"");
    assert_int_equal(sh(cmd, err, sizeof err), 2);
    assert_non_null(strstr(err, "no rank-<rank>-<host> folders"));
    assert_int_equal(sh("\"$EXE\" merge", err, sizeof err), 2);
    assert_int_equal(sh("\"$EXE\" merge \"$D\" --frobnicate", err, sizeof err), 2);
    assert_non_null(strstr(err, "--frobnicate"));
    /* two jobs' ranks in one folder */
    assert_int_equal(sim_rank("two", 0, 2, "jobA", NULL, err, sizeof err), 0);
    assert_int_equal(sim_rank("two", 1, 2, "jobB", NULL, err, sizeof err), 0);
    assert_int_equal(sh("\"$EXE\" merge \"$D/two\"", err, sizeof err), 2);
    assert_non_null(strstr(err, "two runs in one folder"));
    assert_int_equal(sh("\"$EXE\" merge --help", err, sizeof err), 0);
    /* a launcher with a bad rank, and a run id no folder or CSV could hold */
    assert_int_equal(
        sh("OMPI_COMM_WORLD_RANK=2 OMPI_COMM_WORLD_SIZE=2 \"$EXE\" run -w interconnect -o \"$D/x\"", err,
           sizeof err),
        2);
    assert_non_null(strstr(err, "OMPI_COMM_WORLD_SIZE=2"));
    assert_int_equal(sh("\"$EXE\" run -w interconnect --run-id 'a b' -o \"$D/x\"", err, sizeof err), 2);
    assert_non_null(strstr(err, "--run-id"));
    assert_int_equal(sh("PMI_RANK=0 PMI_SIZE=2 \"$EXE\" run -w interconnect -o \"$D/x\"", err, sizeof err),
                     2);
    assert_non_null(strstr(err, "--run-id"));
}

static bool have_mpirun(void)
{
    return HAVE_MPI && system("command -v mpirun >/dev/null 2>&1") == 0;
}

/* Open MPI's components (dlopen'd, unloaded at MPI_Finalize) keep allocations LeakSanitizer
 * cannot attribute to a library, so the ranks under mpirun run without leak checking; the same
 * run and merge code is leak-checked by the simulated ranks above. */
#define MPIRUN                                                                                               \
    "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 mpirun --allow-run-as-root --oversubscribe " \
    "-n 2 "

static void mpirun_two_ranks_measure_pingpong_and_collectives(void **state)
{
    if (!have_mpirun()) {
        fprintf(stderr, "skipped: %s\n", HAVE_MPI ? "no mpirun in PATH" : "built without MPI (-Dmpi)");
        skip();
    }
    char err[8192], path[4400];
    int rc =
        sh(MPIRUN "\"$EXE\" run -w interconnect -d cpu --quick --no-ceilings -a bytes=4K --min-time 0.02 "
                  "--max-time 0.3 -q -o \"$D/mpi\"",
           err, sizeof err);
    if (rc != 0)
        fail_msg("mpirun exited %d: %s", rc, err);
    assert_int_equal(sh("\"$EXE\" merge \"$D/mpi\"", err, sizeof err), 0);
    struct ab_result_set m;
    snprintf(path, sizeof path, "%s/mpi/merged/results.csv", dir);
    load(path, &m);
    assert_int_equal(m.n, 12); /* 6 ops x 2 ranks */
    static const struct {
        const char *op;
        double busbw_factor, bytes;
    } want[] = { { "pingpong", 1, 8192 },
                 { "allreduce", 1, 4096 },
                 { "allgather", 0.5, 4096 },
                 { "alltoall", 0.5, 4096 },
                 { "reduce_scatter", 0.5, 4096 } };
    const char *run_id = m.rows[0].run_id;
    assert_true(!strncmp(run_id, "openmpi-", 8));
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char params[64];
        snprintf(params, sizeof params, "op=%s;bytes=4096", want[i].op);
        const struct ab_result *r0 = row_of(&m, params, 0), *r1 = row_of(&m, params, 1);
        assert_non_null(r0);
        assert_non_null(r1);
        if (r0->status != AB_OK)
            fail_msg("rank 0 %s: %s: %s", params, ab_status_word(r0->status), r0->message);
        assert_double_equal(r0->bytes, want[i].bytes, 0);
        assert_true(r0->byte_per_s > 0 && r0->time_s.median > 0);
        assert_double_equal(ab_result_metric(r0, "busbw_factor"), want[i].busbw_factor, 1e-12);
        assert_double_equal(ab_result_metric(r0, "ranks"), 2, 0);
        assert_double_equal(ab_result_metric(r0, "checked_elements"),
                            !strcmp(want[i].op, "reduce_scatter") ? 512 : 1024, 0);
        /* rank 1 served: its row says so, and that its received data were checked */
        assert_int_equal(r1->status, AB_EUNSUPPORTED);
        assert_non_null(strstr(r1->message, "served rank 0's measurement"));
        assert_non_null(strstr(r1->message, "verified"));
        assert_string_equal(r1->run_id, run_id);
    }
    const struct ab_result *c1 = row_of(&m, "op=memcpy;bytes=4096", 1);
    assert_non_null(c1);
    assert_int_equal(c1->status, AB_OK); /* each rank copies its own memory */
    ab_result_set_free(&m);
}

/* The ceiling `name` of the first device of a run.json (NULL when absent); *detail, *source. */
static cJSON *run_json_ceiling(cJSON *root, const char *name)
{
    cJSON *devs = cJSON_GetObjectItem(root, "devices"), *d0 = cJSON_GetArrayItem(devs, 0);
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(d0, "ceilings"))
    {
        cJSON *n = cJSON_GetObjectItem(c, "name");
        if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
            return c;
    }
    return NULL;
}

static cJSON *read_json(const char *path)
{
    char *text = NULL;
    assert_int_equal(ab_read_file(path, &text, NULL, NULL), AB_OK);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    return j;
}

/* net_bw is the best ping-pong sample over the sizes run, as the runner keeps it: a plausible
 * value beats a suspect one, then the higher wins; the rows are held against it; --ceilings reads
 * it back with what gave it. */
static void mpirun_pingpong_publishes_net_bw_in_run_json(void **state)
{
    if (!have_mpirun()) {
        fprintf(stderr, "skipped: %s\n", HAVE_MPI ? "no mpirun in PATH" : "built without MPI (-Dmpi)");
        skip();
    }
    char err[8192], path[4400];
    int rc = sh(MPIRUN "\"$EXE\" run -w interconnect -d cpu --quick --no-ceilings -a op=pingpong,memcpy "
                       "-a bytes=4K,64K,1M --min-time 0.02 --max-time 0.3 -q -o \"$D/nb\" && "
                       "cp \"$D\"/nb/rank-0-*/run.json \"$D/nb0.json\" && "
                       "cp \"$D\"/nb/rank-0-*/results.csv \"$D/nb0.csv\"",
                err, sizeof err);
    if (rc != 0)
        fail_msg("mpirun exited %d: %s", rc, err);
    struct ab_result_set m;
    snprintf(path, sizeof path, "%s/nb0.csv", dir);
    load(path, &m);
    const struct ab_result *best = NULL;
    bool best_suspect = true;
    int n_pp = 0;
    for (int64_t i = 0; i < m.n; i++) {
        const struct ab_result *r = &m.rows[i];
        if (strncmp(r->params, "op=pingpong", 11) != 0) {
            assert_string_equal(r->ceiling, ""); /* memcpy names none */
            continue;
        }
        if (r->status != AB_OK)
            fail_msg("%s: %s: %s", r->params, ab_status_word(r->status), r->message);
        n_pp++;
        assert_string_equal(r->ceiling, "net_bw");
        double own = ab_result_metric(r, "ceiling_best_rate");
        /* the best sample: one message over half the fastest round trip */
        assert_double_equal(own, r->bytes / r->time_s.min, own * 1e-6);
        assert_double_equal(r->fraction_of_ceiling, r->byte_per_s / r->ceiling_value, 1e-6);
        const char *d = ab_result_metric_text(r, "ceiling_detail");
        assert_non_null(d);
        assert_non_null(strstr(d, "pingpong "));
        assert_non_null(strstr(d, "ranks 0-1 of 2"));
        bool suspect = ab_result_metric(r, "ceiling_suspect") == 1;
        /* the best so far, this row's included; a suspect row's may be a lower plausible one */
        if (!suspect)
            assert_true(r->ceiling_value >= own * (1 - 1e-9));
        if (!best || (best_suspect && !suspect) ||
            (best_suspect == suspect && own > ab_result_metric(best, "ceiling_best_rate"))) {
            best = r;
            best_suspect = suspect;
        }
    }
    assert_int_equal(n_pp, 3);
    snprintf(path, sizeof path, "%s/nb0.json", dir);
    cJSON *rj = read_json(path);
    cJSON *nb = run_json_ceiling(rj, "net_bw");
    assert_non_null(nb);
    assert_double_equal(cJSON_GetObjectItem(nb, "value")->valuedouble,
                        ab_result_metric(best, "ceiling_best_rate"),
                        ab_result_metric(best, "ceiling_best_rate") * 1e-8);
    assert_string_equal(cJSON_GetObjectItem(nb, "unit")->valuestring, "B/s");
    assert_string_equal(cJSON_GetObjectItem(nb, "detail")->valuestring,
                        ab_result_metric_text(best, "ceiling_detail"));
    assert_null(run_json_ceiling(rj, "mem_bw")); /* --no-ceilings: none of the device's own */
    double net_bw = cJSON_GetObjectItem(nb, "value")->valuedouble;
    char detail[128];
    snprintf(detail, sizeof detail, "%s", ab_result_metric_text(best, "ceiling_detail"));
    cJSON_Delete(rj);
    ab_result_set_free(&m);

    /* read back by --ceilings: the value and what gave it, not a later row's */
    rc = sh("\"$EXE\" run -w interconnect -d cpu -a op=memcpy -a bytes=4K --quick --min-time 0.01 "
            "--max-time 0.1 -q --ceilings \"$D/nb0.csv\" -o \"$D/nbc\"",
            err, sizeof err);
    if (rc != 0)
        fail_msg("run --ceilings exited %d: %s", rc, err);
    snprintf(path, sizeof path, "%s/nbc/run.json", dir);
    rj = read_json(path);
    nb = run_json_ceiling(rj, "net_bw");
    assert_non_null(nb);
    assert_double_equal(cJSON_GetObjectItem(nb, "value")->valuedouble, net_bw, net_bw * 1e-8);
    assert_string_equal(cJSON_GetObjectItem(nb, "source")->valuestring, "file:nb0.csv");
    assert_string_equal(cJSON_GetObjectItem(nb, "detail")->valuestring, detail);
    cJSON_Delete(rj);
}

/* A ping-pong row of this machine's CPU: its own best rate `own` (NaN: none recorded), held
 * against `held` (the ceiling_value column), with the detail of its case; suspect: it failed the
 * plausibility check twice. */
static void pingpong_row(struct ab_reporter *rc, const struct ab_device *dev, int64_t bytes, double own,
                         double held, bool suspect)
{
    struct ab_error err;
    struct ab_result *r = calloc(1, sizeof *r);
    strcpy(r->run_id, "links");
    strcpy(r->host, "h");
    strcpy(r->started_utc, "2026-01-01T00:00:00Z");
    strcpy(r->workload, "interconnect");
    strcpy(r->device, dev->id);
    strcpy(r->device_name, dev->name);
    strcpy(r->backend, "cpu");
    snprintf(r->params, sizeof r->params, "op=pingpong;bytes=%lld", (long long)bytes);
    r->status = AB_OK;
    double t[3] = { 1e-3, 1e-3, 1e-3 };
    ab_stats_compute(t, 3, &r->time_s);
    strcpy(r->ceiling, "net_bw");
    r->ceiling_value = held;
    strcpy(r->ceiling_source, "measured");
    r->fraction_of_ceiling = 0.5;
    strcpy(r->power_source, "none");
    r->avg_power_w = r->energy_j = r->flop_per_j = r->token_per_j = r->byte_per_j = r->usd_per_hour = NAN;
    if (!isnan(own)) {
        strcpy(r->metrics[0].name, "ceiling_best_rate");
        r->metrics[0].value = own;
        strcpy(r->metrics[1].name, "ceiling_detail");
        snprintf(r->metrics[1].text, sizeof r->metrics[1].text, "pingpong %lld B, ranks 0-1 of 2",
                 (long long)bytes);
        r->n_metrics = 2;
        if (suspect) {
            strcpy(r->metrics[2].name, "ceiling_suspect");
            r->metrics[2].value = 1;
            r->n_metrics = 3;
        }
    }
    assert_int_equal(rc->row(rc->self, r, &err), AB_OK);
    free(r);
}

/* --ceilings takes a link ceiling from the row that gave it, as the run chose it (a plausible value
 * over a suspect one, then the higher): not from a later size held against it (its own best
 * lower), nor from a row that names it without a best of its own. */
static void ceilings_file_takes_net_bw_from_the_row_that_gave_it(void **state)
{
    struct ab_device devs[AB_MAX_DEVICES];
    struct ab_error why[AB_BACKEND_COUNT], e;
    int n = 0;
    ab_devices_discover(devs, AB_MAX_DEVICES, &n, why, NULL);
    assert_true(n >= 1);
    char csv[4400], err[8192], path[4400];
    snprintf(csv, sizeof csv, "%s/links.csv", dir);
    struct ab_reporter rc;
    assert_int_equal(ab_csv_reporter_open(csv, &rc, &e), AB_OK);
    pingpong_row(&rc, &devs[0], 4096, 6e9, 6e9, true); /* replaced by a plausible value, though lower */
    pingpong_row(&rc, &devs[0], 16384, 1e9, 1e9, false);
    pingpong_row(&rc, &devs[0], 1 << 20, 3e9, 3e9, false);
    pingpong_row(&rc, &devs[0], 2 << 20, 7e9, 3e9, true); /* suspect: the plausible one stayed */
    pingpong_row(&rc, &devs[0], 4 << 20, 2e9, 3e9, false);
    pingpong_row(&rc, &devs[0], 8 << 20, NAN, 5e9, false);
    rc.destroy(rc.self);
    int rc_ = sh("\"$EXE\" run -w interconnect -d cpu -a op=memcpy -a bytes=4K --quick --min-time 0.01 "
                 "--max-time 0.1 -q --ceilings \"$D/links.csv\" -o \"$D/lc\"",
                 err, sizeof err);
    if (rc_ != 0)
        fail_msg("run --ceilings exited %d: %s", rc_, err);
    snprintf(path, sizeof path, "%s/lc/run.json", dir);
    cJSON *rj = read_json(path);
    cJSON *nb = run_json_ceiling(rj, "net_bw");
    assert_non_null(nb);
    assert_double_equal(cJSON_GetObjectItem(nb, "value")->valuedouble, 3e9, 0);
    assert_string_equal(cJSON_GetObjectItem(nb, "detail")->valuestring, "pingpong 1048576 B, ranks 0-1 of 2");
    assert_string_equal(cJSON_GetObjectItem(nb, "source")->valuestring, "file:links.csv");
    cJSON_Delete(rj);
}

/* interconnect's ceilings are its own: with another workload the device ceilings are still
 * planned, and a run of another workload plans no interconnect case. */
static void link_ceilings_neither_replace_nor_add_device_ceilings(void **state)
{
    char out[16384], err[4096], cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' run --dry-run -w interconnect,attention_memory -d cpu --quick -o '%s/dr'",
             exe, dir);
    assert_int_equal(test_shell(dir, cmd, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "\n  ceilings "));
    assert_non_null(strstr(out, "\n  interconnect "));
    snprintf(cmd, sizeof cmd, "'%s' run --dry-run -w attention_memory -d cpu --quick -o '%s/dr'", exe, dir);
    assert_int_equal(test_shell(dir, cmd, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "\n  ceilings "));
    assert_null(strstr(out, "interconnect"));
    snprintf(cmd, sizeof cmd, "'%s' run --dry-run -w interconnect -d cpu --quick -o '%s/dr'", exe, dir);
    assert_int_equal(test_shell(dir, cmd, out, sizeof out, err, sizeof err), 0);
    assert_null(strstr(out, "\n  ceilings "));
}

static void mpirun_rank_killed_mid_run_is_marked_missing(void **state)
{
    if (!have_mpirun()) {
        fprintf(stderr, "skipped: %s\n", HAVE_MPI ? "no mpirun in PATH" : "built without MPI (-Dmpi)");
        skip();
    }
    char err[8192], path[4400];
    /* Rank 1 is killed (SIGKILL) once its first row is on disk; its shell then exits 0 so that
     * mpirun lets rank 0 finish. Only memcpy cases: no MPI traffic waits on the dead rank. */
    int rc = sh(MPIRUN "sh -c '"
                       "A=\"run -w interconnect -d cpu -a op=memcpy -a bytes=4K,8K,16K,32K,64K,128K --quick "
                       "--no-ceilings --min-time 0.05 --max-time 0.3 -q -o $D/kill\"; "
                       "if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then "
                       "ACCELBENCH_TEST_SLOWDOWN=interconnect=3 \"$EXE\" $A & p=$!; "
                       "while [ \"$(cat \"$D\"/kill/rank-1-*/results.csv 2>/dev/null | wc -l)\" -lt 2 ]; do "
                       "sleep 0.05; done; kill -9 $p; wait $p; exit 0; "
                       "else exec \"$EXE\" $A; fi'",
                err, sizeof err);
    if (rc != 0)
        fail_msg("mpirun exited %d: %s", rc, err);
    assert_int_equal(sh("\"$EXE\" merge \"$D/kill\"", err, sizeof err), 1);
    assert_non_null(strstr(err, "rank 1"));
    assert_non_null(strstr(err, "did not finish"));
    struct ab_result_set m;
    snprintf(path, sizeof path, "%s/kill/merged/results.csv", dir);
    load(path, &m);
    assert_int_equal(m.n, 12); /* rank 0's six cases, and six for rank 1, whether run or marked */
    int ok1 = 0, missing1 = 0;
    for (int64_t i = 0; i < m.n; i++) {
        const struct ab_result *r = &m.rows[i];
        if (ab_result_metric(r, "rank") == 0) {
            assert_int_equal(r->status, AB_OK);
        } else if (r->status == AB_OK) {
            ok1++;
        } else {
            assert_int_equal(r->status, AB_EFAIL);
            assert_non_null(strstr(r->message, "missing: rank 1"));
            missing1++;
        }
    }
    assert_true(ok1 >= 1);
    assert_true(missing1 >= 1);
    assert_int_equal(ok1 + missing1, 6);
    ab_result_set_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(simulated_ranks_merge_into_one_set_with_rank_and_host, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_missing_or_unfinished_rank_is_marked_and_exits_1, setup, teardown),
        cmocka_unit_test_setup_teardown(merge_refuses_bad_input_with_exit_2, setup, teardown),
        cmocka_unit_test_setup_teardown(mpirun_two_ranks_measure_pingpong_and_collectives, setup, teardown),
        cmocka_unit_test_setup_teardown(mpirun_rank_killed_mid_run_is_marked_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(mpirun_pingpong_publishes_net_bw_in_run_json, setup, teardown),
        cmocka_unit_test_setup_teardown(ceilings_file_takes_net_bw_from_the_row_that_gave_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(link_ceilings_neither_replace_nor_add_device_ceilings, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
