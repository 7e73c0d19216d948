/* test_plots.c — charts: tick positions and labels, figures planned from a CSV the test writes
 * (two devices, a swept workload, ceilings, a failed case), each chart kind rendered to PDF, SVG
 * and PNG and checked as a file of its type, and bad options named in their errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "plots.h"
#include "test_util.h"

#include <cairo.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char *dir;
static struct ab_result_set rows;

/* ---------------------------------------------------------------- ticks */

static void log2_sizes_read_as_1K_4K_16K(void **state)
{
    double lo = 1024, hi = 16384;
    struct ab_plot_ticks t;
    ab_plot_ticks_make(&lo, &hi, AB_SCALE_LOG2, true, &t);
    assert_int_equal(t.n, 5);
    static const char *want[] = { "1K", "2K", "4K", "8K", "16K" };
    for (int i = 0; i < 5; i++) {
        assert_double_equal(t.v[i], 1024.0 * (1 << i), 0);
        assert_string_equal(t.label[i], want[i]);
    }
    assert_double_equal(lo, 1024, 0);
    assert_double_equal(hi, 16384, 0);
}

static void log2_over_many_octaves_thins_to_every_other_power(void **state)
{
    double lo = 1, hi = 1 << 20;
    struct ab_plot_ticks t;
    ab_plot_ticks_make(&lo, &hi, AB_SCALE_LOG2, true, &t);
    assert_true(t.n <= 9);
    assert_string_equal(t.label[0], "1");
    assert_string_equal(t.label[t.n - 1], "1M");
    bool has_1k = false;
    for (int i = 0; i < t.n; i++)
        has_1k |= !strcmp(t.label[i], "1K");
    assert_true(has_1k);
}

static void log10_small_values_read_1e_minus_3(void **state)
{
    double lo = 2e-3, hi = 0.5;
    struct ab_plot_ticks t;
    ab_plot_ticks_make(&lo, &hi, AB_SCALE_LOG10, false, &t);
    assert_int_equal(t.n, 4);
    assert_string_equal(t.label[0], "1e-3");
    assert_string_equal(t.label[1], "0.01");
    assert_string_equal(t.label[2], "0.1");
    assert_string_equal(t.label[3], "1");
    assert_double_equal(lo, 1e-3, 1e-15);
    assert_double_equal(hi, 1, 1e-12);
}

static void linear_ticks_take_nice_steps_and_cover_the_data(void **state)
{
    double lo = 0, hi = 97;
    struct ab_plot_ticks t;
    ab_plot_ticks_make(&lo, &hi, AB_SCALE_LINEAR, false, &t);
    assert_int_equal(t.n, 6);
    for (int i = 0; i < t.n; i++)
        assert_double_equal(t.v[i], 20.0 * i, 1e-9);
    assert_string_equal(t.label[5], "100");
    lo = 0.12, hi = 0.57;
    ab_plot_ticks_make(&lo, &hi, AB_SCALE_LINEAR, false, &t);
    assert_true(lo <= 0.12 && hi >= 0.57);
    assert_string_equal(t.label[0], "0.1");
    assert_double_equal(t.v[1] - t.v[0], 0.1, 1e-12);
}

/* ---------------------------------------------------------------- a result set on disk */

static double samples_store[64][12];
static int n_store;

