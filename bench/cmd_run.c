/* cmd_run.c — `accelbench run`: options into ab_run_opts, signals into a flag, the run's
 * outcome into an exit status (0 completed, 1 a case failed as --fail-on says, 2 bad input,
 * 130 interrupted). */
#include "cli.h"
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile int g_interrupted;

/* SIGINT, SIGTERM and SIGHUP stop the run cleanly (the case in flight becomes an
 * `interrupted` row, run.json is finished) and the exit status is 128 + the signal. */
static volatile sig_atomic_t g_signal;

static void on_sigint(int sig)
{
    g_interrupted = 1;
    g_signal = sig;
    /* A second signal kills at once. */
    signal(sig, SIG_DFL);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: accelbench run [-w W,...] [-d cpu,cuda:0] [-a NAME=VALUES]... [--quick|--full|--check]\n"
            "                      [--min-time S] [--max-time S] [--target-rel-ci X] [-o DIR] [--resume]\n\n"
            "  -w, --workload W,...    workloads to run (default: all; see `accelbench list`)\n"
            "  -d, --device D,...      cpu, cuda, cuda:N or all (default: every device found)\n"
            "  -a, --axis NAME=VALUES  sweep an axis: n=256:16384:x2, dtype=fp32,bf16, n=1K,2^20\n"
            "      --quick             smoke-sized sweeps and short measurements\n"
            "      --full              the papers' full sweeps\n"
            "      --check             every code path at small, awkward sizes, verified only (no timing)\n"
            "      --fail-on S,...     exit 1 when a case ends so: mismatch, failed (failed, timeout),\n"
            "                          oom, any (every status but ok and skipped), none\n"
            "                          (default mismatch,failed)\n"
            "      --min-time S        measure each case at least S seconds (default 0.5; quick 0.1)\n"
            "      --max-time S        give up converging after S seconds: marked max_time (default 10; "
            "quick 1)\n"
            "      --min-samples N     at least N samples per case (default 10; quick 5)\n"
            "      --target-rel-ci X   stop when the median's 95%% CI half-width is within X (default 0.02)\n"
            "      --warmup S          warm-up time per case (default 0.1)\n"
            "      --case-timeout S    fail a case that runs longer (default 10 x max-time + 60)\n"
            "  -o, --output DIR        results folder (default results/<host>-<utc time>)\n"
            "                          (results.csv, samples.jsonl, run.json; at the end the tidy tables\n"
            "                          results_wide.csv and results_long.csv, see `accelbench export`)\n"
            "      --resume            continue the run in DIR, skipping cases already recorded\n"
            "      --ceilings FILE     take device ceilings from an earlier results.csv\n"
            "      --no-ceilings       do not measure ceilings first (fractions stay empty)\n"
            "      --idle-baseline S   measure idle power S seconds first; rows get dynamic_energy_j\n"
            "      --counters EV,...   PAPI events counted per case on the CPU (calling thread)\n"
            "      --seed N            input seed (default: fresh per run)\n"
            "  -q, --quiet             no progress output\n");
}

/* --fail-on: which row statuses make the run exit 1. */
enum { FAIL_MISMATCH = 1, FAIL_FAILED = 2, FAIL_OOM = 4, FAIL_DEFAULT = FAIL_MISMATCH | FAIL_FAILED };

static unsigned fail_bit(ab_status st)
{
    switch (st) {
    case AB_EMISMATCH: return FAIL_MISMATCH;
    case AB_EFAIL:
    case AB_ETIMEOUT: return FAIL_FAILED;
    case AB_ENOMEM: return FAIL_OOM;
    default: return 0; /* ok, skipped; interrupted has its own exit status */
    }
}

