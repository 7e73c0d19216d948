/* test_amx_timing.c — the amx_timing workload: exact sparsity per pattern, the channel model,
 * feature decoding that never lets an AMX instruction run where CPUID lacks it, the paired
 * statistics on synthetic data (null and planted shift, Holm), and the AVX-512 / AVX2 controls
 * on this CPU, through the real binary down to run.json's verdicts and samples.jsonl's pairs. */
#include <cjson/cJSON.h>
#include <math.h>
#include <sched.h>
#include <setjmp.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "accelbench.h"
#include "amx_timing/amx_timing.h"
#include "test_util.h"

extern const struct ab_workload amx_timing_workload;

static const double xs[10] = { 10.1, 10.4, 9.8, 10.0, 10.3, 9.9, 10.2, 10.1, 9.7, 10.5 };
static const double xs_perm[10] = { 10.5, 9.7, 10.1, 10.2, 9.9, 10.3, 10.0, 9.8, 10.4, 10.1 };

static void sparsity_generation_is_exact_for_each_pattern(void **state)
{
    static const struct amx_shape shapes[] = {
        { 4, 4, 2 }, { 4, 4, 1 }, { 4, 16, 2 }, { 4, 16, 1 }, { 2, 2, 1 }
    };
    static const double levels[] = { 0, 0.25, 0.5, 0.75, 0.9, 1.0 };
    uint8_t buf[4096];
    struct ab_rng rng;
    ab_rng_seed(&rng, 42);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        struct amx_shape sh = shapes[si];
        bool bf16 = sh.elem_bytes == 2;
        size_t row_elems = 64 / (size_t)sh.elem_bytes, rows = (size_t)(sh.tiles * sh.rows);
        size_t elems = rows * row_elems;
        for (int pat = AMX_PAT_RANDOM; pat <= AMX_PAT_TILES; pat++)
            for (size_t li = 0; li < 6; li++) {
                size_t unit = pat == AMX_PAT_RANDOM ? 1
                              : pat == AMX_PAT_ROWS ? row_elems
                                                    : row_elems * (size_t)sh.rows;
                size_t want = (size_t)llround(levels[li] * (double)(elems / unit)) * unit;
                size_t got = amx_operands_fill(buf, sh, bf16, (enum amx_pattern)pat, levels[li], &rng);
                assert_int_equal(got, want);
                assert_int_equal(amx_operands_zeros(buf, sh, bf16), want);
                /* Rows and tiles are zero whole or not at all. */
                size_t span = pat == AMX_PAT_ROWS ? 64 : pat == AMX_PAT_TILES ? 64 * (size_t)sh.rows : 0;
                for (size_t off = 0; span && off < rows * 64; off += span) {
                    struct amx_shape one = { 1, (int)(span / 64), sh.elem_bytes };
                    size_t z = amx_operands_zeros(buf + off, one, bf16);
                    assert_true(z == 0 || z == span / (size_t)sh.elem_bytes);
                }
            }
    }
}

static void channel_bits_are_zero_for_identical_and_one_for_disjoint(void **state)
{
    assert_double_equal(amx_channel_bits(xs, 10, xs_perm, 10), 0, 1e-12);
    double lo[4] = { 1, 2, 3, 4 }, hi[4] = { 5, 6, 7, 8 };
    assert_double_equal(amx_channel_bits(lo, 4, hi, 4), 1, 1e-12);
    assert_double_equal(amx_channel_bits(hi, 4, lo, 4), 1, 1e-12);
    /* Half overlap: best threshold errs on a quarter of the samples: 1 - H2(1/4). */
    double a[4] = { 1, 2, 3, 4 }, b[4] = { 3, 4, 5, 6 };
    assert_double_equal(amx_channel_bits(a, 4, b, 4), 1 - 0.811278124459132864, 1e-12);
}

/* A synthetic experiment: TSC-like cycle counts per instruction, discrete (ticks / 2048),
 * with a drift shared by both bursts of a pair (an AR(1) of coefficient 0.9, as frequency
 * and temperature move slowly), a rare interrupt, and the level shifted by `shift` (a fraction
 * of the reference's mean; positive: the level is faster). */
static void synth_pairs(double *ref, double *level, int64_t n, double shift, uint64_t seed)
{
    struct ab_rng g;
    ab_rng_seed(&g, seed);
    double drift = 0;
    for (int64_t i = 0; i < n; i++) {
        drift = 0.9 * drift + 4 * ab_rng_normal(&g);
        double a = 1760 + drift + 10 * ab_rng_normal(&g), b = 1760 + drift + 10 * ab_rng_normal(&g);
        b -= shift * 1760;
        if (ab_rng_uniform(&g) < 0.002)
            a += 20000; /* an interrupt */
        ref[i] = round(a) / 2048;
        level[i] = round(b) / 2048;
    }
}

