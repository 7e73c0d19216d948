/* test_record.c — the results CSV and JSON sidecar: round trip through the readers, and
 * malformed files whose errors name file, line and field. */
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

static void fill_row(struct ab_result *r, int i)
{
    memset(r, 0, sizeof *r);
    strcpy(r->run_id, "run-1");
    strcpy(r->host, "testhost");
    strcpy(r->started_utc, "2026-01-01T00:00:00Z");
    strcpy(r->workload, "ceilings");
    strcpy(r->device, "cpu");
    strcpy(r->device_name, "Test CPU, \"quoted\" name");
    strcpy(r->backend, "cpu");
    snprintf(r->params, sizeof r->params, "kind=gemm;dtype=bf16;n=%d", 1024 << i);
    r->status = i == 2 ? AB_EMISMATCH : AB_OK;
    strcpy(r->message, i == 2 ? "C[1,2]=3 ref 4,\nsecond line" : "");
    static double samples[8][4]; /* outlive the call: the writer reads them later */
    double *t = samples[i];
    t[0] = 1.0e-3 * (i + 1), t[1] = 1.1e-3 * (i + 1), t[2] = 0.9e-3 * (i + 1), t[3] = 1.05e-3 * (i + 1);
    r->samples = t;
    r->n_samples = 4;
    ab_stats_compute(t, 4, &r->time_s);
    strcpy(r->stop_reason, "converged");
    r->reps_per_sample = 3;
    r->flops = 2.0 * pow(1024 << i, 3);
    r->flop_per_s = r->flops / r->time_s.median;
    strcpy(r->ceiling, "bf16_gemm");
    r->ceiling_value = 1e12;
    strcpy(r->ceiling_source, "measured");
    r->fraction_of_ceiling = r->flop_per_s / 1e12;
    strcpy(r->power_source, "nominal:cpu-generic");
    r->avg_power_w = 20;
    r->energy_j = 0.02;
    r->flop_per_j = r->flops / 0.02;
    r->token_per_j = NAN;
    r->byte_per_j = NAN;
    r->usd_per_hour = NAN;
    r->n_metrics = 2;
    strcpy(r->metrics[0].name, "max_rel_err");
    r->metrics[0].value = 1.5e-3;
    strcpy(r->metrics[1].name, "algo");
    strcpy(r->metrics[1].text, "heuristic;17");
}

static void write_rows(const char *sub, int n)
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
    strcpy(info.run_id, "run-1");
    assert_int_equal(rj.begin(rj.self, &info, &err), AB_OK);
    for (int i = 0; i < n; i++) {
        struct ab_result r;
        fill_row(&r, i);
        assert_int_equal(rc.row(rc.self, &r, &err), AB_OK);
        assert_int_equal(rj.row(rj.self, &r, &err), AB_OK);
    }
    assert_int_equal(rc.end(rc.self, &info, &err), AB_OK);
    assert_int_equal(rj.end(rj.self, &info, &err), AB_OK);
    rc.destroy(rc.self);
    rj.destroy(rj.self);
}

static void csv_round_trip_keeps_every_field(void **state)
{
    write_rows("rt", 3);
    char csv[4300], jl[4300], rj[4300];
    snprintf(csv, sizeof csv, "%s/rt/results.csv", dir);
    snprintf(jl, sizeof jl, "%s/rt/samples.jsonl", dir);
    snprintf(rj, sizeof rj, "%s/rt/run.json", dir);
    struct ab_result_set set = { 0 };
    struct ab_error err;
    char warn[256];
    assert_int_equal(ab_csv_read(csv, &set, warn, sizeof warn, &err), AB_OK);
    assert_string_equal(warn, "");
    assert_int_equal(set.n, 3);
    for (int i = 0; i < 3; i++) {
        struct ab_result want;
        fill_row(&want, i);
        const struct ab_result *got = &set.rows[i];
        assert_string_equal(got->device_name, want.device_name);
        assert_string_equal(got->params, want.params);
        assert_int_equal(got->status, want.status);
        assert_double_equal(got->time_s.median, want.time_s.median, 1e-12);
        assert_double_equal(got->time_s.ci_hi, want.time_s.ci_hi, 1e-12);
        assert_int_equal(got->reps_per_sample, 3);
        assert_double_equal(got->flop_per_s, want.flop_per_s, want.flop_per_s * 1e-8);
        assert_true(isnan(got->token_per_j));
        assert_double_equal(ab_result_metric(got, "max_rel_err"), 1.5e-3, 1e-12);
        /* ';' inside a text metric cannot survive the metrics syntax: it becomes ',' */
        assert_string_equal(ab_result_metric_text(got, "algo"), "heuristic,17");
    }
    /* messages are one line in the file */
    assert_non_null(strstr(set.rows[2].message, "ref 4,"));
    assert_null(strchr(set.rows[2].message, '\n'));
    assert_int_equal(ab_json_read_samples(jl, &set, &err), AB_OK);
    assert_int_equal(set.rows[1].n_samples, 4);
    assert_double_equal(set.rows[1].samples[0], 2.0e-3, 1e-15);
    int sv = 0;
    assert_int_equal(ab_json_read_run(rj, &sv, &err), AB_OK);
    assert_int_equal(sv, AB_SCHEMA_VERSION);
    ab_result_set_free(&set);
}

