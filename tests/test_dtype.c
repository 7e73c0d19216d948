/* test_dtype.c — the harness's element types: names and sizes, every FP8 and fp16 code both
 * ways, round-to-nearest-even ties, subnormals, saturation and NaN; bf16 and fp16 against
 * the implementations the workloads carried before (kept below as the reference). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "accelbench.h"

/* ------------------------------------------------------------ the former implementations */

static uint16_t old_bf16_from_f32(float f) /* ops.c, attention_memory.c, fp8.c */
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float old_f16_to_f32(uint16_t h) /* gpt2/safetensors.c */
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (ex == 0x1f)
        u = sign | 0x7f800000u | (man << 13);
    else if (ex == 0) {
        float f = ldexpf((float)man, -24);
        return sign ? -f : f;
    } else
        u = sign | ((ex + 112) << 23) | (man << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint16_t old_f32_to_f16(float f) /* attention_memory.c */
{
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    float a = fabsf(f);
    if (isnan(f))
        return 0x7e00;
    if (a >= 65520.0f)
        return sign | 0x7c00;
    if (a < ldexpf(1.0f, -14))
        return sign | (uint16_t)rintf(a * 16777216.0f);
    int e;
    float m = frexpf(a, &e);
    uint32_t mant = (uint32_t)rintf(m * 2048.0f);
    if (mant == 2048) {
        mant = 1024;
        e++;
    }
    if (e + 14 >= 31)
        return sign | 0x7c00;
    return sign | (uint16_t)((uint32_t)(e + 14) << 10) | (uint16_t)(mant & 0x3ff);
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Random floats over every exponent, plus the edges: zeros, the smallest and largest normals
 * and subnormals of fp32, fp16 and bf16, the halfway points, infinities and NaNs. */
static float sample(struct ab_rng *r, int i)
{
    static const uint32_t edges[] = {
        0x00000000, 0x80000000, 0x00000001, 0x007fffff, 0x00800000, 0x7f7fffff, 0xff7fffff,
        0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x3f808000, 0x3f818000,
        0x3f80ffff, 0x3f7fffff, 0x477fe000, 0x477ff000, 0x477fefff, 0x33800000, 0x33000000,
        0x33000001, 0x38800000, 0x387fc000, 0x387fe000, 0x7f7f8000, 0x7f7f7fff,
    };
    int ne = (int)(sizeof edges / sizeof edges[0]);
    if (i < ne)
        return bits_f32(edges[i]);
    return bits_f32((uint32_t)ab_rng_next(r));
}

/* ------------------------------------------------------------ names and sizes */

static void names_parse_back_to_their_dtype_and_sizes_follow_storage(void **state)
{
    (void)state;
    static const char *const want[] = { "fp32", "bf16", "fp16", "tf32", "fp8_e4m3", "fp8_e5m2", "int8" };
    static const size_t size[] = { 4, 2, 2, 4, 1, 1, 1 };
    for (int i = 0; i < AB_DTYPE_COUNT; i++) {
        enum ab_dtype t;
        assert_string_equal(ab_dtype_name((enum ab_dtype)i), want[i]);
        assert_true(ab_dtype_parse(want[i], &t));
        assert_int_equal(t, i);
        assert_int_equal(ab_dtype_size(t), size[i]);
    }
    enum ab_dtype t;
    assert_false(ab_dtype_parse("fp8", &t));
    assert_false(ab_dtype_parse("FP32", &t));
    assert_false(ab_dtype_parse("", &t));
    assert_string_equal(ab_dtype_name(AB_DTYPE_COUNT), "?");
    assert_true(ab_dtype_max(AB_DTYPE_FP8_E4M3) == 448.0f);
    assert_true(ab_dtype_max(AB_DTYPE_FP8_E5M2) == 57344.0f);
    assert_true(ab_dtype_max(AB_DTYPE_FP16) == 65504.0f);
    assert_true(ab_dtype_max(AB_DTYPE_BF16) == bits_f32(0x7f7f0000));
}

/* ------------------------------------------------------------ bf16 */

static void bf16_matches_the_former_rounding_on_random_and_edge_values(void **state)
{
    (void)state;
    struct ab_rng r;
    ab_rng_seed(&r, 15);
    for (int i = 0; i < 2000000; i++) {
        float x = sample(&r, i);
        uint16_t got = ab_bf16_from_f32(x), want = old_bf16_from_f32(x);
        if (got != want)
            fail_msg("bf16(%a) = %#x, former %#x", (double)x, got, want);
    }
}

static void bf16_ties_round_to_even_and_nan_stays_nan(void **state)
{
    (void)state;
    assert_int_equal(ab_bf16_from_f32(bits_f32(0x3f808000)), 0x3f80); /* tie, even below */
    assert_int_equal(ab_bf16_from_f32(bits_f32(0x3f818000)), 0x3f82); /* tie, even above */
    assert_int_equal(ab_bf16_from_f32(bits_f32(0x3f808001)), 0x3f81);
    assert_int_equal(ab_bf16_from_f32(bits_f32(0x7f7fffff)), 0x7f80); /* overflows to inf */
    assert_int_equal(ab_bf16_from_f32(bits_f32(0x00000001)), 0x0000);
    assert_true(isnan(ab_bf16_to_f32(ab_bf16_from_f32(bits_f32(0x7f800001)))));
    assert_int_equal(ab_bf16_from_f32(-NAN) & 0x8000, 0x8000);
    for (uint32_t h = 0; h < 0x10000; h++) {
        float x = ab_bf16_to_f32((uint16_t)h);
        if (isnan(x))
            assert_true((ab_bf16_from_f32(x) & 0x7f80) == 0x7f80 && (ab_bf16_from_f32(x) & 0x7f));
        else
            assert_int_equal(ab_bf16_from_f32(x), h);
    }
}

/* ------------------------------------------------------------ fp16 */

static void fp16_decodes_every_code_as_the_former_loader_did(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float got = ab_fp16_to_f32((uint16_t)h), want = old_f16_to_f32((uint16_t)h);
        if (isnan(want))
            assert_true(isnan(got));
        else
            assert_true(memcmp(&got, &want, 4) == 0);
        if (!isnan(got))
            assert_int_equal(ab_fp16_from_f32(got), h); /* every code round-trips */
    }
}

static void fp16_matches_the_former_rounding_on_random_and_edge_values(void **state)
{
    (void)state;
    struct ab_rng r;
    ab_rng_seed(&r, 16);
    for (int i = 0; i < 2000000; i++) {
        float x = sample(&r, i);
        uint16_t got = ab_fp16_from_f32(x), want = old_f32_to_f16(x);
        if (isnan(x)) { /* the former code dropped the sign of a NaN */
            assert_int_equal(got & 0x7fff, 0x7e00);
            continue;
        }
        if (got != want)
            fail_msg("fp16(%a) = %#x, former %#x", (double)x, got, want);
    }
}

static void fp16_ties_subnormals_and_overflow(void **state)
{
    (void)state;
    assert_int_equal(ab_fp16_from_f32(1.0f + ldexpf(1, -11)), 0x3c00);              /* tie to even */
    assert_int_equal(ab_fp16_from_f32(1.0f + 3 * ldexpf(1, -11)), 0x3c02);          /* tie to even */
    assert_int_equal(ab_fp16_from_f32(ldexpf(1, -24)), 0x0001);                     /* smallest subnormal */
    assert_int_equal(ab_fp16_from_f32(ldexpf(1, -25)), 0x0000);                     /* tie to zero */
    assert_int_equal(ab_fp16_from_f32(ldexpf(3, -25)), 0x0002);                     /* 1.5 ulp: to even */
    assert_int_equal(ab_fp16_from_f32(ldexpf(1023, -24) + ldexpf(1, -25)), 0x0400); /* to normal */
    assert_int_equal(ab_fp16_from_f32(65504.0f), 0x7bff);
    assert_int_equal(ab_fp16_from_f32(65519.0f), 0x7bff);
    assert_int_equal(ab_fp16_from_f32(65520.0f), 0x7c00); /* the tie past the max: inf */
    assert_int_equal(ab_fp16_from_f32(-INFINITY), 0xfc00);
    assert_true(isinf(ab_fp16_to_f32(0x7c00)) && isnan(ab_fp16_to_f32(0x7e00)));
}

/* ------------------------------------------------------------ fp8 */

static double fp8_spec(enum ab_dtype t, int code)
{
    int mbits = t == AB_DTYPE_FP8_E4M3 ? 3 : 2, bias = t == AB_DTYPE_FP8_E4M3 ? 7 : 15;
    int e = (code & 0x7f) >> mbits, m = code & ((1 << mbits) - 1);
    double v = e == 0 ? m * pow(2, 1 - bias - mbits) : (1 + m / pow(2, mbits)) * pow(2, e - bias);
    return code & 0x80 ? -v : v;
}

static void every_fp8_code_decodes_as_specified_and_round_trips(void **state)
{
    (void)state;
    for (int f = 0; f < 2; f++) {
        enum ab_dtype t = f ? AB_DTYPE_FP8_E5M2 : AB_DTYPE_FP8_E4M3;
        for (int c = 0; c < 256; c++) {
            float v = ab_fp8_to_f32(t, (uint8_t)c);
            int mag = c & 0x7f;
            bool nan = t == AB_DTYPE_FP8_E4M3 ? mag == 0x7f : mag > 0x7c;
            if (nan) {
                assert_true(isnan(v));
                assert_true(isnan(ab_fp8_to_f32(t, ab_fp8_from_f32(t, v))));
            } else if (t == AB_DTYPE_FP8_E5M2 && mag == 0x7c) {
                assert_true(isinf(v));
                assert_int_equal(ab_fp8_from_f32(t, v), (c & 0x80) | 0x7b); /* saturates */
            } else {
                assert_true((double)v == fp8_spec(t, c));
                assert_int_equal(ab_fp8_from_f32(t, v), c);
            }
        }
    }
}

static void fp8_rounds_ties_to_even_saturates_and_keeps_nan(void **state)
{
    (void)state;
    const enum ab_dtype e4 = AB_DTYPE_FP8_E4M3, e5 = AB_DTYPE_FP8_E5M2;
    /* 1 + 1/16 lies half-way between 1 (0x38) and 1.125 (0x39): even is 0x38. */
    assert_int_equal(ab_fp8_from_f32(e4, 1.0625f), 0x38);
    assert_int_equal(ab_fp8_from_f32(e4, 1.1875f), 0x3a);
    assert_int_equal(ab_fp8_from_f32(e5, 1.125f), 0x3c);
    assert_int_equal(ab_fp8_from_f32(e5, 1.375f), 0x3e);
    /* Subnormals: multiples of 2^-9 (E4M3) and 2^-16 (E5M2); ties to even there too. */
    assert_int_equal(ab_fp8_from_f32(e4, ldexpf(1, -10)), 0x00);
    assert_int_equal(ab_fp8_from_f32(e4, ldexpf(3, -10)), 0x02);
    assert_int_equal(ab_fp8_from_f32(e4, ldexpf(15, -10)), 0x08); /* up into the normals */
    assert_int_equal(ab_fp8_from_f32(e5, ldexpf(1, -17)), 0x00);
    assert_int_equal(ab_fp8_from_f32(e5, -ldexpf(3, -17)), 0x82);
    /* Saturation to the largest finite value, infinities included. */
    assert_int_equal(ab_fp8_from_f32(e4, 464.0f), 0x7e);
    assert_int_equal(ab_fp8_from_f32(e4, 1e30f), 0x7e);
    assert_int_equal(ab_fp8_from_f32(e4, -INFINITY), 0xfe);
    assert_int_equal(ab_fp8_from_f32(e5, 61440.0f), 0x7b);
    assert_int_equal(ab_fp8_from_f32(e5, INFINITY), 0x7b);
    assert_int_equal(ab_fp8_from_f32(e4, NAN), 0x7f);
    assert_int_equal(ab_fp8_from_f32(e4, -NAN), 0xff);
    assert_int_equal(ab_fp8_from_f32(e5, NAN), 0x7e);
    assert_int_equal(ab_fp8_from_f32(e4, -0.0f), 0x80);
}

static void fp8_encoding_is_nearest_on_random_values(void **state)
{
    (void)state;
    struct ab_rng r;
    ab_rng_seed(&r, 8);
    for (int f = 0; f < 2; f++) {
        enum ab_dtype t = f ? AB_DTYPE_FP8_E5M2 : AB_DTYPE_FP8_E4M3;
        for (int i = 0; i < 50000; i++) {
            float x = (float)(ab_rng_normal(&r) * ldexp(1, (int)(ab_rng_uniform(&r) * 40) - 20));
            if (fabsf(x) >= ab_dtype_max(t))
                continue;
            double got = ab_fp8_to_f32(t, ab_fp8_from_f32(t, x));
            for (int c = 0; c < 256; c++) { /* no finite code is nearer */
                float v = ab_fp8_to_f32(t, (uint8_t)c);
                if (isfinite(v))
                    assert_true(fabs((double)v - x) >= fabs(got - x));
            }
        }
    }
}

/* ------------------------------------------------------------ bulk forms */

static void bulk_forms_agree_with_the_scalar_ones(void **state)
{
    (void)state;
    enum { N = 4096 };
    static float src[N], back[N];
    static uint8_t buf[N * 4];
    struct ab_rng r;
    ab_rng_seed(&r, 3);
    for (int i = 0; i < N; i++)
        src[i] = (float)(ab_rng_normal(&r) * 100);
    src[0] = 1e6f;
    src[1] = -1e6f;
    src[2] = 126.5f;
    src[3] = -127.5f;
    for (int t = 0; t < AB_DTYPE_COUNT; t++) {
        ab_dtype_from_f32((enum ab_dtype)t, buf, src, N);
        ab_dtype_to_f32((enum ab_dtype)t, back, buf, N);
        for (int i = 0; i < N; i++) {
            float want;
            switch (t) {
            case AB_DTYPE_BF16: want = ab_bf16_to_f32(ab_bf16_from_f32(src[i])); break;
            case AB_DTYPE_FP16: want = ab_fp16_to_f32(ab_fp16_from_f32(src[i])); break;
            case AB_DTYPE_FP8_E4M3:
            case AB_DTYPE_FP8_E5M2:
                want = ab_fp8_to_f32((enum ab_dtype)t, ab_fp8_from_f32((enum ab_dtype)t, src[i]));
                break;
            case AB_DTYPE_INT8: want = fminf(fmaxf(nearbyintf(src[i]), -128), 127); break;
            default: want = src[i]; break;
            }
            assert_true(back[i] == want);
            assert_true(ab_dtype_get((enum ab_dtype)t, buf, (size_t)i) == (double)want);
        }
    }
    int8_t q[2];
    ab_dtype_from_f32(AB_DTYPE_INT8, q, (const float[]){ 126.5f, -127.5f }, 2);
    assert_int_equal(q[0], 126);
    assert_int_equal(q[1], -128);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_parse_back_to_their_dtype_and_sizes_follow_storage),
        cmocka_unit_test(bf16_matches_the_former_rounding_on_random_and_edge_values),
        cmocka_unit_test(bf16_ties_round_to_even_and_nan_stays_nan),
        cmocka_unit_test(fp16_decodes_every_code_as_the_former_loader_did),
        cmocka_unit_test(fp16_matches_the_former_rounding_on_random_and_edge_values),
        cmocka_unit_test(fp16_ties_subnormals_and_overflow),
        cmocka_unit_test(every_fp8_code_decodes_as_specified_and_round_trips),
        cmocka_unit_test(fp8_rounds_ties_to_even_saturates_and_keeps_nan),
        cmocka_unit_test(fp8_encoding_is_nearest_on_random_values),
        cmocka_unit_test(bulk_forms_agree_with_the_scalar_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