static void add_row(struct ab_reporter *rc, struct ab_reporter *rj, const char *host, const char *dev,
                    const char *dev_name, const char *workload, const char *params, double flops,
                    double bytes, double time_s, const char *ceiling, double ceiling_value, ab_status status)
{
    struct ab_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.run_id, sizeof r.run_id, "run-%s", host);
    snprintf(r.host, sizeof r.host, "%s", host);
    snprintf(r.started_utc, sizeof r.started_utc, "2026-01-01T00:00:00Z");
    snprintf(r.workload, sizeof r.workload, "%s", workload);
    snprintf(r.device, sizeof r.device, "%s", dev);
    snprintf(r.device_name, sizeof r.device_name, "%s", dev_name);
    snprintf(r.backend, sizeof r.backend, "%s", strncmp(dev, "cuda", 4) ? "cpu" : "cuda");
    snprintf(r.params, sizeof r.params, "%s", params);
    r.status = status;
    if (status != AB_OK) {
        snprintf(r.message, sizeof r.message, "out of memory at this size");
    } else {
        double *t = samples_store[n_store++];
        for (int i = 0; i < 12; i++) /* spread of +-10% around time_s */
            t[i] = time_s * (0.9 + 0.2 * i / 11.0);
        r.samples = t;
        r.n_samples = 12;
        ab_stats_compute(t, 12, &r.time_s);
        snprintf(r.stop_reason, sizeof r.stop_reason, "converged");
        r.reps_per_sample = 1;
        r.flops = flops;
        r.bytes = bytes;
        r.flop_per_s = flops / r.time_s.median;
        r.byte_per_s = bytes / r.time_s.median;
        snprintf(r.ceiling, sizeof r.ceiling, "%s", ceiling);
        r.ceiling_value = ceiling_value;
        r.fraction_of_ceiling = ceiling_value > 0 ? r.flop_per_s / ceiling_value : NAN;
        snprintf(r.power_source, sizeof r.power_source, "nominal:test");
        r.avg_power_w = 50;
        r.energy_j = 50 * r.time_s.median;
        r.flop_per_j = flops > 0 ? flops / r.energy_j : NAN;
        r.byte_per_j = bytes > 0 ? bytes / r.energy_j : NAN;
        r.token_per_j = NAN;
        r.usd_per_hour = NAN;
        r.n_metrics = 1;
        snprintf(r.metrics[0].name, sizeof r.metrics[0].name, "peak_extra_bytes");
        r.metrics[0].value = bytes / 2;
    }
    struct ab_error err;
    assert_int_equal(rc->row(rc->self, &r, &err), AB_OK);
    assert_int_equal(rj->row(rj->self, &r, &err), AB_OK);
}

/* Two devices on two hosts: ceilings (gemm, fma, stream), a workload swept over n and dtype with
 * its own rate falling at large n, and one case that ran out of memory. */
static int setup(void **state)
{
    dir = test_tmpdir();
    if (!dir)
        return -1;
    char csv[4300];
    snprintf(csv, sizeof csv, "%s/results.csv", dir);
    struct ab_reporter rc, rj;
    struct ab_error err;
    if (ab_csv_reporter_open(csv, &rc, &err) != AB_OK || ab_json_reporter_open(dir, &rj, &err) != AB_OK)
        return -1;
    struct ab_run_info info = { 0 };
    snprintf(info.run_id, sizeof info.run_id, "run-1");
    if (rj.begin(rj.self, &info, &err) != AB_OK)
        return -1;
    static const struct {
        const char *host, *id, *name;
        double peak, bw;
    } devs[2] = { { "hostA", "cpu", "Test CPU", 2e12, 2e11 }, { "hostB", "cuda:0", "Test GPU", 4e14, 3e12 } };
    for (int d = 0; d < 2; d++) {
        add_row(&rc, &rj, devs[d].host, devs[d].id, devs[d].name, "ceilings", "kind=gemm;dtype=bf16;n=0",
                2.0 * 4096 * 4096 * 4096, 3.0 * 4096 * 4096 * 2, 2.0 * 4096 * 4096 * 4096 / devs[d].peak,
                "bf16_gemm", devs[d].peak, AB_OK);
        add_row(&rc, &rj, devs[d].host, devs[d].id, devs[d].name, "ceilings", "kind=fma;dtype=fp32;n=0", 1e9,
                0, 1e9 / (devs[d].peak / 8), "fp32_fma", devs[d].peak / 8, AB_OK);
        add_row(&rc, &rj, devs[d].host, devs[d].id, devs[d].name, "ceilings", "kind=stream;dtype=fp32;n=0",
                2e8, 1.2e9, 1.2e9 / devs[d].bw, "mem_bw", devs[d].bw, AB_OK);
        for (int dt = 0; dt < 2; dt++)
            for (int n = 256; n <= 16384; n *= 2) {
                char p[64];
                snprintf(p, sizeof p, "n=%d;dtype=%s", n, dt ? "fp32" : "bf16");
                double flops = 2.0 * n * n * 128, bytes = 4.0 * n * 128 * 3;
                double rate = devs[d].peak * (dt ? 0.25 : 0.5) * (1.0 - 0.3 * log2(n / 256.0) / 6.0);
                add_row(&rc, &rj, devs[d].host, devs[d].id, devs[d].name, "scaling_demo", p, flops, bytes,
                        flops / rate, "bf16_gemm", devs[d].peak, AB_OK);
            }
    }
    add_row(&rc, &rj, "hostA", "cpu", "Test CPU", "scaling_demo", "n=32768;dtype=fp32", 0, 0, 0, "", 0,
            AB_ENOMEM);
    rc.end(rc.self, &info, &err);
    rj.end(rj.self, &info, &err);
    rc.destroy(rc.self);
    rj.destroy(rj.self);
    char warn[256] = "", jl[4300];
    if (ab_csv_read(csv, &rows, warn, sizeof warn, &err) != AB_OK)
        return -1;
    snprintf(jl, sizeof jl, "%s/samples.jsonl", dir);
    return ab_json_read_samples(jl, &rows, &err) == AB_OK ? 0 : -1;
}

