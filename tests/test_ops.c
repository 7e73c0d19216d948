/* test_ops.c — each op of workloads/ops against its FP64 reference on fresh random inputs
 * (N(0,1), never zeros), per dtype, with the tolerance stated next to each check: fp32 ops are
 * held to fp32 accumulation error; bf16 ops to bf16 output rounding (2^-9 relative) with margin.
 * The references see the inputs after rounding to the dtype, so only the op's own error counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <time.h>

#include "accelbench.h"
#include "ops.h"
#include "ops_ref.h"
#include "test_util.h"

static uint64_t seed_base;

/* atol, rtol per dtype for outputs of magnitude ~1 */
static double atol_of(enum ab_dtype dt)
{
    return dt == AB_DTYPE_FP32 ? 2e-5 : 1e-2;
}
static double rtol_of(enum ab_dtype dt)
{
    return dt == AB_DTYPE_FP32 ? 2e-5 : 1e-2;
}

#define CHECK(got, dt, ref, n, atol, rtol)                                                                   \
    do {                                                                                                     \
        char m_[256];                                                                                        \
        double e_;                                                                                           \
        size_t bad_ = ops_check((got), (dt), (ref), (n), (atol), (rtol), &e_, m_, sizeof m_);                \
        if (bad_)                                                                                            \
            fail_msg("%s %s: %zu of %zu off (worst %.3g x tolerance): %s", __func__, ab_dtype_name(dt),      \
                     bad_, (size_t)(n), e_, m_);                                                             \
    } while (0)

static void *xalloc(size_t n)
{
    void *p = calloc(1, n);
    assert_non_null(p);
    return p;
}

static void dtype_names_round_trip(void **state)
{
    enum ab_dtype dt;
    assert_true(ab_dtype_parse("bf16", &dt));
    assert_int_equal(dt, AB_DTYPE_BF16);
    assert_string_equal(ab_dtype_name(AB_DTYPE_FP16), "fp16");
    assert_false(ab_dtype_parse("fp8", &dt));
    assert_int_equal(ab_dtype_size(AB_DTYPE_FP32), 4);
}