static void lag1_of_an_ar1_series_is_its_coefficient(void **state)
{
    int64_t n = 20000;
    double *x = malloc((size_t)n * sizeof *x);
    struct ab_rng g;
    ab_rng_seed(&g, 7);
    x[0] = 0;
    for (int64_t i = 1; i < n; i++)
        x[i] = 0.4 * x[i - 1] + ab_rng_normal(&g);
    assert_double_equal(amx_lag1(x, n), 0.4, 0.03);
    for (int64_t i = 0; i < n; i++)
        x[i] = ab_rng_normal(&g);
    assert_double_equal(amx_lag1(x, n), 0, 0.03);
    assert_true(isnan(amx_lag1(x, 2)));
    free(x);
    assert_int_equal(amx_block_length(20000), 28);
    assert_int_equal(amx_block_length(1), 1);
}

static void signflip_p_is_one_for_no_differences_and_smallest_for_all_one_sign(void **state)
{
    double zero[50] = { 0 }, pos[50];
    for (int i = 0; i < 50; i++)
        pos[i] = 1 + i % 3;
    assert_double_equal(amx_signflip_p(zero, 50, 999, 1), 1, 0);
    /* 2^-50 of the patterns are as extreme: none of 999 draws. */
    assert_double_equal(amx_signflip_p(pos, 50, 999, 1), 1.0 / 1000, 1e-15);
    /* Symmetric differences: the observed sum is 0, every pattern is as extreme. */
    double sym[4] = { 1, -1, 2, -2 };
    assert_double_equal(amx_signflip_p(sym, 4, 99, 1), 1, 0);
    assert_true(isnan(amx_signflip_p(pos, 0, 99, 1)));
}

static void block_interval_of_a_mean_has_the_width_of_its_standard_error(void **state)
{
    int64_t n = 10000;
    double *x = malloc((size_t)n * sizeof *x), lo, hi;
    struct ab_rng g;
    ab_rng_seed(&g, 11);
    for (int64_t i = 0; i < n; i++)
        x[i] = 5 + ab_rng_normal(&g);
    amx_block_mean_ci(x, n, amx_block_length(n), 400, 0.95, 3, &lo, &hi);
    /* 2 x 1.96 / sqrt(n) = 0.039 for independent values; the interval holds 5. */
    assert_true(hi - lo > 0.028 && hi - lo < 0.052);
    assert_true(lo < 5 && hi > 5);
    /* An AR(1) of 0.4 has a long-run variance (1 + 0.4) / (1 - 0.4) times larger: the blocks
     * see it, an interval from independent resampling would not. */
    x[0] = 0;
    for (int64_t i = 1; i < n; i++)
        x[i] = 0.4 * x[i - 1] + ab_rng_normal(&g);
    amx_block_mean_ci(x, n, amx_block_length(n), 400, 0.95, 3, &lo, &hi);
    double w = 2 * 1.96 * sqrt(1.4 / 0.6 / (1 - 0.16) / (double)n);
    assert_true(hi - lo > 0.75 * w && hi - lo < 1.3 * w);
    amx_block_mean_ci(x, 1, 1, 400, 0.95, 3, &lo, &hi);
    assert_true(isnan(lo) && isnan(hi));
    free(x);
}

static void channel_bits_interval_holds_the_estimate_and_reaches_one_when_disjoint(void **state)
{
    double lo[64], hi[64], a, b;
    for (int i = 0; i < 64; i++) {
        lo[i] = i % 7;
        hi[i] = 10 + i % 5;
    }
    amx_channel_bits_ci(lo, hi, 64, 4, 100, 0.95, 1, &a, &b);
    assert_double_equal(a, 1, 1e-12);
    assert_double_equal(b, 1, 1e-12);
    double x[2000], y[2000];
    synth_pairs(x, y, 2000, 0, 5);
    double bits = amx_channel_bits(x, 2000, y, 2000);
    amx_channel_bits_ci(x, y, 2000, amx_block_length(2000), 200, 0.95, 1, &a, &b);
    assert_true(a <= b && b < 0.05);
    assert_true(bits < 0.05);
}

/* A true null over many seeds: p roughly uniform, few rows under 0.05 and no Holm claims in
 * families of 20 rows; interrupted pairs are dropped. */
