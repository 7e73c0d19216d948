/* cmd_export.c — `accelbench export DIR...`: the tidy tables of result files (export.c), for
 * pandas, R, DuckDB or a spreadsheet without parsing code. Reads schema 1 and 2 alike. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: accelbench export RESULTS... [--format csv|json] [--wide|--long|--columns] [-o FILE]\n\n"
            "RESULTS are results.csv files or result folders (their results.csv and those of their\n"
            "subfolders), schema 1 or 2. Writes one table of their rows, the latest row of each case of\n"
            "each run, to standard output or FILE:\n\n"
            "  --wide          (default) one row per case: the fixed columns of results.csv, one typed\n"
            "                  column per axis (p_<axis>) and per metric (m_<metric>); empty = not measured\n"
            "  --long          one line per measured number: run_id, case_id, name, value, unit\n"
            "  --format F      csv (default) or json (an array of objects; empty numbers are null)\n"
            "  -o, --output F  write to F (replaced whole) instead of standard output\n\n"
            "Parquet is not built in: `pandas.read_csv` of the CSV, then `.to_parquet`, makes one.\n"
            "Column types are listed in results/schema.md (\"Tidy tables\").\n");
}

int ab_cmd_export(int argc, char **argv)
{
    enum { O_FORMAT = 256, O_WIDE, O_LONG, O_COLUMNS };
    static const struct option opts[] = { { "format", required_argument, NULL, O_FORMAT },
                                          { "wide", no_argument, NULL, O_WIDE },
                                          { "long", no_argument, NULL, O_LONG },
                                          { "columns", no_argument, NULL, O_COLUMNS },
                                          { "output", required_argument, NULL, 'o' },
                                          { "help", no_argument, NULL, 'h' },
                                          { 0 } };
    enum ab_export_format fmt = AB_EXPORT_CSV;
    enum ab_export_table table = AB_EXPORT_WIDE;
    const char *out_path = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        switch (c) {
        case O_FORMAT:
            if (!strcmp(optarg, "csv")) {
                fmt = AB_EXPORT_CSV;
            } else if (!strcmp(optarg, "json")) {
                fmt = AB_EXPORT_JSON;
            } else {
                ab_cli_error("export: unknown format \"%s\" (valid: csv, json; parquet is not built in)",
                             optarg);
                return 2;
            }
            break;
        case O_WIDE: table = AB_EXPORT_WIDE; break;
        case O_LONG: table = AB_EXPORT_LONG; break;
        case O_COLUMNS: table = AB_EXPORT_COLUMNS; break;
        case 'o': out_path = optarg; break;
        case 'h': usage(stdout); return 0;
        case ':': ab_cli_error("export: option %s needs a value", argv[optind - 1]); return 2;
        default:
            ab_cli_error("export: unknown option \"%s\" (see accelbench export --help)", argv[optind - 1]);
            return 2;
        }
    }
    if (argc - optind < 1) {
        ab_cli_error("export: expected one or more result files or folders (see accelbench export --help)");
        return 2;
    }
    struct ab_result_set set = { 0 };
    struct ab_error err = { { 0 } };
    char warn[1024];
    int rc = 2;
    char tmp[4300] = "";
    FILE *f = stdout;
    if (ab_results_load((const char *const *)&argv[optind], argc - optind, &set, warn, sizeof warn, &err) !=
        AB_OK) {
        ab_cli_error("export: %s", err.msg);
        goto out;
    }
    if (warn[0])
        fprintf(stderr, "accelbench: export: warning: %s\n", warn);
    if (out_path) {
        int fd = -1;
        if (ab_temp_beside(out_path, tmp, sizeof tmp, &fd, &err) != AB_OK) {
            ab_cli_error("export: %s", err.msg);
            tmp[0] = '\0';
            goto out;
        }
        f = fdopen(fd, "w");
        if (!f) {
            ab_cli_error("export: %s: %s", tmp, strerror(errno));
            close(fd);
            goto out;
        }
    }
    ab_status st = ab_export_write(&set, table, fmt, f, out_path ? out_path : "standard output", warn,
                                   sizeof warn, &err);
    if (warn[0])
        fprintf(stderr, "accelbench: export: warning: %s\n", warn);
    if (out_path) {
        bool closed = fclose(f) == 0;
        f = NULL;
        if (st == AB_OK && !closed)
            st = ab_fail(&err, AB_EIO, "%s: write failed (disk full?)", out_path);
        if (st == AB_OK && rename(tmp, out_path) != 0)
            st = ab_fail(&err, AB_EIO, "%s: cannot rename into place: %s", out_path, strerror(errno));
        if (st == AB_OK)
            tmp[0] = '\0';
    }
    if (st != AB_OK && !out_path && errno == EPIPE) {
        rc = 0; /* the reader went away (`| head`): a clean stop */
        goto out;
    }
    if (st != AB_OK) {
        ab_cli_error("export: %s", err.msg);
        goto out;
    }
    rc = 0;
out:
    if (f && f != stdout)
        fclose(f);
    if (tmp[0])
        unlink(tmp);
    ab_result_set_free(&set);
    return rc;
}
