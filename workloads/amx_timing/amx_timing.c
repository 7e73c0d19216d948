/* amx_timing.c — the `amx_timing` workload (THOR): does the matrix unit's timing depend on the
 * data? One case is one (instr, pattern, sparsity, reference) point. Its verify step checks the
 * burst's arithmetic, then runs the paired experiment: reference and level bursts alternate in
 * an order a coin sets per pair, each timed in TSC ticks, so slow drifts (frequency,
 * temperature) hit both alike; the paired statistics (sign-flip test, mean difference with a
 * block-bootstrap interval, channel bits; KS beside them) become the row's metrics, and the
 * pairs go to samples.jsonl. Whether a row leaks is decided over the run (amx_summarize: Holm
 * per instruction and a minimum effect). run() then times bursts on the sparse operands alone,
 * so the row's samples are this level's timing distribution. AMX rows are skipped where CPUID
 * lacks AMX; AVX-512 VDPBF16PS / VPDPBUSD, AVX-VNNI VPDPBUSD and AVX2 rows are the control.
 * "Cycles" are TSC (reference) cycles; the core clock before and after is recorded beside them
 * to tell frequency effects from data-dependent ones. */
#include "amx_timing.h"

#include <cjson/cJSON.h>
#include <gsl/gsl_sort.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct amx_instr_info amx_instrs[AMX_N_INSTR] = {
    [AMX_TDPBF16PS] = { "tdpbf16ps", true, { 4, 16, 2 }, 4, 16.0 * 16 * 32 * 2, "bf16_gemm" },
    [AMX_TDPBSSD] = { "tdpbssd", true, { 4, 16, 1 }, 4, 16.0 * 16 * 64 * 2, NULL },
    [AMX_VDPBF16PS] = { "vdpbf16ps", false, { 4, 4, 2 }, 16, 16.0 * 2 * 2, "bf16_fma" },
    [AMX_VPDPBUSD] = { "vpdpbusd", false, { 4, 4, 1 }, 16, 16.0 * 4 * 2, NULL },
    [AMX_VPDPBUSD_VEX] = { "vpdpbusd_vex", false, { 2, 2, 1 }, 8, 8.0 * 4 * 2, NULL },
    [AMX_VPMADDUBSW] = { "vpmaddubsw", false, { 2, 2, 1 }, 8, 8.0 * 4 * 2, NULL },
    [AMX_VFMADD231PS] = { "vfmadd231ps", false, { 2, 2, 4 }, 8, 8.0 * 2, "fp32_fma" },
};

const struct amx_instr_info *amx_instr_get(enum amx_instr in)
{
    return &amx_instrs[in];
}

bool amx_instr_parse(const char *name, enum amx_instr *out)
{
    for (int i = 0; i < AMX_N_INSTR; i++)
        if (strcmp(name, amx_instrs[i].name) == 0) {
            *out = (enum amx_instr)i;
            return true;
        }
    return false;
}

double amx_tsc_hz(double window_s)
{
    double t0 = ab_now_s();
    uint64_t c0 = amx_tsc_now();
    double t1;
    while ((t1 = ab_now_s()) - t0 < window_s)
        ;
    uint64_t c1 = amx_tsc_now();
    return (double)(c1 - c0) / (t1 - t0);
}

double amx_core_fraction(double ops_per_instr, double cpi_cycles, double tsc_hz, double ceiling_flops,
                         int threads)
{
    if (!(ops_per_instr > 0 && cpi_cycles > 0 && tsc_hz > 0 && ceiling_flops > 0 && threads > 0))
        return NAN;
    return ops_per_instr * tsc_hz / cpi_cycles / (ceiling_flops / threads);
}

/* The core's clock now in MHz (cpufreq, else /proc/cpuinfo), NaN where unreadable. */
static double amx_core_mhz(int cpu)
{
    char path[96];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_cur_freq", cpu);
    FILE *f = fopen(path, "r");
    if (f) {
        double khz = NAN;
        if (fscanf(f, "%lf", &khz) != 1)
            khz = NAN;
        fclose(f);
        if (isfinite(khz) && khz > 0)
            return khz / 1000.0;
    }
    f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return NAN;
    char line[256];
    int proc = -1;
    double mhz = NAN;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "processor : %d", &proc) == 1)
            continue;
        double v;
        if (proc == cpu && sscanf(line, "cpu MHz : %lf", &v) == 1) {
            mhz = v;
            break;
        }
    }
    fclose(f);
    return mhz;
}

/* The per-run verdict (amx_timing_summarize): a row is claimed to leak when its sign-flip p,
 * Holm-adjusted over the run's rows of its instruction, is below AMX_ALPHA and its mean
 * difference is at least AMX_MIN_EFFECT_PCT of the reference's mean: a 1% effect is about
 * what a frequency step or a cache event between bursts can fake, and a shift under it carries
 * too little to matter (0.0003-0.0008 bits per sample were once reported as kbit/s). */
#define AMX_ALPHA          0.01
#define AMX_MIN_EFFECT_PCT 1.0
/* Sign patterns of the randomization test (smallest p 1e-4: with 21 rows per instruction the
 * Holm threshold stays above it) and moving-block bootstrap resamples. */
#define AMX_PERMS 9999
#define AMX_BOOTS 400
/* A pair is dropped as interrupted when either burst took over this many times the median
 * burst: an interrupt costs microseconds, several bursts' worth, while a data effect of up to
 * 2x on either side stays under it. */
