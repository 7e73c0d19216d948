/* cmd_plot.c — `accelbench plot RESULTS...`: the standard figures of one or more result files
 * (merged: one series per device), or the one chart asked for with --kind, -x and -y.
 * All figures are planned (and every option checked) before the first file is written. */
#include "cli.h"
#include "plots.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: accelbench plot RESULTS... [-o DIR] [--format pdf,svg,png] [--kind K] [-x AXIS] [-y METRIC]\n"
        "                       [--filter KEY=VALUE]... [--dpi N]\n\n"
        "RESULTS are results.csv files or result folders (samples.jsonl beside a CSV adds the timing\n"
        "samples); several are merged into one chart with one series per device. With files only, the\n"
        "standard figures are drawn: per workload a scaling line chart (or grouped bars where no axis\n"
        "sweeps), and a roofline per device that has measured ceilings.\n\n"
        "  -o, --output DIR      folder for the figures (default: figures)\n"
        "  -f, --format LIST     any of pdf, svg, png (default: pdf,svg,png)\n"
        "  -k, --kind K          line, bars, roofline or dist (box plots of the timing samples)\n"
        "  -x, --x AXIS          axis for line charts (a numeric parameter, e.g. n, m, seq)\n"
        "  -y, --y METRIC        throughput (default; FLOP/s, B/s or tokens/s, whichever the case is\n"
        "                        held to), flops, bandwidth, tokens, time, fraction, power, energy,\n"
        "                        efficiency, or a workload metric such as peak_extra_bytes\n"
        "      --filter K=V      keep rows whose workload, device, host, backend or axis K is V (or one\n"
        "                        of V1,V2); repeatable, all must hold\n"
        "      --dpi N           PNG resolution (default 200)\n\n"
        "File names are <workload>-<metric>-vs-<axis>[-<facet>].<ext>, <workload>-<metric>-bars,\n"
        "<workload>-time-dist and roofline-<device>. Rows whose status is not ok are left out and\n"
        "listed on stderr and in a note under the chart.\n");
}

int ab_cmd_plot(int argc, char **argv)
{
    enum { O_FILTER = 256, O_DPI };
    static const struct option lopts[] = { { "output", required_argument, NULL, 'o' },
                                           { "format", required_argument, NULL, 'f' },
                                           { "kind", required_argument, NULL, 'k' },
                                           { "x", required_argument, NULL, 'x' },
                                           { "y", required_argument, NULL, 'y' },
                                           { "filter", required_argument, NULL, O_FILTER },
                                           { "dpi", required_argument, NULL, O_DPI },
                                           { "help", no_argument, NULL, 'h' },
                                           { 0 } };
    struct ab_plot_opts o = {
        .formats = AB_FMT_PDF | AB_FMT_SVG | AB_FMT_PNG, .dpi = 200, .out_dir = "figures", .log = stderr
    };
    struct ab_error err;
    double v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:f:k:x:y:", lopts, NULL)) != -1) {
        switch (c) {
        case 'o': o.out_dir = optarg; break;
        case 'f':
            if (ab_plot_formats_parse(optarg, &o.formats, &err) != AB_OK) {
                ab_cli_error("plot: --format: %s", err.msg);
                return 2;
            }
            break;
        case 'k': o.kind = optarg; break;
        case 'x': o.x = optarg; break;
        case 'y': o.y = optarg; break;
        case O_FILTER:
            if (o.n_filters == 16) {
                ab_cli_error("plot: too many --filter options (at most 16)");
                return 2;
            }
            o.filters[o.n_filters++] = optarg;
            break;
        case O_DPI:
            if (!ab_cli_number("--dpi", optarg, &v))
                return 2;
            if (v < 10 || v > 2400) {
                ab_cli_error("plot: --dpi %s out of range (10 to 2400)", optarg);
                return 2;
            }
            o.dpi = v;
            break;
        case 'h': usage(stdout); return 0;
        case ':': ab_cli_error("plot: option %s needs a value", argv[optind - 1]); return 2;
        default:
            ab_cli_error("plot: unknown option \"%s\" (see accelbench plot --help)", argv[optind - 1]);
            return 2;
        }
    }
    if (optind >= argc) {
        ab_cli_error("plot: expected one or more result files or folders (see accelbench plot --help)");
        return 2;
    }
    if (ab_output_dir_safe(o.out_dir, &err) != AB_OK) {
        ab_cli_error("plot: -o %s", err.msg);
        return 2;
    }
    struct ab_result_set rs = { 0 };
    struct ab_figures figs = { 0 };
    char warn[512];
    int rc = 2;
    if (ab_results_load((const char *const *)&argv[optind], argc - optind, &rs, warn, sizeof warn, &err) !=
        AB_OK) {
        ab_cli_error("plot: %s", err.msg);
        goto out;
    }
    if (warn[0])
        fprintf(stderr, "accelbench: plot: warning: %s\n", warn);
    if (ab_figures_plan(&rs, &o, &figs, &err) != AB_OK) {
        ab_cli_error("plot: %s", err.msg);
        goto out;
    }
    if (ab_figures_render(&figs, &o, &err) != AB_OK) {
        ab_cli_error("plot: %s", err.msg);
        goto out;
    }
    fprintf(stderr, "plot: %d figure%s in %s\n", figs.n, figs.n == 1 ? "" : "s", o.out_dir);
    rc = 0;
out:
    ab_figures_free(&figs);
    ab_result_set_free(&rs);
    return rc;
}
