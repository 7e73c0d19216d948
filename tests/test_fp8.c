/* test_fp8.c — exact FP8 conversion (every code, both directions, ties, subnormals,
 * saturation, NaN) and the per-tensor / per-row / per-column scales. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "fp8_gemm/fp8.h"

/* The formats written out independently of fp8.c: sign, exponent field, mantissa field. */
static double spec_value(enum ab_dtype f, int code)
{
    int mbits = f == AB_DTYPE_FP8_E4M3 ? 3 : 2, bias = f == AB_DTYPE_FP8_E4M3 ? 7 : 15;
    int e = (code & 0x7f) >> mbits, m = code & ((1 << mbits) - 1);
    double v = e == 0 ? m * pow(2, 1 - bias - mbits) : (1 + m / pow(2, mbits)) * pow(2, e - bias);
    return code & 0x80 ? -v : v;
}

static bool spec_is_nan(enum ab_dtype f, int code)
{
    int c = code & 0x7f;
    return f == AB_DTYPE_FP8_E4M3 ? c == 0x7f : c > 0x7c;
}

static void e4m3_decodes_every_code_as_the_format_defines(void **state)
{
    for (int c = 0; c < 256; c++) {
        float v = ab_fp8_to_f32(AB_DTYPE_FP8_E4M3, (uint8_t)c);
        if (spec_is_nan(AB_DTYPE_FP8_E4M3, c))
            assert_true(isnan(v));
        else
            assert_true((double)v == spec_value(AB_DTYPE_FP8_E4M3, c));
    }
    assert_true(ab_fp8_to_f32(AB_DTYPE_FP8_E4M3, 0x7e) == 448.0f);
    assert_true(ab_fp8_to_f32(AB_DTYPE_FP8_E4M3, 0x08) == ldexpf(1, -6));
    assert_true(ab_fp8_to_f32(AB_DTYPE_FP8_E4M3, 0x01) == ldexpf(1, -9));
    assert_true(ab_fp8_to_f32(AB_DTYPE_FP8_E4M3, 0x38) == 1.0f);
}

static void e5m2_decodes_every_code_as_the_format_defines(void **state)
{
    for (int c = 0; c < 256; c++) {
        float v = ab_fp8_to_f32(AB_DTYPE_FP8_E5M2, (uint8_t)c);
        if ((c & 0x7f) == 0x7c)
            assert_true(isinf(v) && (c & 0x80 ? v < 0 : v > 0));
        else if (spec_is_nan(AB_DTYPE_FP8_E5M2, c))
            assert_true(isnan(v));
        else
            assert_true((double)v == spec_value(AB_DTYPE_FP8_E5M2, c));
    }
    assert_true(ab_fp8_to_f32(AB_DTYPE_FP8_E5M2, 0x7b) == 57344.0f);
    assert_true(ab_fp8_to_f32(AB_DTYPE_FP8_E5M2, 0x01) == ldexpf(1, -16));
    assert_true(ab_fp8_to_f32(AB_DTYPE_FP8_E5M2, 0x3c) == 1.0f);
}

static void encoding_a_decoded_code_gives_the_code_back(void **state)
{
    for (int f = 0; f < 2; f++)
        for (int c = 0; c < 256; c++) {
            float v = ab_fp8_to_f32((enum ab_dtype)f, (uint8_t)c);
            if (isnan(v) || isinf(v))
                continue;
            assert_int_equal(ab_fp8_from_f32((enum ab_dtype)f, v), c);
        }
}

/* Between every pair of neighbouring finite values: the midpoint goes to the even code, and
 * the floats just either side of it go to the nearer value. */