#define AMX_CUT_FACTOR 3.0

struct amx_state {
    enum amx_instr in;
    const struct amx_instr_info *info;
    uint8_t *dense, *sparse, *acc; /* operands (4 KiB), accumulators (4 KiB) */
    int64_t iters;                 /* loop iterations per burst */
    int n_instr;                   /* instructions per burst */
    int64_t pairs;                 /* dense/sparse sample pairs of the experiment */
    cpu_set_t saved_mask;
    bool pinned, tiles_on;
    int cpu;
};

static ab_status amx_check_features(enum amx_instr in, struct ab_error *err)
{
    struct amx_cpuid id;
    struct amx_features f;
    amx_cpuid_read(&id);
    if (!id.x86_64)
        return ab_fail(err, AB_EUNSUPPORTED, "not x86-64: no AMX or AVX-512");
    amx_features_decode(&id, &f);
    switch (in) {
    case AMX_TDPBF16PS:
    case AMX_TDPBSSD:
        if (!f.amx_tile || !(in == AMX_TDPBF16PS ? f.amx_bf16 : f.amx_int8))
            return ab_fail(err, AB_EUNSUPPORTED, "no AMX (CPUID)");
        return amx_request_permission(err);
    case AMX_VDPBF16PS:
        return f.avx512_bf16 ? AB_OK : ab_fail(err, AB_EUNSUPPORTED, "no AVX-512 BF16 (CPUID)");
    case AMX_VPDPBUSD:
        return f.avx512_vnni ? AB_OK : ab_fail(err, AB_EUNSUPPORTED, "no AVX-512 VNNI (CPUID)");
    case AMX_VPDPBUSD_VEX: return f.avx_vnni ? AB_OK : ab_fail(err, AB_EUNSUPPORTED, "no AVX-VNNI (CPUID)");
    case AMX_VPMADDUBSW: return f.avx2 ? AB_OK : ab_fail(err, AB_EUNSUPPORTED, "no AVX2 (CPUID)");
    case AMX_VFMADD231PS:
        return f.avx2 && f.fma ? AB_OK : ab_fail(err, AB_EUNSUPPORTED, "no AVX2 and FMA (CPUID)");
    default: return ab_fail(err, AB_EINVAL, "unknown instruction");
    }
}

static uint64_t amx_burst(const struct amx_state *s, const uint8_t *ops, int64_t iters, uint8_t *acc)
{
    if (s->info->is_amx)
        return amx_burst_amx(s->in, ops, iters, acc);
    if (s->in == AMX_VPDPBUSD_VEX)
        return amx_burst_avxvnni(ops, iters, acc);
    if (s->in == AMX_VPMADDUBSW || s->in == AMX_VFMADD231PS)
        return amx_burst_avx2(s->in, ops, iters, acc);
    return amx_burst_avx512(s->in, ops, iters, acc);
}

static ab_status amx_setup(struct ab_case *c, struct ab_error *err)
{
    struct amx_state *s = calloc(1, sizeof *s);
    if (!s)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    c->state = s;
    const char *instr = ab_param_str(&c->params, "instr", "vdpbf16ps");
    const char *pat = ab_param_str(&c->params, "pattern", "random");
    double sparsity = ab_param_real(&c->params, "sparsity", 0);
    bool null_row = ab_param_is(&c->params, "reference", "same");
    enum amx_pattern pattern;
    if (!amx_instr_parse(instr, &s->in))
        return ab_fail(err, AB_EINVAL, "unknown instr '%s'", instr);
    if (!amx_pattern_parse(pat, &pattern))
        return ab_fail(err, AB_EINVAL, "unknown pattern '%s'", pat);
    if (!(sparsity >= 0 && sparsity <= 1))
        return ab_fail(err, AB_EINVAL, "sparsity %g outside [0, 1]", sparsity);
    s->info = amx_instr_get(s->in);
    ab_status st = amx_check_features(s->in, err);
    if (st)
        return st;
    if (!ab_device_fits(c->device, 3 * 4096))
        return ab_fail(err, AB_ENOMEM, "12 KiB of operands do not fit");
    s->dense = ab_alloc(4096);
    s->sparse = ab_alloc(4096);
    s->acc = ab_alloc(4096);
    if (!s->dense || !s->sparse || !s->acc)
        return ab_fail(err, AB_ENOMEM, "out of memory for operands");

    bool bf16 = s->info->shape.elem_bytes == 2;
    struct ab_rng rng;
    ab_rng_seed(&rng, c->seed ^ 0x616d785f74696d65ull);
    /* The reference side: dense operands, or for the null row an independent draw of this
     * level (same pattern and sparsity), so the row shows the false-positive rate achieved. */
    amx_operands_fill(s->dense, s->info->shape, bf16, null_row ? pattern : AMX_PAT_RANDOM,
                      null_row ? sparsity : 0, &rng);
    size_t zeros = amx_operands_fill(s->sparse, s->info->shape, bf16, pattern, sparsity, &rng);
    size_t elems = (size_t)s->info->shape.tiles * (size_t)s->info->shape.rows * AMX_ROW_BYTES /
                   (size_t)s->info->shape.elem_bytes;
    ab_case_metric(c, "zero_frac", (double)zeros / (double)elems);

    /* Bursts of ~1000 TSC ticks: long against the timer's own cost (~50 ticks) and its step (a
     * virtual TSC may advance by tens of ticks at once), short against drifts. */
    s->iters = s->info->is_amx ? 32 : 2048 / s->info->instrs_per_iter;
    s->n_instr = (int)s->iters * s->info->instrs_per_iter;
    s->pairs = c->suite == AB_SUITE_QUICK ? 4000 : c->suite == AB_SUITE_DEFAULT ? 20000 : 100000;
    if (c->suite == AB_SUITE_CHECK)
        s->pairs = 200; /* verification only: the experiment is not run */
    ab_case_metric(c, "burst_instrs", s->n_instr);

    /* One core for the whole case (verify's experiment and run's bursts); teardown restores. */
    s->cpu = sched_getcpu();
    if (s->cpu >= 0 && sched_getaffinity(0, sizeof s->saved_mask, &s->saved_mask) == 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(s->cpu, &one);
        s->pinned = sched_setaffinity(0, sizeof one, &one) == 0;
    }
    ab_case_metric(c, "pinned_cpu", s->pinned ? s->cpu : -1);
    if (s->info->is_amx) {
        amx_tiles_config();
        s->tiles_on = true;
    }
    c->work = (struct ab_work){ .flops = s->n_instr * s->info->ops_per_instr,
                                .ceiling = s->info->ceiling,
                                .rate = "flops" };
    return AB_OK;
}