static void paired_test_under_a_true_null_is_uniform_and_claims_nothing(void **state)
{
    enum { N = 400, ROWS = 200, FAMILY = 20 };
    double ref[N], level[N], p[ROWS], pct[ROWS], ph[FAMILY];
    bool claim[FAMILY];
    int below05 = 0, below50 = 0, dropped = 0;
    for (int r = 0; r < ROWS; r++) {
        struct amx_paired pr;
        synth_pairs(ref, level, N, 0, 1000 + (uint64_t)r);
        amx_paired(ref, level, N, 3.0, 199, 50, 77 + (uint64_t)r, &pr);
        assert_true(pr.p > 0 && pr.p <= 1);
        p[r] = pr.p;
        pct[r] = 5; /* an effect size that passes: only the p-values decide here */
        below05 += pr.p < 0.05;
        below50 += pr.p < 0.5;
        dropped += (int)pr.dropped;
        assert_int_equal(pr.n + pr.dropped, N);
    }
    assert_true(below05 <= 2 * ROWS * 5 / 100); /* expected 10; the bound is twice that */
    assert_true(below50 >= ROWS * 35 / 100 && below50 <= ROWS * 65 / 100);
    assert_true(dropped > 0 && dropped < ROWS * N / 100);
    int claims = 0;
    for (int f = 0; f < ROWS / FAMILY; f++) {
        amx_verdicts(p + f * FAMILY, pct + f * FAMILY, FAMILY, 0.01, 1.0, ph, claim);
        for (int i = 0; i < FAMILY; i++)
            claims += claim[i];
    }
    assert_true(claims <= 1);
}

static void paired_test_finds_a_planted_shift_and_measures_it(void **state)
{
    enum { N = 4000 };
    static double ref[N], level[N];
    struct amx_paired pr;
    synth_pairs(ref, level, N, 0.02, 99); /* the level 2% faster */
    amx_paired(ref, level, N, 3.0, 999, 200, 5, &pr);
    assert_double_equal(pr.p, 1.0 / 1000, 1e-12);
    assert_true(pr.pct_lo < 2 && pr.pct_hi > 2 && pr.pct_lo > 1.5 && pr.pct_hi < 2.5);
    assert_true(pr.ci_lo < pr.mean_diff && pr.mean_diff < pr.ci_hi);
    assert_double_equal(pr.mean_diff, 0.02 * 1760 / 2048, 0.003);
    assert_true(pr.dropped > 0); /* the interrupts */
    assert_true(pr.bits > 0.1 && pr.bits_lo > 0.05);
    /* A shift too small to claim: significant with enough pairs, under the 1% minimum. */
    synth_pairs(ref, level, N, 0.005, 99);
    amx_paired(ref, level, N, 3.0, 999, 200, 5, &pr);
    double ph;
    bool claim;
    assert_true(pr.p < 0.01);
    amx_verdicts(&pr.p, &pr.pct, 1, 0.01, 1.0, &ph, &claim);
    assert_false(claim);
}

static void holm_verdicts_on_known_p_values(void **state)
{
    /* Holm: sorted p times (m - rank), made monotone: 0.004, 0.039, 0.04, 0.5. */
    double p[4] = { 0.013, 0.5, 0.001, 0.02 }, pct[4] = { 2, 2, 2, -2 }, ph[4];
    bool claim[4];
    amx_verdicts(p, pct, 4, 0.05, 1.0, ph, claim);
    assert_double_equal(ph[0], 0.039, 1e-12);
    assert_double_equal(ph[1], 0.5, 1e-12);
    assert_double_equal(ph[2], 0.004, 1e-12);
    assert_double_equal(ph[3], 0.04, 1e-12);
    assert_true(claim[0] && !claim[1] && claim[2] && claim[3]); /* |-2%| passes */
    amx_verdicts(p, pct, 4, 0.03, 1.0, ph, claim);
    assert_true(!claim[0] && !claim[1] && claim[2] && !claim[3]);
    pct[2] = 0.5; /* significant but under the minimum effect */
    amx_verdicts(p, pct, 4, 0.03, 1.0, ph, claim);
    assert_false(claim[2]);
    /* A NaN p is out of the family and never claimed. */
    double q[2] = { NAN, 0.001 }, qp[2] = { 2, 2 }, qh[2];
    bool qc[2];
    amx_verdicts(q, qp, 2, 0.01, 1.0, qh, qc);
    assert_false(qc[0]);
    assert_true(qc[1] && qh[1] == 0.001);
}