static int teardown(void **state)
{
    ab_result_set_free(&rows);
    if (!getenv("AB_TEST_KEEP"))
        test_rmrf(dir);
    free(dir);
    return 0;
}

static const struct ab_figure *find_fig(const struct ab_figures *fs, const char *stem)
{
    for (int i = 0; i < fs->n; i++)
        if (!strcmp(fs->f[i].stem, stem))
            return &fs->f[i];
    for (int i = 0; i < fs->n; i++)
        fprintf(stderr, "planned: %s\n", fs->f[i].stem);
    return NULL;
}

static void plan_from_csv_gives_the_standard_figures(void **state)
{
    struct ab_plot_opts o = { .formats = AB_FMT_PNG, .dpi = 100, .log = stderr };
    struct ab_figures fs;
    struct ab_error err;
    assert_int_equal(rows.n, 2 * (3 + 14) + 1);
    assert_int_equal(ab_figures_plan(&rows, &o, &fs, &err), AB_OK);

    const struct ab_figure *f = find_fig(&fs, "scaling_demo-throughput-vs-n");
    assert_non_null(f);
    assert_int_equal(f->chart.kind, AB_PLOT_LINE);
    assert_int_equal(f->chart.xscale, AB_SCALE_LOG2);
    assert_true(f->chart.xbinary);
    assert_string_equal(f->chart.yunit, "FLOP/s");
    assert_int_equal(f->chart.n_series, 4); /* 2 devices x 2 dtypes */
    assert_string_equal(f->chart.series[0].label, "Test CPU bf16");
    assert_string_equal(f->chart.series[3].label, "Test GPU (cuda:0) fp32");
    for (int s = 0; s < 4; s++) {
        const struct ab_plot_series *se = &f->chart.series[s];
        assert_int_equal(se->n, 7);
        for (int i = 0; i < 7; i++) {
            assert_double_equal(se->x[i], 256.0 * (1 << i), 0);
            assert_true(se->ylo[i] < se->y[i] && se->y[i] < se->yhi[i]); /* interval from the CI */
        }
    }
    /* the throughput is the FLOPs over the median time: the rate the test put in */
    assert_double_equal(f->chart.series[0].y[0] / (2e12 * 0.5), 1.0, 1e-6);
    assert_non_null(strstr(f->chart.note, "1 case not ok (skipped or failed) left out"));

    f = find_fig(&fs, "ceilings-throughput-bars");
    assert_non_null(f);
    assert_int_equal(f->chart.kind, AB_PLOT_BARS);
    assert_int_equal(f->chart.n_series, 2);
    assert_int_equal(f->chart.n_categories, 2); /* gemm bf16, fma fp32 */
    assert_non_null(find_fig(&fs, "ceilings-bandwidth-bars"));

    f = find_fig(&fs, "roofline-cuda_0-hostB");
    assert_non_null(f);
    assert_int_equal(f->chart.kind, AB_PLOT_ROOFLINE);
    assert_int_equal(f->chart.n_roofs, 3);
    bool bw = false;
    for (int i = 0; i < f->chart.n_roofs; i++)
        if (f->chart.roofs[i].bandwidth) {
            bw = true;
            assert_double_equal(f->chart.roofs[i].value, 3e12, 1);
        }
    assert_true(bw);
    assert_non_null(find_fig(&fs, "roofline-cpu-hostA"));
    ab_figures_free(&fs);
}

/* A peer's rows (bench/peers/torch_peers.py: backend=torch, our device and params) are a series
 * of their own, named for the peer, beside ours on the same device. */
