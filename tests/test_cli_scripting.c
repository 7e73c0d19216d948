/* test_cli_scripting.c — the real `accelbench` binary as scripts use it: `list --json` against
 * `list`'s text, `run --dry-run` (its counts, its estimate from a ceilings file, nothing
 * written), -a scoped to a workload and plain -a across workloads, points named with -a outside
 * the suite's limits, long axis values, and compare reading nested folders without cutting case
 * names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accelbench.h"
#include "test_util.h"

static char *dir;
static const char *exe;
static char out[1 << 20], errtext[1 << 16]; /* the last command's stdout and stderr */

static int setup(void **state)
{
    return test_exe_setup(&exe, &dir);
}

static int teardown(void **state)
{
    test_exe_teardown(&dir);
    return 0;
}

/* Run `accelbench ARGS`; stdout into out, stderr into errtext; the exit status. */
static int run(const char *fmt, ...)
{
    char args[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return test_exe_run(exe, dir, args, out, sizeof out, errtext, sizeof errtext);
}

static void expect_in(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("expected \"%s\" in:\n%s", needle, haystack);
}

/* The text of `list` for one workload, from its header line to the blank line after it. */
static char *list_section(const char *text, const char *workload)
{
    char head[128];
    snprintf(head, sizeof head, "\n%s — ", workload);
    const char *s = strstr(text, head);
    if (!s)
        return NULL;
    s++;
    const char *e = strstr(s, "\n\n");
    return strndup(s, e ? (size_t)(e - s + 1) : strlen(s));
}

static void list_json_says_what_list_says(void **state)
{
    assert_int_equal(run("list"), 0);
    char *text = strdup(out);
    assert_int_equal(run("list --json"), 0);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    /* every workload of the text is in the JSON, and for each its axes and metrics read alike */
    cJSON *ws = cJSON_GetObjectItem(o, "workloads"), *w;
    assert_true(cJSON_GetArraySize(ws) >= 5);
    int checked = 0;
    cJSON_ArrayForEach(w, ws)
    {
        const char *name = cJSON_GetObjectItem(w, "name")->valuestring;
        char *sec = list_section(text, name);
        assert_non_null(sec);
        char line[4096];
        snprintf(line, sizeof line, "%s — %s\n", name, cJSON_GetObjectItem(w, "summary")->valuestring);
        expect_in(sec, line);
        cJSON *ax;
        cJSON_ArrayForEach(ax, cJSON_GetObjectItem(w, "axes"))
        {
            snprintf(line, sizeof line, "  -a %s=...  %s\n", cJSON_GetObjectItem(ax, "name")->valuestring,
                     cJSON_GetObjectItem(ax, "help")->valuestring);
            expect_in(sec, line);
            cJSON *sw = cJSON_GetObjectItem(ax, "sweep");
            snprintf(line, sizeof line, "      quick: %s | default: %s | full: %s | check: %s\n",
                     cJSON_GetObjectItem(sw, "quick")->valuestring,
                     cJSON_GetObjectItem(sw, "default")->valuestring,
                     cJSON_GetObjectItem(sw, "full")->valuestring,
                     cJSON_GetObjectItem(sw, "check")->valuestring);
            expect_in(sec, line);
            cJSON *vals = cJSON_GetObjectItem(ax, "values");
            if (cJSON_IsArray(vals)) {
                char list[1024] = "";
                cJSON *v;
                cJSON_ArrayForEach(v, vals)
                {
                    size_t l = strlen(list);
                    snprintf(list + l, sizeof list - l, "%s%s", l ? "," : "", v->valuestring);
                }
                snprintf(line, sizeof line, "      values: %s\n", list);
                expect_in(sec, line);
            }
        }
        cJSON *m;
        cJSON_ArrayForEach(m, cJSON_GetObjectItem(w, "metrics"))
        {
            const char *unit = cJSON_GetObjectItem(m, "unit")->valuestring;
            bool is_text = strcmp(cJSON_GetObjectItem(m, "kind")->valuestring, "text") == 0;
            snprintf(line, sizeof line, "  metric %s (%s", cJSON_GetObjectItem(m, "name")->valuestring,
                     is_text   ? "text"
                     : unit[0] ? unit
                               : "number");
            expect_in(sec, line);
            snprintf(line, sizeof line, "): %s\n", cJSON_GetObjectItem(m, "meaning")->valuestring);
            expect_in(sec, line);
        }
        free(sec);
        checked++;
    }
    assert_true(checked >= 5);
    /* sweep values are typed: ceilings' n is numbers, its kind strings */
    cJSON_ArrayForEach(w, ws)
    {
        if (strcmp(cJSON_GetObjectItem(w, "name")->valuestring, "ceilings") != 0)
            continue;
        cJSON *ax;
        cJSON_ArrayForEach(ax, cJSON_GetObjectItem(w, "axes"))
        {
            const char *an = cJSON_GetObjectItem(ax, "name")->valuestring;
            cJSON *def = cJSON_GetObjectItem(cJSON_GetObjectItem(ax, "sweep_values"), "default");
            if (strcmp(an, "n") == 0) {
                assert_string_equal(cJSON_GetObjectItem(ax, "type")->valuestring, "int");
                assert_int_equal(cJSON_GetArraySize(def), 2); /* "0,2048" */
                assert_true(cJSON_IsNumber(cJSON_GetArrayItem(def, 1)));
                assert_double_equal(cJSON_GetArrayItem(def, 1)->valuedouble, 2048, 0);
            } else if (strcmp(an, "kind") == 0) {
                assert_string_equal(cJSON_GetArrayItem(def, 0)->valuestring, "fma");
            }
        }
    }
    /* the CPU is a device found; backends say whether they are compiled in */
    cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "devices"), 0);
    assert_non_null(d);
    assert_string_equal(cJSON_GetObjectItem(d, "id")->valuestring, "cpu");
    cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "backends"), 0);
    assert_string_equal(cJSON_GetObjectItem(b, "name")->valuestring, "cpu");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(b, "compiled_in")));
    cJSON_Delete(o);
    free(text);
    assert_int_equal(run("list --bogus"), 2);
    expect_in(errtext, "--bogus");
}