static void decode_needs_cpuid_and_os_state_for_amx(void **state)
{
    struct amx_features f;
    struct amx_cpuid id = { .x86_64 = true };
    amx_features_decode(&id, &f);
    assert_false(f.amx_tile || f.amx_bf16 || f.amx_int8 || f.avx512_bf16 || f.avx512_vnni);
    /* CPUID says AMX but the OS does not save tile state: not usable. */
    id.leaf7_edx = (1u << 24) | (1u << 22) | (1u << 25);
    id.xcr0 = 0xe7;
    amx_features_decode(&id, &f);
    assert_false(f.amx_tile || f.amx_bf16 || f.amx_int8);
    id.xcr0 = 0xe7 | (3ull << 17);
    amx_features_decode(&id, &f);
    assert_true(f.amx_tile && f.amx_bf16 && f.amx_int8);
    /* Tile state saved but no AMX in CPUID (Zen 5): nothing. */
    id.leaf7_edx = 0;
    amx_features_decode(&id, &f);
    assert_false(f.amx_tile || f.amx_bf16 || f.amx_int8);
    /* AVX-512 BF16 needs AVX512F, CPUID.(7,1):EAX[5] and ZMM state. */
    id.leaf7_ebx = 1u << 16;
    id.leaf7_1_eax = 1u << 5;
    id.leaf7_ecx = 1u << 11;
    amx_features_decode(&id, &f);
    assert_true(f.avx512_bf16 && f.avx512_vnni);
    assert_false(f.avx_vnni);
    id.xcr0 = 0x7;
    id.leaf7_1_eax |= 1u << 4;
    amx_features_decode(&id, &f);
    assert_false(f.avx512_bf16 || f.avx512_vnni);
    assert_true(f.avx_vnni); /* needs only YMM state */
    id.xcr0 = 0x3;
    amx_features_decode(&id, &f);
    assert_false(f.avx_vnni);
    /* AVX2 (CPUID.7:EBX[5]) and FMA (CPUID.1:ECX[12]) need YMM state too. */
    id.leaf7_ebx = 1u << 5;
    id.leaf1_ecx = 1u << 12;
    amx_features_decode(&id, &f);
    assert_false(f.avx2 || f.fma);
    id.xcr0 = 0x7;
    amx_features_decode(&id, &f);
    assert_true(f.avx2 && f.fma);
    id.leaf1_ecx = 0;
    amx_features_decode(&id, &f);
    assert_true(f.avx2 && !f.fma);
    id.x86_64 = false;
    id.xcr0 = ~0ull;
    amx_features_decode(&id, &f);
    assert_false(f.avx512_bf16 || f.amx_tile);
}

static void accumulators_compare_within_tolerance_and_flag_the_rest(void **state)
{
    double ref[4] = { 1.5, -2.25, 0, 100 }, mag[4] = { 3, 4, 0, 200 }, worst;
    float f[4] = { 1.5f, -2.25f, 0, 100 };
    uint8_t acc[16];
    char first[256];
    memcpy(acc, f, sizeof f);
    assert_int_equal(amx_acc_compare(acc, ref, mag, 4, true, 1e-5, &worst, first, sizeof first), 0);
    assert_double_equal(worst, 0, 0);
    f[3] = 100.0009765625f; /* off by 4.9e-6 of mag: inside 1e-5 */
    memcpy(acc, f, sizeof f);
    assert_int_equal(amx_acc_compare(acc, ref, mag, 4, true, 1e-5, &worst, first, sizeof first), 0);
    assert_double_equal(worst, 0.0009765625 / 200, 1e-15);
    f[0] = 1.5f + 1e-3f; /* off by 3.3e-4 of mag */
    f[2] = NAN;
    memcpy(acc, f, sizeof f);
    assert_int_equal(amx_acc_compare(acc, ref, mag, 4, true, 1e-5, &worst, first, sizeof first), 2);
    assert_non_null(strstr(first, "[0] got 1.50100005"));
    assert_non_null(strstr(first, "[2] got nan"));
    /* Integers are exact: off by one fails. */
    int32_t v[4] = { 7, -9, 0, 1 << 20 };
    double iref[4] = { 7, -9, 0, 1 << 20 }, imag[4] = { 7, 9, 0, 1 << 20 };
    memcpy(acc, v, sizeof v);
    assert_int_equal(amx_acc_compare(acc, iref, imag, 4, false, 0, &worst, NULL, 0), 0);
    v[1] = -8;
    memcpy(acc, v, sizeof v);
    assert_int_equal(amx_acc_compare(acc, iref, imag, 4, false, 0, &worst, NULL, 0), 1);
    assert_double_equal(worst, 1.0 / 9, 1e-15);
}

static void core_fraction_is_rate_over_one_threads_share(void **state)
{
    /* 64 FLOP per instruction, 2 TSC cycles each at 3 GHz: 96 GFLOP/s; 2 threads share 192. */
    assert_double_equal(amx_core_fraction(64, 2, 3e9, 192e9, 2), 1.0, 1e-12);
    assert_double_equal(amx_core_fraction(64, 4, 3e9, 192e9, 4), 1.0, 1e-12);
    assert_double_equal(amx_core_fraction(64, 2, 3e9, 384e9, 1), 0.25, 1e-12);
    assert_true(isnan(amx_core_fraction(64, 2, 3e9, 0, 2)));
    assert_true(isnan(amx_core_fraction(64, 0, 3e9, 192e9, 2)));
    assert_true(isnan(amx_core_fraction(64, 2, 3e9, 192e9, 0)));
}