static void bf16_rounds_to_nearest_even(void **state)
{
    /* 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1) */
    assert_int_equal(ab_bf16_from_f32(1.0f + 0x1p-8f), 0x3f80);
    assert_int_equal(ab_bf16_from_f32(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
    assert_true(isnan(ab_bf16_to_f32(ab_bf16_from_f32(NAN))));
    assert_double_equal(ab_bf16_to_f32(ab_bf16_from_f32(-3.5f)), -3.5, 0);
}

static void layernorm_matches_reference(void **state)
{
    for (int d = 0; d < 6; d++) {
        enum ab_dtype dt = d & 1 ? AB_DTYPE_BF16 : AB_DTYPE_FP32;
        ops_set_generic(d >= 4); /* vectorized rows where C % 16 == 0 and the CPU can, then portable */
        int N = 19, C = d < 2 ? 1100 : 1104; /* 1100: over one stack line, so in two pieces */
        size_t n = (size_t)N * C;
        void *x = xalloc(n * 4), *y = xalloc(n * 4);
        double *xw = xalloc(n * 8), *ref = xalloc(n * 8), *gw = xalloc(C * 8), *bw = xalloc(C * 8);
        float *g = xalloc(C * 4), *b = xalloc(C * 4);
        ops_fill_random(x, dt, xw, n, seed_base + 1, 2.0f);
        ops_fill_random(g, AB_DTYPE_FP32, gw, C, seed_base + 2, 1.0f);
        ops_fill_random(b, AB_DTYPE_FP32, bw, C, seed_base + 3, 1.0f);
        ops_layernorm(y, x, g, b, N, C, dt);
        ops_ref_layernorm(ref, xw, gw, bw, N, C);
        CHECK(y, dt, ref, n, atol_of(dt) * 4, rtol_of(dt)); /* |out| reaches ~4: scale atol */
        free(x), free(y), free(xw), free(ref), free(gw), free(bw), free(g), free(b);
    }
    ops_set_generic(false);
}

static void gelu_matches_reference(void **state)
{
    for (int d = 0; d < 2; d++) {
        enum ab_dtype dt = d ? AB_DTYPE_BF16 : AB_DTYPE_FP32;
        size_t n = 40000;
        void *x = xalloc(n * 4);
        double *xw = xalloc(n * 8), *ref = xalloc(n * 8);
        ops_fill_random(x, dt, xw, n, seed_base + 4, 3.0f);
        ops_gelu(x, x, n, dt); /* in place */
        for (size_t i = 0; i < n; i++)
            ref[i] = ops_ref_gelu(xw[i]);
        CHECK(x, dt, ref, n, dt == AB_DTYPE_FP32 ? 1e-6 : 4e-3, dt == AB_DTYPE_FP32 ? 1e-5 : 8e-3);
        free(x), free(xw), free(ref);
    }
}

static void softmax_rows_sum_to_one_and_match(void **state)
{
    int R = 7, C = 333;
    size_t n = (size_t)R * C;
    float *x = xalloc(n * 4);
    double *xw = xalloc(n * 8), *ref = xalloc(n * 8);
    ops_fill_random(x, AB_DTYPE_FP32, xw, n, seed_base + 5, 4.0f);
    ops_softmax(x, x, R, C);
    ops_ref_softmax(ref, xw, R, C);
    CHECK(x, AB_DTYPE_FP32, ref, n, 1e-7, 1e-5);
    double s = 0;
    for (int j = 0; j < C; j++)
        s += x[j];
    assert_double_equal(s, 1.0, 1e-5);
    free(x), free(xw), free(ref);
}

static void residual_adds(void **state)
{
    for (int d = 0; d < 2; d++) {
        enum ab_dtype dt = d ? AB_DTYPE_BF16 : AB_DTYPE_FP32;
        size_t n = 100003;
        void *a = xalloc(n * 4), *b = xalloc(n * 4);
        double *aw = xalloc(n * 8), *bw = xalloc(n * 8);
        ops_fill_random(a, dt, aw, n, seed_base + 6, 1.0f);
        ops_fill_random(b, dt, bw, n, seed_base + 7, 1.0f);
        ops_residual(a, a, b, n, dt);
        for (size_t i = 0; i < n; i++)
            aw[i] += bw[i];
        CHECK(a, dt, aw, n, dt == AB_DTYPE_FP32 ? 1e-6 : 1e-2, dt == AB_DTYPE_FP32 ? 1e-7 : 4e-3);
        free(a), free(b), free(aw), free(bw);
    }
}

/* One plan of M rows checked against the reference (bf16 where oneDNN has no bf16 matmul:
 * the plan must be refused as unsupported with the reason). OPS_MM_OUT_F32: out and res are fp32;
 * OPS_MM_ACCUM: out starts random and the product is added to it. With share, the weight is
 * packed by a plan of another M (1 or 16) and shared. Returns whether the GEMV kernel ran. */
static bool matmul_case_ex(enum ab_dtype dt, unsigned flags, int M, int N, int K, bool share)
{
    enum ab_dtype odt = (flags & OPS_MM_OUT_F32) ? AB_DTYPE_FP32 : dt;
    size_t es = ab_dtype_size(dt), os = ab_dtype_size(odt);
    void *x = xalloc((size_t)M * K * es), *w = xalloc((size_t)N * K * es), *y = xalloc((size_t)M * N * os);
    void *res = xalloc((size_t)M * N * os);
    float *bias = xalloc(N * 4);
    double *xw = xalloc((size_t)M * K * 8), *ww = xalloc((size_t)N * K * 8), *bw = xalloc(N * 8);
    double *rw = xalloc((size_t)M * N * 8), *ref = xalloc((size_t)M * N * 8);
    ops_fill_random(x, dt, xw, (size_t)M * K, seed_base + 10, 1.0f);
    ops_fill_random(w, dt, ww, (size_t)N * K, seed_base + 11, 1.0f / sqrtf((float)K)); /* |out| ~ 1 */
    ops_fill_random(bias, AB_DTYPE_FP32, bw, N, seed_base + 12, 0.5f);
    if (flags & OPS_MM_ACCUM)
        ops_fill_random(y, odt, rw, (size_t)M * N, seed_base + 13, 1.0f);
    else
        ops_fill_random(res, odt, rw, (size_t)M * N, seed_base + 13, 1.0f);
    struct ops_matmul *mm, *owner = NULL;
    struct ab_error err = { { 0 } };
    ab_status st = ops_matmul_create(&mm, M, N, K, dt, flags, &err);
    if (dt == AB_DTYPE_BF16 && !ops_matmul_bf16_supported()) { /* a skip with the reason, no plan */
        assert_int_equal(st, AB_EUNSUPPORTED);
        assert_null(mm);
        assert_string_equal(err.msg, OPS_NO_BF16_MATMUL);
        free(x), free(w), free(y), free(res), free(bias), free(xw), free(ww), free(bw), free(rw), free(ref);
        return false;
    }
    if (st)
        fail_msg("create: %s", err.msg);
    if (share) {
        assert_int_equal(ops_matmul_create(&owner, M == 1 ? 16 : 1, N, K, dt, 0, &err), AB_OK);
        assert_int_equal(ops_matmul_set_weight(owner, w, &err), AB_OK);
        assert_int_equal(ops_matmul_share_weight(mm, owner, &err), AB_OK);
    } else
        assert_int_equal(ops_matmul_set_weight(mm, w, &err), AB_OK);
    memset(w, 0, (size_t)N * K * es); /* the plans hold their own copy */
    st = ops_matmul_run(mm, y, x, (flags & OPS_MM_BIAS) ? bias : NULL, (flags & OPS_MM_RESIDUAL) ? res : NULL,
                        &err);
    if (st)
        fail_msg("run: %s", err.msg);
    bool gemv = strncmp(ops_matmul_impl(mm), "gemv:", 5) == 0;
    assert_true(ops_matmul_impl(mm)[0] != 0);
    ops_matmul_destroy(mm);
    ops_matmul_destroy(owner);
    ops_ref_matmul(ref, xw, ww, (flags & OPS_MM_BIAS) ? bw : NULL,
                   (flags & (OPS_MM_RESIDUAL | OPS_MM_ACCUM)) ? rw : NULL, M, N, K, flags & OPS_MM_GELU);
    /* fp32: K products of magnitude ~1/sqrt(K) summed in fp32: ~1e-6; bf16 output: 2^-9;
     * bf16 inputs with an fp32 output: products exact in fp32, so fp32's tolerance */
    CHECK(y, odt, ref, (size_t)M * N, atol_of(odt), rtol_of(odt));
    free(x), free(w), free(y), free(res), free(bias), free(xw), free(ww), free(bw), free(rw), free(ref);
    return gemv;
}

static void matmul_case(enum ab_dtype dt, unsigned flags, int M, int N, int K)
{
    matmul_case_ex(dt, flags, M, N, K, false);
}

static void matmul_matches_reference(void **state)
{
    for (int d = 0; d < 2; d++) {
        enum ab_dtype dt = d ? AB_DTYPE_BF16 : AB_DTYPE_FP32;
        matmul_case(dt, 0, 37, 48, 64);
        matmul_case(dt, OPS_MM_BIAS, 64, 96, 200);
        matmul_case(dt, OPS_MM_BIAS | OPS_MM_GELU, 33, 80, 128);
        matmul_case(dt, OPS_MM_BIAS | OPS_MM_RESIDUAL, 40, 64, 96);
        matmul_case(dt, OPS_MM_BIAS | OPS_MM_ACCUM | OPS_MM_OUT_F32, 24, 80, 64);
        matmul_case(dt, OPS_MM_BIAS | OPS_MM_GELU | OPS_MM_OUT_F32, 17, 64, 48);
    }
}

/* Few rows: the GEMV kernel where the CPU has AVX-512 (BF16 for bf16) or, for fp32, AVX2 and
 * FMA; oneDNN otherwise and under ops_set_generic; N and K not multiples of the 64 x 16 (32)
 * blocks nor of the AVX2 kernel's 8 columns and 4 rows of K, every epilogue. */
static void matmul_gemv_matches_reference(void **state)
{
    for (int g = 0; g < 2; g++) {
        ops_set_generic(g == 1);
        for (int d = 0; d < 2; d++) {
            enum ab_dtype dt = d ? AB_DTYPE_BF16 : AB_DTYPE_FP32;
            bool can = g == 0 && (ab_cpu_has("avx512f")
                                      ? dt == AB_DTYPE_FP32 || ab_cpu_has("avx512_bf16")
                                      : dt == AB_DTYPE_FP32 && ab_cpu_has("avx2") && ab_cpu_has("fma"));
            assert_int_equal(matmul_case_ex(dt, 0, 1, 200, 100, false), can);
            assert_int_equal(matmul_case_ex(dt, OPS_MM_BIAS, 4, 203, 101, false), can);
            assert_int_equal(
                matmul_case_ex(dt, OPS_MM_BIAS | OPS_MM_ACCUM | OPS_MM_OUT_F32, 7, 1000, 33, true), can);
            assert_int_equal(matmul_case_ex(dt, OPS_MM_BIAS | OPS_MM_GELU, 3, 130, 72, true), can);
            assert_int_equal(matmul_case_ex(dt, OPS_MM_BIAS | OPS_MM_RESIDUAL, 5, 64, 256, false), can);
            assert_int_equal(matmul_case_ex(dt, OPS_MM_BIAS | OPS_MM_ACCUM | OPS_MM_OUT_F32, 8, 96, 40, true),
                             can);
            assert_int_equal(matmul_case_ex(dt, OPS_MM_OUT_F32, 2, 257, 64, true), can);
            /* more rows than the GEMV takes: oneDNN, on the weight a 1-row plan packed */
            assert_false(matmul_case_ex(dt, OPS_MM_BIAS, OPS_GEMV_MAX_M + 1, 72, 80, true));
        }
    }
    ops_set_generic(false);
}

/* Many rows on an AVX2 + FMA CPU without AVX-512: our GEMM over the (N,K) weight (gemm:avx2),
 * elsewhere and under ops_set_generic oneDNN's. Shapes cross its 6-row strips, 16-column panels
 * (N = 203: a partial one), 128-column and 192-row tiles and 256-deep slices of K, with every
 * epilogue, on a weight packed by a plan of one row and shared; GELU over a wide range (the
 * polynomial exp at both tails). */
static void matmul_of_many_rows_runs_the_avx2_gemm_where_oneDNN_has_only_gemm_jit(void **state)
{
    for (int g = 0; g < 2; g++) {
        ops_set_generic(g == 1);
        bool ours = g == 0 && ab_cpu_has("avx2") && ab_cpu_has("fma") && !ab_cpu_has("avx512f");
        struct ops_matmul *mm;
        struct ab_error err = { { 0 } };
        assert_int_equal(ops_matmul_create(&mm, 200, 203, 300, AB_DTYPE_FP32, OPS_MM_BIAS, &err), AB_OK);
        assert_int_equal(strcmp(ops_matmul_impl(mm), "gemm:avx2") == 0, ours);
        ops_matmul_destroy(mm);
        matmul_case_ex(AB_DTYPE_FP32, 0, 200, 203, 300, true);
        matmul_case_ex(AB_DTYPE_FP32, OPS_MM_BIAS | OPS_MM_GELU, 197, 256, 520, true);
        matmul_case_ex(AB_DTYPE_FP32, OPS_MM_BIAS | OPS_MM_ACCUM, 9, 144, 257, true);
        matmul_case_ex(AB_DTYPE_FP32, OPS_MM_BIAS | OPS_MM_RESIDUAL, 385, 64, 96, false);
        matmul_case_ex(AB_DTYPE_FP32, OPS_MM_BIAS | OPS_MM_GELU | OPS_MM_RESIDUAL, 31, 40, 17, false);
        matmul_case_ex(AB_DTYPE_FP32, OPS_MM_BIAS | OPS_MM_ACCUM | OPS_MM_OUT_F32, 12, 19, 33, true);
    }
    ops_set_generic(false);
    /* GELU at both tails: inputs up to +-40 */
    enum { M = 13, N = 32, K = 1 };
    float x[M * K], w[N * K], bias[N], y[M * N];
    double ref[M * N];
    for (int i = 0; i < M; i++)
        x[i] = -40.0f + 80.0f * (float)i / (M - 1);
    for (int n = 0; n < N; n++)
        w[n] = (float)(n + 1) / N, bias[n] = 0.25f * (float)(n % 3) - 0.25f;
    struct ops_matmul *mm;
    struct ab_error err = { { 0 } };
    assert_int_equal(ops_matmul_create(&mm, M, N, K, AB_DTYPE_FP32, OPS_MM_BIAS | OPS_MM_GELU, &err), AB_OK);
    assert_int_equal(ops_matmul_set_weight(mm, w, &err), AB_OK);
    assert_int_equal(ops_matmul_run(mm, y, x, bias, NULL, &err), AB_OK);
    ops_matmul_destroy(mm);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++)
            ref[m * N + n] = ops_ref_gelu((double)x[m] * w[n] + bias[n]);
    CHECK(y, AB_DTYPE_FP32, ref, M * N, 2e-5, 2e-5);
}

/* A caller's own threads run the AVX2 GEMV block by block: for any rows up to the GEMV's, the
 * blocks together give what ops_matmul_run gives (the same kernel: equal, not close), the
 * epilogue (bias, GELU; accumulation into out) included. Residual plans and portable plans
 * offer no blocks. */
static void matmul_blocks_match_the_whole_run(void **state)
{
    (void)state;
    struct ab_error err = { { 0 } };
    struct ops_matmul *mm;
    int N = 300, K = 77;
    unsigned flag_sets[] = { OPS_MM_BIAS | OPS_MM_GELU, OPS_MM_BIAS | OPS_MM_ACCUM, 0 };
    float *w = xalloc((size_t)N * K * 4), *x = xalloc((size_t)OPS_GEMV_MAX_M * K * 4), *bias = xalloc(N * 4);
    float *a = xalloc((size_t)OPS_GEMV_MAX_M * N * 4), *b = xalloc((size_t)OPS_GEMV_MAX_M * N * 4);
    double *scratch = xalloc((size_t)N * K * 8);
    ops_fill_random(w, AB_DTYPE_FP32, scratch, (size_t)N * K, seed_base + 30, 0.1f);
    ops_fill_random(x, AB_DTYPE_FP32, scratch, (size_t)OPS_GEMV_MAX_M * K, seed_base + 31, 1.0f);
    ops_fill_random(bias, AB_DTYPE_FP32, scratch, N, seed_base + 32, 0.5f);
    for (int f = 0; f < 3; f++)
        for (int rows = 1; rows <= OPS_GEMV_MAX_M; rows += 3) {
            assert_int_equal(ops_matmul_create(&mm, rows, N, K, AB_DTYPE_FP32, flag_sets[f], &err), AB_OK);
            assert_int_equal(ops_matmul_set_weight(mm, w, &err), AB_OK);
            int nblk = ops_matmul_blocks(mm);
            if (!(ab_cpu_has("avx2") && ab_cpu_has("fma")) || ab_cpu_has("avx512f")) {
                assert_int_equal(nblk, 0);
                ops_matmul_destroy(mm);
                continue;
            }
            assert_true(nblk > 1);
            ops_fill_random(a, AB_DTYPE_FP32, scratch, (size_t)rows * N, seed_base + 33, 1.0f);
            memcpy(b, a, (size_t)rows * N * 4);
            assert_int_equal(ops_matmul_run(mm, a, x, bias, NULL, &err), AB_OK);
            for (int blk = nblk - 1; blk >= 0; blk--) /* any order */
                ops_matmul_run_block(mm, blk, b, x, rows, bias);
            assert_memory_equal(a, b, (size_t)rows * N * 4);
            ops_matmul_destroy(mm);
        }
    assert_int_equal(ops_matmul_create(&mm, 1, N, K, AB_DTYPE_FP32, OPS_MM_RESIDUAL, &err), AB_OK);
    assert_int_equal(ops_matmul_set_weight(mm, w, &err), AB_OK);
    assert_int_equal(ops_matmul_blocks(mm), 0);
    ops_matmul_destroy(mm);
    ops_set_generic(true);
    assert_int_equal(ops_matmul_create(&mm, 1, N, K, AB_DTYPE_FP32, 0, &err), AB_OK);
    assert_int_equal(ops_matmul_set_weight(mm, w, &err), AB_OK);
    assert_int_equal(ops_matmul_blocks(mm), 0);
    ops_matmul_destroy(mm);
    ops_set_generic(false);
    free(w), free(x), free(bias), free(a), free(b), free(scratch);
}

/* The AVX2 GEMV's register tiles at every row count (1..8 rows: 1 x 8, 2 x 4, 3 x 2 and 4 x 2
 * weight rows at a time, then one at a time; 1..4 rows at a time for the last N % 8 columns),
 * N with columns past the last group of 8 (N < 8 too), K of 1, K not a multiple of 8 (the
 * scalar tail) and beyond the prefetch distance, every epilogue, against the FP64 reference;
 * the weight packed by the plan itself or by a plan of other M. (The AVX-512 GEMV where the
 * CPU has it.) */
static void gemv_avx2_matches_reference_at_every_row_count(void **state)
{
    (void)state;
    bool can = ab_cpu_has("avx512f") || (ab_cpu_has("avx2") && ab_cpu_has("fma"));
    static const int shapes[][2] = { { 269, 113 }, { 5, 40 },  { 203, 1 },
                                     { 77, 15 },   { 64, 32 }, { 1000, 300 } };
    static const unsigned flag_sets[] = { 0, OPS_MM_BIAS, OPS_MM_BIAS | OPS_MM_GELU,
                                          OPS_MM_BIAS | OPS_MM_RESIDUAL, OPS_MM_BIAS | OPS_MM_ACCUM };
    for (int M = 1; M <= OPS_GEMV_MAX_M; M++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (size_t f = 0; f < sizeof flag_sets / sizeof flag_sets[0]; f++)
                assert_int_equal(matmul_case_ex(AB_DTYPE_FP32, flag_sets[f], M, shapes[s][0], shapes[s][1],
                                                (M + s + f) % 2),
                                 can);
}

/* GELU applied from the registers (a vector exp) holds fp32's tolerance where the inputs reach
 * both tails (|x| beyond 20: exp(-2u) over- and underflows). */
static void gemv_avx2_gelu_holds_at_the_tails(void **state)
{
    (void)state;
    int M = 5, N = 203, K = 40;
    float *x = xalloc((size_t)M * K * 4), *w = xalloc((size_t)N * K * 4), *y = xalloc((size_t)M * N * 4);
    float *bias = xalloc(N * 4);
    double *xw = xalloc((size_t)M * K * 8), *ww = xalloc((size_t)N * K * 8), *bw = xalloc(N * 8);
    double *ref = xalloc((size_t)M * N * 8);
    ops_fill_random(x, AB_DTYPE_FP32, xw, (size_t)M * K, seed_base + 40, 1.0f);
    ops_fill_random(w, AB_DTYPE_FP32, ww, (size_t)N * K, seed_base + 41, 10.0f / sqrtf((float)K));
    ops_fill_random(bias, AB_DTYPE_FP32, bw, N, seed_base + 42, 2.0f);
    struct ops_matmul *mm;
    struct ab_error err = { { 0 } };
    assert_int_equal(ops_matmul_create(&mm, M, N, K, AB_DTYPE_FP32, OPS_MM_BIAS | OPS_MM_GELU, &err), AB_OK);
    assert_int_equal(ops_matmul_set_weight(mm, w, &err), AB_OK);
    assert_int_equal(ops_matmul_run(mm, y, x, bias, NULL, &err), AB_OK);
    ops_ref_matmul(ref, xw, ww, bw, NULL, M, N, K, false); /* GELU's inputs: both tails reached */
    double lo = 0, hi = 0;
    for (size_t i = 0; i < (size_t)M * N; i++)
        lo = fmin(lo, ref[i]), hi = fmax(hi, ref[i]);
    assert_true(lo < -20 && hi > 20);
    ops_ref_matmul(ref, xw, ww, bw, NULL, M, N, K, true);
    CHECK(y, AB_DTYPE_FP32, ref, (size_t)M * N, atol_of(AB_DTYPE_FP32), rtol_of(AB_DTYPE_FP32));
    ops_matmul_destroy(mm);
    free(x), free(w), free(y), free(bias), free(xw), free(ww), free(bw), free(ref);
}

/* The AVX2 GEMV's column blocks are at most 256 columns wide and at least four per thread;
 * GPT-2's widths split in a multiple of the threads where that costs no width (the tests run
 * with OMP_NUM_THREADS=2), so that two threads end a decode phase together: 768 in 8 blocks of
 * 96, 2304 in 10 of 232 (the last 216), 3072 in 12 of 256, the padded vocabulary 50304 in 197
 * of 256. */
static void gemv_blocks_split_gpt2_widths_evenly(void **state)
{
    if (!(ab_cpu_has("avx2") && ab_cpu_has("fma")) || ab_cpu_has("avx512f"))
        skip();
    static const int Ns[] = { 768, 2304, 3072, 50304 }, want[] = { 8, 10, 12, 197 };
    const char *thr = getenv("OMP_NUM_THREADS");
    int K = 8;
    struct ab_error err = { { 0 } };
    for (int i = 0; i < 4; i++) {
        float *w = xalloc((size_t)Ns[i] * K * 4);
        ops_fill_random(w, AB_DTYPE_FP32, NULL, (size_t)Ns[i] * K, seed_base + 50, 1.0f);
        struct ops_matmul *mm;
        assert_int_equal(ops_matmul_create(&mm, 1, Ns[i], K, AB_DTYPE_FP32, OPS_MM_BIAS, &err), AB_OK);
        assert_int_equal(ops_matmul_set_weight(mm, w, &err), AB_OK);
        int nblk = ops_matmul_blocks(mm);
        assert_true((long)nblk * 256 >= Ns[i]);
        if (thr && strcmp(thr, "2") == 0)
            assert_int_equal(nblk, want[i]);
        ops_matmul_destroy(mm);
        free(w);
    }
}

/* The probe is what plans go by, and it is not a constant "no": on an AVX-512 CPU (where
 * oneDNN has bf16 kernels, natively or by conversion) it must find bf16. */
static void bf16_matmul_support_is_probed_and_plans_follow_it(void **state)
{
    bool sup = ops_matmul_bf16_supported();
    assert_int_equal(ops_matmul_bf16_supported(), sup); /* cached: the same answer */
    if (ab_cpu_has("avx512f") && ab_cpu_has("avx512bw") && ab_cpu_has("avx512vl"))
        assert_true(sup);
    struct ops_matmul *mm = (struct ops_matmul *)1;
    struct ab_error err = { { 0 } };
    ab_status st = ops_matmul_create(&mm, 4, 16, 16, AB_DTYPE_BF16, OPS_MM_BIAS | OPS_MM_GELU, &err);
    if (sup) {
        assert_int_equal(st, AB_OK);
        ops_matmul_destroy(mm);
    } else {
        assert_int_equal(st, AB_EUNSUPPORTED);
        assert_null(mm);
        assert_string_equal(err.msg, OPS_NO_BF16_MATMUL);
    }
    /* fp32 plans do not depend on it */
    assert_int_equal(ops_matmul_create(&mm, 4, 16, 16, AB_DTYPE_FP32, 0, &err), AB_OK);
    ops_matmul_destroy(mm);
}

static void matmul_rejects_bad_shapes_and_missing_operands(void **state)
{
    struct ops_matmul *mm = (struct ops_matmul *)1;
    struct ab_error err = { { 0 } };
    assert_int_equal(ops_matmul_create(&mm, 0, 4, 4, AB_DTYPE_FP32, 0, &err), AB_EINVAL);
    assert_null(mm);
    assert_int_equal(ops_matmul_create(&mm, 4, 4, 4, AB_DTYPE_FP16, 0, &err), AB_EUNSUPPORTED);
    assert_int_equal(ops_matmul_create(&mm, 4, 4, 4, AB_DTYPE_FP32, OPS_MM_BIAS, &err), AB_OK);
    float y[16], x[16];
    assert_int_equal(ops_matmul_run(mm, y, x, NULL, NULL, &err), AB_EINVAL); /* no weight yet */
    struct ops_matmul *other;
    assert_int_equal(ops_matmul_create(&other, 4, 8, 4, AB_DTYPE_FP32, 0, &err), AB_OK);
    assert_int_equal(ops_matmul_share_weight(mm, other, &err), AB_EINVAL); /* no weight, other N */
    ops_matmul_destroy(other);
    ops_matmul_destroy(mm);
    assert_int_equal(ops_matmul_create(&mm, 4, 4, 4, AB_DTYPE_FP32, OPS_MM_ACCUM | OPS_MM_GELU, &err),
                     AB_EINVAL);
}

/* q, k, v interleaved in one (B,T,3C) buffer, as a QKV projection writes them. */
static void attention_case(enum ab_dtype dt, int B, int NH, int Tq, int Tk, int HS, bool causal)
{
    int C = NH * HS, ld = 3 * C, q_pos0 = Tk - Tq;
    size_t es = ab_dtype_size(dt), nq = (size_t)B * Tq * ld, nk = (size_t)B * Tk * ld,
           no = (size_t)B * Tq * C;
    void *qb = xalloc(nq * es), *kvb = xalloc(nk * es), *out = xalloc(no * es);
    double *qw = xalloc(nq * 8), *kvw = xalloc(nk * 8), *ref = xalloc(no * 8);
    ops_fill_random(qb, dt, qw, nq, seed_base + 20, 1.0f);
    ops_fill_random(kvb, dt, kvw, nk, seed_base + 21, 1.0f);
    struct ops_attn *a;
    struct ab_error err = { { 0 } };
    if (ops_attn_create(&a, B, NH, Tq, Tk, HS, causal, dt, &err))
        fail_msg("create: %s", err.msg);
    const char *kv_base = kvb;
    ops_attn_run(a, out, qb, ld, kv_base + C * es, kv_base + 2 * C * es, ld, q_pos0);
    ops_ref_attention(ref, qw, ld, kvw + C, kvw + 2 * C, ld, B, NH, Tq, Tk, HS, q_pos0, causal);
    /* bf16: P rounded to bf16 (2^-9 each) and the output rounded: 1e-2 + 1.6e-2 |ref| */
    CHECK(out, dt, ref, no, atol_of(dt), dt == AB_DTYPE_FP32 ? 2e-5 : 1.6e-2);
    ops_attn_destroy(a);
    free(qb), free(kvb), free(out), free(qw), free(kvw), free(ref);
}

static void attention_matches_reference(void **state)
{
    for (int g = 0; g < 2; g++) { /* the vectorized kernels where the CPU has them, then generic */
        ops_set_generic(g == 1);
        for (int d = 0; d < 2; d++) {
            enum ab_dtype dt = d ? AB_DTYPE_BF16 : AB_DTYPE_FP32;
            attention_case(dt, 2, 3, 50, 50, 64, true);   /* tails of query and key blocks */
            attention_case(dt, 1, 2, 40, 40, 48, false);  /* HS not a multiple of 64 */
            attention_case(dt, 1, 2, 5, 70, 128, true);   /* continuation: queries at 65..69 */
            attention_case(dt, 1, 3, 150, 150, 80, true); /* keys over several 16-key groups */
            attention_case(dt, 1, 1, 7, 7, 72, true);     /* n below one register tile, HS % 16 = 8 */
            attention_case(dt, 1, 1, 1, 1, 64, false);    /* one query, one key */
        }
    }
    ops_set_generic(false);
}

/* GQA in the attention_memory layout, q (B,NH,T,HS), k, v (B,NH/G,T,HS), fp32 out; the
 * reference is the plain multi-head one over K and V repeated per query head. Sizes cross the
 * plan's blocks: T = 3 BK + 5 keys (several key blocks and a partial one), T = BQ + 1 queries. */
static void gqa_case(enum ab_dtype in, int B, int NH, int G, int T, int HS, bool causal)
{
    int HK = NH / G;
    size_t es = ab_dtype_size(in), nq = (size_t)B * NH * T * HS, nkv = (size_t)B * HK * T * HS;
    void *q = xalloc(nq * es), *k = xalloc(nkv * es), *v = xalloc(nkv * es);
    float *out = xalloc(nq * 4);
    double *qw = xalloc(nq * 8), *kw = xalloc(nkv * 8), *vw = xalloc(nkv * 8), *ref = xalloc(nq * 8);
    ops_fill_random(q, in, qw, nq, seed_base + 30, 1.0f);
    ops_fill_random(k, in, kw, nkv, seed_base + 31, 1.0f);
    ops_fill_random(v, in, vw, nkv, seed_base + 32, 1.0f);
    struct ops_attn_desc d = { .B = B,
                               .NH = NH,
                               .group = G,
                               .Tq = T,
                               .Tk = T,
                               .HS = HS,
                               .causal = causal,
                               .in_dt = in,
                               .out_dt = AB_DTYPE_FP32,
                               .external_scratch = true };
    struct ops_attn *a;
    struct ab_error err = { { 0 } };
    if (ops_attn_plan(&a, &d, &err))
        fail_msg("plan: %s", err.msg);
    void *scratch = ab_alloc(ops_attn_scratch_bytes(a));
    assert_non_null(scratch);
    int64_t hs = (int64_t)T * HS;
    struct ops_attn_io io = { .q = q,
                              .k = k,
                              .v = v,
                              .out = out,
                              .q_b = NH * hs,
                              .q_h = hs,
                              .q_t = HS,
                              .kv_b = HK * hs,
                              .kv_h = hs,
                              .kv_t = HS,
                              .o_b = NH * hs,
                              .o_h = hs,
                              .o_t = HS };
    ops_attn_exec(a, &io, scratch);
    /* reference: per (b, h), a (1,T,HS) problem on rows of q and of KV head h / G */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            size_t qo = ((size_t)b * NH + h) * (size_t)hs, ko = ((size_t)b * HK + h / G) * (size_t)hs;
            ops_ref_attention(ref + qo, qw + qo, HS, kw + ko, vw + ko, HS, 1, 1, T, T, HS, 0, causal);
        }
    CHECK(out, AB_DTYPE_FP32, ref, nq, 2e-5, 1e-4);
    ab_free(scratch);
    ops_attn_destroy(a);
    free(q), free(k), free(v), free(out), free(qw), free(kw), free(vw), free(ref);
}

static void attention_takes_strides_groups_and_output_type(void **state)
{
    struct ops_attn *a;
    struct ab_error err = { { 0 } };
    struct ops_attn_desc d = { .B = 1,
                               .NH = 1,
                               .group = 1,
                               .Tq = 4096,
                               .Tk = 4096,
                               .HS = 128,
                               .in_dt = AB_DTYPE_FP32,
                               .out_dt = AB_DTYPE_FP32 };
    assert_int_equal(ops_attn_plan(&a, &d, &err), AB_OK);
    int BQ, BK;
    ops_attn_tiles(a, &BQ, &BK);
    ops_attn_destroy(a);
    for (int g = 0; g < 2; g++) {
        ops_set_generic(g == 1);
        for (int dd = 0; dd < 2; dd++) {
            enum ab_dtype in = dd ? AB_DTYPE_BF16 : AB_DTYPE_FP32;
            gqa_case(in, 2, 4, 2, 3 * 16 + 5, 64, true); /* G = 2, two batches */
            gqa_case(in, 1, 8, 8, 70, 128, false);       /* G = 8 */
            gqa_case(in, 1, 2, 1, 70, 80, true);         /* d = 80 */
        }
    }
    ops_set_generic(false);
    /* the plan's own blocks, crossed: a partial key block after several, a second query block */
    gqa_case(AB_DTYPE_FP32, 1, 1, 1, 3 * BK + 5 > BQ + 1 ? 3 * BK + 5 : BQ + 1, 128, true);
}

/* gpt2's layout with a bf16 cache: fp32 queries, q_fp32, rows of a (B,Tq,3C) buffer; k and v
 * bf16 rows of (B,max_T,C) caches holding Tk < max_T positions; out (B,Tq,C) fp32; the new
 * queries continue the cache (q_pos0 = Tk - Tq > 0, so the causal edge crosses key blocks).
 * The queries are read unrounded: the fp32 tolerance holds, and rounding them to bf16 would not. */
static void fp32_queries_over_a_bf16_cache_case(int B, int NH, int Tq, int Tk, int HS)
{
    int C = NH * HS, maxT = Tk + 7, pos0 = Tk - Tq;
    size_t nq = (size_t)B * Tq * 3 * C, nkv = (size_t)B * maxT * C, no = (size_t)B * Tq * C;
    float *q = xalloc(nq * 4), *out = xalloc(no * 4);
    uint16_t *k = xalloc(nkv * 2), *v = xalloc(nkv * 2);
    double *qw = xalloc(nq * 8), *kw = xalloc(nkv * 8), *vw = xalloc(nkv * 8), *ref = xalloc(no * 8);
    ops_fill_random(q, AB_DTYPE_FP32, qw, nq, seed_base + 40, 1.0f);
    ops_fill_random(k, AB_DTYPE_BF16, kw, nkv, seed_base + 41, 1.0f);
    ops_fill_random(v, AB_DTYPE_BF16, vw, nkv, seed_base + 42, 1.0f);
    struct ops_attn_desc d = { .B = B,
                               .NH = NH,
                               .group = 1,
                               .Tq = Tq,
                               .Tk = Tk,
                               .HS = HS,
                               .causal = true,
                               .in_dt = AB_DTYPE_BF16,
                               .out_dt = AB_DTYPE_FP32,
                               .q_fp32 = true };
    struct ops_attn *a;
    struct ab_error err = { { 0 } };
    if (ops_attn_plan(&a, &d, &err))
        fail_msg("plan: %s", err.msg);
    assert_string_not_equal(ops_attn_impl(a), "avx512_bf16"); /* no bf16 Q.K^T of fp32 queries */
    struct ops_attn_io io = { .q = q,
                              .k = k,
                              .v = v,
                              .out = out,
                              .q_b = (int64_t)Tq * 3 * C,
                              .q_h = HS,
                              .q_t = 3 * C,
                              .kv_b = (int64_t)maxT * C,
                              .kv_h = HS,
                              .kv_t = C,
                              .o_b = (int64_t)Tq * C,
                              .o_h = HS,
                              .o_t = C,
                              .q_pos0 = pos0 };
    ops_attn_exec(a, &io, NULL);
    for (int b = 0; b < B; b++) /* one sequence at a time: the caches' batch stride is max_T rows */
        ops_ref_attention(ref + (size_t)b * Tq * C, qw + (size_t)b * Tq * 3 * C, 3 * C,
                          kw + (size_t)b * maxT * C, vw + (size_t)b * maxT * C, C, 1, NH, Tq, Tk, HS, pos0,
                          true);
    CHECK(out, AB_DTYPE_FP32, ref, no, 2e-5, 1e-4);
    ops_attn_destroy(a);
    free(q), free(k), free(v), free(out), free(qw), free(kw), free(vw), free(ref);
}

static void attention_reads_fp32_queries_over_a_bf16_cache(void **state)
{
    struct ops_attn *a;
    struct ab_error err = { { 0 } };
    assert_int_equal(ops_attn_create(&a, 1, 12, 300, 700, 64, true, AB_DTYPE_FP32, &err), AB_OK);
    int BQ, BK;
    ops_attn_tiles(a, &BQ, &BK);
    ops_attn_destroy(a);
    for (int g = 0; g < 2; g++) {
        ops_set_generic(g == 1);
        fp32_queries_over_a_bf16_cache_case(2, 3, 37, 37 + 21, 64); /* one tile each way */
        fp32_queries_over_a_bf16_cache_case(1, 2, 19, 50, 40);      /* HS not a multiple of 16 */
    }
    ops_set_generic(false);
    /* several query and key blocks, partial ones last, the diagonal inside a key block */
    fp32_queries_over_a_bf16_cache_case(1, 2, BQ + 3, BQ + 3 + 2 * BK + 9, 64);
}

static void attention_rejects_bad_shapes(void **state)
{
    struct ops_attn *a = (struct ops_attn *)1;
    struct ab_error err = { { 0 } };
    assert_int_equal(ops_attn_create(&a, 1, 2, 8, 0, 64, true, AB_DTYPE_FP32, &err), AB_EINVAL);
    assert_null(a);
    assert_non_null(strstr(err.msg, "Tk=0"));
    struct ops_attn_desc d = { .B = 1,
                               .NH = 6,
                               .group = 4,
                               .Tq = 8,
                               .Tk = 8,
                               .HS = 64,
                               .in_dt = AB_DTYPE_FP32,
                               .out_dt = AB_DTYPE_FP32 };
    assert_int_equal(ops_attn_plan(&a, &d, &err), AB_EINVAL); /* 4 does not divide 6 heads */
    assert_non_null(strstr(err.msg, "group=4"));
    d.group = 2, d.in_dt = AB_DTYPE_FP16;
    assert_int_equal(ops_attn_plan(&a, &d, &err), AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "fp16"));
}