/* A results.csv holding one ceilings row of this machine's CPU: fp32_gemm at `flops`. */
static void write_ceiling_file(const char *csv, double flops)
{
    struct ab_device devs[AB_MAX_DEVICES];
    struct ab_error why[AB_BACKEND_COUNT], err;
    int n = 0;
    ab_devices_discover(devs, AB_MAX_DEVICES, &n, why, NULL);
    assert_true(n >= 1);
    struct ab_reporter rc;
    assert_int_equal(ab_csv_reporter_open(csv, &rc, &err), AB_OK);
    struct ab_result *r = calloc(1, sizeof *r);
    strcpy(r->run_id, "ceil");
    strcpy(r->host, "h");
    strcpy(r->started_utc, "2026-01-01T00:00:00Z");
    strcpy(r->workload, "ceilings");
    strcpy(r->device, devs[0].id);
    strcpy(r->device_name, devs[0].name);
    strcpy(r->backend, "cpu");
    strcpy(r->params, "kind=gemm;dtype=fp32;n=0");
    r->status = AB_OK;
    double t[3] = { 0.1, 0.1, 0.1 };
    ab_stats_compute(t, 3, &r->time_s);
    strcpy(r->ceiling, "fp32_gemm");
    r->ceiling_value = flops;
    strcpy(r->ceiling_source, "measured");
    r->fraction_of_ceiling = 1;
    strcpy(r->power_source, "none");
    r->avg_power_w = r->energy_j = r->flop_per_j = r->token_per_j = r->byte_per_j = r->usd_per_hour = NAN;
    assert_int_equal(rc.row(rc.self, r, &err), AB_OK);
    rc.destroy(rc.self);
    free(r);
}

static bool exists(const char *fmt, const char *a)
{
    char p[4400];
    struct stat st;
    snprintf(p, sizeof p, fmt, dir, a);
    return stat(p, &st) == 0;
}