static void torn_last_line_is_dropped_and_cut_before_appending(void **state)
{
    write_rows("torn", 2);
    char csv[4300];
    snprintf(csv, sizeof csv, "%s/torn/results.csv", dir);
    FILE *f = fopen(csv, "a");
    fputs("1,run-1,testhost,2026-01-01T00:00:00Z,ceilings,cpu,half", f);
    fclose(f);
    struct ab_result_set set = { 0 };
    struct ab_error err;
    char warn[256];
    assert_int_equal(ab_csv_read(csv, &set, warn, sizeof warn, &err), AB_OK);
    assert_int_equal(set.n, 2);
    assert_non_null(strstr(warn, ":4: incomplete last line dropped"));
    ab_result_set_free(&set);
    /* appending again cuts the torn tail first, so the file stays readable */
    struct ab_reporter rc;
    assert_int_equal(ab_csv_reporter_open(csv, &rc, &err), AB_OK);
    struct ab_result r;
    fill_row(&r, 0);
    assert_int_equal(rc.row(rc.self, &r, &err), AB_OK);
    rc.destroy(rc.self);
    assert_int_equal(ab_csv_read(csv, &set, warn, sizeof warn, &err), AB_OK);
    assert_int_equal(set.n, 3);
    assert_string_equal(warn, "");
    ab_result_set_free(&set);
}

static void expect_csv_error(const char *name, const char *text, const char *want1, const char *want2)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s.csv", dir, name);
    assert_int_equal(test_write_file(path, text), 0);
    struct ab_result_set set = { 0 };
    struct ab_error err = { { 0 } };
    assert_int_equal(ab_csv_read(path, &set, NULL, 0, &err), AB_EINVAL);
    assert_int_equal(set.n, 0);
    if (!strstr(err.msg, want1) || (want2 && !strstr(err.msg, want2)))
        fail_msg("error \"%s\" lacks \"%s\" / \"%s\"", err.msg, want1, want2 ? want2 : "");
    assert_non_null(strstr(err.msg, path));
}

static void malformed_csv_errors_name_line_and_field(void **state)
{
    write_rows("good", 1);
    char csv[4300];
    snprintf(csv, sizeof csv, "%s/good/results.csv", dir);
    char *text;
    struct ab_error err;
    assert_int_equal(ab_read_file(csv, &text, NULL, &err), AB_OK);
    char *header_end = strchr(text, '\n') + 1;
    char hdr[4096];
    snprintf(hdr, sizeof hdr, "%.*s", (int)(header_end - text), text);
    char row[8192];
    snprintf(row, sizeof row, "%s", header_end);
    char buf[16384];

    expect_csv_error("empty", "", "empty file", NULL);
    expect_csv_error("notours", "a,b,c\n1,2,3\n", ":1:", "not an accelbench results file");
    /* a non-number where a number must be: line 3, field time_median_s */
    char *bad = strdup(row);
    char *p = strstr(bad, ",converged,") ? bad : NULL;
    assert_non_null(p);
    /* replace the reps_per_sample field (13th) by text: simplest is to rebuild the line */
    snprintf(buf, sizeof buf, "%s%s%s", hdr, row, row);
    char *second = strstr(buf + strlen(hdr) + strlen(row), ",ok,");
    assert_non_null(second);
    memcpy(second, ",ko,", 4);
    expect_csv_error("status", buf, ":3:", "field \"status\"");
    snprintf(buf, sizeof buf, "%s%s", hdr, row);
    char *sv = buf + strlen(hdr);
    sv[0] = '7';
    expect_csv_error("version", buf, ":2:", "schema_version");
    snprintf(buf, sizeof buf, "%s1,2,3\n", hdr);
    expect_csv_error("short", buf, ":2:", "3 fields");
    snprintf(buf, sizeof buf, "%s\"unterminated,2,3\n", hdr);
    expect_csv_error("quote", buf, ":2", NULL);
    /* a number field holding text */
    snprintf(buf, sizeof buf, "%s%s", hdr, row);
    char *conv = strstr(buf + strlen(hdr), ",converged,");
    assert_non_null(conv);
    /* the field after stop_reason is flops */
    char *flops = conv + strlen(",converged,");
    flops[0] = 'x';
    expect_csv_error("nan", buf, ":2:", "field \"flops\"");
    free(bad);
    free(text);
}