/* Element idx of an operand: fp32, bf16, u8 or s8. */
static double amx_elem(const uint8_t *p, int idx, int elem_bytes, bool is_unsigned)
{
    if (elem_bytes == 4) {
        float f;
        memcpy(&f, p + 4 * idx, 4);
        return f;
    }
    if (elem_bytes == 2) {
        return ab_bf16_to_f32((uint16_t)(p[2 * idx] | p[2 * idx + 1] << 8));
    }
    return is_unsigned ? (double)p[idx] : (double)(int8_t)p[idx];
}

/* Reference of one burst with iters = 1 on ops, in double: SIMD accumulator k (8 zmm or 4 ymm,
 * 16 or 8 lanes) gets A_k . B_k twice; AMX tile C(i,j) = A_i . B_j once, with B rows holding,
 * for each column n, the `per` elements that pair with A's row chunk k. ref and mag (the sum
 * of |terms|) get 1024 values at most. Returns how many are filled. */
static int amx_reference(const struct amx_state *s, const uint8_t *ops, double *ref, double *mag)
{
    int eb = s->info->shape.elem_bytes, per = 4 / eb, row = AMX_ROW_BYTES / eb;
    bool ua = s->in == AMX_VPDPBUSD || s->in == AMX_VPDPBUSD_VEX || s->in == AMX_VPMADDUBSW; /* u8 x s8 */
    if (!s->info->is_amx) {
        int vec = s->info->shape.tiles == 2 ? 32 : 64, accs = vec == 32 ? 4 : 8, lanes = vec / 4;
        for (int k = 0; k < accs; k++)
            for (int l = 0; l < lanes; l++) {
                const uint8_t *a = ops + k * vec, *b = ops + accs * vec + k * vec;
                double r = 0, g = 0, pair = 0;
                for (int e = 0; e < per; e++) {
                    double p = amx_elem(a, l * per + e, eb, ua) * amx_elem(b, l * per + e, eb, false);
                    g += fabs(p);
                    if (s->in != AMX_VPMADDUBSW) {
                        r += p;
                        continue;
                    }
                    /* vpmaddubsw adds adjacent products and saturates the sum to s16. */
                    pair += p;
                    if (e & 1) {
                        r += pair > 32767 ? 32767 : pair < -32768 ? -32768 : pair;
                        pair = 0;
                    }
                }
                ref[k * lanes + l] = 2 * r;
                mag[k * lanes + l] = 2 * g;
            }
        return accs * lanes;
    }
    for (int t = 0; t < 4; t++) { /* C0 = A0.B0, C1 = A0.B1, C2 = A1.B0, C3 = A1.B1 */
        const uint8_t *a = ops + (t / 2) * 1024, *b = ops + 2048 + (t % 2) * 1024;
        for (int m = 0; m < 16; m++)
            for (int n = 0; n < 16; n++) {
                double r = 0, g = 0;
                for (int k = 0; k < 16; k++)
                    for (int e = 0; e < per; e++) {
                        double p = amx_elem(a, m * row + k * per + e, eb, false) *
                                   amx_elem(b, k * row + n * per + e, eb, false);
                        r += p;
                        g += fabs(p);
                    }
                ref[t * 256 + m * 16 + n] = r;
                mag[t * 256 + m * 16 + n] = g;
            }
    }
    return 1024;
}

int amx_acc_compare(const uint8_t *acc, const double *ref, const double *mag, int n, bool fp, double tol_rel,
                    double *worst, char *first, size_t first_len)
{
    int bad = 0;
    size_t used = 0;
    *worst = 0;
    if (first && first_len)
        first[0] = '\0';
    for (int i = 0; i < n; i++) {
        double got;
        if (fp) {
            float f;
            memcpy(&f, acc + 4 * (size_t)i, 4);
            got = f;
        } else {
            int32_t v;
            memcpy(&v, acc + 4 * (size_t)i, 4);
            got = v;
        }
        double e = fabs(got - ref[i]);
        double tol = fp ? 1e-30 + tol_rel * mag[i] : 0;
        if (mag[i] > 0 && e / mag[i] > *worst)
            *worst = e / mag[i];
        if (!(e <= tol)) { /* also catches NaN */
            if (bad < 3 && first && used < first_len)
                used += (size_t)snprintf(first + used, first_len - used, " [%d] got %.9g want %.9g", i, got,
                                         ref[i]);
            bad++;
        }
    }
    return bad;
}