static void cuda_has_no_implementation_so_its_row_is_skipped(void **state)
{
    /* The runner turns a missing implementation into one skipped row per CUDA device. */
    assert_null(amx_timing_workload.impl[AB_BACKEND_CUDA]);
    assert_non_null(amx_timing_workload.impl[AB_BACKEND_CPU]);
}

static struct ab_device dev = {
    .id = "cpu", .backend = AB_BACKEND_CPU, .threads = 2, .mem_bytes = 1ull << 30
};

static bool has_metric(const struct ab_case *c, const char *name, double *v)
{
    for (int i = 0; i < c->n_metrics; i++)
        if (strcmp(c->metrics[i].name, name) == 0) {
            *v = c->metrics[i].value;
            return true;
        }
    return false;
}

static void make_case(struct ab_case *c, const char *params)
{
    memset(c, 0, sizeof *c);
    struct ab_error err = { { 0 } };
    assert_int_equal(ab_params_parse(params, &c->params, &err), AB_OK);
    c->workload = &amx_timing_workload;
    c->device = &dev;
    c->suite = AB_SUITE_QUICK;
    c->seed = 12345;
}

/* What the CPU running the test has, as the workload decodes it. */
static struct amx_features this_cpu(void)
{
    struct amx_cpuid id;
    struct amx_features f;
    amx_cpuid_read(&id);
    amx_features_decode(&id, &f);
    return f;
}

static void amx_rows_skip_without_amx_and_never_fault(void **state)
{
    struct amx_features f = this_cpu();
    if (f.amx_tile && f.amx_bf16)
        skip(); /* a CPU with AMX: its rows run instead of being skipped */
    const struct ab_impl *impl = amx_timing_workload.impl[AB_BACKEND_CPU];
    const char *cases[] = { "instr=tdpbf16ps;pattern=random;sparsity=0.5",
                            "instr=tdpbssd;pattern=tiles;sparsity=1" };
    for (int i = 0; i < 2; i++) {
        struct ab_case c;
        struct ab_error err = { { 0 } };
        make_case(&c, cases[i]);
        assert_int_equal(impl->setup(&c, &err), AB_EUNSUPPORTED);
        assert_string_equal(err.msg, "no AMX (CPUID)");
        impl->teardown(&c);
        assert_null(c.state);
    }
}

static void control_runs_on_this_cpu_with_finite_cycles(void **state)
{
    struct amx_features f = this_cpu();
    if (!f.avx512_bf16 || !f.avx512_vnni || !f.avx_vnni)
        skip();
    const struct ab_impl *impl = amx_timing_workload.impl[AB_BACKEND_CPU];
    const char *cases[] = { "instr=vdpbf16ps;pattern=rows;sparsity=0.5",
                            "instr=vpdpbusd;pattern=random;sparsity=0.9",
                            "instr=vdpbf16ps;pattern=tiles;sparsity=1",
                            "instr=vpdpbusd_vex;pattern=rows;sparsity=0.25" };
    cpu_set_t before, after;
    assert_int_equal(sched_getaffinity(0, sizeof before, &before), 0);
    ab_device_set_ceiling(&dev, "bf16_fma", 100e9, "measured");
    for (int i = 0; i < 4; i++) {
        struct ab_case c;
        struct ab_error err = { { 0 } };
        make_case(&c, cases[i]);
        assert_int_equal(impl->setup(&c, &err), AB_OK);
        ab_status st = impl->verify(&c, &err);
        if (st)
            fail_msg("%s: %s", cases[i], err.msg);
        double t = -1;
        assert_int_equal(impl->run(&c, 100, &t, &err), AB_OK);
        assert_true(t > 0 && isfinite(t));
        impl->teardown(&c);
        double v;
        assert_true(has_metric(&c, "cpi_median_cycles", &v) && v > 0 && isfinite(v));
        assert_true(has_metric(&c, "dense_cpi_median_cycles", &v) && v > 0 && isfinite(v));
        assert_true(has_metric(&c, "p_ks", &v) && v >= 0 && v <= 1);
        assert_true(has_metric(&c, "p_paired", &v) && v > 0 && v <= 1);
        assert_true(has_metric(&c, "tsc_hz", &v) && v > 1e8);
        assert_true(has_metric(&c, "max_rel_err", &v) && v < 1e-5);
        free(c.extra_json);
        assert_true(c.work.flops > 0);
        /* bf16 rows are held against one thread's share of the bf16_fma ceiling set above. */
        double cpi = NAN, hz = NAN, frac = NAN;
        if (strstr(cases[i], "vdpbf16ps")) {
            assert_true(has_metric(&c, "cpi_median_cycles", &cpi) && has_metric(&c, "tsc_hz", &hz));
            assert_true(has_metric(&c, "fraction_of_core_ceiling", &frac));
            assert_double_equal(frac, 64 * hz / cpi / 50e9, 1e-9 * frac);
        } else {
            assert_false(has_metric(&c, "fraction_of_core_ceiling", &frac));
        }
    }
    dev.n_ceilings = 0;
    assert_int_equal(sched_getaffinity(0, sizeof after, &after), 0);
    assert_true(CPU_EQUAL(&before, &after));
}

