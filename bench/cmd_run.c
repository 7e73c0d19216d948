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

extern char **environ;

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
            "usage: accelbench run [-w W,...] [-d cpu,cuda:0|all] [--concurrent-devices]\n"
            "                      [-a [WORKLOAD:]NAME=VALUES]...\n"
            "                      [--quick|--full|--check] [--min-time S] [--max-time S]\n"
            "                      [--target-rel-ci X] [-o DIR] [--dry-run]\n"
            "       accelbench run -o DIR --resume [--extend] [--other-host]\n\n"
            "  -w, --workload W,...    workloads to run (default: all; see `accelbench list`)\n"
            "  -d, --device D,...      cpu, cuda, cuda:N or all (default: every device found); each\n"
            "                          device runs its cases on a worker of its own, one device at a time\n"
            "      --concurrent-devices\n"
            "                          run the devices' cases at the same time (shared power and thermals\n"
            "                          change the numbers: with several devices each row's metric\n"
            "                          concurrent_devices says how many were busy while it ran, 1 = alone)\n"
            "  -a, --axis NAME=VALUES  sweep an axis: n=256:16384:x2, dtype=fp32,bf16, n=1K,2^20; every\n"
            "                          selected workload with the axis takes the values it accepts (a\n"
            "                          value none accepts is an error); text values up to 1023 characters\n"
            "  -a WORKLOAD:NAME=VALUES the axis of one workload only (wins over a plain -a for it)\n"
            "      --quick             smoke-sized sweeps and short measurements\n"
            "      --full              the papers' full sweeps\n"
            "      --check             every code path at small, awkward sizes, verified only (no timing)\n"
            "                          The suite sets the axes not named with -a; a point named with -a\n"
            "                          runs in any suite (beyond the suite's size limits too) unless no\n"
            "                          suite can run it (e.g. an FP8 dtype with scaling=none)\n"
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
            "      --resume            continue the run in DIR as it was started (its workloads, devices,\n"
            "                          axes and options from DIR/run.json), running its missing cases\n"
            "      --extend            with --resume: add the cases of other -w, -d, -a or suite to the run\n"
            "      --other-host        with --resume: continue a folder another host started\n"
            "      --dry-run           print the cases (per workload and device, then each) and the\n"
            "                          estimated time: each case's budget (warm-up + min..max time) and,\n"
            "                          where its work and a ceiling (--ceilings, else the device profile)\n"
            "                          are known, the time per repetition; runs and writes nothing\n"
            "      --ceilings FILE     take device ceilings from an earlier results.csv\n"
            "      --no-ceilings       do not measure ceilings first (fractions stay empty)\n"
            "      --idle-baseline S   measure idle power S seconds first; rows get dynamic_energy_j\n"
            "      --counters EV,...   PAPI events counted per case on the CPU (calling thread)\n"
            "      --seed N            input seed (default: fresh per run)\n"
            "      --run-id ID         the run_id of every row (default: drawn; under srun, mpirun or\n"
            "                          mpiexec, <launcher>-<job id>, the same on every rank)\n"
            "  -q, --quiet             no progress output\n\n"
            "Under srun, mpirun or mpiexec each rank finds its rank in the launcher's environment,\n"
            "takes cuda:<local rank> (cpu without a GPU) unless -d is given, and writes into\n"
            "DIR/rank-<rank>-<host>/; `accelbench merge DIR` joins the ranks' results.\n");
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

/* Which options the command line gave, for --resume to tell them from the defaults. */
struct given {
    bool suite, min_time, max_time, min_samples, ci, warmup, seed;
};

/* Do a and the nb strings of b (stride bytes apart) hold the same items, in any order? */
static bool same_set(const char *const *a, int na, const char *b, size_t stride, int nb)
{
    if (na != nb)
        return false;
    for (int i = 0; i < na; i++) {
        bool found = false;
        for (int j = 0; j < nb && !found; j++)
            found = !strcmp(a[i], b + (size_t)j * stride);
        if (!found)
            return false;
    }
    return true;
}

static void list_text(const char *const *a, int n, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, len - l, "%s%s", i ? "," : "", a[i]);
    }
    if (!n)
        snprintf(buf, len, "(all)");
}

static bool same_num(double a, double b)
{
    return fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}

/* Append "what (run: was)" to the list of differences. */
static void differs(char *buf, size_t len, const char *what, const char *now, const char *was)
{
    size_t l = strlen(buf);
    snprintf(buf + l, len - l, "%s%s %s (the run has %s)", l ? "; " : "", what, now, was);
}

