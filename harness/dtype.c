/* dtype.c — the suite's element types: sizes, names and exact conversions to and from fp32.
 * Not a numerics library: only what the workloads store, round-to-nearest-even throughout.
 * Encoding works on the magnitude in double: with the exponent clamped to the format's
 * smallest normal exponent, a / quantum is exact and nearbyint gives round-to-nearest-even;
 * the code is then ((E - emin) << mbits) + q, which also carries a round-up into the next
 * binade (and from the largest subnormal into the smallest normal) without special cases. */
#include "accelbench.h"

#include <float.h>
#include <math.h>
#include <string.h>

static const char *const names[AB_DTYPE_COUNT] = {
    [AB_DTYPE_FP32] = "fp32", [AB_DTYPE_BF16] = "bf16",         [AB_DTYPE_FP16] = "fp16",
    [AB_DTYPE_TF32] = "tf32", [AB_DTYPE_FP8_E4M3] = "fp8_e4m3", [AB_DTYPE_FP8_E5M2] = "fp8_e5m2",
    [AB_DTYPE_INT8] = "int8",
};

size_t ab_dtype_size(enum ab_dtype t)
{
    switch (t) {
    case AB_DTYPE_FP32:
    case AB_DTYPE_TF32: return 4;
    case AB_DTYPE_BF16:
    case AB_DTYPE_FP16: return 2;
    default: return 1;
    }
}

const char *ab_dtype_name(enum ab_dtype t)
{
    return (unsigned)t < AB_DTYPE_COUNT ? names[t] : "?";
}

bool ab_dtype_parse(const char *name, enum ab_dtype *out)
{
    for (int i = 0; i < AB_DTYPE_COUNT; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (enum ab_dtype)i;
            return true;
        }
    return false;
}

float ab_dtype_max(enum ab_dtype t)
{
    switch (t) {
    case AB_DTYPE_BF16: return ab_bf16_to_f32(0x7f7f);
    case AB_DTYPE_FP16: return AB_FP16_MAX;
    case AB_DTYPE_FP8_E4M3: return AB_FP8_E4M3_MAX;
    case AB_DTYPE_FP8_E5M2: return AB_FP8_E5M2_MAX;
    case AB_DTYPE_INT8: return 127.0f;
    default: return FLT_MAX;
    }
}

/* A small binary float: mantissa bits, exponent bias, largest finite code, NaN code, and
 * whether it overflows to infinity (IEEE fp16) or saturates (fp8). */
struct minifloat {
    int mbits, bias;
    uint32_t max_code, nan_code, inf_code;
    float max;
    bool saturate;
};

static const struct minifloat fp16 = {
    .mbits = 10, .bias = 15, .max_code = 0x7bff, .nan_code = 0x7e00, .inf_code = 0x7c00, .max = AB_FP16_MAX
};
static const struct minifloat e4m3 = {
    .mbits = 3, .bias = 7, .max_code = 0x7e, .nan_code = 0x7f, .max = AB_FP8_E4M3_MAX, .saturate = true
};
static const struct minifloat e5m2 = {
    .mbits = 2, .bias = 15, .max_code = 0x7b, .nan_code = 0x7e, .max = AB_FP8_E5M2_MAX, .saturate = true
};

/* Encode |x| and the sign (at bit `sign_bit`) to the format. */
static uint32_t mini_encode(const struct minifloat *s, float x, int sign_bit)
{
    uint32_t sign = signbit(x) ? 1u << sign_bit : 0;
    if (isnan(x))
        return sign | s->nan_code;
    double a = fabs((double)x);
    if (s->saturate && a >= s->max)
        return sign | s->max_code;
    if (a == 0)
        return sign;
    if (isinf(a))
        return sign | s->inf_code;
    int e2;
    frexp(a, &e2);
    int e = e2 - 1, emin = 1 - s->bias;
    if (e < emin)
        e = emin;
    double q = nearbyint(ldexp(a, s->mbits - e)); /* exact scaling, then ties to even */
    uint32_t code = ((uint32_t)(e - emin) << s->mbits) + (uint32_t)q;
    if (code > s->max_code) /* past the largest finite value after rounding */
        code = s->saturate ? s->max_code : s->inf_code;
    return sign | code;
}

/* Decode a code of the format without its sign bit: subnormals m * 2^(1 - bias - mbits),
 * normals (2^mbits + m) * 2^(e - bias - mbits); products of small exact values. */