/* The polynomial 2^x of the softmax, vector and scalar lanes (an odd count), against exp2 in
 * double: relative error within 3e-7 over the whole normal range; 0 below 2^-126 and at -inf. */
static void attention_exp2_is_within_3e_7_relative(void **state)
{
    enum { N = 200001 };
    float *x = xalloc(N * 4), *y = xalloc(N * 4);
    for (int g = 0; g < 2; g++) {
        ops_set_generic(g == 1);
        for (int i = 0; i < N; i++)
            x[i] = -126.0f + 253.0f * (float)i / (N - 1);
        ops_attn_exp2(y, x, N);
        double worst = 0;
        for (int i = 0; i < N; i++) {
            double r = exp2((double)x[i]), e = fabs(y[i] - r) / r;
            worst = e > worst ? e : worst;
        }
        if (worst > 3e-7)
            fail_msg("%s: exp2 max relative error %.3g", ops_attn_tile_impl(), worst);
        assert_true(worst > 1e-9); /* a polynomial, not libm */
        float lo[9] = { -INFINITY, -1000.0f, -126.5f, -127.0f, -150.0f, -1e30f, -200.0f, -130.0f, -126.01f },
              out[9];
        ops_attn_exp2(out, lo, 9);
        for (int i = 0; i < 9; i++)
            assert_true(out[i] == 0.0f);
    }
    ops_set_generic(false);
    free(x), free(y);
}

