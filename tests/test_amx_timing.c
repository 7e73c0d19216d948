/* test_amx_timing.c — the amx_timing workload: exact sparsity per pattern, the channel model,
 * feature decoding that never lets an AMX instruction run where CPUID lacks it, and the AVX-512
 * control on this CPU. Its statistical tests are the harness's, tested in test_stats.c. */
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

static void amx_rows_skip_without_amx_and_never_fault(void **state)
{
    struct amx_cpuid id;
    struct amx_features f;
    amx_cpuid_read(&id);
    amx_features_decode(&id, &f);
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
    struct amx_cpuid id;
    struct amx_features f;
    amx_cpuid_read(&id);
    amx_features_decode(&id, &f);
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
        assert_true(has_metric(&c, "p_welch", &v) && v >= 0 && v <= 1);
        assert_true(has_metric(&c, "tsc_hz", &v) && v > 1e8);
        assert_true(has_metric(&c, "max_rel_err", &v) && v < 1e-5);
        assert_true(has_metric(&c, "capacity_bps", &v) && v >= 0 && isfinite(v));
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

/* The done-when check, end to end through the real binary: AMX rows are skipped with the
 * CPUID reason, the control rows are ok with p-values. */
static void run_gives_skipped_amx_rows_and_ok_control_rows(void **state)
{
    const char *exe = getenv("ACCELBENCH_EXE");
    char *dir = test_tmpdir();
    assert_non_null(exe);
    assert_non_null(dir);
    struct amx_cpuid id;
    struct amx_features f;
    amx_cpuid_read(&id);
    amx_features_decode(&id, &f);
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
            assert_true(ab_result_metric(r, "p_welch") >= 0);
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
        cmocka_unit_test(amx_rows_skip_without_amx_and_never_fault),
        cmocka_unit_test(accumulators_compare_within_tolerance_and_flag_the_rest),
        cmocka_unit_test(core_fraction_is_rate_over_one_threads_share),
        cmocka_unit_test(cuda_has_no_implementation_so_its_row_is_skipped),
        cmocka_unit_test(control_runs_on_this_cpu_with_finite_cycles),
        cmocka_unit_test(run_gives_skipped_amx_rows_and_ok_control_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