/* Tolerance of bf16 accumulators relative to the sum of |terms|: bf16 products are exact in
 * fp32, and a checked accumulator (one burst iteration) sums at most 32 of them (AMX: 16 pairs;
 * SIMD: 2 instructions x 2 pairs), each addition rounding by at most 2^-24 of the running sum:
 * under 2e-6 in all. fp32 FMA accumulators (vfmadd231ps) round twice by 2^-24. Integer
 * accumulators must be exact. */
#define AMX_BF16_TOL_REL 1e-5

/* Check one burst's accumulators against the fp64 reference. */
static ab_status amx_check(struct ab_case *c, struct amx_state *s, const uint8_t *ops, const char *which,
                           struct ab_error *err)
{
    double ref[1024], mag[1024], worst;
    char first[256];
    int n = amx_reference(s, ops, ref, mag);
    memset(s->acc, 0, 4096);
    amx_burst(s, ops, 1, s->acc);
    bool fp = s->info->shape.elem_bytes != 1;
    int bad = amx_acc_compare(s->acc, ref, mag, n, fp, AMX_BF16_TOL_REL, &worst, first, sizeof first);
    const struct ab_metric *prev = NULL;
    for (int i = 0; i < c->n_metrics; i++)
        if (strcmp(c->metrics[i].name, "max_rel_err") == 0)
            prev = &c->metrics[i];
    ab_case_metric(c, "max_rel_err", prev && prev->value > worst ? prev->value : worst);
    ab_case_metric(c, "tolerance_rel", fp ? AMX_BF16_TOL_REL : 0);
    if (bad)
        return ab_fail(err, AB_EMISMATCH,
                       "%s operands: %d of %d accumulators differ from the fp64 reference:%s", which, bad, n,
                       first);
    return AB_OK;
}

/* <prefix>_{min,q25,q75,max}_cycles of the samples (sorts them in place). */
static void amx_quartiles(struct ab_case *c, const char *prefix, double *x, int64_t n)
{
    static const struct {
        const char *name;
        double q;
    } qs[] = { { "min", 0 }, { "q25", 0.25 }, { "q75", 0.75 }, { "max", 1 } };
    gsl_sort(x, 1, (size_t)n);
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        char name[40];
        snprintf(name, sizeof name, "%s_%s_cycles", prefix, qs[i].name);
        ab_case_metric(c, name, ab_stats_quantile_sorted(x, n, qs[i].q));
    }
}

/* The experiment's pairs for samples.jsonl ("extra"), so that every statistic of the row can be
 * recomputed: TSC ticks of each burst (cycles per instruction times burst_instrs; integers),
 * in time order, and which went first. */
static ab_status amx_attach_pairs(struct ab_case *c, const struct amx_state *s, const double *ref,
                                  const double *level, const unsigned char *first, int64_t n,
                                  struct ab_error *err)
{
    size_t cap = (size_t)n * 48 + 256, len = 0;
    char *t = malloc(cap);
    if (!t)
        return ab_fail(err, AB_ENOMEM, "out of memory for the pair samples");
    len += (size_t)snprintf(t + len, cap - len, "{\"pairs\":%lld,\"burst_instrs\":%d,\"ref_ticks\":[",
                            (long long)n, s->n_instr);
    for (int side = 0; side < 2; side++) {
        const double *x = side ? level : ref;
        for (int64_t i = 0; i < n; i++)
            len += (size_t)snprintf(t + len, cap - len, "%s%lld", i ? "," : "", llround(x[i] * s->n_instr));
        len += (size_t)snprintf(t + len, cap - len, side ? "],\"ref_first\":\"" : "],\"level_ticks\":[");
    }
    for (int64_t i = 0; i < n; i++)
        t[len++] = first[i] ? '1' : '0';
    snprintf(t + len, cap - len, "\"}");
    ab_case_extra_json(c, t);
    return AB_OK;
}