static void ties_round_to_even_and_the_rest_to_nearest(void **state)
{
    for (int f = 0; f < 2; f++) {
        enum ab_dtype fmt = (enum ab_dtype)f;
        int max_code = f == AB_DTYPE_FP8_E4M3 ? 0x7e : 0x7b;
        for (int c = 0; c < max_code; c++)
            for (int sgn = 0; sgn < 2; sgn++) {
                float lo = ab_fp8_to_f32(fmt, (uint8_t)c), hi = ab_fp8_to_f32(fmt, (uint8_t)(c + 1));
                float mid = (lo + hi) / 2; /* exact: few significant bits */
                int s = sgn ? 0x80 : 0;
                float k = sgn ? -1.0f : 1.0f;
                int even = (c & 1) ? c + 1 : c;
                assert_int_equal(ab_fp8_from_f32(fmt, k * mid), s | even);
                assert_int_equal(ab_fp8_from_f32(fmt, k * nextafterf(mid, 0)), s | c);
                assert_int_equal(ab_fp8_from_f32(fmt, k * nextafterf(mid, INFINITY)), s | (c + 1));
            }
    }
}

static void subnormals_round_and_underflow_to_signed_zero(void **state)
{
    /* E4M3: the smallest subnormal is 2^-9; half of it is a tie with zero (even). */
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E4M3, ldexpf(1, -9)), 0x01);
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E4M3, ldexpf(1, -10)), 0x00);
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E4M3, nextafterf(ldexpf(1, -10), 1)), 0x01);
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E4M3, -ldexpf(1, -12)), 0x80);
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E4M3, 1.5f * ldexpf(1, -9)), 0x02);
    /* The largest subnormal rounds up into the smallest normal. */
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E4M3, 7.75f * ldexpf(1, -9)), 0x08);
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E5M2, ldexpf(1, -16)), 0x01);
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E5M2, ldexpf(1, -17)), 0x00);
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E5M2, 3.5f * ldexpf(1, -16)), 0x04);
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E5M2, 0.0f), 0x00);
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E5M2, -0.0f), 0x80);
}

static void overflow_saturates_to_the_largest_finite_value(void **state)
{
    const float e4[] = { 448, 464, 479.9f, 480, 1e6f, 3.4e38f, INFINITY };
    for (size_t i = 0; i < sizeof e4 / sizeof e4[0]; i++) {
        assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E4M3, e4[i]), 0x7e);
        assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E4M3, -e4[i]), 0xfe);
    }
    const float e5[] = { 57344, 61440, 65536, 1e9f, INFINITY };
    for (size_t i = 0; i < sizeof e5 / sizeof e5[0]; i++) {
        assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E5M2, e5[i]), 0x7b);
        assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E5M2, -e5[i]), 0xfb);
    }
    /* Just under the largest value still rounds to it, not past it. */
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E4M3, 440), 0x7e);
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E4M3, 431), 0x7d);
}

static void nan_stays_nan(void **state)
{
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E4M3, NAN), 0x7f);
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E4M3, -NAN), 0xff);
    assert_int_equal(ab_fp8_from_f32(AB_DTYPE_FP8_E5M2, NAN), 0x7e);
    assert_true(isnan(ab_fp8_to_f32(AB_DTYPE_FP8_E4M3, ab_fp8_from_f32(AB_DTYPE_FP8_E4M3, NAN))));
    assert_true(isnan(ab_fp8_to_f32(AB_DTYPE_FP8_E5M2, ab_fp8_from_f32(AB_DTYPE_FP8_E5M2, -NAN))));
}

static void every_fp8_value_is_exact_in_bf16(void **state)
{
    for (int f = 0; f < 2; f++)
        for (int c = 0; c < 256; c++) {
            float v = ab_fp8_to_f32((enum ab_dtype)f, (uint8_t)c);
            if (isnan(v))
                continue;
            assert_true(ab_bf16_to_f32(ab_bf16_from_f32(v)) == v);
        }
    /* And BF16 itself rounds to nearest even: 1 + 2^-8 is a tie between 1 and 1 + 2^-7. */
    assert_true(ab_bf16_to_f32(ab_bf16_from_f32(1.0f + ldexpf(1, -8))) == 1.0f);
    assert_true(ab_bf16_to_f32(ab_bf16_from_f32(1.0f + 3 * ldexpf(1, -8))) == 1.0f + ldexpf(1, -6));
}