/* The kernels follow cpuid: AVX-512F over AVX2 + FMA over the portable loops; ops_set_generic
 * wins; a plan and the tile kernels report the same set. */
static void attention_dispatch_follows_cpuid(void **state)
{
#if defined(__x86_64__)
    assert_string_equal(ops_attn_isa_for(true, true, false), "avx512f");
    assert_string_equal(ops_attn_isa_for(false, true, false), "avx2_fma");
    assert_string_equal(ops_attn_isa_for(false, false, false), "generic");
    assert_string_equal(ops_attn_isa_for(true, true, true), "generic");
    /* VDPBF16PS for Q.K^T: bf16 inputs with whole 16-column groups on AVX-512 BF16 only */
    assert_true(ops_attn_bf16_qk_for(true, AB_DTYPE_BF16, 128, false));
    assert_false(ops_attn_bf16_qk_for(true, AB_DTYPE_FP32, 128, false));
    assert_false(ops_attn_bf16_qk_for(true, AB_DTYPE_BF16, 72, false));
    assert_false(ops_attn_bf16_qk_for(false, AB_DTYPE_BF16, 128, false));
    assert_false(ops_attn_bf16_qk_for(true, AB_DTYPE_BF16, 128, true));
    const char *here =
        ops_attn_isa_for(ab_cpu_has("avx512f"), ab_cpu_has("avx2") && ab_cpu_has("fma"), false);
    struct ops_attn *a;
    struct ab_error err = { { 0 } };
    assert_int_equal(ops_attn_create(&a, 1, 1, 8, 8, 64, false, AB_DTYPE_FP32, &err), AB_OK);
    assert_string_equal(ops_attn_impl(a), here);
    assert_string_equal(ops_attn_tile_impl(), here);
    ops_attn_destroy(a);
    assert_int_equal(ops_attn_create(&a, 1, 1, 8, 8, 64, false, AB_DTYPE_BF16, &err), AB_OK);
    assert_string_equal(ops_attn_impl(a), ab_cpu_has("avx512_bf16") ? "avx512_bf16" : here);
    ops_attn_destroy(a);
    ops_set_generic(true);
    assert_int_equal(ops_attn_create(&a, 1, 1, 8, 8, 64, false, AB_DTYPE_FP32, &err), AB_OK);
    assert_string_equal(ops_attn_impl(a), "generic");
    assert_string_equal(ops_attn_tile_impl(), "generic");
    ops_attn_destroy(a);
    ops_set_generic(false);
#else
    assert_string_equal(ops_attn_isa_for(true, true, false), "generic");
#endif
}