static void dry_run_counts_and_estimates_and_writes_nothing(void **state)
{
    /* the quick ceilings on the CPU are 6 cases (fma and gemm in fp32 and bf16, stream, llc) */
    assert_int_equal(run("run -w ceilings -d cpu --quick --dry-run -o '%s/dry'", dir), 0);
    expect_in(out, "dry run: 6 cases would run in the quick suite");
    expect_in(out, "  ceilings             cpu           6 cases");
    expect_in(out, "[5/6] ceilings cpu kind=stream;dtype=fp32;n=0: ");
    /* budget: 0.05 s warm-up + 0.1..1 s per case in --quick, five cases */
    expect_in(out, "estimated time: 900 ms to 6.3 s");
    assert_false(exists("%s/%s", "dry"));
    /* a ceiling from a file gives the time per repetition: 2 GFLOP at 20 GFLOP/s */
    char csv[4300];
    snprintf(csv, sizeof csv, "%s/ceil.csv", dir);
    write_ceiling_file(csv, 2.147483648e10);
    assert_int_equal(run("run -w fp8_gemm -d cpu --quick -a shape=square -a m=1024 -a fp8_gemm:dtype=fp32 "
                         "--ceilings '%s' --dry-run -o '%s/dry'",
                         csv, dir),
                     0);
    expect_in(out, "dry run: 1 case would run");
    expect_in(out, "expected 100 ms/rep: 2.15 GFLOP/rep at 21.5 GFLOP/s (fp32_gemm, file:ceil.csv)");
    /* 5 samples of 0.1 s need 0.5 s, more than --min-time's 0.1 s, less than --max-time's 1 */
    expect_in(out, "550 ms to 1.05 s");
    expect_in(out, "1 of 1 cases with an expected time per repetition");
    assert_false(exists("%s/%s", "dry"));
    /* --resume leaves out what the folder holds, and changes nothing in it */
    char d[4300], rcsv[4400];
    snprintf(d, sizeof d, "%s/res", dir);
    struct ab_error e;
    assert_int_equal(ab_mkdirs(d, &e), AB_OK);
    snprintf(rcsv, sizeof rcsv, "%s/results.csv", d);
    write_ceiling_file(rcsv, 1e10);
    /* the row's samples line, as a run writes it: a row without one would run again */
    char rjl[4400], line[1024];
    snprintf(rjl, sizeof rjl, "%s/samples.jsonl", d);
    struct ab_result_set rows = { 0 };
    assert_int_equal(ab_csv_read(rcsv, &rows, NULL, 0, &e), AB_OK);
    assert_int_equal(rows.n, 1);
    snprintf(line, sizeof line,
             "{\"schema_version\":2,\"run_id\":\"ceil\",\"workload\":\"ceilings\",\"device\":\"%s\","
             "\"params\":\"%s\",\"status\":\"ok\",\"reps_per_sample\":1,\"samples_s\":[0.1,0.1,0.1],"
             "\"metrics\":{}}\n",
             rows.rows[0].device, rows.rows[0].params);
    ab_result_set_free(&rows);
    assert_int_equal(test_write_file(rjl, line), 0);
    struct stat before, after, jbefore, jafter;
    assert_int_equal(stat(rcsv, &before), 0);
    assert_int_equal(stat(rjl, &jbefore), 0);
    assert_int_equal(run("run -w ceilings -d cpu --quick --dry-run --resume -o '%s'", d), 0);
    expect_in(out, "dry run: 5 cases would run in the quick suite; 1 already in");
    assert_int_equal(stat(rcsv, &after), 0);
    assert_int_equal(before.st_size, after.st_size);
    assert_true(before.st_mtime == after.st_mtime);
    assert_int_equal(stat(rjl, &jafter), 0);
    assert_int_equal(jbefore.st_size, jafter.st_size);
    assert_true(jbefore.st_mtime == jafter.st_mtime);
    assert_false(exists("%s/%s", "res/run.json"));
    /* without its samples line the row counts as not done, as the run itself counts it */
    assert_int_equal(unlink(rjl), 0);
    assert_int_equal(run("run -w ceilings -d cpu --quick --dry-run --resume -o '%s'", d), 0);
    expect_in(out, "dry run: 6 cases would run in the quick suite; 0 already in");
    assert_false(exists("%s/%s", "res/samples.jsonl"));
    /* bad input is refused as the run refuses it */
    assert_int_equal(run("run -w nosuch --dry-run"), 2);
    expect_in(errtext, "unknown workload \"nosuch\"");
    assert_int_equal(run("run --help"), 0);
    expect_in(out, "--dry-run");
}