static void peer_rows_are_a_series_of_their_own(void **state)
{
    struct ab_result_set both = { 0 };
    struct ab_error err;
    for (int64_t i = 0; i < rows.n; i++) {
        const struct ab_result *r = &rows.rows[i];
        if (strcmp(r->workload, "scaling_demo") || strcmp(r->device, "cpu") || r->status != AB_OK)
            continue;
        struct ab_result peer = *r;
        snprintf(peer.backend, sizeof peer.backend, "torch");
        peer.time_s.median *= 2;
        peer.flop_per_s /= 2;
        assert_int_equal(ab_result_set_add(&both, r, &err), AB_OK);
        assert_int_equal(ab_result_set_add(&both, &peer, &err), AB_OK);
    }
    struct ab_plot_opts o = { .formats = AB_FMT_PNG, .dpi = 100 };
    struct ab_figures fs;
    assert_int_equal(ab_figures_plan(&both, &o, &fs, &err), AB_OK);
    const struct ab_figure *f = find_fig(&fs, "scaling_demo-throughput-vs-n");
    assert_non_null(f);
    assert_int_equal(f->chart.n_series, 4); /* ours and torch x 2 dtypes */
    int ours = -1, peer = -1;
    for (int s = 0; s < 4; s++) {
        assert_int_equal(f->chart.series[s].n, 7);
        if (!strcmp(f->chart.series[s].label, "Test CPU bf16"))
            ours = s;
        if (!strcmp(f->chart.series[s].label, "Test CPU \xc2\xb7 torch bf16"))
            peer = s;
    }
    assert_true(ours >= 0 && peer >= 0);
    /* the peer's rows (twice the time, half the rate) are drawn as the peer's */
    assert_double_equal(f->chart.series[peer].y[0] / f->chart.series[ours].y[0], 0.5, 1e-9);
    ab_figures_free(&fs);
    free(both.rows);
}

/* ---------------------------------------------------------------- rendering */

static char *slurp(const char *path, size_t *len)
{
    char *buf = NULL;
    struct ab_error err;
    ab_status st = ab_read_file(path, &buf, len, &err);
    assert_int_equal(st, AB_OK);
    return buf;
}

/* Well-formed XML, as far as a chart needs: every element closed in order, quotes balanced. */
static bool xml_well_formed(const char *s)
{
    char stack[64][32];
    int depth = 0;
    for (const char *p = s; (p = strchr(p, '<'));) {
        if (!strncmp(p, "<?", 2) || !strncmp(p, "<!", 2)) {
            p = strchr(p, '>');
            if (!p)
                return false;
            continue;
        }
        const char *e = p + 1;
        bool in_q = false;
        for (; *e && (in_q || *e != '>'); e++)
            if (*e == '"')
                in_q = !in_q;
        if (!*e)
            return false;
        bool closing = p[1] == '/', self = e[-1] == '/';
        const char *n = p + 1 + closing;
        size_t nl = strcspn(n, " \t\n/>");
        if (nl == 0 || nl >= 32)
            return false;
        if (closing) {
            if (depth == 0 || strncmp(stack[depth - 1], n, nl) || stack[depth - 1][nl])
                return false;
            depth--;
        } else if (!self) {
            if (depth == 64)
                return false;
            memcpy(stack[depth], n, nl);
            stack[depth++][nl] = 0;
        }
        p = e + 1;
    }
    return depth == 0;
}

static void check_pdf(const char *path)
{
    size_t n;
    char *b = slurp(path, &n);
    assert_true(n > 1000);
    assert_memory_equal(b, "%PDF-", 5);
    /* the trailer: %%EOF at the end, after a startxref */
    size_t end = n;
    while (end > 0 && (b[end - 1] == '\n' || b[end - 1] == '\r'))
        end--;
    assert_true(end >= 5);
    assert_memory_equal(b + end - 5, "%%EOF", 5);
    size_t from = n > 2000 ? n - 2000 : 0;
    assert_non_null(memmem(b + from, n - from, "startxref", 9));
    free(b);
}

static void check_svg(const char *path, const char *must_say)
{
    size_t n;
    char *b = slurp(path, &n);
    assert_non_null(strstr(b, "<svg"));
    assert_non_null(strstr(b, "</svg>"));
    assert_true(xml_well_formed(b));
    assert_non_null(strstr(b, "<text"));
    if (must_say && !strstr(b, must_say))
        fail_msg("%s does not say \"%s\"", path, must_say);
    free(b);
}

static void check_png(const char *path, int want_w, int want_h)
{
    size_t n;
    char *b = slurp(path, &n);
    assert_true(n > 24);
    assert_memory_equal(b, "\x89PNG\r\n\x1a\n", 8);
    free(b);
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    assert_int_equal(w, want_w);
    assert_int_equal(h, want_h);
    /* not blank: many pixels drawn, in several colours (series are coloured) */
    const unsigned char *px = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    long inked = 0;
    uint32_t colours[64];
    int nc = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t v = *(const uint32_t *)(px + (size_t)y * (size_t)stride + 4 * (size_t)x);
            if ((v & 0xffffff) != 0xffffff)
                inked++;
            uint8_t r = (uint8_t)(v >> 16), g = (uint8_t)(v >> 8), bl = (uint8_t)v;
            if (abs(r - g) > 60 || abs(g - bl) > 60 || abs(r - bl) > 60) { /* saturated: not grey */
                uint32_t q = v & 0xe0e0e0;
                int k = 0;
                while (k < nc && colours[k] != q)
                    k++;
                if (k == nc && nc < 64)
                    colours[nc++] = q;
            }
        }
    cairo_surface_destroy(s);
    assert_true(inked > (long)w * h / 50);
    if (nc < 2)
        fail_msg("%s: %d saturated colours", path, nc);
}