static bool parse_fail_on(const char *arg, unsigned *out)
{
    *out = 0;
    const char *p = arg;
    do {
        size_t n = strcspn(p, ",");
        if (n == 4 && !strncmp(p, "none", 4))
            ;
        else if (n == 8 && !strncmp(p, "mismatch", 8))
            *out |= FAIL_MISMATCH;
        else if (n == 6 && !strncmp(p, "failed", 6))
            *out |= FAIL_FAILED;
        else if (n == 3 && !strncmp(p, "oom", 3))
            *out |= FAIL_OOM;
        else if (n == 3 && !strncmp(p, "any", 3))
            *out |= FAIL_MISMATCH | FAIL_FAILED | FAIL_OOM;
        else {
            ab_cli_error("run: --fail-on \"%.*s\" is not one of mismatch, failed, oom, any, none", (int)n, p);
            return false;
        }
        p += n;
    } while (*p++ == ',');
    return true;
}

static int split_into(char *arg, const char **out, int *n, int max, const char *what)
{
    /* strtok would skip empty items, and an empty list would mean "all": both are typos. */
    size_t len = strlen(arg);
    if (len == 0 || arg[0] == ',' || arg[len - 1] == ',' || strstr(arg, ",,")) {
        ab_cli_error("run: empty item in the list of %s \"%s\"", what, arg);
        return -1;
    }
    for (char *s = strtok(arg, ","); s; s = strtok(NULL, ",")) {
        if (*n == max) {
            ab_cli_error("run: too many %s (at most %d)", what, max);
            return -1;
        }
        out[(*n)++] = s;
    }
    return 0;
}

