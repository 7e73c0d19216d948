/* fp8.c — exact FP8 conversion and scaling (see fp8.h).
 * Encoding works on the magnitude in double: with the exponent clamped to the format's
 * smallest normal exponent, a / quantum is exact and nearbyint gives round-to-nearest-even;
 * the code is then ((E - emin) << mbits) + q, which also carries a round-up into the next
 * binade (and from the largest subnormal into the smallest normal) without special cases. */
#include "fp8.h"

#include <math.h>
#include <string.h>

struct fp8_spec {
    int mbits, bias;
    float max;
    uint8_t max_code, nan_code;
};

static const struct fp8_spec specs[2] = {
    [FP8_E4M3] = { .mbits = 3, .bias = 7, .max = FP8_E4M3_MAX, .max_code = 0x7e, .nan_code = FP8_E4M3_NAN },
    [FP8_E5M2] = { .mbits = 2, .bias = 15, .max = FP8_E5M2_MAX, .max_code = 0x7b, .nan_code = FP8_E5M2_NAN },
};

float fp8_max(enum fp8_format f)
{
    return specs[f].max;
}

float fp8_to_f32(enum fp8_format f, uint8_t code)
{
    const struct fp8_spec *s = &specs[f];
    uint32_t sign = (uint32_t)(code >> 7) << 31, mmask = (1u << s->mbits) - 1;
    uint32_t e = (uint32_t)(code & 0x7f) >> s->mbits, m = code & mmask;
    uint32_t emax_field = f == FP8_E4M3 ? 15 : 31;
    float v;
    if (f == FP8_E4M3 && e == emax_field && m == mmask)
        return NAN;
    if (f == FP8_E5M2 && e == emax_field) {
        v = m == 0 ? INFINITY : NAN;
        return sign ? -v : v;
    }
    uint32_t bits;
    if (e == 0) {
        /* Subnormal: m · 2^(1 - bias - mbits), a product of small exact values. */
        v = (float)m * ldexpf(1.0f, 1 - s->bias - s->mbits);
        memcpy(&bits, &v, sizeof bits);
        bits |= sign;
    } else {
        /* Normal: rebias the exponent and move the mantissa to the top of FP32's. */
        bits = sign | (e - (uint32_t)s->bias + 127u) << 23 | m << (23 - s->mbits);
    }
    memcpy(&v, &bits, sizeof v);
    return v;
}

uint8_t fp8_from_f32(enum fp8_format f, float x)
{
    const struct fp8_spec *s = &specs[f];
    uint8_t sign = signbit(x) ? 0x80 : 0;
    if (isnan(x))
        return sign | s->nan_code;
    double a = fabs((double)x);
    if (a >= s->max)
        return sign | s->max_code;
    if (a == 0)
        return sign;
    int e2;
    frexp(a, &e2);
    int e = e2 - 1, emin = 1 - s->bias;
    if (e < emin)
        e = emin;
    double q = nearbyint(ldexp(a, s->mbits - e)); /* exact scaling, then ties to even */
    unsigned code = ((unsigned)(e - emin) << s->mbits) + (unsigned)q;
    if (code > s->max_code)
        code = s->max_code;
    return sign | (uint8_t)code;
}

static float amax_to_scale(enum fp8_format f, float amax)
{
    if (!(amax > 0) || !isfinite(amax))
        return 1.0f;
    return amax / fp8_max(f);
}

float fp8_scale_tensor(enum fp8_format f, const float *x, size_t rows, size_t cols, size_t ld)
{
    float amax = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            amax = fmaxf(amax, fabsf(x[r * ld + c]));
    return amax_to_scale(f, amax);
}

void fp8_scale_rows(enum fp8_format f, const float *x, size_t rows, size_t cols, size_t ld, float *scales)
{
    for (size_t r = 0; r < rows; r++) {
        float amax = 0;
        for (size_t c = 0; c < cols; c++)
            amax = fmaxf(amax, fabsf(x[r * ld + c]));
        scales[r] = amax_to_scale(f, amax);
    }
}

void fp8_scale_cols(enum fp8_format f, const float *x, size_t rows, size_t cols, size_t ld, float *scales)
{
    /* Row by row, so that the reads stay sequential; scales holds the running amax. */
    memset(scales, 0, cols * sizeof *scales);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            scales[c] = fmaxf(scales[c], fabsf(x[r * ld + c]));
    for (size_t c = 0; c < cols; c++)
        scales[c] = amax_to_scale(f, scales[c]);
}

void fp8_quantize(enum fp8_format f, const float *x, size_t rows, size_t cols, size_t ld, float scale,
                  const float *row_scales, const float *col_scales, uint8_t *q)
{
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            float s = row_scales ? row_scales[r] : col_scales ? col_scales[c] : scale;
            q[r * cols + c] = fp8_from_f32(f, x[r * ld + c] / s);
        }
}

uint16_t fp8_bf16_from_f32(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    if (isnan(x))
        return (uint16_t)((b >> 16) | 0x40);
    b += 0x7fffu + ((b >> 16) & 1u);
    return (uint16_t)(b >> 16);
}

float fp8_bf16_to_f32(uint16_t h)
{
    uint32_t b = (uint32_t)h << 16;
    float x;
    memcpy(&x, &b, sizeof x);
    return x;
}