static ab_status amx_verify(struct ab_case *c, struct ab_error *err)
{
    struct amx_state *s = c->state;
    ab_status st = amx_check(c, s, s->dense, "dense", err);
    if (!st)
        st = amx_check(c, s, s->sparse, "sparse", err);
    if (st)
        return st;

    int64_t n = s->pairs;
    double *xd = malloc((size_t)n * sizeof *xd), *xs = malloc((size_t)n * sizeof *xs);
    unsigned char *first = malloc((size_t)n);
    if (!xd || !xs || !first) {
        free(xd);
        free(xs);
        free(first);
        return ab_fail(err, AB_ENOMEM, "out of memory for samples");
    }
    double mhz0 = amx_core_mhz(s->cpu);
    double tsc_hz = amx_tsc_hz(0.02);
    for (int i = 0; i < 200; i++) /* warm up: caches, clocks, the unit's power state */
        amx_burst(s, (i & 1) ? s->sparse : s->dense, s->iters, NULL);
    /* What the fences and TSC reads cost alone (xs is scratch until the experiment): cycles
     * per instruction include it spread over the burst; the difference against dense cancels. */
    for (int64_t i = 0; i < n; i++)
        xs[i] = (double)amx_tsc_empty();
    struct ab_stats so;
    ab_stats_compute(xs, n, &so);
    ab_case_metric(c, "timer_overhead_ticks", so.median);
    struct ab_rng rng;
    ab_rng_seed(&rng, c->seed ^ 0x6f72646572ull);
    int cyc_fd = amx_cycles_open();
    uint64_t cyc0 = 0, cyc1 = 0;
    bool have_cyc = amx_cycles_read(cyc_fd, &cyc0);
    double t0 = ab_now_s();
    for (int64_t i = 0; i < n; i++) {
        /* Which goes first is a coin flip, so neither level always follows the other. */
        first[i] = ab_rng_next(&rng) & 1; /* 1: the reference burst went first */
        if (first[i]) {
            xd[i] = (double)amx_burst(s, s->dense, s->iters, NULL) / s->n_instr;
            xs[i] = (double)amx_burst(s, s->sparse, s->iters, NULL) / s->n_instr;
        } else {
            xs[i] = (double)amx_burst(s, s->sparse, s->iters, NULL) / s->n_instr;
            xd[i] = (double)amx_burst(s, s->dense, s->iters, NULL) / s->n_instr;
        }
    }
    double experiment_s = ab_now_s() - t0;
    have_cyc = have_cyc && amx_cycles_read(cyc_fd, &cyc1) && cyc1 > cyc0 && experiment_s > 0;
    amx_cycles_close(cyc_fd);
    double mhz1 = amx_core_mhz(s->cpu);
    tsc_hz = 0.5 * (tsc_hz + amx_tsc_hz(0.02));

    struct ab_stats sd, ss;
    ab_stats_compute(xd, n, &sd);
    ab_stats_compute(xs, n, &ss);
    double d, p_ks, diff, lo, hi;
    ab_stats_ks(xs, n, xd, n, &d, &p_ks);
    ab_stats_bootstrap_ci(xd, n, xs, n, AB_STATS_MEDIAN_DIFF, 200, 0, 1 - 0.95, c->seed, &diff, &lo, &hi);
    /* The paired statistics need the series in time order: before the quartiles sort them. */
    struct amx_paired pr;
    amx_paired(xd, xs, n, AMX_CUT_FACTOR, AMX_PERMS, AMX_BOOTS, c->seed, &pr);
    st = amx_attach_pairs(c, s, xd, xs, first, n, err);
    /* A receiver needs one burst per sample: its time is the channel's symbol time. */
    double sample_s = 0.5 * (sd.median + ss.median) * s->n_instr / tsc_hz;

    ab_case_metric(c, "tsc_hz", tsc_hz);
    if (isfinite(mhz0))
        ab_case_metric(c, "core_before_mhz", mhz0);
    if (isfinite(mhz1))
        ab_case_metric(c, "core_after_mhz", mhz1);
    /* Effective clock over the experiment (pinned, so the count is this core's); a run whose
     * levels differ here differs by frequency, not by skipped work. */
    if (have_cyc)
        ab_case_metric(c, "core_during_mhz", (double)(cyc1 - cyc0) / experiment_s / 1e6);
    ab_case_metric_text(c, "core_clock_source", "%s",
                        have_cyc         ? "perf_cycles"
                        : isfinite(mhz0) ? "cpufreq_or_cpuinfo"
                                         : "none");
    ab_case_metric(c, "samples_per_level", (double)n);
    ab_case_metric(c, "experiment_s", experiment_s);
    ab_case_metric(c, "cpi_median_cycles", ss.median);
    ab_case_metric(c, "cpi_p05_cycles", ss.p05);
    ab_case_metric(c, "cpi_p95_cycles", ss.p95);
    ab_case_metric(c, "dense_cpi_median_cycles", sd.median);
    ab_case_metric(c, "dense_cpi_p05_cycles", sd.p05);
    ab_case_metric(c, "dense_cpi_p95_cycles", sd.p95);
    /* Quartiles and extremes too, so a distribution chart can be drawn from the row alone. */
    amx_quartiles(c, "cpi", xs, n);
    amx_quartiles(c, "dense_cpi", xd, n);
    ab_case_metric(c, "delta_median_cycles", diff);
    ab_case_metric(c, "delta_ci_lo_cycles", lo);
    ab_case_metric(c, "delta_ci_hi_cycles", hi);
    ab_case_metric(c, "pairs_dropped", (double)pr.dropped);
    ab_case_metric(c, "p_paired", pr.p);
    ab_case_metric(c, "mean_diff_cycles", pr.mean_diff);
    ab_case_metric(c, "mean_diff_ci_lo_cycles", pr.ci_lo);
    ab_case_metric(c, "mean_diff_ci_hi_cycles", pr.ci_hi);
    ab_case_metric(c, "mean_diff_pct", pr.pct);
    ab_case_metric(c, "mean_diff_ci_lo_pct", pr.pct_lo);
    ab_case_metric(c, "mean_diff_ci_hi_pct", pr.pct_hi);
    ab_case_metric(c, "diff_lag1_autocorr", pr.lag1);
    ab_case_metric(c, "ks_d", d);
    ab_case_metric(c, "p_ks", p_ks);
    ab_case_metric(c, "capacity_bits_per_sample", pr.bits);
    ab_case_metric(c, "capacity_bits_ci_lo", pr.bits_lo);
    ab_case_metric(c, "capacity_bits_ci_hi", pr.bits_hi);
    ab_case_metric(c, "symbol_s", sample_s);
    /* The row's fraction_of_ceiling compares one core with the whole device's ceiling; this
     * compares it with one core's share, so a unit running at its peak reads about 1. */
    const struct ab_ceiling *ceil_ = s->info->ceiling ? ab_device_ceiling(c->device, s->info->ceiling) : NULL;
    double frac =
        ceil_ ? amx_core_fraction(s->info->ops_per_instr, ss.median, tsc_hz, ceil_->value, c->device->threads)
              : NAN;
    if (isfinite(frac))
        ab_case_metric(c, "fraction_of_core_ceiling", frac);
    /* No rate here: whether this row leaks is decided over the run's rows of the instruction
     * (Holm), by the workload's summary at the end of the run (run.json). */
    free(xd);
    free(xs);
    free(first);
    return st;
}