static float mini_decode_mag(const struct minifloat *s, uint32_t mag)
{
    uint32_t e = mag >> s->mbits, m = mag & ((1u << s->mbits) - 1);
    if (e == 0)
        return ldexpf((float)m, 1 - s->bias - s->mbits);
    return ldexpf((float)((1u << s->mbits) | m), (int)e - s->bias - s->mbits);
}

uint16_t ab_fp16_from_f32(float x)
{
    return (uint16_t)mini_encode(&fp16, x, 15);
}

float ab_fp16_to_f32(uint16_t h)
{
    uint32_t mag = h & 0x7fffu;
    float v = mag >= 0x7c00u ? (mag == 0x7c00u ? INFINITY : NAN) : mini_decode_mag(&fp16, mag);
    return (h & 0x8000u) ? -v : v;
}

uint8_t ab_fp8_from_f32(enum ab_dtype t, float x)
{
    return (uint8_t)mini_encode(t == AB_DTYPE_FP8_E5M2 ? &e5m2 : &e4m3, x, 7);
}

float ab_fp8_to_f32(enum ab_dtype t, uint8_t code)
{
    uint32_t mag = code & 0x7fu;
    float v;
    if (t == AB_DTYPE_FP8_E5M2 && mag >= 0x7cu)
        v = mag == 0x7cu ? INFINITY : NAN;
    else if (t != AB_DTYPE_FP8_E5M2 && mag == 0x7fu)
        return NAN; /* E4M3FN: S.1111.111 */
    else
        v = mini_decode_mag(t == AB_DTYPE_FP8_E5M2 ? &e5m2 : &e4m3, mag);
    return (code & 0x80u) ? -v : v;
}

static int8_t int8_from_f32(float x)
{
    if (isnan(x))
        return 0;
    float r = nearbyintf(x);
    return (int8_t)(r > 127.0f ? 127 : r < -128.0f ? -128 : r);
}

void ab_dtype_from_f32(enum ab_dtype t, void *dst, const float *src, size_t n)
{
    switch (t) {
    case AB_DTYPE_FP32:
    case AB_DTYPE_TF32: memmove(dst, src, n * sizeof *src); break;
    case AB_DTYPE_BF16: {
        uint16_t *d = dst;
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            d[i] = ab_bf16_from_f32(src[i]);
        break;
    }
    case AB_DTYPE_FP16: {
        uint16_t *d = dst;
        for (size_t i = 0; i < n; i++)
            d[i] = ab_fp16_from_f32(src[i]);
        break;
    }
    case AB_DTYPE_FP8_E4M3:
    case AB_DTYPE_FP8_E5M2: {
        uint8_t *d = dst;
        for (size_t i = 0; i < n; i++)
            d[i] = ab_fp8_from_f32(t, src[i]);
        break;
    }
    default: {
        int8_t *d = dst;
        for (size_t i = 0; i < n; i++)
            d[i] = int8_from_f32(src[i]);
        break;
    }
    }
}

void ab_dtype_to_f32(enum ab_dtype t, float *dst, const void *src, size_t n)
{
    switch (t) {
    case AB_DTYPE_FP32:
    case AB_DTYPE_TF32: memmove(dst, src, n * sizeof *dst); break;
    case AB_DTYPE_BF16: {
        const uint16_t *s = src;
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            dst[i] = ab_bf16_to_f32(s[i]);
        break;
    }
    case AB_DTYPE_FP16: {
        const uint16_t *s = src;
        for (size_t i = 0; i < n; i++)
            dst[i] = ab_fp16_to_f32(s[i]);
        break;
    }
    case AB_DTYPE_FP8_E4M3:
    case AB_DTYPE_FP8_E5M2: {
        const uint8_t *s = src;
        for (size_t i = 0; i < n; i++)
            dst[i] = ab_fp8_to_f32(t, s[i]);
        break;
    }
    default: {
        const int8_t *s = src;
        for (size_t i = 0; i < n; i++)
            dst[i] = (float)s[i];
        break;
    }
    }
}

double ab_dtype_get(enum ab_dtype t, const void *x, size_t i)
{
    switch (t) {
    case AB_DTYPE_FP32:
    case AB_DTYPE_TF32: return ((const float *)x)[i];
    case AB_DTYPE_BF16: return ab_bf16_to_f32(((const uint16_t *)x)[i]);
    case AB_DTYPE_FP16: return ab_fp16_to_f32(((const uint16_t *)x)[i]);
    case AB_DTYPE_FP8_E4M3:
    case AB_DTYPE_FP8_E5M2: return ab_fp8_to_f32(t, ((const uint8_t *)x)[i]);
    default: return ((const int8_t *)x)[i];
    }
}