static void scoped_and_plain_axis_overrides(void **state)
{
    /* plain -a dtype with a value only fp8_gemm takes: ceilings keeps its sweep, with a note */
    assert_int_equal(run("run -w ceilings,fp8_gemm -d cpu --quick -a dtype=fp8_e4m3 -a shape=square -a m=256 "
                         "--dry-run"),
                     0);
    expect_in(errtext, "-a dtype=fp8_e4m3 does not apply to ceilings");
    expect_in(out, "  ceilings             cpu           6 cases");
    expect_in(out, "  fp8_gemm             cpu           2 cases"); /* tensor and row scaling */
    expect_in(out, "fp8_gemm cpu dtype=fp8_e4m3;scaling=tensor;");
    /* a list that both take in part: each takes its own */
    assert_int_equal(
        run("run -w ceilings,fp8_gemm -d cpu --quick -a dtype=fp8_e4m3,fp32 -a shape=square -a m=256 "
            "--dry-run"),
        0);
    expect_in(errtext, "ceilings takes only fp32");
    expect_in(out, "  ceilings             cpu           4 cases"); /* fma, gemm, stream, llc in fp32 */
    expect_in(out, "  fp8_gemm             cpu           3 cases");
    /* scoped: only that workload's axis */
    assert_int_equal(run("run -w ceilings,fp8_gemm -d cpu --quick -a fp8_gemm:dtype=fp32 -a shape=square "
                         "-a fp8_gemm:m=256 --dry-run"),
                     0);
    expect_in(out, "  ceilings             cpu           6 cases");
    expect_in(out, "  fp8_gemm             cpu           1 case ");
    /* a scoped -a wins over a plain one for its workload */
    assert_int_equal(run("run -w ceilings,fp8_gemm -d cpu --quick -a dtype=fp32 -a fp8_gemm:dtype=bf16 "
                         "-a shape=square -a m=256 --dry-run"),
                     0);
    expect_in(out, "  ceilings             cpu           4 cases");
    expect_in(out, "fp8_gemm cpu dtype=bf16;");
    /* errors name the workload or the axis */
    assert_int_equal(run("run -w fp8_gemm -a nosuch:dtype=fp32 --dry-run"), 2);
    expect_in(errtext, "unknown workload \"nosuch\"");
    assert_int_equal(run("run -w fp8_gemm -a fp8_gemm:bogus=1 --dry-run"), 2);
    expect_in(errtext, "workload fp8_gemm has no axis \"bogus\"");
    assert_int_equal(run("run -w fp8_gemm -a ceilings:n=0 --dry-run"), 2);
    expect_in(errtext, "workload ceilings is not selected");
    assert_int_equal(run("run -w ceilings,fp8_gemm -a dtype=fp9 --dry-run"), 2);
    expect_in(errtext, "unknown value \"fp9\"");
    assert_int_equal(run("run -w ceilings -a :n=0 --dry-run"), 2);
    expect_in(errtext, "expected [WORKLOAD:]NAME=VALUES");
    /* and the run itself takes a scoped -a: one fp32 row */
    assert_int_equal(run("run -w fp8_gemm -d cpu --quick -a fp8_gemm:dtype=fp32 -a shape=square -a m=256 "
                         "--no-ceilings --max-time 0.3 -q -o '%s/scoped'",
                         dir),
                     0);
    char csv[4300];
    snprintf(csv, sizeof csv, "%s/scoped/results.csv", dir);
    struct ab_result_set s = { 0 };
    struct ab_error e;
    assert_int_equal(ab_csv_read(csv, &s, NULL, 0, &e), AB_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.rows[0].status, AB_OK);
    assert_non_null(strstr(s.rows[0].params, "dtype=fp32;"));
    assert_non_null(strstr(s.rows[0].params, "m=256"));
    ab_result_set_free(&s);
}

/* A dry run of --resume plans what the run would: its selection from run.json (no -w or -a
 * given), less the cases recorded; and it takes no lock, so the folder gains no file. */
