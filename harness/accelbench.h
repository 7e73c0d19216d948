/* accelbench.h — the engine's whole public face: the contract between the harness, the
 * workloads, the backends, the meters and the command line.
 * Read top to bottom: status and errors, devices and backends, axes and parameters, work and
 * cases, workloads, statistics, meters, results and their files, the runner, data types, small
 * utilities.
 * The harness never includes a workload header; workloads and bench/ include only this file. */
#ifndef ACCELBENCH_H
#define ACCELBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AB_SCHEMA_VERSION     2 /* results CSV/JSON contract, see results/schema.md */
#define AB_SCHEMA_VERSION_MIN 1 /* the oldest version the readers still accept (and migrate) */

/* ---------------------------------------------------------------- status and errors */

/* Errors are values: every fallible function returns one of these and fills an ab_error. */
typedef enum ab_status {
    AB_OK = 0,
    AB_EINVAL,       /* bad input: flag, axis value, file contents */
    AB_EIO,          /* a file could not be read or written */
    AB_ENOMEM,       /* out of memory (host or device): the case becomes an `oom` row */
    AB_EUNSUPPORTED, /* not available here: the case becomes a `skipped` row */
    AB_EMISMATCH,    /* verification against the reference failed: a `mismatch` row */
    AB_ETIMEOUT,     /* the case ran past its time limit: a `timeout` row */
    AB_EINTR,        /* interrupted by a signal: an `interrupted` row */
    AB_EFAIL,        /* any other failure (library or CUDA error): a `failed` row */
} ab_status;

#define AB_ERR_LEN 512
struct ab_error {
    char msg[AB_ERR_LEN];
};