static void render_kind(const char *kind, const char *stem, const char *svg_word)
{
    char out[4300];
    snprintf(out, sizeof out, "%s/fig-%s", dir, kind);
    struct ab_plot_opts o = {
        .kind = kind, .formats = AB_FMT_PDF | AB_FMT_SVG | AB_FMT_PNG, .dpi = 100, .out_dir = out
    };
    if (!strcmp(kind, "line") || !strcmp(kind, "dist")) {
        o.filters[0] = "workload=scaling_demo";
        o.n_filters = 1;
    }
    if (!strcmp(kind, "dist")) {
        o.filters[1] = "n=256,1024,4096";
        o.n_filters = 2;
    }
    struct ab_figures fs;
    struct ab_error err;
    if (ab_figures_plan(&rows, &o, &fs, &err) != AB_OK)
        fail_msg("%s: %s", kind, err.msg);
    assert_non_null(find_fig(&fs, stem));
    if (ab_figures_render(&fs, &o, &err) != AB_OK)
        fail_msg("%s: %s", kind, err.msg);
    ab_figures_free(&fs);
    char p[4400];
    snprintf(p, sizeof p, "%s/%s.pdf", out, stem);
    check_pdf(p);
    snprintf(p, sizeof p, "%s/%s.svg", out, stem);
    check_svg(p, svg_word);
    snprintf(p, sizeof p, "%s/%s.png", out, stem);
    check_png(p, 600, 375); /* 432 x 270 pt at 100 dpi */
    snprintf(p, sizeof p, "%s/%s.png.tmp", out, stem);
    struct stat st;
    assert_int_not_equal(stat(p, &st), 0); /* no temporary left behind */
}

static void line_chart_renders_to_pdf_svg_png(void **state)
{
    render_kind("line", "scaling_demo-throughput-vs-n", "16K");
}
static void bars_render_to_pdf_svg_png(void **state)
{
    render_kind("bars", "ceilings-throughput-bars", "Test GPU (cuda:0)");
}
static void roofline_renders_to_pdf_svg_png(void **state)
{
    render_kind("roofline", "roofline-cuda_0-hostB", "bf16_gemm");
}
static void dist_renders_to_pdf_svg_png(void **state)
{
    render_kind("dist", "scaling_demo-time-dist", "Time per repetition (");
}

/* ---------------------------------------------------------------- bad input */

static void expect_error(const struct ab_result_set *rs, struct ab_plot_opts *o, const char *w1,
                         const char *w2)
{
    struct ab_figures fs;
    struct ab_error err;
    o->formats = AB_FMT_PNG;
    assert_int_equal(ab_figures_plan(rs, o, &fs, &err), AB_EINVAL);
    if (!strstr(err.msg, w1) || (w2 && !strstr(err.msg, w2)))
        fail_msg("error \"%s\" should name \"%s\"%s%s", err.msg, w1, w2 ? " and " : "", w2 ? w2 : "");
    assert_int_equal(fs.n, 0);
    assert_null(fs.f);
}

static void bad_kind_metric_axis_or_filter_names_it(void **state)
{
    struct ab_plot_opts o = { .kind = "pie" };
    expect_error(&rows, &o, "\"pie\"", "roofline");
    o = (struct ab_plot_opts){ .y = "speed" };
    expect_error(&rows, &o, "\"speed\"", "peak_extra_bytes");
    o = (struct ab_plot_opts){ .x = "zz" };
    expect_error(&rows, &o, "\"zz\"", "dtype");
    o = (struct ab_plot_opts){ .filters = { "dtype" }, .n_filters = 1 };
    expect_error(&rows, &o, "\"dtype\"", "KEY=VALUE");
    o = (struct ab_plot_opts){ .filters = { "colour=red" }, .n_filters = 1 };
    expect_error(&rows, &o, "\"colour\"", NULL);
    o = (struct ab_plot_opts){ .filters = { "dtype=fp64" }, .n_filters = 1 };
    expect_error(&rows, &o, "dtype=fp64", "bf16");
    o = (struct ab_plot_opts){ .kind = "line", .filters = { "workload=ceilings" }, .n_filters = 1 };
    expect_error(&rows, &o, "ceilings", "--kind bars");
    unsigned f;
    struct ab_error err;
    assert_int_equal(ab_plot_formats_parse("pdf,jpeg", &f, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "\"jpeg\""));
    assert_int_equal(ab_plot_formats_parse("svg,png", &f, &err), AB_OK);
    assert_int_equal(f, AB_FMT_SVG | AB_FMT_PNG);
}