/* The AVX2 controls run on any x86-64 CPU of the last decade (this one included): the
 * arithmetic checks out (saturating u8 x s8 pairs, fp32 FMA), the paired metrics are there and
 * fit the row with room for the engine's, and the pairs are attached for samples.jsonl. */
static void avx2_controls_run_here_with_paired_metrics_and_pairs(void **state)
{
    struct amx_features f = this_cpu();
    if (!f.avx2 || !f.fma)
        skip();
    const struct ab_impl *impl = amx_timing_workload.impl[AB_BACKEND_CPU];
    const char *cases[] = { "instr=vpmaddubsw;pattern=random;sparsity=0.25",
                            "instr=vfmadd231ps;pattern=rows;sparsity=0.5",
                            "instr=vpmaddubsw;pattern=tiles;sparsity=0.5;reference=same" };
    for (int i = 0; i < 3; i++) {
        struct ab_case c;
        struct ab_error err = { { 0 } };
        make_case(&c, cases[i]);
        assert_int_equal(impl->setup(&c, &err), AB_OK);
        ab_status st = impl->verify(&c, &err);
        if (st)
            fail_msg("%s: %s", cases[i], err.msg);
        impl->teardown(&c);
        double v = NAN, n = NAN, cpi = NAN, lo = NAN, hi = NAN, mean = NAN, pct = NAN;
        assert_true(has_metric(&c, "samples_per_level", &n) && n == 4000);
        assert_true(has_metric(&c, "cpi_median_cycles", &cpi) && cpi > 0 && cpi < 100);
        assert_true(has_metric(&c, "p_paired", &v) && v >= 1e-4 && v <= 1);
        assert_true(has_metric(&c, "pairs_dropped", &v) && v >= 0 && v < n / 2);
        assert_true(has_metric(&c, "mean_diff_cycles", &mean) &&
                    has_metric(&c, "mean_diff_ci_lo_cycles", &lo) &&
                    has_metric(&c, "mean_diff_ci_hi_cycles", &hi));
        assert_true(lo <= mean && mean <= hi && isfinite(lo) && isfinite(hi));
        assert_true(has_metric(&c, "mean_diff_pct", &pct) && isfinite(pct));
        assert_true(has_metric(&c, "diff_lag1_autocorr", &v) && v > -1 && v < 1);
        assert_true(has_metric(&c, "capacity_bits_ci_hi", &v) && v >= 0 && v <= 1);
        assert_true(has_metric(&c, "symbol_s", &v) && v > 0 && v < 1e-3);
        assert_true(has_metric(&c, "max_rel_err", &v) && v < 1e-5);
        assert_false(has_metric(&c, "capacity_bps", &v)); /* decided per run, not per row */
        assert_true(c.n_metrics <= AB_MAX_METRICS - 4);
        /* The pairs, as samples.jsonl will hold them: integer ticks, one per burst. */
        assert_non_null(c.extra_json);
        cJSON *o = cJSON_Parse(c.extra_json);
        assert_non_null(o);
        const cJSON *rt = cJSON_GetObjectItemCaseSensitive(o, "ref_ticks"),
                    *lt = cJSON_GetObjectItemCaseSensitive(o, "level_ticks"),
                    *fs = cJSON_GetObjectItemCaseSensitive(o, "ref_first");
        assert_int_equal(cJSON_GetArraySize(rt), 4000);
        assert_int_equal(cJSON_GetArraySize(lt), 4000);
        assert_true(cJSON_IsString(fs) && strlen(fs->valuestring) == 4000);
        assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(o, "burst_instrs")->valuedouble, 2048);
        cJSON_Delete(o);
        free(c.extra_json);
    }
    /* Null rows are planned at sparsity 0.5 only, one per instruction and pattern. */
    struct ab_params ps;
    struct ab_error err;
    assert_int_equal(ab_params_parse("instr=vpmaddubsw;pattern=rows;sparsity=0.25;reference=same", &ps, &err),
                     AB_OK);
    assert_false(amx_timing_workload.applies(&ps, AB_BACKEND_CPU, AB_SUITE_DEFAULT));
    assert_int_equal(ab_params_parse("instr=vpmaddubsw;pattern=rows;sparsity=0.5;reference=same", &ps, &err),
                     AB_OK);
    assert_true(amx_timing_workload.applies(&ps, AB_BACKEND_CPU, AB_SUITE_DEFAULT));
    assert_int_equal(ab_params_parse("instr=vpmaddubsw;pattern=rows;sparsity=0.25", &ps, &err), AB_OK);
    assert_true(amx_timing_workload.applies(&ps, AB_BACKEND_CPU, AB_SUITE_DEFAULT));
}