/* --resume continues the run in the folder as it was started: its host, its selection and its
 * options come from its run.json. Options given again must match them (--extend allows other
 * workloads, devices, axes or suite: more cases); those left out are taken from run.json.
 * Takes the folder's lock first, so that a second process stops before reading anything.
 * Returns 0, or the exit status. */
static int resume_selection(struct ab_run_opts *o, const struct given *g, bool other_host, bool dry_run,
                            struct ab_run_state **out)
{
    struct stat ds;
    if (stat(o->out_dir, &ds) != 0)
        return 0; /* nothing to resume: a fresh run */
    struct ab_error e;
    /* A dry run writes nothing, the lock file included. */
    if (!dry_run && ab_run_lock(o->out_dir, &o->lock_fd, &e) != AB_OK) {
        ab_cli_error("run: %s", e.msg);
        return 2;
    }
    char rj[4200];
    snprintf(rj, sizeof rj, "%s/run.json", o->out_dir);
    if (access(rj, F_OK) != 0)
        return 0;
    struct ab_run_state *st = calloc(1, sizeof *st);
    if (!st) {
        ab_cli_error("run: out of memory");
        return 1;
    }
    *out = st;
    if (ab_json_read_run_state(rj, st, &e) != AB_OK) {
        ab_cli_error("run: --resume: %s", e.msg);
        return 2;
    }
    struct ab_sysinfo sys;
    ab_sysinfo_collect(&sys);
    if (st->host[0] && strcmp(st->host, sys.host) != 0 && !other_host) {
        ab_cli_error("run: --resume: %s was run on host %s, this is %s: the ceilings measured there would "
                     "be used here; add --other-host to resume it here anyway",
                     o->out_dir, st->host, sys.host);
        return 2;
    }
    if (!st->has_selection) {
        if (!o->quiet)
            fprintf(stderr,
                    "accelbench: run: warning: %s records no selection (written by an older accelbench): "
                    "running the workloads, devices and options of this command line\n",
                    rj);
        return 0;
    }
    char cases[2048] = "", figures[2048] = "", now[1200], was[1200];
    /* Options that decide which cases run. */
    if (o->n_workloads &&
        !same_set(o->workloads, o->n_workloads, st->workloads[0], sizeof st->workloads[0], st->n_workloads)) {
        list_text(o->workloads, o->n_workloads, now, sizeof now);
        const char *w[AB_MAX_SELECT];
        for (int i = 0; i < st->n_workloads; i++)
            w[i] = st->workloads[i];
        list_text(w, st->n_workloads, was, sizeof was);
        differs(cases, sizeof cases, "-w", now, was);
    } else if (!o->n_workloads) {
        for (int i = 0; i < st->n_workloads; i++)
            o->workloads[i] = st->workloads[i];
        o->n_workloads = st->n_workloads;
    }
    if (o->n_devices &&
        !same_set(o->devices, o->n_devices, st->devices[0], sizeof st->devices[0], st->n_devices)) {
        list_text(o->devices, o->n_devices, now, sizeof now);
        const char *d[AB_MAX_SELECT];
        for (int i = 0; i < st->n_devices; i++)
            d[i] = st->devices[i];
        list_text(d, st->n_devices, was, sizeof was);
        differs(cases, sizeof cases, "-d", now, was);
    } else if (!o->n_devices) {
        for (int i = 0; i < st->n_devices; i++)
            o->devices[i] = st->devices[i];
        o->n_devices = st->n_devices;
    }
    if (o->n_axis_overrides &&
        !same_set(o->axis_overrides, o->n_axis_overrides, st->axes[0], sizeof st->axes[0], st->n_axes)) {
        list_text(o->axis_overrides, o->n_axis_overrides, now, sizeof now);
        const char *a[AB_MAX_SELECT];
        for (int i = 0; i < st->n_axes; i++)
            a[i] = st->axes[i];
        list_text(a, st->n_axes, was, sizeof was);
        differs(cases, sizeof cases, "-a", now, was);
    } else if (!o->n_axis_overrides) {
        for (int i = 0; i < st->n_axes; i++)
            o->axis_overrides[i] = st->axes[i];
        o->n_axis_overrides = st->n_axes;
    }
    if (g->suite && o->suite != st->suite)
        differs(cases, sizeof cases, "suite", ab_suite_word(o->suite), ab_suite_word(st->suite));
    else if (!g->suite)
        o->suite = st->suite;
    /* Options that change the figures: the same for every case of one run, --extend or not. */
    const struct {
        bool given;
        const char *flag;
        double *now, was;
    } nums[] = {
        { g->min_time, "--min-time", &o->stop.min_time_s, st->stop.min_time_s },
        { g->max_time, "--max-time", &o->stop.max_time_s, st->stop.max_time_s },
        { g->ci, "--target-rel-ci", &o->stop.target_rel_ci, st->stop.target_rel_ci },
        { g->warmup, "--warmup", &o->warmup_s, st->warmup_s },
    };
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        if (nums[i].given && !same_num(*nums[i].now, nums[i].was)) {
            snprintf(now, sizeof now, "%g", *nums[i].now);
            snprintf(was, sizeof was, "%g", nums[i].was);
            differs(figures, sizeof figures, nums[i].flag, now, was);
        } else {
            *nums[i].now = nums[i].was;
        }
    }
    if (g->min_samples && o->stop.min_samples != st->stop.min_samples) {
        snprintf(now, sizeof now, "%lld", (long long)o->stop.min_samples);
        snprintf(was, sizeof was, "%lld", (long long)st->stop.min_samples);
        differs(figures, sizeof figures, "--min-samples", now, was);
    } else {
        o->stop.min_samples = st->stop.min_samples;
    }
    bool ceil_given = o->ceilings_file || o->no_ceilings;
    if (o->ceilings_file)
        snprintf(now, sizeof now, "file:%s", o->ceilings_file);
    else
        snprintf(now, sizeof now, "%s", o->no_ceilings ? "none" : "measured");
    if (ceil_given && strcmp(now, st->ceilings) != 0) {
        differs(figures, sizeof figures, AB_CEILINGS_KEY, now, st->ceilings);
    } else if (!ceil_given) {
        if (!strncmp(st->ceilings, "file:", 5))
            o->ceilings_file = st->ceilings + 5;
        else
            o->no_ceilings = !strcmp(st->ceilings, "none");
    }
    if (g->seed && st->seed && o->seed != st->seed) {
        snprintf(now, sizeof now, "%llu", (unsigned long long)o->seed);
        snprintf(was, sizeof was, "%llu", (unsigned long long)st->seed);
        differs(figures, sizeof figures, "--seed", now, was);
    }
    if (figures[0]) {
        ab_cli_error("run: --resume: options differ from the run in %s: %s%s%s; leave them out to continue "
                     "the run with its own (every case of one run is measured alike)",
                     o->out_dir, figures, cases[0] ? "; " : "", cases);
        return 2;
    }
    if (cases[0] && !o->extend) {
        ab_cli_error("run: --resume: the selection differs from the run in %s: %s; leave it out to run the "
                     "run's missing cases, or add --extend to add these cases to the run",
                     o->out_dir, cases);
        return 2;
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
        O_FAIL_ON,
        O_EXTEND,
        O_OTHER_HOST,
        O_DRY_RUN,
        O_RUN_ID,
        O_CONCURRENT
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
                                          { "extend", no_argument, NULL, O_EXTEND },
                                          { "other-host", no_argument, NULL, O_OTHER_HOST },
                                          { AB_CEILINGS_KEY, required_argument, NULL, O_CEIL },
                                          { "no-ceilings", no_argument, NULL, O_NOCEIL },
                                          { "seed", required_argument, NULL, O_SEED },
                                          { "idle-baseline", required_argument, NULL, O_IDLE },
                                          { "counters", required_argument, NULL, O_COUNTERS },
                                          { "run-id", required_argument, NULL, O_RUN_ID },
                                          { "quiet", no_argument, NULL, 'q' },
                                          { "dry-run", no_argument, NULL, O_DRY_RUN },
                                          { "concurrent-devices", no_argument, NULL, O_CONCURRENT },
                                          { "help", no_argument, NULL, 'h' },
                                          { 0 } };
    struct ab_run_opts o;
    ab_run_opts_defaults(&o);
    ab_cli_join(argc, argv, o.command_line, sizeof o.command_line);
    double min_time = -1, max_time = -1, min_samples = -1, v;
    bool quick = false, full = false, check = false, other_host = false, dry_run = false;
    struct given g = { 0 };
    unsigned fail_on = FAIL_DEFAULT;
    const char *run_id_arg = NULL;
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
        case O_DRY_RUN: dry_run = true; break;
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
            g.ci = true;
            if (!ab_cli_number("--target-rel-ci", optarg, &o.stop.target_rel_ci))
                return 2;
            break;
        case O_WARMUP:
            g.warmup = true;
            if (!ab_cli_number("--warmup", optarg, &o.warmup_s))
                return 2;
            break;
        case O_TIMEOUT:
            if (!ab_cli_number("--case-timeout", optarg, &o.case_timeout_s))
                return 2;
            break;
        case O_RESUME: o.resume = true; break;
        case O_EXTEND: o.extend = true; break;
        case O_OTHER_HOST: other_host = true; break;
        case O_CEIL: o.ceilings_file = optarg; break;
        case O_NOCEIL: o.no_ceilings = true; break;
        case O_COUNTERS: o.counters = optarg; break;
        case O_RUN_ID: run_id_arg = optarg; break;
        case O_CONCURRENT: o.concurrent_devices = true; break;
        case O_IDLE:
            if (!ab_cli_number("--idle-baseline", optarg, &o.idle_baseline_s))
                return 2;
            break;
        case O_SEED:
            g.seed = true;
            if (!ab_cli_number("--seed", optarg, &v))
                return 2;
            if (!(v >= 1 && v < 9007199254740992.0 && v == floor(v))) {
                ab_cli_error("run: --seed %s: give a whole number from 1 to 2^53 - 1 (run.json records it "
                             "exactly)",
                             optarg);
                return 2;
            }
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
        if (!g.warmup)
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
    /* A rank of a launched job: a shared run_id, its own device and its own folder. */
    struct ab_launch launch;
    struct ab_error lerr;
    char run_id[40], rank_dir[4200], rank_dev[16], note[256];
    if (ab_launch_detect((const char *const *)environ, &launch, &lerr) != AB_OK ||
        ab_launch_run_id(&launch, run_id_arg, run_id, sizeof run_id, &lerr) != AB_OK) {
        ab_cli_error("run: %s", lerr.msg);
        return 2;
    }
    o.run_id = run_id;
    if (launch.launcher[0]) {
        if (o.n_devices == 0) {
            /* the ranks of a host spread over its accelerators, in the backends' order */
            struct ab_device *devs = calloc(AB_MAX_DEVICES, sizeof *devs);
            const char *acc[AB_MAX_DEVICES];
            int nd = 0, n_acc = 0;
            if (devs && ab_devices_discover(devs, AB_MAX_DEVICES, &nd, NULL, &lerr) == AB_OK)
                for (int d = 0; d < nd; d++) {
                    const struct ab_backend *b = ab_backend_get(devs[d].backend);
                    if (b && b->accelerator)
                        acc[n_acc++] = devs[d].id;
                }
            ab_launch_devices(&launch, acc, n_acc, rank_dev, sizeof rank_dev, note, sizeof note);
            free(devs);
            o.devices[o.n_devices++] = rank_dev;
            if (note[0] && !o.quiet)
                fprintf(stderr, "accelbench: run: %s\n", note);
        }
        struct ab_sysinfo s;
        ab_sysinfo_collect(&s);
        ab_launch_rank_dir(strcmp(o.out_dir, "results/latest") ? o.out_dir : "results", launch.rank, s.host,
                           rank_dir, sizeof rank_dir);
        if (!strcmp(o.out_dir, "results/latest")) {
            /* every rank's folder under results/<run_id>/ */
            char base[200];
            snprintf(base, sizeof base, "results/%s", run_id);
            ab_launch_rank_dir(base, launch.rank, s.host, rank_dir, sizeof rank_dir);
        }
        o.out_dir = rank_dir;
        o.rank = launch.rank;
        o.world_size = launch.size;
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

    if (o.concurrent_devices && o.counters) {
        ab_cli_error("run: --counters counts the run's own thread and --concurrent-devices runs each device "
                     "on a thread of its own: use one of them");
        return 2;
    }
    if ((o.extend || other_host) && !o.resume) {
        ab_cli_error("run: %s continues a run: use it with --resume", o.extend ? "--extend" : "--other-host");
        return 2;
    }
    g.suite = quick || full || check;
    g.min_time = min_time >= 0;
    g.max_time = max_time >= 0;
    g.min_samples = min_samples >= 0;
    struct ab_run_state *state = NULL;
    if (o.resume) {
        int rc = resume_selection(&o, &g, other_host, dry_run, &state);
        if (rc) {
            if (o.lock_fd >= 0)
                close(o.lock_fd);
            free(state);
            return rc;
        }
    }
    if (dry_run) { /* after --resume has taken the run's selection from its run.json */
        struct ab_error derr2 = { { 0 } };
        ab_status dst = ab_run_dry(&o, stdout, &derr2);
        free(state);
        if (dst != AB_OK) {
            ab_cli_error("run: %s", derr2.msg);
            return dst == AB_EINVAL ? 2 : 1;
        }
        return 0;
    }
    struct ab_run_info info;
    struct ab_error err = { { 0 } };
    ab_status st = ab_run(&o, &info, &err);
    if (o.lock_fd >= 0)
        close(o.lock_fd);
    free(state);
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