static void empty_or_all_failed_input_is_an_error(void **state)
{
    struct ab_result_set empty = { 0 };
    struct ab_plot_opts o = { 0 };
    expect_error(&empty, &o, "empty", NULL);
    o = (struct ab_plot_opts){ .filters = { "n=32768" }, .n_filters = 1 };
    expect_error(&rows, &o, "status ok", NULL);
}

/* ---------------------------------------------------------------- the command line */

static void plot_command_writes_figures_and_rejects_bad_kind(void **state)
{
    const char *exe = getenv("ACCELBENCH_EXE");
    if (!exe)
        skip();
    char cmd[9000], p[4400];
    snprintf(cmd, sizeof cmd, "'%s' plot '%s/results.csv' -o '%s/cli' --format svg,png --dpi 50 2>/dev/null",
             exe, dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(p, sizeof p, "%s/cli/scaling_demo-throughput-vs-n.svg", dir);
    check_svg(p, NULL);
    snprintf(p, sizeof p, "%s/cli/roofline-cpu-hostA.png", dir);
    check_png(p, 300, 188);
    snprintf(cmd, sizeof cmd, "'%s' plot '%s' --kind pie -o '%s/cli2' 2>'%s/err.txt'", exe, dir, dir, dir);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 2);
    snprintf(p, sizeof p, "%s/err.txt", dir);
    size_t n;
    char *e = slurp(p, &n);
    assert_non_null(strstr(e, "unknown chart kind \"pie\""));
    free(e);
    struct stat st;
    snprintf(p, sizeof p, "%s/cli2", dir);
    assert_int_not_equal(stat(p, &st), 0); /* nothing written on bad input */
    snprintf(cmd, sizeof cmd, "'%s' plot '%s/missing.csv' 2>/dev/null", exe, dir);
    rc = system(cmd);
    assert_int_equal(WEXITSTATUS(rc), 2);
}

/* A workload metric's unit is the one its workload declares, not a guess from its name. */
static void workload_metric_reads_its_declared_unit(void **state)
{
    (void)state;
    struct ab_result r = { .workload = "attention_memory", .n_metrics = 2 };
    snprintf(r.metrics[0].name, sizeof r.metrics[0].name, "flop_per_byte");
    r.metrics[0].value = 3;
    snprintf(r.metrics[1].name, sizeof r.metrics[1].name, "peak_extra_bytes");
    r.metrics[1].value = 1024;
    double v, lo, hi;
    const char *unit;
    assert_true(ab_plot_row_metric(&r, "flop_per_byte", &v, &lo, &hi, &unit));
    assert_string_equal(unit, "FLOP/B");
    assert_true(ab_plot_row_metric(&r, "peak_extra_bytes", &v, &lo, &hi, &unit));
    assert_string_equal(unit, "B");
    snprintf(r.workload, sizeof r.workload, "no_such_workload"); /* old or foreign rows */
    assert_true(ab_plot_row_metric(&r, "peak_extra_bytes", &v, &lo, &hi, &unit));
    assert_string_equal(unit, "");
}