/* A byte-order mark (a spreadsheet's save) is not data; a NUL or control byte in the header is
 * shown escaped, not as an empty or garbled name. */
static void header_bom_is_skipped_and_bad_bytes_are_shown(void **state)
{
    write_rows("bom", 2);
    char csv[4300], bom[4300];
    snprintf(csv, sizeof csv, "%s/bom/results.csv", dir);
    char *text = NULL;
    size_t len;
    assert_int_equal(ab_read_file(csv, &text, &len, NULL), AB_OK);
    snprintf(bom, sizeof bom, "%s/bom/with-bom.csv", dir);
    FILE *f = fopen(bom, "wb");
    assert_non_null(f);
    fputs("\xEF\xBB\xBF", f);
    fwrite(text, 1, len, f);
    fclose(f);
    free(text);
    struct ab_result_set set = { 0 };
    struct ab_error err = { { 0 } };
    assert_int_equal(ab_csv_read(bom, &set, NULL, 0, &err), AB_OK);
    assert_int_equal(set.n, 2);
    ab_result_set_free(&set);
    char path[4300];
    snprintf(path, sizeof path, "%s/nul.csv", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("sche\0ma_version,x\n", 1, 18, f);
    fclose(f);
    assert_int_equal(ab_csv_read(path, &set, NULL, 0, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "\"sche\\x00ma_version\""));
    expect_csv_error("ctl", "\x01schema_version,x\n", "\"\\x01schema_version\"", NULL);
}

static void writer_refuses_a_file_of_another_schema(void **state)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/other.csv", dir);
    assert_int_equal(test_write_file(path, "schema_version,run_id\n0,x\n"), 0);
    struct ab_reporter rc;
    struct ab_error err;
    assert_int_equal(ab_csv_reporter_open(path, &rc, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "schema version"));
}

static void malformed_json_errors_name_line(void **state)
{
    char path[4300];
    struct ab_result_set set = { 0 };
    struct ab_error err;
    snprintf(path, sizeof path, "%s/bad.jsonl", dir);
    assert_int_equal(test_write_file(path, "{\"schema_version\":1,\"workload\":\"a\",\"device\":\"cpu\","
                                           "\"params\":\"\",\"samples_s\":[1]}\n[1,2]\n"),
                     0);
    assert_int_equal(ab_json_read_samples(path, &set, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, ":2:"));
    assert_int_equal(test_write_file(path, "{\"schema_version\":1,\"workload\":\"a\",\"device\":\"cpu\"}\n"),
                     0);
    assert_int_equal(ab_json_read_samples(path, &set, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "params"));
    snprintf(path, sizeof path, "%s/run.json", dir);
    assert_int_equal(test_write_file(path, "{\n \"schema_version\": 1,\n \"run_id\": [\n"), 0);
    int v;
    assert_int_equal(ab_json_read_run(path, &v, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "run.json:"));
    assert_int_equal(test_write_file(path, "{\"schema_version\": 9, \"run_id\": \"x\"}"), 0);
    assert_int_equal(ab_json_read_run(path, &v, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "schema_version"));
}

/* The id of a case is a hash of its identity in canonical form: one spelling of a number, the
 * workload's axis order, an axis at its implicit value left out. Its value is kept in files, so
 * it must never change: one is pinned. */