/* Tiles from the L2 size: a thread's S and packed K and V in half of it, BK a multiple of 16,
 * fewer queries per block when the shape has too few blocks for the threads, never past the
 * shape. */
static void attention_tiles_fit_l2_and_feed_every_thread(void **state)
{
    int BQ, BK;
    ops_attn_tile_sizes(512 * 1024, 128, 1, 4096, 4096, 2, &BQ, &BK);
    assert_int_equal(BQ, 256);
    assert_int_equal(BK, 128); /* 65536 floats / (256 + 2 * 128) */
    ops_attn_tile_sizes(512 * 1024, 64, 1, 4096, 4096, 2, &BQ, &BK);
    assert_int_equal(BQ, 256);
    assert_int_equal(BK, 160); /* 65536 / 384 = 170, down to 16s */
    ops_attn_tile_sizes(2 * 1024 * 1024, 64, 1, 4096, 4096, 2, &BQ, &BK);
    assert_int_equal(BK, 512); /* capped */
    for (size_t l2 = 128 * 1024; l2 <= 4096 * 1024; l2 *= 2)
        for (int hs = 64; hs <= 256; hs += 64) {
            ops_attn_tile_sizes(l2, hs, 1, 1 << 14, 1 << 14, 2, &BQ, &BK);
            assert_int_equal(BK % 16, 0);
            size_t bytes = 4 * ((size_t)BQ * BK + (size_t)2 * BK * hs);
            if (BK > 16 && bytes > l2 / 2)
                fail_msg("l2 %zu hs %d: %zu bytes", l2, hs, bytes);
        }
    /* one head of 128 queries: 4 blocks of 32 for 2 threads */
    ops_attn_tile_sizes(512 * 1024, 64, 1, 128, 128, 2, &BQ, &BK);
    assert_int_equal(BQ, 32);
    assert_int_equal(BK, 128); /* no longer than the keys */
    ops_attn_tile_sizes(512 * 1024, 64, 16, 5, 5, 2, &BQ, &BK);
    assert_int_equal(BQ, 5);
    assert_int_equal(BK, 16);
}