static void tensor_scale_maps_the_amax_to_the_format_max(void **state)
{
    /* 2 x 3 inside a leading dimension of 4 (the padding must be ignored). */
    const float x[] = { 1, -7, 2, 1000, 0.5f, 3, -4, 1000 };
    assert_true(fp8_scale_tensor(AB_DTYPE_FP8_E4M3, x, 2, 3, 4) == 7.0f / 448.0f);
    assert_true(fp8_scale_tensor(AB_DTYPE_FP8_E5M2, x, 2, 3, 4) == 7.0f / 57344.0f);
    const float z[] = { 0, 0, 0 };
    assert_true(fp8_scale_tensor(AB_DTYPE_FP8_E4M3, z, 1, 3, 3) == 1.0f);
}

static void row_and_column_scales_follow_each_amax(void **state)
{
    const float x[] = { 1, -7, 2, 1000, 0.5f, 3, -4, 1000, 0, 0, 0, 1000 };
    float rs[3], cs[3];
    fp8_scale_rows(AB_DTYPE_FP8_E4M3, x, 3, 3, 4, rs);
    assert_true(rs[0] == 7.0f / 448.0f);
    assert_true(rs[1] == 4.0f / 448.0f);
    assert_true(rs[2] == 1.0f); /* an all-zero row keeps scale 1 */
    fp8_scale_cols(AB_DTYPE_FP8_E4M3, x, 3, 3, 4, cs);
    assert_true(cs[0] == 1.0f / 448.0f);
    assert_true(cs[1] == 7.0f / 448.0f);
    assert_true(cs[2] == 4.0f / 448.0f);
    /* Quantized with its row scales, each row's amax lands on ±448. */
    uint8_t q[9];
    fp8_quantize(AB_DTYPE_FP8_E4M3, x, 3, 3, 4, 1.0f, rs, NULL, q);
    assert_int_equal(q[1], 0xfe);
    assert_int_equal(q[5], 0xfe);
    assert_int_equal(q[6], 0x00);
    assert_true(ab_fp8_to_f32(AB_DTYPE_FP8_E4M3, q[0]) * rs[0] == 1.0f); /* 64 · 7/448 */
    fp8_quantize(AB_DTYPE_FP8_E4M3, x, 3, 3, 4, 1.0f, NULL, cs, q);
    assert_int_equal(q[0], 0x7e);
    assert_int_equal(q[1], 0xfe);
    assert_int_equal(q[5], 0xfe);
    /* One tensor scale: 1000 in the padding is not read. */
    fp8_quantize(AB_DTYPE_FP8_E4M3, x, 3, 3, 4, 7.0f / 448.0f, NULL, NULL, q);
    assert_int_equal(q[1], 0xfe);
    assert_true(ab_fp8_to_f32(AB_DTYPE_FP8_E4M3, q[5]) == -256.0f); /* -4 / (7/448) = -256 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(e4m3_decodes_every_code_as_the_format_defines),
        cmocka_unit_test(e5m2_decodes_every_code_as_the_format_defines),
        cmocka_unit_test(encoding_a_decoded_code_gives_the_code_back),
        cmocka_unit_test(ties_round_to_even_and_the_rest_to_nearest),
        cmocka_unit_test(subnormals_round_and_underflow_to_signed_zero),
        cmocka_unit_test(overflow_saturates_to_the_largest_finite_value),
        cmocka_unit_test(nan_stays_nan),
        cmocka_unit_test(every_fp8_value_is_exact_in_bf16),
        cmocka_unit_test(tensor_scale_maps_the_amax_to_the_format_max),
        cmocka_unit_test(row_and_column_scales_follow_each_amax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
