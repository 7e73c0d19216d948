/* test_metrics_decl.c — every metric a row carries is declared by its workload (or the engine),
 * and results/schema.md lists every declaration. Runs the whole CPU check suite and a few
 * measured cases in process, then reads their rows back; CUDA-only metrics are declared from
 * the code and held to schema.md alone. */
#include "accelbench.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

#include <cmocka.h>

#include "test_util.h"

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = test_tmpdir();
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    test_rmrf(dir);
    free(dir);
    return 0;
}

/* Run opts for the CPU with results in dir/sub. */
static void opts_for(struct ab_run_opts *o, const char *sub, char *out, size_t len)
{
    ab_run_opts_defaults(o);
    snprintf(out, len, "%s/%s", dir, sub);
    o->devices[o->n_devices++] = "cpu";
    o->out_dir = out;
    o->quiet = true;
    o->log = NULL;
    o->seed = 1;
    o->no_ceilings = true;
}

/* Every metric of every row is declared, as a number or as text as it was recorded. */
static int assert_rows_declared(const char *out)
{
    char csv[4400];
    snprintf(csv, sizeof csv, "%s/results.csv", out);
    struct ab_result_set set = { 0 };
    struct ab_error e;
    assert_int_equal(ab_csv_read(csv, &set, NULL, 0, &e), AB_OK);
    int seen = 0;
    for (int64_t i = 0; i < set.n; i++) {
        const struct ab_result *r = &set.rows[i];
        const struct ab_workload *w = ab_workload_find(r->workload);
        assert_non_null(w);
        for (int j = 0; j < r->n_metrics; j++) {
            const struct ab_metric *m = &r->metrics[j];
            const struct ab_metric_decl *d = ab_metric_decl_find(w, m->name);
            if (!d)
                fail_msg("%s %s: metric %s is not declared in %s's .metrics", r->workload, r->params, m->name,
                         r->workload);
            if (d->text != (m->text[0] != '\0'))
                fail_msg("%s: metric %s is declared as %s but recorded as %s", r->workload, m->name,
                         d->text ? "text" : "a number", m->text[0] ? "text" : "a number");
            seen++;
        }
    }
    ab_result_set_free(&set);
    return seen;
}

/* Does some row of dir out carry the metric? */
static bool some_row_has(const char *out, const char *name)
{
    char csv[4400];
    snprintf(csv, sizeof csv, "%s/results.csv", out);
    struct ab_result_set set = { 0 };
    struct ab_error e;
    assert_int_equal(ab_csv_read(csv, &set, NULL, 0, &e), AB_OK);
    bool has = false;
    for (int64_t i = 0; i < set.n && !has; i++)
        for (int j = 0; j < set.rows[i].n_metrics; j++)
            has |= !strcmp(set.rows[i].metrics[j].name, name);
    ab_result_set_free(&set);
    return has;
}

static void every_declaration_is_whole_and_unique(void **state)
{
    (void)state;
    const struct ab_workload *const *wl = ab_workloads();
    for (int w = 0; wl[w]; w++) {
        assert_true(wl[w]->n_metrics > 0);
        for (int i = 0; i < wl[w]->n_metrics; i++) {
            const struct ab_metric_decl *d = &wl[w]->metrics[i];
            assert_non_null(d->name);
            assert_non_null(d->unit);
            assert_true(d->meaning && d->meaning[0]);
            assert_true(strlen(d->name) < sizeof((struct ab_metric *)0)->name);
            if (d->text)
                assert_true(d->unit[0] == '\0' && d->better == AB_BETTER_NONE);
            for (int k = 0; k < i; k++)
                if (!strcmp(wl[w]->metrics[k].name, d->name))
                    fail_msg("%s declares %s twice", wl[w]->name, d->name);
        }
    }
}

static void lookup_finds_the_workloads_then_the_engines_and_nothing_else(void **state)
{
    (void)state;
    const struct ab_workload *am = ab_workload_find("attention_memory");
    assert_non_null(am);
    const struct ab_metric_decl *d = ab_metric_decl_find(am, "peak_extra_bytes");
    assert_non_null(d);
    assert_string_equal(d->unit, "B");
    assert_int_equal(d->better, AB_BETTER_LOWER);
    d = ab_metric_decl_find(am, "papi_PAPI_TOT_INS_thread0_per_rep");
    assert_non_null(d);
    assert_string_equal(d->name, "papi_*_thread0_per_rep");
    assert_null(ab_metric_decl_find(am, "papi__thread0_per_rep")); /* '*' is a non-empty word */
    assert_non_null(ab_metric_decl_find(NULL, "dynamic_energy_j"));
    assert_null(ab_metric_decl_find(NULL, "peak_extra_bytes"));
    assert_null(ab_metric_decl_find(am, "no_such_metric"));
}