static ab_status amx_run(struct ab_case *c, int64_t reps, double *time_s, struct ab_error *err)
{
    struct amx_state *s = c->state;
    double t0 = ab_now_s();
    for (int64_t r = 0; r < reps; r++)
        amx_burst(s, s->sparse, s->iters, NULL);
    *time_s = ab_now_s() - t0;
    return AB_OK;
}

static void amx_teardown(struct ab_case *c)
{
    struct amx_state *s = c->state;
    if (!s)
        return;
    if (s->tiles_on)
        amx_tiles_release();
    if (s->pinned)
        sched_setaffinity(0, sizeof s->saved_mask, &s->saved_mask);
    ab_free(s->dense);
    ab_free(s->sparse);
    ab_free(s->acc);
    free(s);
    c->state = NULL;
}

static const struct ab_impl amx_timing_cpu_impl = {
    .setup = amx_setup, .verify = amx_verify, .run = amx_run, .teardown = amx_teardown
};

/* The null rows (reference=same) run at this sparsity only: one per instruction and pattern. */
#define AMX_NULL_SPARSITY 0.5

static bool amx_applies(const struct ab_params *ps, enum ab_backend_kind backend, enum ab_suite suite)
{
    if (ab_param_is(ps, "reference", "same"))
        return fabs(ab_param_real(ps, "sparsity", 0) - AMX_NULL_SPARSITY) < 1e-9;
    return true;
}

/* The per-run verdict: over the run's ok rows of each instruction (the family), Holm-adjusted
 * sign-flip p-values and claims (AMX_ALPHA, AMX_MIN_EFFECT_PCT); a rate only for a claimed row.
 * One line per instruction to log; the JSON goes to run.json. */
static char *amx_summarize(const struct ab_result *rows, int n, FILE *log)
{
    cJSON *o = cJSON_CreateObject();
    double *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p),
           *pct = malloc((size_t)(n > 0 ? n : 1) * sizeof *pct);
    double *ph = malloc((size_t)(n > 0 ? n : 1) * sizeof *ph);
    bool *claim = malloc((size_t)(n > 0 ? n : 1) * sizeof *claim);
    int *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
    if (!o || !p || !pct || !ph || !claim || !idx)
        goto out;
    cJSON_AddNumberToObject(o, "alpha", AMX_ALPHA);
    cJSON_AddNumberToObject(o, "min_effect_pct", AMX_MIN_EFFECT_PCT);
    cJSON_AddStringToObject(o, "test", "sign-flip randomization on pair differences, Holm per instruction");
    cJSON *instrs = cJSON_AddArrayToObject(o, "instructions");
    for (int in = 0; in < AMX_N_INSTR; in++) {
        char want[48];
        snprintf(want, sizeof want, "instr=%s;", amx_instrs[in].name);
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (rows[i].status != AB_OK || strncmp(rows[i].params, want, strlen(want)) != 0)
                continue;
            double pi = ab_result_metric(&rows[i], "p_paired");
            if (!isfinite(pi))
                continue;
            p[k] = pi;
            pct[k] = ab_result_metric(&rows[i], "mean_diff_pct");
            idx[k++] = i;
        }
        if (k == 0)
            continue;
        amx_verdicts(p, pct, k, AMX_ALPHA, AMX_MIN_EFFECT_PCT, ph, claim);
        cJSON *ij = cJSON_CreateObject();
        cJSON_AddStringToObject(ij, "instr", amx_instrs[in].name);
        cJSON *list = cJSON_AddArrayToObject(ij, "rows");
        int claimed = 0, nulls = 0, null_claims = 0, null_raw = 0;
        for (int j = 0; j < k; j++) {
            const struct ab_result *r = &rows[idx[j]];
            bool is_null = strstr(r->params, "reference=same") != NULL;
            double bits = ab_result_metric(r, "capacity_bits_per_sample"),
                   sym = ab_result_metric(r, "symbol_s");
            cJSON *rj = cJSON_CreateObject();
            cJSON_AddStringToObject(rj, "params", r->params);
            cJSON_AddBoolToObject(rj, "null_row", is_null);
            cJSON_AddNumberToObject(rj, "p_paired", p[j]);
            cJSON_AddNumberToObject(rj, "p_holm", ph[j]);
            cJSON_AddItemToObject(rj, "mean_diff_pct",
                                  isfinite(pct[j]) ? cJSON_CreateNumber(pct[j]) : cJSON_CreateNull());
            cJSON_AddBoolToObject(rj, "claimed", claim[j]);
            if (claim[j] && isfinite(bits) && sym > 0)
                cJSON_AddNumberToObject(rj, "capacity_bps", bits / sym);
            cJSON_AddItemToArray(list, rj);
            claimed += claim[j];
            nulls += is_null;
            null_claims += is_null && claim[j];
            null_raw += is_null && p[j] < AMX_ALPHA;
        }
        cJSON_AddNumberToObject(ij, "rows_tested", k);
        cJSON_AddNumberToObject(ij, "rows_claimed", claimed);
        cJSON_AddNumberToObject(ij, "null_rows", nulls);
        cJSON_AddNumberToObject(ij, "null_rows_claimed", null_claims);
        cJSON_AddNumberToObject(ij, "null_rows_p_below_alpha", null_raw);
        cJSON_AddItemToArray(instrs, ij);
        if (log)
            fprintf(log,
                    "amx_timing %s: %d of %d rows claimed (Holm over the %d, alpha %g, effect >= %g%%); "
                    "null rows: %d claimed, %d of %d with uncorrected p < %g\n",
                    amx_instrs[in].name, claimed, k, k, AMX_ALPHA, AMX_MIN_EFFECT_PCT, null_claims, null_raw,
                    nulls, AMX_ALPHA);
    }