/* Format a message into err (if not NULL) and return st; use as `return ab_fail(err, ...)`. */
ab_status ab_fail(struct ab_error *err, ab_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix an existing message: "<prefix>: <old message>"; returns st. */
ab_status ab_fail_prefix(struct ab_error *err, ab_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Row status word of a status: ok, skipped, failed, oom, timeout, mismatch, interrupted. */
const char *ab_status_word(ab_status st);
/* Inverse of ab_status_word; returns false for an unknown word. */
bool ab_status_from_word(const char *word, ab_status *out);

/* ---------------------------------------------------------------- devices and backends */

enum ab_backend_kind { AB_BACKEND_CPU = 0, AB_BACKEND_CUDA = 1, AB_BACKEND_COUNT = 2 };

/* Names of measured ceilings a device may hold (a case names one in its work model).
 * Units: *_flops in FLOP/s, mem_bw in bytes/s. "*_fma" is a register-only FMA loop (CUDA
 * cores / SIMD units), "*_gemm" the best GEMM rate of the matrix library (oneDNN, cuBLASLt). */
#define AB_MAX_CEILINGS 16
struct ab_ceiling {
    char name[24];    /* e.g. "fp32_fma", "bf16_gemm", "fp8_gemm", "mem_bw" */
    double value;     /* FLOP/s or bytes/s; 0 when unknown */
    char source[48];  /* "measured" (this run), "file:<path>", "nominal:<profile>" */
    char detail[64];  /* what gave the value: "gemm m=1152 n=1152 k=1152"; "" when unknown */
    bool suspect;     /* failed the plausibility check twice (case.c): fractions of it are doubtful */
    char reason[160]; /* why it is suspect; "" otherwise */
};

struct ab_profile; /* nominal power and price of a device, from results/profiles/ */
struct ab_meter;   /* a power/energy meter (see "meters" below) */

#define AB_MAX_DEVICES 16
struct ab_device {
    char id[16]; /* "cpu", "cuda:0" */
    enum ab_backend_kind backend;
    int index;              /* backend-local ordinal */
    char name[128];         /* marketing name: "AMD EPYC 9R45", "NVIDIA H100 80GB HBM3" */
    int compute_units;      /* CPU cores in use, or CUDA SMs */
    int threads;            /* CPU threads in use; CUDA: max threads per SM */
    uint64_t mem_bytes;     /* host RAM or device memory */
    double clock_mhz;       /* nominal core clock, 0 if unknown */
    double mem_clock_mhz;   /* CUDA memory clock, 0 if unknown */
    int cc_major, cc_minor; /* CUDA compute capability; 0 on the CPU */
    char driver[64];        /* CUDA driver version; kernel release on the CPU */
    char runtime[64];       /* CUDA runtime version; "" on the CPU */
    char features[256];     /* CPU: "avx512f avx512_bf16 avx512_vnni amx_tile ..."; CUDA: "" */
    char pci_bus_id[32];    /* CUDA: "0000:19:00.0" (matches NVML to the same GPU); "" on the CPU */
    uint64_t l2_bytes;      /* CUDA: L2 cache size; CPU: last-level cache size; 0 if unknown */
    struct ab_ceiling ceilings[AB_MAX_CEILINGS];
    int n_ceilings;
    const struct ab_profile *profile; /* may be NULL; owned by the profile table */
};

/* A backend-specific fact of a device for run.json, beyond the common fields. */
struct ab_device_fact {
    char key[32];   /* "compute_capability" */
    char value[64]; /* "9.0" */
};

/* A backend: discovers and describes devices, owns their ids, opens their meters. Primitives
 * a workload needs beyond that live in the backend's own files (CPU: ab_cpu_*, CUDA:
 * launchers in .cu files). The table of backends is in device.c. */
struct ab_backend {
    const char *name;  /* "cpu", "cuda": the id of its devices, or their prefix when indexed */
    const char *title; /* "CPU", "CUDA": in messages */
    enum ab_backend_kind kind;
    bool indexed; /* device ids are "<name>:N" ("cuda:0"); else the id is the name ("cpu") */
    bool stub;    /* built without the backend's libraries: it finds no devices */
    /* Its devices are accelerators a launcher's ranks are spread over, one local rank per
     * device (CUDA GPUs); false where every rank of a host shares the one device (the CPU). */
    bool accelerator;
    /* Fill up to max devices; *n = count. No hardware or no driver: AB_OK with *n = 0 and a
     * reason in err->msg (reported as "skipped"), never a crash. */
    ab_status (*discover)(struct ab_device *out, int max, int *n, struct ab_error *err);
    /* After a case on the device failed or timed out: is the device still usable? AB_OK if so;
     * otherwise a status and a message saying why (a sticky CUDA error such as an illegal
     * address poisons every later call in the process). NULL: the device cannot be lost. */
    ab_status (*health)(const struct ab_device *dev, struct ab_error *err);
    /* Open the device's own power meter (CUDA: NVML; CPU: RAPL, then PAPI); a status other
     * than AB_OK when there is none (ab_meter_open then falls back to an estimate). */
    ab_status (*meter_open)(const struct ab_device *dev, struct ab_meter **out, struct ab_error *err);
    /* The `info` lines after the device's id and name, each starting with 9 spaces and
     * ending in a newline. */
    void (*describe)(const struct ab_device *dev, char *buf, size_t len);
    /* Facts for run.json beyond the common fields; returns how many (NULL: none). */
    int (*facts)(const struct ab_device *dev, struct ab_device_fact *out, int max);
    /* The timer of a batch of repetitions on one of its devices (ab_timer_* below dispatches
     * here): open one for work enqueued on `stream` (the case's, NULL: the device's default
     * queue; CPU: unused), begin and end around the launches, elapsed: wait for the end and
     * give the seconds between begin and end. CPU: the monotonic clock; CUDA: a pair of events
     * recorded on the stream. NULL timer_open: the backend cannot time (AB_EUNSUPPORTED). */
    ab_status (*timer_open)(const struct ab_device *dev, void *stream, void **out, struct ab_error *err);
    ab_status (*timer_begin)(void *timer, struct ab_error *err);
    ab_status (*timer_end)(void *timer, struct ab_error *err);
    ab_status (*timer_elapsed)(void *timer, double *time_s, struct ab_error *err);
    void (*timer_close)(void *timer);
};

/* A device's timer (timer.c), as the engine times a batch of launches: begin, the launches,
 * end, then elapsed (which waits for the device to reach the end). Open it once the case's
 * stream is known (after setup); the caller closes it. Errors name the failing call (CUDA:
 * with cudaGetErrorString's text). */
struct ab_timer;
ab_status ab_timer_open(const struct ab_device *dev, void *stream, struct ab_timer **out,
                        struct ab_error *err);
ab_status ab_timer_begin(struct ab_timer *t, struct ab_error *err);
ab_status ab_timer_end(struct ab_timer *t, struct ab_error *err);
ab_status ab_timer_elapsed(struct ab_timer *t, double *time_s, struct ab_error *err);
void ab_timer_close(struct ab_timer *t);

/* The backends compiled in (CUDA's discover returns none where the build has no CUDA). */
const struct ab_backend *ab_backend_get(enum ab_backend_kind kind);
/* Discover every device of every backend. Per-backend reasons for having none are written to
 * why[kind] (may be NULL). */
ab_status ab_devices_discover(struct ab_device *out, int max, int *n, struct ab_error why[AB_BACKEND_COUNT],
                              struct ab_error *err);
/* The word for ceilings in a run's files and options: run.json's key of the selection's
 * ceilings source, an invocation's and a device's ceilings, and `run --ceilings FILE`. */
#define AB_CEILINGS_KEY "ceilings"
/* Is a ceiling a memory bandwidth (bytes/s: "mem_bw", "llc_bw") rather than a FLOP rate? */
bool ab_ceiling_is_bandwidth(const char *name);
/* Find (or NULL) a ceiling by name. */
const struct ab_ceiling *ab_device_ceiling(const struct ab_device *dev, const char *name);
/* Set (insert or replace) a ceiling; keeps the larger value when source is equal. */
void ab_device_set_ceiling(struct ab_device *dev, const char *name, double value, const char *source);
/* After ab_device_set_ceiling: what gave the ceiling its value (detail, may be NULL) and whether
 * it is suspect (reason: why; NULL or "" when plausible). Does nothing for an unknown name. */
void ab_device_note_ceiling(struct ab_device *dev, const char *name, const char *detail, const char *reason);
/* Would `bytes` of working memory fit on the device (with a margin)? */
bool ab_device_fits(const struct ab_device *dev, uint64_t bytes);
/* Backend name of a kind: "cpu" or "cuda". */
const char *ab_backend_name(enum ab_backend_kind kind);
/* Is id one of the backend's device ids, by its syntax: the backend's name ("cuda", "cpu"),
 * or for an indexed backend "<name>:N" (whether or not that device exists)? */
bool ab_backend_owns_id(const struct ab_backend *b, const char *id);
/* The backend whose device ids include id by their syntax ("cpu"; "cuda" and "cuda:3"), or
 * NULL when no backend compiled in owns it (a peer's "torch", another build's backend). */
const struct ab_backend *ab_backend_of_id(const char *id);
/* Mark in use[] the devices an id selects: "all", a device id ("cuda:1"), or a backend's name
 * (all its devices). Returns false if it selects none; then *absent is the backend the id
 * belongs to when that backend has no device at all (its cases become skipped rows), else
 * -1 (the id is unknown). */
bool ab_devices_select(const struct ab_device *devs, int n, const char *id, bool *use, int *absent);

/* CPU backend helpers. */
int ab_cpu_threads(void);             /* threads used for CPU work (OMP/affinity aware) */
bool ab_cpu_has(const char *feature); /* CPUID feature words as in /proc/cpuinfo flags */

/* ---------------------------------------------------------------- axes and parameters */

enum ab_axis_type { AB_AXIS_INT, AB_AXIS_REAL, AB_AXIS_STR };
/* Suites: three sizes of measurement, and `check`: every code path at small, awkward sizes,
 * verified only (setup -> verify -> teardown, no timing). */
enum ab_suite {
    AB_SUITE_QUICK = 0,
    AB_SUITE_DEFAULT = 1,
    AB_SUITE_FULL = 2,
    AB_SUITE_CHECK = 3,
    AB_SUITE_COUNT
};
/* "quick", "default", "full", "check". */
const char *ab_suite_word(enum ab_suite s);

/* A workload's named parameter with its default sweep per suite size.
 * Sweep syntax (see axes.c): "256:16384:x2" (geometric), "0:100:+25" (arithmetic),
 * "1K,4K,2^20" (list; K/M/G are powers of 1024, 2^k allowed), "bf16,fp8_e4m3" (strings). */
struct ab_axis {
    const char *name;
    enum ab_axis_type type;
    const char *help;
    const char *choices;               /* AB_AXIS_STR: comma list of valid values; NULL = any */
    double min, max;                   /* numeric: valid range (inclusive); both 0 = unbounded */
    const char *sweep[AB_SUITE_COUNT]; /* default sweep for quick, default, full, check (NULL
                                          for check: the quick sweep) */
    /* An axis added after results were written: the value those results imply. A point with
     * this value leaves the axis out of its params text, so old baselines and --resume still
     * match the same cases. NULL for the axes a workload was born with. */
    const char *implicit;
};

#define AB_MAX_AXES   16
#define AB_MAX_VALUES 4096
/* The longest text an axis value may have, NUL included: a path (gpt2's `weights`) is a value,
 * so this is generous; a longer value is refused with an error naming the limit. */
#define AB_VALUE_MAX 1024
/* The longest params text of a case ("k=v;k=v", NUL included), and of a case key built from
 * it ("workload|device|device_name|params"). */
#define AB_PARAMS_TEXT_MAX 2048
#define AB_KEY_MAX         (AB_PARAMS_TEXT_MAX + 256)
/* One value of one axis. */
struct ab_value {
    char str[AB_VALUE_MAX]; /* canonical text: "1024", "bf16", "0.5", a path */
    double num;             /* numeric value (0 for strings) */
};
/* The values of an axis after parsing a sweep. */
struct ab_values {
    int n;
    struct ab_value v[AB_MAX_VALUES];
};

/* Parse a sweep for an axis; errors name the axis, the bad token and valid choices. */
ab_status ab_axis_parse(const struct ab_axis *axis, const char *sweep, struct ab_values *out,
                        struct ab_error *err);

/* One point of a workload's axes: its parameters. */
struct ab_params {
    int n;
    struct {
        char name[32];
        struct ab_value val;
    } p[AB_MAX_AXES];
};
/* Look up a parameter; the *_or forms return def when it is absent. */
const struct ab_value *ab_param(const struct ab_params *ps, const char *name);
int64_t ab_param_int(const struct ab_params *ps, const char *name, int64_t def);
double ab_param_real(const struct ab_params *ps, const char *name, double def);
const char *ab_param_str(const struct ab_params *ps, const char *name, const char *def);
bool ab_param_is(const struct ab_params *ps, const char *name, const char *value);
/* Canonical text "k1=v1;k2=v2" in axis order (the CSV `params` column); returns length. */
size_t ab_params_format(const struct ab_params *ps, char *buf, size_t len);
/* Parse that text back. */
ab_status ab_params_parse(const char *text, struct ab_params *out, struct ab_error *err);

/* ---------------------------------------------------------------- work and cases */

/* What one repetition of a case must do, stated analytically by the workload, so that
 * throughput, fraction of the ceiling and energy per unit all follow from one timing. */
struct ab_work {
    double flops;        /* floating-point (or integer) operations per repetition */
    double bytes;        /* bytes that must move through memory per repetition */
    double tokens;       /* tokens processed per repetition (0 if not a token workload) */
    const char *ceiling; /* name of the device ceiling this case is held against, or NULL */
    const char *rate;    /* which rate is compared to it: "flops" or "bytes" */
};

#define AB_MAX_METRICS 48
/* A workload-specific number (accuracy, quantization time, peak memory...). Name with unit. */
struct ab_metric {
    char name[40];
    double value;
    char text[64]; /* set instead of value for a text metric (e.g. "algo=17"); "" otherwise */
};

struct ab_workload;
struct ab_case_engine; /* opaque: what the runner keeps per case */

/* One workload x one device x one point of the axes. The runner owns it; the workload's
 * setup puts its own state in `state` and frees it in teardown. */
struct ab_case {
    const struct ab_workload *workload;
    struct ab_device *device;
    struct ab_params params;
    enum ab_suite suite;
    uint64_t seed;       /* fresh per run unless --seed; use for all random inputs */
    void *state;         /* workload-owned */
    struct ab_work work; /* filled by setup */
    struct ab_metric metrics[AB_MAX_METRICS];
    int n_metrics;
    struct ab_case_engine *engine; /* the runner's own bookkeeping; NULL outside a run */
    char *extra_json;              /* set with ab_case_extra_json; the runner moves it to the row */
    char *detail;                  /* ab_case_detail's JSON object text, or NULL; the runner's */
    void *stream;                  /* the queue launches go to (ab_case_set_stream); NULL: default */
    bool times_itself;             /* ab_case_times_itself: run() times this case, not launch() */
    int64_t launches;              /* launches so far (ab_case_time): the next launch's rep */
};

struct ab_impl; /* a workload's implementation on one backend: defined with the workloads */
/* Setup says on which stream (CUDA: a cudaStream_t) its launches are enqueued, so the
 * engine's timer records its events there; not called: the device's default stream. */
void ab_case_set_stream(struct ab_case *c, void *stream);
/* Setup says this case is timed by its impl's run(), although the impl has a launch() (one
 * implementation serving cases of both kinds: interconnect's memcpy and its MPI collectives). */
void ab_case_times_itself(struct ab_case *c);
/* Time reps repetitions of a set-up case as the engine does: with impl->launch (and not
 * ab_case_times_itself), the device's timer begins, launch(c, rep) is called reps times with
 * rep counting on from c->launches, the timer ends and *time_s is its elapsed time; a launch's
 * error ends the batch with that launch's status and message. Else impl->run(c, reps, time_s).
 * For the runner and for workload tests. */
ab_status ab_case_time(struct ab_case *c, const struct ab_impl *impl, int64_t reps, double *time_s,
                       struct ab_error *err);

/* Record a workload metric on the case (replaces one of the same name). */
void ab_case_metric(struct ab_case *c, const char *name, double value);
void ab_case_metric_text(struct ab_case *c, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Give the case's samples.jsonl object an "extra" member: json is the text of one JSON value,
 * malloc'd; the case takes it (replacing and freeing an earlier one). Outside a run (c->engine
 * NULL) whoever made the case frees c->extra_json. */
void ab_case_extra_json(struct ab_case *c, char *json);
/* A case of a workload that provides ceilings says which ceiling of its device it measures:
 * value in FLOP/s or bytes/s, or 0 for the rate computed from its work and time. The runner
 * sets it on the device when the case ends ok (source "measured"), so later cases are read
 * as fractions of it. Outside a run (c->engine NULL) it does nothing. */
void ab_case_publish_ceiling(struct ab_case *c, const char *name, double value);
/* Attach detail to the case: the text of a JSON object (what the case computed, too large for
 * metrics: token ids, logit summaries), written under "detail" in its samples.jsonl line. Takes
 * ownership of the malloc'ed text (replacing any earlier one); NULL clears it. */
void ab_case_detail(struct ab_case *c, char *json_object);
/* Say what gave a published ceiling its value (kept with the ceiling in run.json): the shape of
 * the best GEMM of a sweep, the array size of a triad. Outside a run it does nothing. */
void ab_case_ceiling_detail(struct ab_case *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------- workloads */

/* A workload's implementation on one backend. Every function gets the case and an error.
 * setup: allocate, fill inputs (random, from c->seed), state the work; may return
 *   AB_EUNSUPPORTED (skipped) or AB_ENOMEM (oom).
 * verify: compare against a higher-precision reference; AB_EMISMATCH with a message on
 *   failure; record errors as metrics. Called once before any timing. May be NULL only for
 *   cases with nothing to verify (ceilings' FMA loops).
 * launch: one repetition, enqueued on the case's stream (CPU: done when it returns). rep is
 *   the repetition's index in the case (0, 1, 2... across every batch), for input rotation.
 *   The engine times batches of launches with the device's timer (ab_case_time): the workload
 *   keeps no clock and no events of its own.
 * run: only for a workload that must time phases itself (gpt2's decode steps, amx_timing's
 *   bursts, MPI collectives behind a barrier): perform `reps` repetitions and put the elapsed
 *   seconds of exactly those in *time_s. Used where launch is NULL, or the case said
 *   ab_case_times_itself in setup.
 * teardown: free everything setup made; called even if setup failed half-way. */
struct ab_impl {
    ab_status (*setup)(struct ab_case *c, struct ab_error *err);
    ab_status (*verify)(struct ab_case *c, struct ab_error *err);
    ab_status (*run)(struct ab_case *c, int64_t reps, double *time_s, struct ab_error *err);
    void (*teardown)(struct ab_case *c);
    ab_status (*launch)(struct ab_case *c, int64_t rep, struct ab_error *err);
};

/* A metric a workload records with ab_case_metric(_text), declared beside its descriptor:
 * `list`, the charts (unit) and results/schema.md (tested to list each one) read it from here.
 * A name may hold one '*' for a word only known at run time ("papi_*_thread0_per_rep"). */
enum ab_better { AB_BETTER_NONE = 0, AB_BETTER_HIGHER, AB_BETTER_LOWER };
struct ab_metric_decl {
    const char *name;      /* as recorded: "max_rel_err", "quant_time_s" */
    const char *unit;      /* "s", "B", "cycles", "MHz"...; "" for a count, a ratio or text */
    bool text;             /* recorded with ab_case_metric_text */
    enum ab_better better; /* which way is better; NONE for a description */
    const char *meaning;   /* one line */
};

/* The charts `accelbench plot` draws of a workload's rows by default (no -x, -y or --kind),
 * declared beside its descriptor so plots/ names no workload. Each metric is a row figure
 * (throughput, flops, bandwidth, tokens, time, fraction, power, energy, efficiency) or one of
 * the workload's declared number metrics; x and facet are its axes (tests/test_plots.c holds
 * every registered workload to that). A NULL field takes the generic choice. */
#define AB_CHART_MAX_METRICS 3
struct ab_chart_decl {
    const char *x;      /* line charts' x axis, where it has 3 or more values: "m", "seq"; NULL:
                           the numeric axis with the most values (none with 3: bars per case) */
    const char *xlabel; /* how x reads on the chart: "Sequence length"; NULL: the axis name */
    const char *xunit;  /* x's unit: "tokens"; NULL: none */
    const char *facet;  /* the axis whose values each get their own figures first: "shape" */
    const char *metrics[AB_CHART_MAX_METRICS]; /* charted in order, the headline first; none:
                                                  throughput */
    bool dist;                                 /* also box plots of the timing samples */
};

struct ab_result; /* a row: defined below with the results */
struct ab_workload {
    const char *name;    /* "fp8_gemm" */
    const char *summary; /* one line for `list` */
    const struct ab_axis *axes;
    int n_axes;
    /* Is this point of the axes a case on this backend in this suite? NULL = always.
     * Returning false drops the point silently (e.g. `scaling` for non-FP8 dtypes). */
    bool (*applies)(const struct ab_params *ps, enum ab_backend_kind backend, enum ab_suite suite);
    const struct ab_impl *impl[AB_BACKEND_COUNT]; /* NULL: no implementation there (skipped) */
    const struct ab_metric_decl *metrics;         /* every metric its rows may carry */
    int n_metrics;
    const struct ab_chart_decl *chart; /* its default charts; NULL: the generic ones */
    /* Its cases publish device ceilings (ab_case_publish_ceiling): the runner plans it first
     * (in quick form) when other selected workloads need ceilings and no other source was
     * given, and --ceilings / --resume read ceilings from its ok rows. */
    bool provides_ceilings;
    /* With provides_ceilings: ceilings only its own rows are held against (interconnect's link
     * bandwidths), so it is not planned for other workloads' sake nor stands in for the device
     * ceilings they need; --ceilings and --resume take only its rows that gave a value. */
    bool own_ceilings_only;
    /* Optional (NULL: none): what is decided over the run's rows, not per row (amx_timing's
     * Holm-corrected verdicts). Called once after the run's last case with copies of this
     * workload's rows of the run, in run order, every status (rows[] and its samples are the
     * runner's); writes its lines to log (NULL: quiet) and returns the text of a JSON value
     * (malloc'd, the runner frees; NULL: none) that run.json keeps under "summaries". */
    char *(*summarize)(const struct ab_result *rows, int n, FILE *log);
    /* The work of one repetition of a point, stated without setting anything up (for `run
     * --dry-run`'s estimate): the same model setup states, approximately where setup refines
     * it. NULL: known only once set up. */
    ab_status (*work)(const struct ab_params *ps, enum ab_backend_kind backend, struct ab_work *out,
                      struct ab_error *err);
};

/* The registry (workloads/registry.c): NULL-terminated list, and lookup by name. */
const struct ab_workload *const *ab_workloads(void);
const struct ab_workload *ab_workload_find(const char *name);
/* The metrics the engine itself records on any row (idle baseline, PAPI counters); *n = count. */
const struct ab_metric_decl *ab_engine_metrics(int *n);
/* The declaration of a metric recorded on a row of workload w (NULL: engine metrics only):
 * w's own, else the engine's; NULL when undeclared. Owned by the const tables. */
const struct ab_metric_decl *ab_metric_decl_find(const struct ab_workload *w, const char *name);

/* ---------------------------------------------------------------- statistics */

struct ab_stats {
    int64_t n;
    double median, mean, stdev, min, max, p05, p95;
    double ci_lo, ci_hi; /* 95% confidence interval of the median (distribution-free) */
};

/* Statistics of n samples (the array is not modified). n == 0 gives all zeros. */
void ab_stats_compute(const double *x, int64_t n, struct ab_stats *out);
/* Quantile q in [0,1] of sorted data, linear interpolation (type 7). */
double ab_stats_quantile_sorted(const double *sorted, int64_t n, double q);
/* Indices (0-based, into sorted data) bounding a distribution-free CI of the median at
 * confidence `conf` from the binomial(n, 1/2) distribution; false if n too small. */
bool ab_stats_median_ci_ranks(int64_t n, double conf, int64_t *lo, int64_t *hi);
/* Median of sorted data (the mean of the middle pair for even n); NaN when n == 0. */
double ab_stats_median_sorted(const double *sorted, int64_t n);
/* A sorted (ascending) copy of n values, which the caller frees; NULL if out of memory. */
double *ab_stats_sorted_copy(const double *x, int64_t n);

/* Two-sample tests and intervals (stats_tests.c). Inputs are never modified; p-values are
 * two-sided, NaN when a sample is too small to test. */
/* Mann-Whitney U: exact without ties when nx * ny <= 400, else the normal approximation with
 * tie and continuity corrections. */
double ab_stats_mann_whitney_p(const double *x, int64_t nx, const double *y, int64_t ny);
/* Exact two-sided P(|U - mn/2| >= |u - mn/2|) for sizes m, n without ties. */
double ab_stats_mann_whitney_exact_p(int m, int n, double u);
/* Holm-Bonferroni: adjusted p-values in place (NaN entries are left out of the family). */
void ab_stats_holm(double *p, int n);
/* Welch's unequal-variance t-test: t, Welch-Satterthwaite df and p (t of mean(x) - mean(y)). */
void ab_stats_welch(const double *x, int64_t nx, const double *y, int64_t ny, double *t, double *df,
                    double *p);
/* Two-sample Kolmogorov-Smirnov: D and its asymptotic p-value (Stephens' correction). */
void ab_stats_ks(const double *x, int64_t nx, const double *y, int64_t ny, double *d, double *p);
/* Kolmogorov distribution tail Q(lambda) = 2 sum_{j>=1} (-1)^(j-1) exp(-2 j^2 lambda^2). */
double ab_stats_kolmogorov_q(double lambda);
/* Percentile bootstrap interval (1 - alpha) of a contrast of two medians: each resample draws
 * min(n, max_draws) values per side (max_draws <= 0: n) with ab_rng from seed, so it is
 * reproducible. est (may be NULL) gets the contrast of the samples' own medians. lo and hi are
 * NaN with an empty side or fewer than 10 resamples. */
enum ab_stats_contrast {
    AB_STATS_MEDIAN_RATIO, /* median(y) / median(x) (NaN where median(x) <= 0) */
    AB_STATS_MEDIAN_DIFF,  /* median(x) - median(y) */
};
void ab_stats_bootstrap_ci(const double *x, int64_t nx, const double *y, int64_t ny, enum ab_stats_contrast c,
                           int resamples, int64_t max_draws, double alpha, uint64_t seed, double *est,
                           double *lo, double *hi);

/* The stopping rule: given the samples so far and the time spent measuring. */
struct ab_stop_rule {
    int64_t min_samples;  /* default 10 */
    int64_t max_samples;  /* default 100000 */
    double min_time_s;    /* default 0.5 */
    double max_time_s;    /* default 10 */
    double target_rel_ci; /* default 0.02: CI half-width / median */
};
enum ab_stop {
    AB_STOP_CONTINUE = 0,
    AB_STOP_CONVERGED,   /* "converged": min samples, min time and CI target met */
    AB_STOP_MAX_TIME,    /* "max_time": noisy: CI target not met in time */
    AB_STOP_MAX_SAMPLES, /* "max_samples" */
};
enum ab_stop ab_stop_check(const struct ab_stop_rule *rule, const struct ab_stats *st, double elapsed_s);
const char *ab_stop_word(enum ab_stop s);
void ab_stop_rule_defaults(struct ab_stop_rule *rule);

/* ---------------------------------------------------------------- meters */

/* A power/energy meter for one device. Opened once per device per run. */
struct ab_meter;

/* Open the best meter for the device: CUDA: nvml-energy, else nvml-power (sampled in a
 * thread); CPU: rapl (powercap sysfs), else papi:<component>, else nominal:<profile>; else
 * "none". Never fails for lack of a meter. Caller closes. */
ab_status ab_meter_open(const struct ab_device *dev, struct ab_meter **out, struct ab_error *err);
void ab_meter_close(struct ab_meter *m);
/* The CSV power_source word: "nvml-energy", "nvml-power", "rapl", "papi:<comp>",
 * "nominal:<profile>", "none". */
const char *ab_meter_source(const struct ab_meter *m);
/* Shortest window the meter can resolve well (the runner stretches measurement to cover it). */
double ab_meter_min_window_s(const struct ab_meter *m);
/* Start a window; end it and get energy in joules over it (NaN if none). */
ab_status ab_meter_begin(struct ab_meter *m, struct ab_error *err);
ab_status ab_meter_end(struct ab_meter *m, double *energy_j, struct ab_error *err);

/* Meter back-ends, used by ab_meter_open and by tests. Roots may be redirected for tests. */
/* RAPL through powercap: root is "/sys/class/powercap" normally. Sums package domains. */
ab_status ab_rapl_open(const char *root, struct ab_meter **out, struct ab_error *err);
/* NVML from a shared library path (NULL: "libnvidia-ml.so.1") for the GPU at PCI bus id
 * pci_bus_id ("0000:19:00.0", as CUDA reports it), or by NVML index idx where pci_bus_id is
 * NULL or "". CUDA ordinals follow CUDA_VISIBLE_DEVICES and CUDA's own order, NVML's do not, so
 * the bus id is what ties a CUDA device to its power reading. */
ab_status ab_nvml_open(const char *libpath, int idx, const char *pci_bus_id, struct ab_meter **out,
                       struct ab_error *err);
/* PAPI energy component (rapl, powercap); AB_EUNSUPPORTED when built without PAPI. */
ab_status ab_papi_energy_open(struct ab_meter **out, struct ab_error *err);
/* Nominal estimate: energy = tdp_w * time, labelled "nominal:<name>". */
ab_status ab_nominal_open(const char *profile_name, double tdp_w, struct ab_meter **out,
                          struct ab_error *err);

/* PAPI counters (counters_papi.c or counters_none.c). */
bool ab_counters_supported(void);
/* Names of the PAPI components/events available (for `info`), one per line; "" if none. */
void ab_counters_describe(char *buf, size_t len);
/* Named PAPI events ("PAPI_TOT_INS,PAPI_TOT_CYC") counted over each case's measured window.
 * PAPI counts the calling thread: work spread over a thread pool is undercounted, and the
 * metric names say so (papi_<EVENT>_thread0_per_rep). AB_EUNSUPPORTED where PAPI or the
 * events are missing, with the reason. */
struct ab_counters;
ab_status ab_counters_open(const char *events, struct ab_counters **out, struct ab_error *err);
int ab_counters_n(const struct ab_counters *c);
const char *ab_counters_event(const struct ab_counters *c, int i);
ab_status ab_counters_start(struct ab_counters *c, struct ab_error *err);
ab_status ab_counters_stop(struct ab_counters *c, long long *values, struct ab_error *err);
void ab_counters_close(struct ab_counters *c);

/* ---------------------------------------------------------------- profiles */

struct ab_profile {
    char name[64];        /* "nvidia-h100-sxm" */
    char match[128];      /* substring of the device name that selects it ("H100") */
    char backend[8];      /* "cpu" or "cuda" */
    double tdp_w;         /* nominal board/package power; per core if per_core */
    bool per_core;        /* tdp_w is per CPU core in use */
    double usd_per_hour;  /* price of the device per hour (0: unknown) */
    double peak_flops[6]; /* datasheet dense peaks: fp32, tf32, bf16, fp16, fp8, int8 (0: unknown) */
    double peak_mem_bw;   /* datasheet memory bandwidth, bytes/s */
    double max_clock_mhz; /* CPU: highest core clock (boost), 0: unknown */
    int fma_units;        /* CPU: SIMD FMA pipes per core, 0: unknown (2 assumed) */
};
/* Parse one profile from JSON text; errors name the file and field. */
ab_status ab_profile_parse(const char *json, const char *origin, struct ab_profile *out,
                           struct ab_error *err);
/* Load every *.json in dir (NULL: $ACCELBENCH_PROFILES, $ACCELBENCH_DATA/profiles, the source
 * tree's results/profiles from a build folder, else the installed datadir's profiles/). */
ab_status ab_profiles_load(const char *dir, struct ab_profile **out, int *n, struct ab_error *err);
/* Best match for a device (longest `match` substring of its name, same backend), or NULL. */
const struct ab_profile *ab_profile_match(const struct ab_profile *ps, int n, const struct ab_device *dev);
/* The theoretical peak of a ceiling ("fp32_fma", "bf16_gemm", "mem_bw"...) on a device, FLOP/s or
 * bytes/s: the profile's datasheet figure, else for a CPU threads x clock x FLOPs per cycle from
 * its CPUID features (FMA pipes x SIMD lanes x 2; AVX-512 BF16: x 4 per lane; AMX: 1024 BF16).
 * 0 when unknown (llc_bw, a profile without the figure). how gets the formula, for messages. */
double ab_device_peak(const struct ab_device *dev, const char *ceiling, char *how, size_t len);

/* ---------------------------------------------------------------- results */

/* One row: a case's outcome, plain data shared by every reporter and reader. */
struct ab_result {
    char run_id[40];
    char host[64];
    char started_utc[32]; /* ISO 8601 of the case start */
    char workload[32];
    char device[16];
    char device_name[128];
    char backend[16];                /* "cpu", "cuda"; a peer's rows: "torch", "llama.cpp" */
    char params[AB_PARAMS_TEXT_MAX]; /* ab_params_format text */
    char case_id[20];                /* ab_case_id of workload, device, device_name, params */
    ab_status status;
    char message[AB_ERR_LEN];
    struct ab_stats time_s; /* per repetition */
    char stop_reason[16];
    int64_t reps_per_sample;
    double flops, bytes, tokens;                /* per repetition */
    double flop_per_s, byte_per_s, token_per_s; /* 0 when the count is 0 */
    char ceiling[24];
    double ceiling_value;
    char ceiling_source[48];
    double fraction_of_ceiling; /* NaN when no ceiling */
    char power_source[48];
    double avg_power_w;                         /* NaN when unmeasured */
    double energy_j;                            /* per repetition; NaN when unmeasured */
    double flop_per_j, token_per_j, byte_per_j; /* NaN when unmeasured or count is 0 */
    double usd_per_hour;                        /* from the profile; NaN when unknown */
    struct ab_metric metrics[AB_MAX_METRICS];
    int n_metrics;
    /* raw per-repetition samples (seconds); owned by whoever filled the result */
    double *samples;
    int64_t n_samples;
    char *extra_json; /* the case's ab_case_extra_json, for samples.jsonl; owned likewise */
    char *detail;     /* the case's ab_case_detail JSON text, or NULL; owned like samples, not copied */
};

/* Metric lookup on a result; NaN/NULL when absent. */
double ab_result_metric(const struct ab_result *r, const char *name);
const char *ab_result_metric_text(const struct ab_result *r, const char *name);
/* A case's stable identity: 16 hex digits of a 64-bit FNV-1a hash of workload, device,
 * device_name and the params in canonical form (name=value in the text's order, which is the
 * workload's axis order; numbers canonicalized so "1024" and "1024.0" agree). wl (may be NULL)
 * reorders the params by its axes and drops an axis at its `implicit` value, as the params
 * text does; text made by the runner gives the same id either way. buf: at least 17 bytes. */
void ab_case_id(const struct ab_workload *wl, const char *workload, const char *device,
                const char *device_name, const char *params, char *buf, size_t len);
/* Identity key of a case: "workload|device|params" (for --resume and compare). */
void ab_result_key(const struct ab_result *r, char *buf, size_t len);

/* A set of results read from files. */
struct ab_result_set {
    struct ab_result *rows;
    int64_t n, cap;
};
void ab_result_set_free(struct ab_result_set *s);
/* Append a copy of r (samples are not copied). */
ab_status ab_result_set_add(struct ab_result_set *s, const struct ab_result *r, struct ab_error *err);

/* Reading results back (results_load.c), for compare and plot: each of the n paths is a
 * results CSV or a folder (its results.csv and those of every subfolder below it, each folder
 * read once however many links lead to it, hidden ones left out); the raw
 * samples of a samples.jsonl beside a CSV are attached to its rows. Rows are appended to set
 * in file order, every row kept. warn (may be NULL) gets the warnings (torn last lines), each
 * naming its file, or "". Errors name the file and line. */
ab_status ab_results_load(const char *const *paths, int n, struct ab_result_set *set, char *warn,
                          size_t warn_len, struct ab_error *err);
/* The key by which two runs' cases are matched: "workload|device|device_name|params", and
 * "|rank=N" after it on rows that carry a rank (launched runs). */
void ab_results_case_key(const struct ab_result *r, char *buf, size_t len);
/* The latest row (by started_utc; a tie goes to the later row) of each case of s, in order of
 * first appearance: *n pointers into s, in an array the caller frees. NULL if out of memory. */
const struct ab_result **ab_results_latest(const struct ab_result_set *s, int *n);
/* The same with the host in the key, for readers that keep hosts apart (plot). */
const struct ab_result **ab_results_latest_per_host(const struct ab_result_set *s, int *n);

/* A map from strings to int64 values (keymap.c), for matching cases by key in one pass.
 * create: room for about n_hint keys (it grows); the caller destroys it. put copies key and
 * replaces any value under it; get returns the value, or -1 when key is absent. */
struct ab_keymap;
ab_status ab_keymap_create(int64_t n_hint, struct ab_keymap **out, struct ab_error *err);
void ab_keymap_destroy(struct ab_keymap *m);
ab_status ab_keymap_put(struct ab_keymap *m, const char *key, int64_t value, struct ab_error *err);
int64_t ab_keymap_get(const struct ab_keymap *m, const char *key);

/* Reporters are a vtable fed the same plain-data result (CSV, JSON lines, console). */
struct ab_run_info; /* defined below */
struct ab_run_opts; /* defined below */
struct ab_reporter {
    void *self;
    ab_status (*begin)(void *self, const struct ab_run_info *info, struct ab_error *err);
    ab_status (*row)(void *self, const struct ab_result *r, struct ab_error *err);
    ab_status (*end)(void *self, const struct ab_run_info *info, struct ab_error *err);
    void (*destroy)(void *self);
    /* Optional (NULL): case `index` of n_planned is about to run; its row follows. */
    void (*case_start)(void *self, const char *workload, const char *device, const char *params, int index,
                       int n_planned);
};

/* CSV (record_csv.c): schema in results/schema.md, written and read with libcsv.
 * Writer appends to path (writing the header if the file is new or empty) and flushes
 * each row; an existing file of an older schema version is rewritten in this one first (the
 * original kept as <path>.schema<N>), one it does not fully understand is an error before
 * anything runs. */
ab_status ab_csv_reporter_open(const char *path, struct ab_reporter *out, struct ab_error *err);
/* Reader: every error names the file, line and field. A torn last line (no newline at the
 * end, as after a crash) is dropped with a warning in *warn (may be NULL). Columns are taken
 * by name: schema versions AB_SCHEMA_VERSION_MIN to AB_SCHEMA_VERSION (older rows migrated:
 * case_id computed, zeros that meant "not measured" made NaN), unknown columns ignored with a
 * warning, missing ones empty (but the identity columns, without which it is an error). */
ab_status ab_csv_read(const char *path, struct ab_result_set *out, char *warn, size_t warn_len,
                      struct ab_error *err);
/* The same reader, streaming: each row (valid during the call) goes to fn, whose error
 * status ends the read; holds one chunk of the file at a time, not its rows. */
ab_status ab_csv_each(const char *path,
                      ab_status (*fn)(void *ctx, const struct ab_result *r, struct ab_error *err), void *ctx,
                      char *warn, size_t warn_len, struct ab_error *err);
/* The column names of schema version AB_SCHEMA_VERSION, in order; NULL-terminated. */
const char *const *ab_csv_columns(void);
/* Column i of ab_csv_columns() as the CSV writes it for r ("" when empty), into buf (the metrics
 * column: its packed text); *type gets "int", "real" or "text". Returns buf. */
const char *ab_csv_field(const struct ab_result *r, int i, char *buf, size_t len, const char **type);

/* Tidy tables (export.c): from a set of rows (the latest row of each case of each run), the
 * wide table (the fixed columns, then p_<axis> and m_<metric>, each typed) and the long table
 * (run_id, case_id, name, value, unit: one line per measured number), as CSV or JSON. Axis and
 * metric types come from the workloads' declarations. warn (may be NULL) gets one line per
 * value that did not fit its column's type. Errors name the file. */
enum ab_export_format { AB_EXPORT_CSV, AB_EXPORT_JSON };
/* The wide table, the long one, or the wide table's columns (name, type, unit, kind: fixed,
 * axis or metric), its schema for tools that want one. */
enum ab_export_table { AB_EXPORT_WIDE, AB_EXPORT_LONG, AB_EXPORT_COLUMNS };
ab_status ab_export_write(const struct ab_result_set *s, enum ab_export_table table,
                          enum ab_export_format fmt, FILE *out, const char *out_name, char *warn,
                          size_t warn_len, struct ab_error *err);
/* Write results_wide.csv, results_long.csv and results_wide_columns.csv into dir from its
 * results.csv (each replaced atomically). */
ab_status ab_export_dir(const char *dir, char *warn, size_t warn_len, struct ab_error *err);
/* The typed value of an axis value: number (true, *num set) for an int or real axis of the
 * workload (an undeclared axis: when the text is a finite number), else text. */
bool ab_axis_value_number(const struct ab_workload *wl, const char *axis, const char *value, double *num);

/* Console (report_console.c): one progress line per case to log as it ends ("[i/N] workload
 * device params: status figure [time]"); with tty, a line rewritten while a case runs that
 * shows elapsed time and ETA. */
ab_status ab_console_reporter_open(FILE *log, bool tty, struct ab_reporter *out, struct ab_error *err);

/* JSON (record_json.c): run.json (metadata, rewritten atomically at begin and end) and
 * samples.jsonl (one object per case with its raw samples and metrics, appended). */
ab_status ab_json_reporter_open(const char *dir, struct ab_reporter *out, struct ab_error *err);
/* Read samples.jsonl: attach raw samples to the matching rows of `set` (by key).
 * Errors name the file and line. */
ab_status ab_json_read_samples(const char *path, struct ab_result_set *set, struct ab_error *err);
/* Read and validate run.json; returns the parsed text's schema version. */
ab_status ab_json_read_run(const char *path, int *schema_version, struct ab_error *err);

/* ---------------------------------------------------------------- system information */

/* Host metadata for run.json and `info`. Strings are "" when unknown. */
struct ab_sysinfo {
    char host[64];
    char kernel[128];
    char os[128];
    char cpu_model[128];
    char cpu_flags[256]; /* the subset of flags that matter: avx2 fma avx512* amx* */
    int cpu_cores_online;
    double load_avg_1m; /* /proc/loadavg when the run started (NaN: unknown): other work running */
    uint64_t mem_bytes;
    char compiler[64];
    char git_commit[48];
    char version[32];
    char build[128]; /* "cuda=yes papi=no plots=yes sanitize=..." */
};
void ab_sysinfo_collect(struct ab_sysinfo *out);

/* ---------------------------------------------------------------- launchers (launcher.c) */

/* Where this process stands in a job started by srun, mpirun (Open MPI) or mpiexec (MPICH's
 * Hydra), read from the variables the launcher sets; nothing is started or joined. */
struct ab_launch {
    char launcher[16]; /* "openmpi", "mpich", "slurm"; "" when not launched (rank 0 of 1) */
    int rank, size;    /* SLURM_PROCID / OMPI_COMM_WORLD_RANK / PMI_RANK, and the task count */
    int local_rank;    /* rank on this host (SLURM_LOCALID, ..._LOCAL_RANK, MPI_LOCALRANKID) */
    bool local_known;  /* false: the launcher gave none and local_rank is the global rank */
    char job_id[64];   /* the job (Slurm: "<job>.<step>"), as the launcher names it; "" if none */
};
/* Read envp ("NAME=value", NULL-terminated; pass `environ`). AB_EINVAL naming the variable
 * when a value is not a number or the rank is not below the size. */
ab_status ab_launch_detect(const char *const *envp, struct ab_launch *out, struct ab_error *err);
/* The run_id every rank shares: `given` (--run-id) if not NULL, else "<launcher>-<job id>";
 * "" when not launched (the runner draws one). AB_EINVAL when launched with no job id. */
ab_status ab_launch_run_id(const struct ab_launch *l, const char *given, char *buf, size_t len,
                           struct ab_error *err);
/* The device a rank takes when -d is not given: ids[local rank mod n_ids], the ids of this
 * host's accelerators (devices of a backend with `accelerator`), or "cpu" when there is none;
 * note gets a warning ("" if none) when devices are shared. */
void ab_launch_devices(const struct ab_launch *l, const char *const *ids, int n_ids, char *dev, size_t len,
                       char *note, size_t note_len);
/* A rank's output folder "<out_dir>/rank-<r>-<host>" (host reduced to [A-Za-z0-9._-]). */
void ab_launch_rank_dir(const char *out_dir, int rank, const char *host, char *buf, size_t len);
/* Parse a folder name "rank-<r>-<host>"; false for any other name. */
bool ab_launch_parse_rank_dir(const char *name, int *rank, char *host, size_t host_len);

/* ---------------------------------------------------------------- the runner */

struct ab_run_info {
    char run_id[40];
    char started_utc[32];
    char finished_utc[32];
    char command_line[1024];
    struct ab_sysinfo sys;
    const struct ab_device *devices;
    int n_devices;
    char meters[256];                       /* "cpu=nominal:cpu-generic cuda:0=nvml-energy" */
    int n_cases, n_ok, n_failed, n_skipped; /* n_failed: every status but ok and skipped */
    int n_by_status[AB_EFAIL + 1];          /* cases per ab_status */
    enum ab_suite suite;
    char *summaries; /* JSON object text of the workloads' summaries, or NULL; set at the end */
    /* The run's identity and selection for run.json: seed (the one used, never 0 in a run, below
     * 2^53 so a JSON number and --seed hold it exactly), whether --seed gave it, the options the
     * run was asked with, and how this process continues the run: "start", "resume" or "extend"
     * (run.json then keeps the earlier invocations and adds this one). */
    uint64_t seed;
    bool seed_given;
    const struct ab_run_opts *opts;
    const char *invocation;
};

/* What to run and how. bench/ fills this from the command line. */
#define AB_MAX_SELECT 32
struct ab_run_opts {
    const char *workloads[AB_MAX_SELECT];
    int n_workloads; /* none = all */
    const char *devices[AB_MAX_SELECT];
    int n_devices; /* "cpu", "cuda", "cuda:0"; none = all */
    const char *axis_overrides[AB_MAX_SELECT];
    int n_axis_overrides; /* "NAME=SWEEP" */
    enum ab_suite suite;
    struct ab_stop_rule stop;
    double warmup_s;           /* default 0.1 */
    double case_timeout_s;     /* watchdog per case, 0 = 10 x max_time + 60 */
    const char *out_dir;       /* results directory (created) */
    bool resume;               /* skip cases already in out_dir/results.csv */
    const char *ceilings_file; /* results CSV to take ceilings from instead of measuring */
    bool no_ceilings;          /* do not measure ceilings automatically */
    const char *counters;      /* PAPI events to count per case (comma list), or NULL */
    double idle_baseline_s;    /* >0: measure each device's idle power this long first; rows
                                  then carry idle_power_w and dynamic_energy_j metrics */
    bool progress_tty;         /* rewrite one progress line; else plain lines */
    bool quiet;
    FILE *log;     /* progress stream (stderr) */
    uint64_t seed; /* 0: fresh from the clock */
    char command_line[1024];
    volatile int *interrupted; /* set by bench/'s SIGINT handler; the runner stops cleanly */
    bool extend;               /* with resume: this invocation adds cases (recorded as "extend") */
    int lock_fd;               /* >= 0: the caller holds out_dir's lock (ab_run_lock); -1
                                  (default): ab_run takes it for the run */
    const char *run_id;        /* NULL: drawn from the start time; else shared by a launcher's ranks */
    int world_size;            /* > 0 when launched: rows carry the engine metrics rank and world_size */
    int rank;
    bool concurrent_devices; /* --concurrent-devices: run the devices' cases at the same time */
};
void ab_run_opts_defaults(struct ab_run_opts *o);

/* Lock a results folder for one process: flock on DIR/.lock, which holds the holder's pid.
 * *fd stays open while the lock is held (close it to release). Another process holding it:
 * AB_EINVAL with a message naming that pid. */
ab_status ab_run_lock(const char *dir, int *fd, struct ab_error *err);

/* What a folder's run.json says about its run, for --resume (ab_json_read_run_state). The
 * selection is that of the latest invocation that recorded one (a start or an --extend). */
struct ab_run_state {
    char run_id[40];
    char host[64];
    uint64_t seed;      /* 0: not recorded */
    bool has_selection; /* false: a run.json written before runs kept their selection */
    char workloads[AB_MAX_SELECT][32];
    int n_workloads;
    char devices[AB_MAX_SELECT][16];
    int n_devices;
    char axes[AB_MAX_SELECT][512];
    int n_axes;
    enum ab_suite suite;
    struct ab_stop_rule stop;
    double warmup_s;
    char ceilings[1024]; /* "measured", "none", or "file:<path as given>" */
};
/* Read a folder's run.json (path) into *out; errors name the file and field. */
ab_status ab_json_read_run_state(const char *path, struct ab_run_state *out, struct ab_error *err);
/* Which rows of set have their samples.jsonl line (matched by run_id and key; a line written
 * before lines carried run_id matches by key; each line pairs with one row, the first of its key
 * without one): has_line[i] for row i. Errors are those of ab_json_read_samples, which this also
 * does (samples are attached). */
ab_status ab_json_read_samples_marked(const char *path, struct ab_result_set *set, bool *has_line,
                                      struct ab_error *err);
/* Plan as ab_run does (same validation and errors) and print to out, instead of running, the
 * cases per workload and device, each case with its time budget and, where its workload states
 * its work without setup and a ceiling is known (--ceilings, else the device profile's
 * datasheet figure), the expected time per repetition; then the estimated total. Creates,
 * opens for writing and measures nothing (with --resume it reads out_dir/results.csv to leave
 * out the cases recorded there). */
ab_status ab_run_dry(const struct ab_run_opts *opts, FILE *out, struct ab_error *err);

/* Plan the cases (validating workloads, devices and axis overrides: errors name the bad item
 * and the valid choices with AB_EINVAL), then run them all. One failing case never ends the
 * run. Returns AB_OK if the run completed (whatever the cases' statuses), AB_EINTR when
 * interrupted, AB_EIO if results could not be written. */
ab_status ab_run(const struct ab_run_opts *opts, struct ab_run_info *info, struct ab_error *err);

/* ---------------------------------------------------------------- data types */

/* The element types of the suite, named as the `dtype` axes write them. The numbers of fp32,
 * bf16 and fp16 (0, 1, 2) are those the kernels' launchers take, so a value passes to a .cu
 * file unchanged. tf32 is stored as fp32 (the library rounds its inputs to 10 mantissa bits).
 * Conversions round to nearest, ties to even. bf16 and fp16 keep infinities and overflow to
 * them; fp8 (OCP E4M3FN and E5M2) saturates to the largest finite value, infinities included;
 * NaN stays NaN (a quiet NaN with its sign; E4M3FN's 0x7f, E5M2's 0x7e). */
enum ab_dtype {
    AB_DTYPE_FP32 = 0,
    AB_DTYPE_BF16 = 1,
    AB_DTYPE_FP16 = 2,
    AB_DTYPE_TF32 = 3,
    AB_DTYPE_FP8_E4M3 = 4,
    AB_DTYPE_FP8_E5M2 = 5,
    AB_DTYPE_INT8 = 6,
    AB_DTYPE_COUNT
};
#define AB_FP8_E4M3_MAX 448.0f   /* largest finite E4M3FN value */
#define AB_FP8_E5M2_MAX 57344.0f /* largest finite E5M2 value */
#define AB_FP16_MAX     65504.0f

/* Bytes per stored element: 4 (fp32, tf32), 2 (bf16, fp16), 1 (fp8, int8). */
size_t ab_dtype_size(enum ab_dtype t);
/* "fp32", "tf32", "bf16", "fp16", "fp8_e4m3", "fp8_e5m2", "int8" ("?" out of range). */
const char *ab_dtype_name(enum ab_dtype t);
/* Inverse of ab_dtype_name; false for any other text. */
bool ab_dtype_parse(const char *name, enum ab_dtype *out);
/* Largest finite value of a floating type (fp32 and tf32: FLT_MAX; int8: 127). */
float ab_dtype_max(enum ab_dtype t);

/* bf16 <-> fp32. Inline: ops and the workloads call them per element in their inner loops. */
static inline uint16_t ab_bf16_from_f32(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN, sign kept */
    u += 0x7fffu + ((u >> 16) & 1u);          /* round to nearest even */
    return (uint16_t)(u >> 16);
}
static inline float ab_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}
/* IEEE binary16 <-> fp32 (exact decode; subnormals kept). */
uint16_t ab_fp16_from_f32(float x);
float ab_fp16_to_f32(uint16_t h);
/* FP8 (t is AB_DTYPE_FP8_E4M3 or AB_DTYPE_FP8_E5M2) <-> fp32; E5M2 0x7c/0xfc decode to ±inf. */
uint8_t ab_fp8_from_f32(enum ab_dtype t, float x);
float ab_fp8_to_f32(enum ab_dtype t, uint8_t code);

/* Bulk forms: n elements of src (fp32) to dst of type t, and back. fp32 and tf32 copy;
 * int8 rounds to nearest even and saturates to [-128, 127] (NaN to 0). */
void ab_dtype_from_f32(enum ab_dtype t, void *dst, const float *src, size_t n);
void ab_dtype_to_f32(enum ab_dtype t, float *dst, const void *src, size_t n);
/* Element i of x (type t) as a double. */
double ab_dtype_get(enum ab_dtype t, const void *x, size_t i);

/* ---------------------------------------------------------------- small utilities */

double ab_now_s(void);                  /* CLOCK_MONOTONIC seconds */
void ab_utc_now(char *buf, size_t len); /* ISO 8601 UTC, seconds */
/* splitmix64/xoshiro-based generator for inputs: deterministic from a seed. */
struct ab_rng {
    uint64_t s[4];
};
void ab_rng_seed(struct ab_rng *r, uint64_t seed);
uint64_t ab_rng_next(struct ab_rng *r);
double ab_rng_uniform(struct ab_rng *r); /* [0,1) */
double ab_rng_normal(struct ab_rng *r);  /* N(0,1) */
void ab_fill_normal_f32(float *x, size_t n, uint64_t seed, float scale);
/* Page-aligned (64-byte at least) allocation that can fail politely; free with ab_free. */
void *ab_alloc(size_t bytes);
void ab_free(void *p);
/* "1.23 TFLOP/s" style SI formatting of a rate or size into buf; returns buf. */
const char *ab_fmt_si(double v, const char *unit, char *buf, size_t len);
/* Read a whole regular file (not a FIFO, device or folder) of at most AB_READ_MAX_BYTES into a
 * NUL-terminated malloc'ed buffer (caller frees); the _max form takes its own limit. */
#define AB_READ_MAX_BYTES ((size_t)4 << 30)
ab_status ab_read_file(const char *path, char **out, size_t *len, struct ab_error *err);
ab_status ab_read_file_max(const char *path, size_t max_bytes, char **out, size_t *len, struct ab_error *err);
/* write(2) all of buf to fd (retrying short writes and EINTR); errors name path. */
ab_status ab_write_all(int fd, const void *buf, size_t len, const char *path, struct ab_error *err);
/* The CPU feature words that matter to accelbench (avx2 ... amx_int8) present on this CPU,
 * space separated, into buf. */
void ab_cpu_features(char *buf, size_t len);
/* mkdir -p */
ab_status ab_mkdirs(const char *path, struct ab_error *err);
/* An output folder another user could swap files in (world-writable without the sticky bit,
 * or owned by someone else) is refused: outputs there could be redirected by symbolic links. */
ab_status ab_output_dir_safe(const char *dir, struct ab_error *err);
/* Create a new temporary file beside path ("<dir>/.<name>.XXXXXX", O_EXCL, mode 0644) to write
 * and rename into place; its name goes to tmp, its descriptor to *fd (caller closes). */
ab_status ab_temp_beside(const char *path, char *tmp, size_t tmp_len, int *fd, struct ab_error *err);

#ifdef __cplusplus
}
#endif

#endif /* ACCELBENCH_H */