int ab_cmd_run(int argc, char **argv)
{
    enum {
        O_MIN_TIME = 256,
        O_MAX_TIME,
        O_CI,
        O_RESUME,
        O_QUICK,
        O_FULL,
        O_CEIL,
        O_NOCEIL,
        O_SEED,
        O_WARMUP,
        O_MINS,
        O_TIMEOUT,
        O_IDLE,
        O_COUNTERS,
        O_CHECK,
        O_FAIL_ON
    };
    static const struct option opts[] = { { "workload", required_argument, NULL, 'w' },
                                          { "device", required_argument, NULL, 'd' },
                                          { "axis", required_argument, NULL, 'a' },
                                          { "output", required_argument, NULL, 'o' },
                                          { "quick", no_argument, NULL, O_QUICK },
                                          { "full", no_argument, NULL, O_FULL },
                                          { "check", no_argument, NULL, O_CHECK },
                                          { "fail-on", required_argument, NULL, O_FAIL_ON },
                                          { "min-time", required_argument, NULL, O_MIN_TIME },
                                          { "max-time", required_argument, NULL, O_MAX_TIME },
                                          { "min-samples", required_argument, NULL, O_MINS },
                                          { "target-rel-ci", required_argument, NULL, O_CI },
                                          { "warmup", required_argument, NULL, O_WARMUP },
                                          { "case-timeout", required_argument, NULL, O_TIMEOUT },
                                          { "resume", no_argument, NULL, O_RESUME },
                                          { "ceilings", required_argument, NULL, O_CEIL },
                                          { "no-ceilings", no_argument, NULL, O_NOCEIL },
                                          { "seed", required_argument, NULL, O_SEED },
                                          { "idle-baseline", required_argument, NULL, O_IDLE },
                                          { "counters", required_argument, NULL, O_COUNTERS },
                                          { "quiet", no_argument, NULL, 'q' },
                                          { "help", no_argument, NULL, 'h' },
                                          { 0 } };
    struct ab_run_opts o;
    ab_run_opts_defaults(&o);
    ab_cli_join(argc, argv, o.command_line, sizeof o.command_line);
    double min_time = -1, max_time = -1, min_samples = -1, v;
    bool quick = false, full = false, check = false;
    unsigned fail_on = FAIL_DEFAULT;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":w:d:a:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'w':
            if (split_into(optarg, o.workloads, &o.n_workloads, AB_MAX_SELECT, "workloads"))
                return 2;
            break;
        case 'd':
            if (split_into(optarg, o.devices, &o.n_devices, AB_MAX_SELECT, "devices"))
                return 2;
            break;
        case 'a':
            if (o.n_axis_overrides == AB_MAX_SELECT) {
                ab_cli_error("run: too many -a options");
                return 2;
            }
            for (int i = 0; i < o.n_axis_overrides; i++) {
                /* the same axis twice: the last would win without a word */
                const char *prev = o.axis_overrides[i], *eq = strchr(prev, '=');
                size_t nl = eq ? (size_t)(eq - prev) : strlen(prev);
                if (eq && strncmp(prev, optarg, nl) == 0 && optarg[nl] == '=') {
                    ab_cli_error("run: axis %.*s given twice (-a %s and -a %s): list the values in one -a",
                                 (int)nl, prev, prev, optarg);
                    return 2;
                }
            }
            o.axis_overrides[o.n_axis_overrides++] = optarg;
            break;
        case 'o': o.out_dir = optarg; break;
        case 'q': o.quiet = true; break;
        case O_QUICK: quick = true; break;
        case O_FULL: full = true; break;
        case O_CHECK: check = true; break;
        case O_FAIL_ON:
            if (!parse_fail_on(optarg, &fail_on))
                return 2;
            break;
        case O_MIN_TIME:
            if (!ab_cli_number("--min-time", optarg, &min_time))
                return 2;
            break;
        case O_MAX_TIME:
            if (!ab_cli_number("--max-time", optarg, &max_time))
                return 2;
            break;
        case O_MINS:
            if (!ab_cli_number("--min-samples", optarg, &min_samples))
                return 2;
            break;
        case O_CI:
            if (!ab_cli_number("--target-rel-ci", optarg, &o.stop.target_rel_ci))
                return 2;
            break;
        case O_WARMUP:
            if (!ab_cli_number("--warmup", optarg, &o.warmup_s))
                return 2;
            break;
        case O_TIMEOUT:
            if (!ab_cli_number("--case-timeout", optarg, &o.case_timeout_s))
                return 2;
            break;
        case O_RESUME: o.resume = true; break;
        case O_CEIL: o.ceilings_file = optarg; break;
        case O_NOCEIL: o.no_ceilings = true; break;
        case O_COUNTERS: o.counters = optarg; break;
        case O_IDLE:
            if (!ab_cli_number("--idle-baseline", optarg, &o.idle_baseline_s))
                return 2;
            break;
        case O_SEED:
            if (!ab_cli_number("--seed", optarg, &v))
                return 2;
            o.seed = (uint64_t)v;
            break;
        case 'h': usage(stdout); return 0;
        case ':': ab_cli_error("run: option %s needs a value", argv[optind - 1]); return 2;
        default:
            ab_cli_error("run: unknown option \"%s\" (see accelbench run --help)", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        ab_cli_error("run: unexpected argument \"%s\" (see accelbench run --help)", argv[optind]);
        return 2;
    }
    if (quick + full + check > 1) {
        ab_cli_error("run: --quick, --full and --check exclude each other");
        return 2;
    }
    if (quick) {
        o.suite = AB_SUITE_QUICK;
        o.stop.min_time_s = 0.1;
        o.stop.max_time_s = 1.0;
        o.stop.min_samples = 5;
        o.warmup_s = 0.05;
    } else if (full) {
        o.suite = AB_SUITE_FULL;
    } else if (check) {
        o.suite = AB_SUITE_CHECK;
    }
    if (min_time >= 0)
        o.stop.min_time_s = min_time;
    if (max_time >= 0)
        o.stop.max_time_s = max_time;
    if (min_samples >= 0) {
        if (min_samples < 1 || min_samples > 1e9 || min_samples != floor(min_samples)) {
            ab_cli_error("run: --min-samples must be a whole number from 1 to 1000000000, not %g",
                         min_samples);
            return 2;
        }
        o.stop.min_samples = (int64_t)min_samples;
    }
    if (o.stop.max_time_s <= 0) {
        ab_cli_error("run: --max-time must be positive: one sample has no confidence interval");
        return 2;
    }
    if (o.stop.max_time_s < o.stop.min_time_s) {
        ab_cli_error("run: --max-time (%g) is shorter than --min-time (%g)", o.stop.max_time_s,
                     o.stop.min_time_s);
        return 2;
    }
    if (o.stop.target_rel_ci <= 0) {
        ab_cli_error("run: --target-rel-ci must be positive");
        return 2;
    }
    /* --ceilings takes a results.csv or the folder that holds one, as plot and compare do. */
    char ceil_path[4200];
    if (o.ceilings_file) {
        struct stat cs;
        if (stat(o.ceilings_file, &cs) != 0) {
            ab_cli_error("run: --ceilings %s: %s", o.ceilings_file, strerror(errno));
            return 2;
        }
        if (S_ISDIR(cs.st_mode)) {
            snprintf(ceil_path, sizeof ceil_path, "%s/results.csv", o.ceilings_file);
            if (access(ceil_path, R_OK) != 0) {
                ab_cli_error("run: --ceilings %s: %s", ceil_path, strerror(errno));
                return 2;
            }
            o.ceilings_file = ceil_path;
        } else if (!S_ISREG(cs.st_mode)) {
            ab_cli_error("run: --ceilings %s: not a regular file or folder", o.ceilings_file);
            return 2;
        }
    }
    /* An output path that exists must be a folder: a FIFO or a file there would hang or fail
     * after the first case. */
    struct ab_error derr;
    if (strcmp(o.out_dir, "results/latest") != 0 && ab_output_dir_safe(o.out_dir, &derr) != AB_OK) {
        ab_cli_error("run: output %s", derr.msg);
        return 2;
    }
    static const char *const outputs[] = { "results.csv", "samples.jsonl", "run.json" };
    for (int i = 0; i < 3 && strcmp(o.out_dir, "results/latest") != 0; i++) {
        char p[4200];
        struct stat ls;
        snprintf(p, sizeof p, "%s/%s", o.out_dir, outputs[i]);
        if (lstat(p, &ls) == 0 && !S_ISREG(ls.st_mode)) {
            ab_cli_error("run: %s is %s: results are written only to regular files", p,
                         S_ISLNK(ls.st_mode) ? "a symbolic link" : "not a regular file");
            return 2;
        }
    }
    char defdir[256];
    if (!strcmp(o.out_dir, "results/latest")) {
        struct ab_sysinfo s;
        ab_sysinfo_collect(&s);
        char t[32];
        ab_utc_now(t, sizeof t);
        for (char *p = t; *p; p++)
            if (*p == ':')
                *p = '-';
        snprintf(defdir, sizeof defdir, "results/%s-%s", s.host, t);
        o.out_dir = defdir;
    }
    o.progress_tty = isatty(fileno(stderr));
    o.interrupted = &g_interrupted;
    struct sigaction sa = { 0 };
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* A file-size limit (ulimit -f) must become a write error with a message, not a kill. */
    signal(SIGXFSZ, SIG_IGN);

    struct ab_run_info info;
    struct ab_error err = { { 0 } };
    ab_status st = ab_run(&o, &info, &err);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (st == AB_EINTR) {
        ab_cli_error("run: %s", err.msg);
        return 128 + (g_signal ? (int)g_signal : SIGINT);
    }
    if (st != AB_OK) {
        ab_cli_error("run: %s", err.msg);
        return st == AB_EINVAL ? 2 : 1;
    }
    if (!o.quiet)
        fprintf(stderr, "%d cases: %d ok, %d skipped, %d not ok; results in %s/results.csv\n", info.n_cases,
                info.n_ok, info.n_skipped, info.n_failed, o.out_dir);
    char bad[256] = "";
    int n_bad = 0;
    for (int k = 0; k <= AB_EFAIL; k++) {
        if (!info.n_by_status[k] || !(fail_on & fail_bit((ab_status)k)))
            continue;
        size_t l = strlen(bad);
        snprintf(bad + l, sizeof bad - l, "%s%d %s", l ? ", " : "", info.n_by_status[k],
                 ab_status_word((ab_status)k));
        n_bad += info.n_by_status[k];
    }
    if (n_bad) {
        ab_cli_error("run: %s (exit 1; --fail-on none ignores them)", bad);
        return 1;
    }
    return 0;
}