/* An in-place plan (A and B read where they lie) for every layout the descriptor can say:
 * transposes, padded leading dimensions, a bias; then FP8-style scales, tensor and outer,
 * applied in fp32 after the product: D = sA[i] sB[j] (A . B)[i,j]. fp32 operands. */
static void matmul_plan_reads_any_layout_and_applies_scales(void **state)
{
    int M = 19, N = 40, K = 33, lda = 48, ldb = 56, ldd = 44;
    size_t big = 64 * 64;
    float *a = xalloc(big * 4), *b = xalloc(big * 4), *d = xalloc((size_t)M * ldd * 4), *bias = xalloc(N * 4);
    float sa[19], sb[40];
    double *aw = xalloc(big * 8), *bw = xalloc(big * 8), *biw = xalloc(N * 8);
    ops_fill_random(a, AB_DTYPE_FP32, aw, big, seed_base + 40, 1.0f);
    ops_fill_random(b, AB_DTYPE_FP32, bw, big, seed_base + 41, 1.0f / sqrtf((float)K));
    ops_fill_random(bias, AB_DTYPE_FP32, biw, N, seed_base + 42, 0.5f);
    for (int i = 0; i < M; i++)
        sa[i] = 0.5f + 0.125f * (float)i;
    for (int j = 0; j < N; j++)
        sb[j] = 2.0f - 0.03125f * (float)j;
    struct ab_error err = { { 0 } };
    for (int v = 0; v < 6; v++) {
        bool ta = v & 1, tb = v & 2, scaled = v >= 4;
        struct ops_mm_desc desc = { .m = M,
                                    .n = N,
                                    .k = K,
                                    .a_dt = AB_DTYPE_FP32,
                                    .b_dt = AB_DTYPE_FP32,
                                    .d_dt = AB_DTYPE_FP32,
                                    .trans_a = ta,
                                    .trans_b = tb,
                                    .lda = lda,
                                    .ldb = ldb,
                                    .ldd = ldd,
                                    .epilogue = scaled ? 0 : OPS_MM_BIAS,
                                    .scale = v == 4   ? OPS_MM_SCALE_TENSOR
                                             : v == 5 ? OPS_MM_SCALE_OUTER
                                                      : OPS_MM_SCALE_NONE };
        assert_true(ops_matmul_supported(&desc));
        struct ops_matmul *mm;
        if (ops_matmul_plan(&mm, &desc, &err))
            fail_msg("plan %d: %s", v, err.msg);
        for (size_t i = 0; i < (size_t)M * ldd; i++)
            d[i] = NAN;
        if (ops_matmul_exec(mm, d, a, b, scaled ? sa : NULL, scaled ? sb : NULL, scaled ? NULL : bias, NULL,
                            &err))
            fail_msg("exec %d: %s", v, err.msg);
        ops_matmul_destroy(mm);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double want = 0;
                for (int k = 0; k < K; k++)
                    want += (ta ? aw[(size_t)k * lda + i] : aw[(size_t)i * lda + k]) *
                            (tb ? bw[(size_t)j * ldb + k] : bw[(size_t)k * ldb + j]);
                if (v == 4)
                    want *= (double)(sa[0] * sb[0]);
                else if (v == 5)
                    want *= (double)(sa[i] * sb[j]);
                else
                    want += biw[j];
                double got = d[(size_t)i * ldd + j];
                if (!(fabs(got - want) <= 2e-5 + 2e-5 * fabs(want)))
                    fail_msg("variant %d: D[%d,%d] = %.9g, want %.9g", v, i, j, got, want);
            }
    }
    free(a), free(b), free(d), free(bias), free(aw), free(bw), free(biw);
}