static void a_dry_resume_takes_the_run_s_selection(void **state)
{
    char d[4300], rcsv[4400], keep[4400];
    snprintf(d, sizeof d, "%s/dres", dir);
    assert_int_equal(
        run("run -w ceilings -d cpu --quick -a kind=fma,stream -a dtype=fp32 --fail-on none -o '%s'", d), 0);
    /* keep the header and the stream row: the fma case is missing */
    snprintf(rcsv, sizeof rcsv, "%s/results.csv", d);
    snprintf(keep, sizeof keep, "%s/keep.csv", dir);
    char cmd[9000];
    snprintf(cmd, sizeof cmd,
             "{ head -n 1 '%s'; grep 'kind=stream' '%s'; } > '%s' && mv '%s' '%s' && rm -f '%s/.lock'", rcsv,
             rcsv, keep, keep, rcsv, d);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run("run --dry-run --resume -o '%s'", d), 0);
    expect_in(out, "dry run: 1 case would run in the quick suite; 1 already in");
    expect_in(out, "ceilings cpu kind=fma;dtype=fp32;n=0");
    assert_false(exists("%s/%s", "dres/.lock"));
}

static void a_point_named_outside_the_suite_runs(void **state)
{
    /* the CPU's quick suite stops square fp8_gemm at m=2048; naming 4096 runs it */
    assert_int_equal(
        run("run -w fp8_gemm -d cpu --quick -a shape=square -a m=4096 -a dtype=fp32 --no-ceilings --dry-run"),
        0);
    expect_in(out, "dry run: 1 case would run");
    expect_in(out, "fp8_gemm cpu dtype=fp32;scaling=none;accum=fp32;shape=square;m=4096");
    expect_in(errtext, "beyond the quick suite's limits run");
    /* a point no suite runs is still left out: square sizes start at 256 */
    assert_int_equal(
        run("run -w fp8_gemm -d cpu --quick -a shape=square -a m=128 -a dtype=fp32 --no-ceilings --dry-run"),
        2);
    expect_in(errtext, "combine into no case");
    /* the suite still thins the axes not named: the default suite's m values in quick form */
    assert_int_equal(run("run -w fp8_gemm -d cpu --quick -a dtype=fp32 --dry-run"), 0);
    assert_null(strstr(out, "m=4096"));
}