/* The section of schema.md whose "### " heading starts with `word` (case-insensitive), or
 * NULL; [*from, *to) is its text. */
static bool schema_section(const char *md, const char *word, const char **from, const char **to)
{
    size_t n = strlen(word);
    for (const char *p = strstr(md, "\n### "); p; p = strstr(p + 1, "\n### ")) {
        const char *h = p + 5;
        if (strncasecmp(h, word, n) == 0 && (h[n] == ' ' || h[n] == '\n')) {
            *from = h;
            const char *e = strstr(h, "\n## "), *e3 = strstr(h, "\n### ");
            *to = e3 && (!e || e3 < e) ? e3 : e ? e : h + strlen(h);
            return true;
        }
    }
    return false;
}

static void lists_in(const char *from, const char *to, const char *where, const struct ab_metric_decl *d,
                     int n)
{
    for (int i = 0; i < n; i++) {
        char quoted[64];
        snprintf(quoted, sizeof quoted, "`%s`", d[i].name);
        const char *p = strstr(from, quoted);
        if (!p || p >= to)
            fail_msg("results/schema.md's %s section does not list the metric %s", where, quoted);
    }
}

static void schema_md_lists_every_declared_metric(void **state)
{
    (void)state;
    char path[4096], *md;
    size_t len;
    struct ab_error e;
    snprintf(path, sizeof path, "%s/results/schema.md", SOURCE_ROOT);
    assert_int_equal(ab_read_file(path, &md, &len, &e), AB_OK);
    const char *from, *to;
    const struct ab_workload *const *wl = ab_workloads();
    for (int w = 0; wl[w]; w++) {
        if (!schema_section(md, wl[w]->name, &from, &to))
            fail_msg("results/schema.md has no \"### %s\" section", wl[w]->name);
        lists_in(from, to, wl[w]->name, wl[w]->metrics, wl[w]->n_metrics);
    }
    int n;
    const struct ab_metric_decl *em = ab_engine_metrics(&n);
    assert_true(schema_section(md, "engine", &from, &to));
    lists_in(from, to, "engine", em, n);
    free(md);
}

static void check_suite_rows_carry_only_declared_metrics(void **state)
{
    (void)state;
    struct ab_run_opts o;
    char out[4400];
    opts_for(&o, "check", out, sizeof out);
    o.suite = AB_SUITE_CHECK;
    struct ab_run_info info;
    struct ab_error err = { { 0 } };
    assert_int_equal(ab_run(&o, &info, &err), AB_OK);
    assert_true(info.n_ok > 0);
    assert_true(assert_rows_declared(out) > 0);
}

/* Metrics recorded while timing (per-op breakdowns, time per token), on the smallest cases that
 * take those paths; and the engine's idle-baseline metrics where the CPU has an energy meter
 * (a nominal estimate gives none). */
static void measured_rows_carry_only_declared_metrics(void **state)
{
    (void)state;
    static const struct {
        const char *workload;
        const char *axes[6];
        const char *timed; /* a metric only timing records: the path was taken */
    } cases[] = {
        { "transformer_block", { "hidden=192", "seq=70", "batch=1", "dtype=fp32" }, "ln1_s" },
        { "gpt2", { "model=tiny", "dtype=fp32", "batch=1", "prompt=4", "gen=2" }, "tpot_median_s" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct ab_run_opts o;
        char out[4400];
        opts_for(&o, cases[k].workload, out, sizeof out);
        o.suite = AB_SUITE_QUICK;
        o.workloads[o.n_workloads++] = cases[k].workload;
        for (int a = 0; a < 6 && cases[k].axes[a]; a++)
            o.axis_overrides[o.n_axis_overrides++] = cases[k].axes[a];
        o.stop.min_samples = 2;
        o.stop.min_time_s = 0;
        o.stop.max_time_s = 0.01;
        o.warmup_s = 0;
        o.idle_baseline_s = 0.01;
        struct ab_run_info info;
        struct ab_error err = { { 0 } };
        assert_int_equal(ab_run(&o, &info, &err), AB_OK);
        assert_true(assert_rows_declared(out) > 0);
        if (!some_row_has(out, cases[k].timed))
            fail_msg("%s: the measured rows lack %s", cases[k].workload, cases[k].timed);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_declaration_is_whole_and_unique),
        cmocka_unit_test(lookup_finds_the_workloads_then_the_engines_and_nothing_else),
        cmocka_unit_test(schema_md_lists_every_declared_metric),
        cmocka_unit_test(check_suite_rows_carry_only_declared_metrics),
        cmocka_unit_test(measured_rows_carry_only_declared_metrics),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