/* Two ranks of a merged run on one host and one device are two series, each naming its rank. */
static void ranks_of_a_merged_run_are_series_of_their_own(void **state)
{
    struct ab_result_set rs = { 0 };
    struct ab_error err;
    for (int rank = 0; rank < 2; rank++)
        for (int k = 0; k < 2; k++) {
            struct ab_result r = { .status = AB_OK, .bytes = 4096.0 * (k + 1), .fraction_of_ceiling = NAN };
            snprintf(r.host, sizeof r.host, "node1");
            snprintf(r.workload, sizeof r.workload, "interconnect");
            snprintf(r.device, sizeof r.device, "cpu");
            snprintf(r.device_name, sizeof r.device_name, "Test CPU");
            snprintf(r.backend, sizeof r.backend, "cpu");
            snprintf(r.params, sizeof r.params, "op=memcpy;bytes=%d", 4096 * (k + 1));
            r.time_s =
                (struct ab_stats){ .n = 5, .median = 1e-6 * (rank + 1), .ci_lo = 0.9e-6, .ci_hi = 2.1e-6 };
            r.byte_per_s = r.bytes / r.time_s.median;
            r.metrics[0] = (struct ab_metric){ .name = "rank", .value = rank };
            r.n_metrics = 1;
            assert_int_equal(ab_result_set_add(&rs, &r, &err), AB_OK);
        }
    struct ab_plot_opts o = { .formats = AB_FMT_PNG, .dpi = 100, .log = NULL };
    struct ab_figures fs;
    assert_int_equal(ab_figures_plan(&rs, &o, &fs, &err), AB_OK);
    const struct ab_figure *f = find_fig(&fs, "interconnect-bandwidth-bars");
    assert_non_null(f);
    assert_int_equal(f->chart.n_series, 2);
    assert_string_equal(f->chart.series[0].label, "Test CPU (node1 rank 0)");
    assert_string_equal(f->chart.series[1].label, "Test CPU (node1 rank 1)");
    /* rank 1 took twice as long: half the bandwidth */
    assert_double_equal(f->chart.series[0].y[0] / f->chart.series[1].y[0], 2.0, 1e-9);
    ab_figures_free(&fs);
    ab_result_set_free(&rs);
}

/* ---------------------------------------------------------------- chart declarations */

static bool wl_has_axis(const struct ab_workload *w, const char *name, bool *numeric)
{
    for (int a = 0; a < w->n_axes; a++)
        if (!strcmp(w->axes[a].name, name)) {
            *numeric = w->axes[a].type != AB_AXIS_STR;
            return true;
        }
    return false;
}

/* What a workload's chart declaration names exists: x a numeric axis, the facet an axis, each
 * metric a row figure or a number metric the workload declares. */
static void every_workload_chart_names_its_axes_and_number_metrics(void **state)
{
    (void)state;
    int n_charts = 0;
    for (const struct ab_workload *const *wp = ab_workloads(); *wp; wp++) {
        const struct ab_workload *w = *wp;
        const struct ab_chart_decl *cd = w->chart;
        if (!cd)
            continue;
        n_charts++;
        bool numeric;
        if (cd->x) {
            if (!wl_has_axis(w, cd->x, &numeric) || !numeric)
                fail_msg("%s: chart x \"%s\" is not a numeric axis of the workload", w->name, cd->x);
        } else if (cd->xlabel || cd->xunit) {
            fail_msg("%s: chart gives an x label or unit without an x axis", w->name);
        }
        if (cd->facet && !wl_has_axis(w, cd->facet, &numeric))
            fail_msg("%s: chart facet \"%s\" is not an axis of the workload", w->name, cd->facet);
        for (int m = 0; m < AB_CHART_MAX_METRICS && cd->metrics[m]; m++) {
            const char *name = cd->metrics[m];
            if (ab_plot_metric_builtin(name))
                continue;
            const struct ab_metric_decl *d = ab_metric_decl_find(w, name);
            if (!d || d->text || strchr(d->name, '*'))
                fail_msg("%s: chart metric \"%s\" is neither a row figure nor a number metric it declares",
                         w->name, name);
        }
    }
    assert_true(n_charts >= 5); /* the workloads with charts of their own keep them */
    assert_true(ab_plot_metric_builtin("throughput"));
    assert_false(ab_plot_metric_builtin("peak_extra_bytes"));
}

/* plots/ knows workloads through their descriptors only: no source file of it names one as a
 * string ("ceilings") or a filter value (workload=ceilings). */
static void plots_sources_name_no_workload(void **state)
{
    (void)state;
    static const char *const files[] = { "figures.c",      "figures_common.c",   "figures_line.c",
                                         "figures_bars.c", "figures_roofline.c", "figures_internal.h",
                                         "chart.c",        "canvas.c",           "ticks.c",
                                         "plots.h",        "canvas.h",           NULL };
    for (int f = 0; files[f]; f++) {
        char path[4096], *text = NULL;
        size_t len;
        struct ab_error err;
        snprintf(path, sizeof path, "%s/plots/%s", SOURCE_ROOT, files[f]);
        assert_int_equal(ab_read_file(path, &text, &len, &err), AB_OK);
        for (const struct ab_workload *const *wp = ab_workloads(); *wp; wp++) {
            char quoted[64], filter[64];
            snprintf(quoted, sizeof quoted, "\"%s\"", (*wp)->name);
            snprintf(filter, sizeof filter, "=%s", (*wp)->name);
            if (strstr(text, quoted) || strstr(text, filter))
                fail_msg("plots/%s names the workload %s: declare its charts in its descriptor (.chart)",
                         files[f], (*wp)->name);
        }
        free(text);
    }
}