/* Through the real binary: the run's verdicts per instruction are in run.json and on stderr,
 * the null row is there, and the pairs in samples.jsonl give back the row's mean difference. */
static void run_writes_verdicts_to_run_json_and_pairs_that_recompute_the_row(void **state)
{
    struct amx_features f = this_cpu();
    if (!f.avx2 || !f.fma)
        skip();
    const char *exe = getenv("ACCELBENCH_EXE");
    char *dir = test_tmpdir();
    assert_non_null(exe);
    assert_non_null(dir);
    char cmd[8600], path[4400];
    snprintf(cmd, sizeof cmd,
             "'%s' run -w amx_timing -d cpu --quick --no-ceilings --min-time 0.02 --max-time 0.2 "
             "-a instr=vpmaddubsw,vfmadd231ps -a sparsity=0,0.5 -o '%s/r' >'%s/out' 2>'%s/err'",
             exe, dir, dir, dir);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    char *text;
    size_t len;
    snprintf(path, sizeof path, "%s/err", dir);
    assert_int_equal(ab_read_file(path, &text, &len, NULL), AB_OK);
    assert_non_null(strstr(text, "amx_timing vpmaddubsw: "));
    assert_non_null(strstr(text, "rows claimed (Holm over the 3, alpha 0.01, effect >= 1%)"));
    free(text);
    snprintf(path, sizeof path, "%s/r/run.json", dir);
    assert_int_equal(ab_read_file(path, &text, &len, NULL), AB_OK);
    cJSON *run = cJSON_Parse(text);
    free(text);
    assert_non_null(run);
    const cJSON *sum =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(run, "summaries"), "amx_timing");
    assert_non_null(sum);
    /* the invocation that decided it keeps the same verdict (a resume's live only there) */
    const cJSON *inv0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(run, "invocations"), 0);
    const cJSON *isum =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(inv0, "summaries"), "amx_timing");
    assert_non_null(isum);
    assert_true(cJSON_Compare(sum, isum, true));
    assert_double_equal(cJSON_GetObjectItemCaseSensitive(sum, "alpha")->valuedouble, 0.01, 0);
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(sum, "instructions"), *it;
    assert_int_equal(cJSON_GetArraySize(ins), 2);
    cJSON_ArrayForEach(it, ins)
    {
        assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(it, "rows_tested")->valuedouble, 3);
        assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(it, "null_rows")->valuedouble, 1);
        const cJSON *rows = cJSON_GetObjectItemCaseSensitive(it, "rows"), *row;
        assert_int_equal(cJSON_GetArraySize(rows), 3);
        cJSON_ArrayForEach(row, rows)
        {
            double p = cJSON_GetObjectItemCaseSensitive(row, "p_paired")->valuedouble;
            double ph = cJSON_GetObjectItemCaseSensitive(row, "p_holm")->valuedouble;
            assert_true(p > 0 && p <= ph && ph <= 1);
            bool claimed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "claimed"));
            assert_true(claimed == (cJSON_GetObjectItemCaseSensitive(row, "capacity_bps") != NULL));
        }
    }
    cJSON_Delete(run);
    /* samples.jsonl: recompute each row's mean difference from its pairs with the documented
     * rule (drop a pair where a burst is over 3x the median of all bursts). */
    snprintf(path, sizeof path, "%s/r/samples.jsonl", dir);
    assert_int_equal(ab_read_file(path, &text, &len, NULL), AB_OK);
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "metrics"),
                    *x = cJSON_GetObjectItemCaseSensitive(o, "extra");
        assert_non_null(x);
        const cJSON *rt = cJSON_GetObjectItemCaseSensitive(x, "ref_ticks"),
                    *lt = cJSON_GetObjectItemCaseSensitive(x, "level_ticks");
        int n = cJSON_GetArraySize(rt);
        double bi = cJSON_GetObjectItemCaseSensitive(x, "burst_instrs")->valuedouble;
        assert_int_equal(n, (int)cJSON_GetObjectItemCaseSensitive(m, "samples_per_level")->valuedouble);
        double *all = malloc(2 * (size_t)n * sizeof *all), *r = malloc((size_t)n * sizeof *r),
               *l = malloc((size_t)n * sizeof *l);
        for (int i = 0; i < n; i++) {
            all[i] = r[i] = cJSON_GetArrayItem(rt, i)->valuedouble / bi;
            all[n + i] = l[i] = cJSON_GetArrayItem(lt, i)->valuedouble / bi;
        }
        double *sorted = ab_stats_sorted_copy(all, 2 * n);
        double cut = 3 * ab_stats_quantile_sorted(sorted, 2 * n, 0.5), dsum = 0;
        int kept = 0;
        for (int i = 0; i < n; i++)
            if (r[i] <= cut && l[i] <= cut) {
                dsum += r[i] - l[i];
                kept++;
            }
        assert_int_equal(n - kept, (int)cJSON_GetObjectItemCaseSensitive(m, "pairs_dropped")->valuedouble);
        double want = cJSON_GetObjectItemCaseSensitive(m, "mean_diff_cycles")->valuedouble;
        assert_double_equal(dsum / kept, want, 1e-9 * (fabs(want) + 1e-6));
        free(all);
        free(r);
        free(l);
        free(sorted);
        cJSON_Delete(o);
    }
    assert_int_equal(lines, 6);
    free(text);
    test_rmrf(dir);
    free(dir);
}