out:;
    char *text = o && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "instructions")) > 0
                     ? cJSON_PrintUnformatted(o)
                     : NULL;
    cJSON_Delete(o);
    free(p);
    free(pct);
    free(ph);
    free(claim);
    free(idx);
    return text;
}

#define AMX_ALL_INSTR "tdpbf16ps,tdpbssd,vdpbf16ps,vpdpbusd,vpdpbusd_vex,vpmaddubsw,vfmadd231ps"

static const struct ab_axis amx_timing_axes[] = {
    { .name = "instr",
      .type = AB_AXIS_STR,
      .help = "instruction timed: AMX tile multiplies, or the AVX-512 / AVX-VNNI / AVX2 control",
      .choices = AMX_ALL_INSTR,
      .sweep = { AMX_ALL_INSTR, AMX_ALL_INSTR, AMX_ALL_INSTR } },
    { .name = "pattern",
      .type = AB_AXIS_STR,
      .help = "where the zeros are: random elements, whole 64-byte rows, whole tiles",
      .choices = "random,rows,tiles",
      .sweep = { "random", "random,rows,tiles", "random,rows,tiles", "random,rows,tiles" } },
    { .name = "sparsity",
      .type = AB_AXIS_REAL,
      .help = "fraction of operand elements that are zero",
      .min = 0,
      .max = 1,
      .sweep = { "0,0.5,1", "0,0.25,0.5,0.75,0.9,1", "0,0.25,0.5,0.75,0.9,1", "0,0.3,1" } },
    { .name = "reference",
      .type = AB_AXIS_STR,
      .help = "what the level is paired with: dense operands, or (same: the null row, at sparsity 0.5 "
              "only) an independent draw of the same pattern and sparsity",
      .choices = "dense,same",
      .sweep = { "dense,same", "dense,same", "dense,same", "dense" },
      .implicit = "dense" },
};

