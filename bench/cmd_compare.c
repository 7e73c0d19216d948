/* cmd_compare.c — `accelbench compare BASE NEW`: a verdict per case and an exit status a CI
 * job can gate on: 0 no regression, 1 regression (per --fail-on), 2 bad input. */
#include "cli.h"
#include "compare.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: accelbench compare BASE NEW [--threshold PCT] [--alpha A] [--metric time|throughput|energy]\n"
        "                          [--format text|md|csv|json] [--fail-on regress|any|none]\n\n"
        "BASE and NEW are results.csv files or result folders (every results.csv in the folder and in\n"
        "every subfolder below it, each folder once, with samples.jsonl beside each, merged). Cases are\n"
        "matched by workload, device, device name and parameters; unmatched ones are listed as added\n"
        "or removed. The text and md tables print the parts of the case names every row shares once\n"
        "above the table and never cut a name (a long one gets a line of its own).\n\n"
        "  --threshold PCT   smallest change that counts, in percent (default 5)\n"
        "  --alpha A         significance after Holm-Bonferroni over all cases (default 0.05)\n"
        "  --metric M        time (default), throughput, or energy (same measured power source only)\n"
        "  --format F        text (default; colour on a terminal unless NO_COLOR), md, csv, json\n"
        "  --noise PCT       run-to-run noise (1 sigma, percent) to allow for; default: estimated from\n"
        "                    the spread of all cases' ratios (needs 5 or more cases)\n"
        "  --fail-on F       regress (default: exit 1 on a slower or failed case), any (any change,\n"
        "                    noisy, added or removed case), none (always 0)\n\n"
        "A case is slower only when it is significant after correction, both by the Mann-Whitney test\n"
        "on the raw samples and once its interval is widened by the run-to-run noise, AND the ratio of\n"
        "medians passes the threshold; a case whose 95%% interval is too wide to resolve a\n"
        "threshold-sized change is noisy.\n");
}

/* Compare reads the latest row of each case (a resumed case's row replaces its `interrupted`
 * one): say so when that leaves rows out. */
static void note_repeats(const char *which, const struct ab_result_set *s)
{
    int n = 0;
    const struct ab_result **lt = ab_results_latest(s, &n);
    if (lt && n < s->n)
        fprintf(
            stderr,
            "accelbench: compare: note: %s: %lld earlier row%s of repeated cases left out (the latest row "
            "of each case is compared)\n",
            which, (long long)(s->n - n), s->n - n == 1 ? "" : "s");
    free(lt);
}

int ab_cmd_compare(int argc, char **argv)
{
    enum { O_THR = 256, O_ALPHA, O_METRIC, O_FORMAT, O_FAIL, O_NOISE };
    static const struct option opts[] = { { "threshold", required_argument, NULL, O_THR },
                                          { "alpha", required_argument, NULL, O_ALPHA },
                                          { "metric", required_argument, NULL, O_METRIC },
                                          { "format", required_argument, NULL, O_FORMAT },
                                          { "fail-on", required_argument, NULL, O_FAIL },
                                          { "noise", required_argument, NULL, O_NOISE },
                                          { "help", no_argument, NULL, 'h' },
                                          { 0 } };
    struct cmp_opts o;
    cmp_opts_defaults(&o);
    const char *format = "text";
    enum cmp_fail_on fail_on = CMP_FAIL_REGRESS;
    double v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case O_THR:
            if (!ab_cli_number("--threshold", optarg, &v))
                return 2;
            o.threshold = v / 100.0;
            break;
        case O_NOISE:
            if (!ab_cli_number("--noise", optarg, &v))
                return 2;
            o.noise = v / 100.0;
            break;
        case O_ALPHA:
            if (!ab_cli_number("--alpha", optarg, &v) || v <= 0 || v >= 1) {
                ab_cli_error("compare: --alpha must be between 0 and 1");
                return 2;
            }
            o.alpha = v;
            break;
        case O_METRIC:
            if (!strcmp(optarg, "time"))
                o.metric = CMP_TIME;
            else if (!strcmp(optarg, "throughput"))
                o.metric = CMP_THROUGHPUT;
            else if (!strcmp(optarg, "energy"))
                o.metric = CMP_ENERGY;
            else {
                ab_cli_error("compare: unknown metric \"%s\" (valid: time, throughput, energy)", optarg);
                return 2;
            }
            break;
        case O_FORMAT:
            if (strcmp(optarg, "text") && strcmp(optarg, "md") && strcmp(optarg, "csv") &&
                strcmp(optarg, "json")) {
                ab_cli_error("compare: unknown format \"%s\" (valid: text, md, csv, json)", optarg);
                return 2;
            }
            format = optarg;
            break;
        case O_FAIL:
            if (!strcmp(optarg, "regress"))
                fail_on = CMP_FAIL_REGRESS;
            else if (!strcmp(optarg, "any"))
                fail_on = CMP_FAIL_ANY;
            else if (!strcmp(optarg, "none"))
                fail_on = CMP_FAIL_NONE;
            else {
                ab_cli_error("compare: unknown --fail-on \"%s\" (valid: regress, any, none)", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        case ':': ab_cli_error("compare: option %s needs a value", argv[optind - 1]); return 2;
        default:
            ab_cli_error("compare: unknown option \"%s\" (see accelbench compare --help)", argv[optind - 1]);
            return 2;
        }
    }
    if (argc - optind != 2) {
        ab_cli_error("compare: expected BASE and NEW (see accelbench compare --help)");
        return 2;
    }
    struct ab_result_set base = { 0 }, new_ = { 0 };
    struct ab_error err;
    char warn[512];
    int rc = 2;
    if (ab_results_load((const char *const *)&argv[optind], 1, &base, warn, sizeof warn, &err) != AB_OK) {
        ab_cli_error("compare: %s", err.msg);
        goto out;
    }
    if (warn[0])
        fprintf(stderr, "accelbench: compare: warning: %s\n", warn);
    if (ab_results_load((const char *const *)&argv[optind + 1], 1, &new_, warn, sizeof warn, &err) != AB_OK) {
        ab_cli_error("compare: %s", err.msg);
        goto out;
    }
    if (warn[0])
        fprintf(stderr, "accelbench: compare: warning: %s\n", warn);
    note_repeats("BASE", &base);
    note_repeats("NEW", &new_);
    struct cmp_report rep;
    if (cmp_compare(&base, &new_, &o, &rep, &err) != AB_OK) {
        ab_cli_error("compare: %s", err.msg);
        goto out;
    }
    bool color = !strcmp(format, "text") && isatty(fileno(stdout)) && !getenv("NO_COLOR");
    cmp_print(&rep, format, color, stdout);
    rc = cmp_exit_status(&rep, fail_on);
    cmp_report_free(&rep);
out:
    ab_result_set_free(&base);
    ab_result_set_free(&new_);
    return rc;
}