/* The done-when check, end to end through the real binary: AMX rows are skipped with the
 * CPUID reason, the control rows are ok with p-values. */
static void run_gives_skipped_amx_rows_and_ok_control_rows(void **state)
{
    const char *exe = getenv("ACCELBENCH_EXE");
    char *dir = test_tmpdir();
    assert_non_null(exe);
    assert_non_null(dir);
    struct amx_features f = this_cpu();
    char cmd[8600], csv[4400];
    snprintf(cmd, sizeof cmd,
             "'%s' run -w amx_timing -d cpu --quick --no-ceilings --min-time 0.02 --max-time 0.2 "
             "-a instr=tdpbssd,vpdpbusd -a sparsity=0,1 -o '%s/r' >/dev/null 2>&1",
             exe, dir);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    snprintf(csv, sizeof csv, "%s/r/results.csv", dir);
    struct ab_result_set set = { 0 };
    struct ab_error err;
    assert_int_equal(ab_csv_read(csv, &set, NULL, 0, &err), AB_OK);
    assert_int_equal(set.n, 4);
    for (int64_t i = 0; i < set.n; i++) {
        const struct ab_result *r = &set.rows[i];
        assert_string_equal(r->workload, "amx_timing");
        bool amx = strstr(r->params, "instr=tdpbssd") != NULL;
        if (amx && !f.amx_int8) {
            assert_int_equal(r->status, AB_EUNSUPPORTED);
            assert_string_equal(ab_status_word(r->status), "skipped");
            assert_string_equal(r->message, "no AMX (CPUID)");
        } else if (amx || f.avx512_vnni) {
            assert_int_equal(r->status, AB_OK);
            double p = ab_result_metric(r, "p_ks"), zf = ab_result_metric(r, "zero_frac");
            assert_true(p >= 0 && p <= 1);
            assert_true(ab_result_metric(r, "p_paired") > 0);
            assert_double_equal(zf, strstr(r->params, "sparsity=1") ? 1 : 0, 0);
            assert_true(r->flop_per_s > 1e9);
        }
    }
    ab_result_set_free(&set);
    test_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sparsity_generation_is_exact_for_each_pattern),
        cmocka_unit_test(channel_bits_are_zero_for_identical_and_one_for_disjoint),
        cmocka_unit_test(decode_needs_cpuid_and_os_state_for_amx),
        cmocka_unit_test(lag1_of_an_ar1_series_is_its_coefficient),
        cmocka_unit_test(signflip_p_is_one_for_no_differences_and_smallest_for_all_one_sign),
        cmocka_unit_test(block_interval_of_a_mean_has_the_width_of_its_standard_error),
        cmocka_unit_test(channel_bits_interval_holds_the_estimate_and_reaches_one_when_disjoint),
        cmocka_unit_test(paired_test_under_a_true_null_is_uniform_and_claims_nothing),
        cmocka_unit_test(paired_test_finds_a_planted_shift_and_measures_it),
        cmocka_unit_test(holm_verdicts_on_known_p_values),
        cmocka_unit_test(avx2_controls_run_here_with_paired_metrics_and_pairs),
        cmocka_unit_test(run_writes_verdicts_to_run_json_and_pairs_that_recompute_the_row),
        cmocka_unit_test(amx_rows_skip_without_amx_and_never_fault),
        cmocka_unit_test(accumulators_compare_within_tolerance_and_flag_the_rest),
        cmocka_unit_test(core_fraction_is_rate_over_one_threads_share),
        cmocka_unit_test(cuda_has_no_implementation_so_its_row_is_skipped),
        cmocka_unit_test(control_runs_on_this_cpu_with_finite_cycles),
        cmocka_unit_test(run_gives_skipped_amx_rows_and_ok_control_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