/* What the CPU builder takes: FP8 and fp16 operands, TF32 and fast accumulation are CUDA's;
 * a packed plan runs by ops_matmul_run after set_weight, an in-place one by exec only; the
 * bf16 probe answers as ops_matmul_bf16_supported. */
static void matmul_plan_refuses_what_the_cpu_cannot_do(void **state)
{
    struct ops_mm_desc f = {
        .m = 8, .n = 16, .k = 16, .a_dt = AB_DTYPE_FP32, .b_dt = AB_DTYPE_FP32, .d_dt = AB_DTYPE_FP32
    };
    struct ops_mm_desc b = f;
    b.a_dt = b.b_dt = AB_DTYPE_BF16;
    assert_int_equal(ops_matmul_supported(&b), ops_matmul_bf16_supported());
    struct ops_matmul *mm = (struct ops_matmul *)1;
    struct ab_error err = { { 0 } };
    if (!ops_matmul_bf16_supported()) {
        assert_int_equal(ops_matmul_plan(&mm, &b, &err), AB_EUNSUPPORTED);
        assert_string_equal(err.msg, OPS_NO_BF16_MATMUL);
        assert_null(mm);
    }
    struct ops_mm_desc d = f;
    d.a_dt = AB_DTYPE_FP8_E4M3, d.b_dt = AB_DTYPE_FP8_E4M3, d.trans_b = true;
    assert_false(ops_matmul_supported(&d));
    assert_int_equal(ops_matmul_plan(&mm, &d, &err), AB_EUNSUPPORTED);
    d = f, d.a_dt = d.b_dt = d.d_dt = AB_DTYPE_FP16;
    assert_int_equal(ops_matmul_plan(&mm, &d, &err), AB_EUNSUPPORTED);
    d = f, d.tf32 = true;
    assert_int_equal(ops_matmul_plan(&mm, &d, &err), AB_EUNSUPPORTED);
    d = f, d.lda = 4;
    assert_false(ops_matmul_supported(&d));
    assert_int_equal(ops_matmul_plan(&mm, &d, &err), AB_EINVAL);
    float x[16 * 16] = { 0 }, y[8 * 16];
    assert_int_equal(ops_matmul_plan(&mm, &f, &err), AB_OK);
    assert_int_equal(ops_matmul_set_weight(mm, x, &err), AB_EINVAL);
    assert_int_equal(ops_matmul_exec(mm, y, x, x, NULL, NULL, NULL, NULL, &err), AB_OK);
    ops_matmul_destroy(mm);
    d = f, d.scale = OPS_MM_SCALE_TENSOR;
    assert_int_equal(ops_matmul_plan(&mm, &d, &err), AB_OK);
    assert_int_equal(ops_matmul_exec(mm, y, x, x, NULL, NULL, NULL, NULL, &err), AB_EINVAL);
    ops_matmul_destroy(mm);
    assert_int_equal(ops_matmul_create(&mm, 8, 16, 16, AB_DTYPE_FP32, 0, &err), AB_OK);
    assert_int_equal(ops_matmul_exec(mm, y, x, x, NULL, NULL, NULL, NULL, &err), AB_EINVAL);
    ops_matmul_destroy(mm);
}