static void a_long_weights_path_reaches_the_loader_whole(void **state)
{
    /* a path of 300 characters: folders of 50, a config.json, no model.safetensors */
    char d[4400], w[4400], cfg[4500];
    snprintf(d, sizeof d, "%s", dir);
    while (strlen(d) < 200) {
        size_t l = strlen(d);
        snprintf(d + l, sizeof d - l, "/%.49s", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
    }
    struct ab_error e;
    assert_int_equal(ab_mkdirs(d, &e), AB_OK);
    snprintf(cfg, sizeof cfg, "%s/config.json", d);
    assert_int_equal(
        test_write_file(cfg, "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_embd\": 128, "
                             "\"n_head\": 4, \"vocab_size\": 97, \"n_positions\": 64, \"n_ctx\": 64}"),
        0);
    snprintf(w, sizeof w, "%s/", d);
    while (strlen(w) < 300 - strlen(".safetensors"))
        strcat(w, "m");
    strcat(w, ".safetensors");
    assert_int_equal(strlen(w), 300);
    assert_int_equal(run("run -w gpt2 -d cpu --check -a model=tiny -a dtype=fp32 -a 'weights=%s' -q "
                         "--fail-on none -o '%s/long'",
                         w, dir),
                     0);
    char csv[4400];
    snprintf(csv, sizeof csv, "%s/long/results.csv", dir);
    struct ab_result_set s = { 0 };
    assert_int_equal(ab_csv_read(csv, &s, NULL, 0, &e), AB_OK);
    assert_true(s.n >= 1);
    char want[4600];
    snprintf(want, sizeof want, "weights %s: %s", w, strerror(ENOENT));
    for (int64_t i = 0; i < s.n; i++) {
        assert_int_not_equal(s.rows[i].status, AB_OK);
        if (!strstr(s.rows[i].message, want))
            fail_msg("row %lld: message \"%s\", expected \"%s\"", (long long)i, s.rows[i].message, want);
        assert_non_null(strstr(s.rows[i].params, w)); /* the whole path is the case's identity */
    }
    ab_result_set_free(&s);
    /* beyond the limit: one clear error naming it */
    char big[AB_VALUE_MAX + 64];
    memset(big, 'x', AB_VALUE_MAX + 10);
    big[AB_VALUE_MAX + 10] = '\0';
    assert_int_equal(run("run -w gpt2 -d cpu --quick -a weights=%s --dry-run", big), 2);
    char lim[64];
    snprintf(lim, sizeof lim, "more than the limit of %d", AB_VALUE_MAX - 1);
    expect_in(errtext, lim);
}

/* A results.csv in dir/sub of n fp8_gemm-like rows with long params, all but m shared. */
static void write_long_rows(const char *sub, int n, double t)
{
    char d[4300], csv[4400];
    snprintf(d, sizeof d, "%s/%s", dir, sub);
    struct ab_error err;
    assert_int_equal(ab_mkdirs(d, &err), AB_OK);
    snprintf(csv, sizeof csv, "%s/results.csv", d);
    struct ab_reporter rc;
    assert_int_equal(ab_csv_reporter_open(csv, &rc, &err), AB_OK);
    struct ab_result *r = calloc(1, sizeof *r);
    double x[5] = { t, t * 1.001, t * 0.999, t, t };
    for (int i = 0; i < n; i++) {
        memset(r, 0, sizeof *r);
        strcpy(r->run_id, sub);
        strcpy(r->host, "h");
        strcpy(r->started_utc, "2026-01-01T00:00:00Z");
        strcpy(r->workload, "fp8_gemm");
        strcpy(r->device, "cpu");
        strcpy(r->device_name, "Test CPU");
        strcpy(r->backend, "cpu");
        snprintf(r->params, sizeof r->params,
                 "dtype=fp8_e4m3;scaling=tensor;accum=fp32;shape=a_rather_long_shape_name_here;"
                 "variant=number_%d_of_a_long_list_of_variants_that_differ_only_at_the_end_%d;m=%d",
                 i, i, 256 << i);
        r->status = AB_OK;
        ab_stats_compute(x, 5, &r->time_s);
        strcpy(r->power_source, "none");
        r->fraction_of_ceiling = r->avg_power_w = r->energy_j = NAN;
        r->flop_per_j = r->token_per_j = r->byte_per_j = r->usd_per_hour = NAN;
        assert_int_equal(rc.row(rc.self, r, &err), AB_OK);
    }
    rc.destroy(rc.self);
    free(r);
}

static void compare_reads_nested_folders_and_never_cuts_a_name(void **state)
{
    write_long_rows("base/a/b/c", 3, 1e-3);
    write_long_rows("new/x/y/z/w", 4, 1e-3);
    char link[4400];
    snprintf(link, sizeof link, "%s/base/a/b/c/loop", dir);
    assert_int_equal(symlink("../..", link), 0);
    assert_int_equal(run("compare '%s/base' '%s/new' --fail-on none", dir, dir), 0);
    /* the shared parts once above the table, each varying part whole */
    expect_in(
        out,
        "every case: fp8_gemm dtype=fp8_e4m3;scaling=tensor;accum=fp32;shape=a_rather_long_shape_name_here");
    for (int i = 0; i < 4; i++) {
        char want[256];
        snprintf(want, sizeof want,
                 "variant=number_%d_of_a_long_list_of_variants_that_differ_only_at_the_end_%d;m=%d", i, i,
                 256 << i);
        expect_in(out, want);
    }
    expect_in(out, "3 compared");
    expect_in(out, "1 added");
    /* markdown: the same */
    assert_int_equal(run("compare '%s/base' '%s/new' --fail-on none --format md", dir, dir), 0);
    expect_in(out, "every case: fp8_gemm dtype=fp8_e4m3;");
    expect_in(out,
              "| variant=number_3_of_a_long_list_of_variants_that_differ_only_at_the_end_3;m=2048 | cpu |");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(list_json_says_what_list_says),
        cmocka_unit_test(dry_run_counts_and_estimates_and_writes_nothing),
        cmocka_unit_test(a_dry_resume_takes_the_run_s_selection),
        cmocka_unit_test(scoped_and_plain_axis_overrides),
        cmocka_unit_test(a_point_named_outside_the_suite_runs),
        cmocka_unit_test(a_long_weights_path_reaches_the_loader_whole),
        cmocka_unit_test(compare_reads_nested_folders_and_never_cuts_a_name),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