static void case_id_is_stable_and_canonical(void **state)
{
    char a[20], b[20];
    ab_case_id(NULL, "ceilings", "cpu", "AMD EPYC", "kind=fma;dtype=fp32;n=0", a, sizeof a);
    assert_string_equal(a, "164fb110dd688ec7");
    ab_case_id(NULL, "w", "cpu", "X", "n=1024;dtype=bf16", a, sizeof a);
    ab_case_id(NULL, "w", "cpu", "X", "n=1024.0;dtype=bf16", b, sizeof b);
    assert_string_equal(a, b);
    ab_case_id(NULL, "w", "cpu", "X", "n=1e3;dtype=bf16", b, sizeof b);
    assert_string_not_equal(a, b);
    ab_case_id(NULL, "w", "cpu", "Y", "n=1024;dtype=bf16", b, sizeof b);
    assert_string_not_equal(a, b); /* the device's name is part of the identity */
    ab_case_id(NULL, "w", "cuda:0", "X", "n=1024;dtype=bf16", b, sizeof b);
    assert_string_not_equal(a, b);
    ab_case_id(NULL, "w", "cpu", "X", "n=1024;dtype=bf16x", b, sizeof b);
    assert_string_not_equal(a, b);
    static const struct ab_axis axes[] = {
        { .name = "n", .type = AB_AXIS_INT },
        { .name = "dtype", .type = AB_AXIS_STR },
        { .name = "graphs", .type = AB_AXIS_STR, .implicit = "auto" },
    };
    const struct ab_workload wl = { .name = "w", .axes = axes, .n_axes = 3 };
    ab_case_id(&wl, "w", "cpu", "X", "dtype=bf16;graphs=auto;n=1024", b, sizeof b);
    assert_string_equal(a, b); /* axis order, implicit value dropped */
    ab_case_id(&wl, "w", "cpu", "X", "n=1024;dtype=bf16;graphs=on", b, sizeof b);
    assert_string_not_equal(a, b);
    double v = 0;
    assert_true(ab_axis_value_number(&wl, "n", "1024", &v) && v == 1024);
    assert_false(ab_axis_value_number(&wl, "dtype", "16", &v)); /* a string axis stays text */
    assert_true(ab_axis_value_number(NULL, "x", "0.25", &v) && v == 0.25);
    assert_false(ab_axis_value_number(NULL, "x", "nan", &v));
}

/* A schema-1 header: today's columns less case_id. */
static void schema1_header(char *buf, size_t len)
{
    buf[0] = '\0';
    for (const char *const *c = ab_csv_columns(); *c; c++)
        if (strcmp(*c, "case_id") != 0)
            snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? "," : "", *c);
    snprintf(buf + strlen(buf), len - strlen(buf), "\n");
}

/* 41 fields of schema 1: an ok FMA row (bytes and tokens 0) and a skipped row (zeros). */
static const char *const v1_rows =
    "1,r1,vm,2026-11-24T13:11:47Z,ceilings,cpu,AMD EPYC,cpu,kind=fma;dtype=fp32;n=0,ok,,51,17,0.000125,"
    "0.000126,2e-06,0.000123,0.00014,0.000123,0.00013,0.000125,0.000126,converged,67108864,0,0,5.3e+11,0,0,"
    "fp32_fma,5.3e+11,measured,1,nominal:cpu-generic,20,0.0025,2.6e+10,,,,isa=avx2\n"
    "1,r1,vm,2026-11-24T13:11:48Z,ceilings,cpu,AMD EPYC,cpu,kind=fma;dtype=bf16;n=0,skipped,no "
    "bf16,0,0,0,0,0,"
    "0,0,0,0,0,0,,0,0,0,0,0,0,,,,,none,,,,,,,\n";

static void schema1_rows_read_with_case_id_and_empty_where_not_measured(void **state)
{
    char path[4300], text[8192];
    snprintf(path, sizeof path, "%s/v1.csv", dir);
    schema1_header(text, sizeof text);
    snprintf(text + strlen(text), sizeof text - strlen(text), "%s", v1_rows);
    assert_int_equal(test_write_file(path, text), 0);
    struct ab_result_set set = { 0 };
    struct ab_error err = { { 0 } };
    char warn[512];
    assert_int_equal(ab_csv_read(path, &set, warn, sizeof warn, &err), AB_OK);
    assert_string_equal(warn, "");
    assert_int_equal(set.n, 2);
    assert_string_equal(set.rows[0].case_id, "164fb110dd688ec7");
    assert_double_equal(set.rows[0].time_s.median, 0.000125, 1e-12);
    assert_double_equal(set.rows[0].flop_per_s, 5.3e11, 1);
    assert_true(isnan(set.rows[0].bytes) && isnan(set.rows[0].byte_per_s)); /* no formula: 0 -> empty */
    assert_true(isnan(set.rows[0].tokens) && isnan(set.rows[0].token_per_s));
    assert_int_equal(set.rows[1].status, AB_EUNSUPPORTED);
    assert_true(isnan(set.rows[1].time_s.median) && isnan(set.rows[1].time_s.ci_hi));
    assert_true(isnan(set.rows[1].flop_per_s));
    assert_int_equal(set.rows[1].time_s.n, 0);
    ab_result_set_free(&set);
}

/* Columns are taken by name: an unknown one is ignored with one warning naming it, a missing
 * optional one reads as empty, a missing identity column or a repeated one is an error. */