/* Every metric an amx_timing row may carry (amx_timing.c); see results/schema.md. */
static const struct ab_metric_decl metrics[] = {
    { "zero_frac", "", false, AB_BETTER_NONE, "zeros achieved / elements" },
    { "burst_instrs", "", false, AB_BETTER_NONE, "instructions per timed burst" },
    { "pinned_cpu", "", false, AB_BETTER_NONE, "the core the case ran on (-1: pinning refused)" },
    { "max_rel_err", "", false, AB_BETTER_LOWER, "worst |got - ref| / sum |terms| over both checks" },
    { "tolerance_rel", "", false, AB_BETTER_NONE, "the tolerance max_rel_err was held to (0: exact)" },
    { "timer_overhead_ticks", "ticks", false, AB_BETTER_NONE, "median TSC ticks of an empty timed region" },
    { "tsc_hz", "Hz", false, AB_BETTER_NONE, "TSC rate measured against CLOCK_MONOTONIC" },
    { "core_before_mhz", "MHz", false, AB_BETTER_NONE, "core clock before the experiment" },
    { "core_after_mhz", "MHz", false, AB_BETTER_NONE, "core clock after the experiment" },
    { "core_during_mhz", "MHz", false, AB_BETTER_NONE,
      "mean core clock over the experiment from perf cycles" },
    { "core_clock_source", "", true, AB_BETTER_NONE, "where the core clock was read" },
    { "samples_per_level", "", false, AB_BETTER_NONE, "pairs of bursts taken" },
    { "experiment_s", "s", false, AB_BETTER_NONE, "seconds the experiment took" },
    { "cpi_median_cycles", "cycles", false, AB_BETTER_NONE, "this level's cycles per instruction, median" },
    { "cpi_p05_cycles", "cycles", false, AB_BETTER_NONE,
      "this level's cycles per instruction, 5th percentile" },
    { "cpi_p95_cycles", "cycles", false, AB_BETTER_NONE,
      "this level's cycles per instruction, 95th percentile" },
    { "cpi_min_cycles", "cycles", false, AB_BETTER_NONE, "this level's cycles per instruction, minimum" },
    { "cpi_q25_cycles", "cycles", false, AB_BETTER_NONE,
      "this level's cycles per instruction, first quartile" },
    { "cpi_q75_cycles", "cycles", false, AB_BETTER_NONE,
      "this level's cycles per instruction, third quartile" },
    { "cpi_max_cycles", "cycles", false, AB_BETTER_NONE, "this level's cycles per instruction, maximum" },
    { "dense_cpi_median_cycles", "cycles", false, AB_BETTER_NONE,
      "the interleaved dense bursts' cycles per instruction, median" },
    { "dense_cpi_p05_cycles", "cycles", false, AB_BETTER_NONE,
      "the interleaved dense bursts' cycles per instruction, 5th percentile" },
    { "dense_cpi_p95_cycles", "cycles", false, AB_BETTER_NONE,
      "the interleaved dense bursts' cycles per instruction, 95th percentile" },
    { "dense_cpi_min_cycles", "cycles", false, AB_BETTER_NONE,
      "the interleaved dense bursts' cycles per instruction, minimum" },
    { "dense_cpi_q25_cycles", "cycles", false, AB_BETTER_NONE,
      "the interleaved dense bursts' cycles per instruction, first quartile" },
    { "dense_cpi_q75_cycles", "cycles", false, AB_BETTER_NONE,
      "the interleaved dense bursts' cycles per instruction, third quartile" },
    { "dense_cpi_max_cycles", "cycles", false, AB_BETTER_NONE,
      "the interleaved dense bursts' cycles per instruction, maximum" },
    { "delta_median_cycles", "cycles", false, AB_BETTER_NONE,
      "median(dense) - median(level): positive when zeros run faster" },
    { "delta_ci_lo_cycles", "cycles", false, AB_BETTER_NONE, "lower end of its 95% bootstrap interval" },
    { "delta_ci_hi_cycles", "cycles", false, AB_BETTER_NONE, "upper end of its 95% bootstrap interval" },
    { "welch_t", "", false, AB_BETTER_NONE, "Welch's t statistic (rows before the paired test)" },
    { "p_welch", "", false, AB_BETTER_NONE, "Welch's two-sided p-value (rows before the paired test)" },
    { "pairs_dropped", "", false, AB_BETTER_NONE,
      "pairs left out of the paired statistics: a burst over 3x the median (interrupted)" },
    { "p_paired", "", false, AB_BETTER_NONE,
      "sign-flip randomization p of mean(ref - level) = 0 over the pairs, uncorrected" },
    { "mean_diff_cycles", "cycles", false, AB_BETTER_NONE,
      "mean over pairs of ref - level: positive when the level runs faster" },
    { "mean_diff_ci_lo_cycles", "cycles", false, AB_BETTER_NONE,
      "lower end of its 95% moving-block interval" },
    { "mean_diff_ci_hi_cycles", "cycles", false, AB_BETTER_NONE,
      "upper end of its 95% moving-block interval" },
    { "mean_diff_pct", "%", false, AB_BETTER_NONE, "mean_diff_cycles as % of the reference's mean" },
    { "mean_diff_ci_lo_pct", "%", false, AB_BETTER_NONE,
      "lower end of the interval, % of the reference's mean" },
    { "mean_diff_ci_hi_pct", "%", false, AB_BETTER_NONE,
      "upper end of the interval, % of the reference's mean" },
    { "diff_lag1_autocorr", "", false, AB_BETTER_NONE, "lag-1 autocorrelation of the pair differences" },
    { "capacity_bits_ci_lo", "bit", false, AB_BETTER_NONE,
      "lower end of the 95% interval of bits per sample" },
    { "capacity_bits_ci_hi", "bit", false, AB_BETTER_NONE,
      "upper end of the 95% interval of bits per sample" },
    { "symbol_s", "s", false, AB_BETTER_NONE,
      "seconds per burst: a claimed channel's rate is bits / symbol_s" },
    { "ks_d", "", false, AB_BETTER_NONE, "two-sample Kolmogorov-Smirnov statistic" },
    { "p_ks", "", false, AB_BETTER_NONE, "asymptotic p-value of the KS test" },
    { "capacity_bits_per_sample", "bit", false, AB_BETTER_NONE,
      "1 - H2(e), e the error of the best threshold receiver" },
    { "capacity_bps", "bit/s", false, AB_BETTER_NONE,
      "rows before the paired test: bits / s when p_ks < 1e-3 (now in run.json's summary, claimed rows "
      "only)" },
    { "fraction_of_core_ceiling", "", false, AB_BETTER_HIGHER,
      "this level's rate / (the device ceiling / threads in use)" },
};

/* Cycles per instruction and time against the operands' zero fraction, per instruction, and
 * the distribution of the timing samples. */
static const struct ab_chart_decl chart = {
    .x = "sparsity",
    .xlabel = "Zero fraction of the operands",
    .xunit = "",
    .facet = "instr",
    .metrics = { "cpi_median_cycles", "time" },
    .dist = true,
};

const struct ab_workload amx_timing_workload = {
    .name = "amx_timing",
    .summary =
        "value-dependent timing of AMX tile multiplies vs operand sparsity (THOR), AVX-512 and AVX2 controls",
    .axes = amx_timing_axes,
    .n_axes = sizeof amx_timing_axes / sizeof amx_timing_axes[0],
    .applies = amx_applies,
    .impl = { [AB_BACKEND_CPU] = &amx_timing_cpu_impl },
    .metrics = metrics,
    .n_metrics = sizeof metrics / sizeof metrics[0],
    .chart = &chart,
    .summarize = amx_summarize,
};