static struct ab_result demo_row(const char *workload, const char *params, double flops, double time_s)
{
    struct ab_result r = { .status = AB_OK, .flops = flops, .fraction_of_ceiling = NAN };
    snprintf(r.host, sizeof r.host, "node1");
    snprintf(r.workload, sizeof r.workload, "%s", workload);
    snprintf(r.device, sizeof r.device, "cpu");
    snprintf(r.device_name, sizeof r.device_name, "Test CPU");
    snprintf(r.backend, sizeof r.backend, "cpu");
    snprintf(r.params, sizeof r.params, "%s", params);
    r.time_s = (struct ab_stats){ .n = 5, .median = time_s, .ci_lo = 0.9 * time_s, .ci_hi = 1.1 * time_s };
    r.flop_per_s = flops / time_s;
    r.energy_j = 10 * time_s;
    r.avg_power_w = 10;
    r.flop_per_j = flops / r.energy_j;
    r.byte_per_j = r.token_per_j = r.usd_per_hour = NAN;
    return r;
}

/* The same rows drawn as a declared workload's and as an unknown one's: the declaration picks
 * seq over batch (which has more values) with its label and unit, and adds the efficiency
 * chart; without one, x is the axis with the most values and throughput the only metric. */
static void chart_declaration_picks_x_label_and_metrics(void **state)
{
    (void)state;
    static const char *const names[] = { "transformer_block", "no_such_workload" };
    for (int k = 0; k < 2; k++) {
        struct ab_result_set rs = { 0 };
        struct ab_error err;
        for (int seq = 128; seq <= 512; seq *= 2)
            for (int batch = 1; batch <= 8; batch *= 2) {
                char p[96];
                snprintf(p, sizeof p, "seq=%d;batch=%d", seq, batch);
                struct ab_result r = demo_row(names[k], p, 1e9 * seq * batch, 1e-3 * seq);
                assert_int_equal(ab_result_set_add(&rs, &r, &err), AB_OK);
            }
        struct ab_plot_opts o = { .formats = AB_FMT_PNG, .dpi = 100 };
        struct ab_figures fs;
        assert_int_equal(ab_figures_plan(&rs, &o, &fs, &err), AB_OK);
        if (k == 0) {
            const struct ab_figure *f = find_fig(&fs, "transformer_block-throughput-vs-seq");
            assert_non_null(f);
            assert_string_equal(f->chart.xlabel, "Sequence length");
            assert_string_equal(f->chart.xunit, "tokens");
            assert_int_equal(f->chart.n_series, 4); /* batch 1, 2, 4, 8 */
            assert_non_null(find_fig(&fs, "transformer_block-efficiency-vs-seq"));
            assert_int_equal(fs.n, 2);
        } else {
            const struct ab_figure *f = find_fig(&fs, "no_such_workload-throughput-vs-batch");
            assert_non_null(f);
            assert_string_equal(f->chart.xlabel, "batch");
            assert_string_equal(f->chart.xunit, "");
            assert_int_equal(f->chart.n_series, 3); /* seq 128, 256, 512 */
            assert_int_equal(fs.n, 1);
        }
        ab_figures_free(&fs);
        ab_result_set_free(&rs);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(workload_metric_reads_its_declared_unit),
        cmocka_unit_test(ranks_of_a_merged_run_are_series_of_their_own),
        cmocka_unit_test(every_workload_chart_names_its_axes_and_number_metrics),
        cmocka_unit_test(plots_sources_name_no_workload),
        cmocka_unit_test(chart_declaration_picks_x_label_and_metrics),
        cmocka_unit_test(log2_sizes_read_as_1K_4K_16K),
        cmocka_unit_test(log2_over_many_octaves_thins_to_every_other_power),
        cmocka_unit_test(log10_small_values_read_1e_minus_3),
        cmocka_unit_test(linear_ticks_take_nice_steps_and_cover_the_data),
        cmocka_unit_test(plan_from_csv_gives_the_standard_figures),
        cmocka_unit_test(peer_rows_are_a_series_of_their_own),
        cmocka_unit_test(line_chart_renders_to_pdf_svg_png),
        cmocka_unit_test(bars_render_to_pdf_svg_png),
        cmocka_unit_test(roofline_renders_to_pdf_svg_png),
        cmocka_unit_test(dist_renders_to_pdf_svg_png),
        cmocka_unit_test(bad_kind_metric_axis_or_filter_names_it),
        cmocka_unit_test(empty_or_all_failed_input_is_an_error),
        cmocka_unit_test(plot_command_writes_figures_and_rejects_bad_kind),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