static void columns_are_read_by_name(void **state)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/byname.csv", dir);
    struct ab_result_set set = { 0 };
    struct ab_error err = { { 0 } };
    char warn[512];
    assert_int_equal(test_write_file(path,
                                     "schema_version,params,gpu_temp_c,workload,status,device,time_median_s,"
                                     "fan_rpm\n2,n=1024.0,61,w,ok,cpu,0.5,900\n"),
                     0);
    assert_int_equal(ab_csv_read(path, &set, warn, sizeof warn, &err), AB_OK);
    assert_int_equal(set.n, 1);
    assert_non_null(strstr(warn, "2 columns this build does not know"));
    assert_non_null(strstr(warn, "\"gpu_temp_c\", \"fan_rpm\""));
    assert_string_equal(set.rows[0].params, "n=1024.0");
    assert_double_equal(set.rows[0].time_s.median, 0.5, 0);
    assert_true(isnan(set.rows[0].flop_per_s) && isnan(set.rows[0].energy_j));
    char id[20];
    ab_case_id(NULL, "w", "cpu", "", "n=1024", id, sizeof id);
    assert_string_equal(set.rows[0].case_id, id);
    ab_result_set_free(&set);
    assert_int_equal(test_write_file(path, "schema_version,workload,device,status\n2,w,cpu,ok\n"), 0);
    assert_int_equal(ab_csv_read(path, &set, warn, sizeof warn, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, ":1: no column \"params\""));
    assert_int_equal(test_write_file(path, "schema_version,workload,device,params,status,device\n"), 0);
    assert_int_equal(ab_csv_read(path, &set, warn, sizeof warn, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "\"device\" appears twice"));
    assert_int_equal(test_write_file(path, "schema_version,workload,device,params,status\n3,w,cpu,,ok\n"), 0);
    assert_int_equal(ab_csv_read(path, &set, warn, sizeof warn, &err), AB_EINVAL);
    assert_non_null(
        strstr(err.msg, ":2: field \"schema_version\": version 3, this build reads versions 1 to 2"));
    assert_null(set.rows);
}

/* Resuming into a schema-1 file: it is rewritten in schema 2 first (the original kept), so the
 * new rows land under a header that describes them. */
static void writer_migrates_a_schema1_file_before_appending(void **state)
{
    char path[4300], keep[4400], text[8192];
    snprintf(path, sizeof path, "%s/migrate.csv", dir);
    snprintf(keep, sizeof keep, "%s.schema1", path);
    schema1_header(text, sizeof text);
    snprintf(text + strlen(text), sizeof text - strlen(text), "%s", v1_rows);
    assert_int_equal(test_write_file(path, text), 0);
    struct ab_reporter rc;
    struct ab_error err = { { 0 } };
    assert_int_equal(ab_csv_reporter_open(path, &rc, &err), AB_OK);
    struct ab_result r;
    fill_row(&r, 0);
    ab_case_id(NULL, r.workload, r.device, r.device_name, r.params, r.case_id, sizeof r.case_id);
    assert_int_equal(rc.row(rc.self, &r, &err), AB_OK);
    rc.destroy(rc.self);
    char *now = NULL, *old = NULL;
    assert_int_equal(ab_read_file(path, &now, NULL, NULL), AB_OK);
    assert_int_equal(strncmp(now, "schema_version,run_id,case_id,", 30), 0);
    assert_int_equal(ab_read_file(keep, &old, NULL, NULL), AB_OK);
    assert_string_equal(old, text);
    free(now);
    free(old);
    struct ab_result_set set = { 0 };
    assert_int_equal(ab_csv_read(path, &set, NULL, 0, &err), AB_OK);
    assert_int_equal(set.n, 3);
    assert_string_equal(set.rows[0].case_id, "164fb110dd688ec7");
    assert_true(isnan(set.rows[1].time_s.median)); /* migrated: empty, not 0 */
    assert_string_equal(set.rows[2].case_id, r.case_id);
    ab_result_set_free(&set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_round_trip_keeps_every_field),
        cmocka_unit_test(torn_last_line_is_dropped_and_cut_before_appending),
        cmocka_unit_test(malformed_csv_errors_name_line_and_field),
        cmocka_unit_test(writer_refuses_a_file_of_another_schema),
        cmocka_unit_test(header_bom_is_skipped_and_bad_bytes_are_shown),
        cmocka_unit_test(malformed_json_errors_name_line),
        cmocka_unit_test(case_id_is_stable_and_canonical),
        cmocka_unit_test(schema1_rows_read_with_case_id_and_empty_where_not_measured),
        cmocka_unit_test(columns_are_read_by_name),
        cmocka_unit_test(writer_migrates_a_schema1_file_before_appending),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