int main(void)
{
    seed_base = (uint64_t)time(NULL);
    printf("# seed %llu\n", (unsigned long long)seed_base);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dtype_names_round_trip),
        cmocka_unit_test(bf16_rounds_to_nearest_even),
        cmocka_unit_test(layernorm_matches_reference),
        cmocka_unit_test(gelu_matches_reference),
        cmocka_unit_test(softmax_rows_sum_to_one_and_match),
        cmocka_unit_test(residual_adds),
        cmocka_unit_test(matmul_matches_reference),
        cmocka_unit_test(matmul_gemv_matches_reference),
        cmocka_unit_test(matmul_of_many_rows_runs_the_avx2_gemm_where_oneDNN_has_only_gemm_jit),
        cmocka_unit_test(matmul_blocks_match_the_whole_run),
        cmocka_unit_test(gemv_avx2_matches_reference_at_every_row_count),
        cmocka_unit_test(gemv_avx2_gelu_holds_at_the_tails),
        cmocka_unit_test(gemv_blocks_split_gpt2_widths_evenly),
        cmocka_unit_test(bf16_matmul_support_is_probed_and_plans_follow_it),
        cmocka_unit_test(matmul_rejects_bad_shapes_and_missing_operands),
        cmocka_unit_test(matmul_plan_reads_any_layout_and_applies_scales),
        cmocka_unit_test(matmul_plan_refuses_what_the_cpu_cannot_do),
        cmocka_unit_test(attention_matches_reference),
        cmocka_unit_test(attention_rejects_bad_shapes),
        cmocka_unit_test(attention_takes_strides_groups_and_output_type),
        cmocka_unit_test(attention_reads_fp32_queries_over_a_bf16_cache),
        cmocka_unit_test(attention_exp2_is_within_3e_7_relative),
        cmocka_unit_test(attention_dispatch_follows_cpuid),
        cmocka_unit_test(attention_tiles_fit_l2_and_feed_every_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
