/* fp8.c — FP8 scales and quantization (see fp8.h); the encoding is the harness's. */
#include "fp8.h"

#include <math.h>
#include <string.h>

static float amax_to_scale(enum ab_dtype f, float amax)
{
    if (!(amax > 0) || !isfinite(amax))
        return 1.0f;
    return amax / ab_dtype_max(f);
}

float fp8_scale_tensor(enum ab_dtype f, const float *x, size_t rows, size_t cols, size_t ld)
{
    float amax = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            amax = fmaxf(amax, fabsf(x[r * ld + c]));
    return amax_to_scale(f, amax);
}

void fp8_scale_rows(enum ab_dtype f, const float *x, size_t rows, size_t cols, size_t ld, float *scales)
{
    for (size_t r = 0; r < rows; r++) {
        float amax = 0;
        for (size_t c = 0; c < cols; c++)
            amax = fmaxf(amax, fabsf(x[r * ld + c]));
        scales[r] = amax_to_scale(f, amax);
    }
}

void fp8_scale_cols(enum ab_dtype f, const float *x, size_t rows, size_t cols, size_t ld, float *scales)
{
    /* Row by row, so that the reads stay sequential; scales holds the running amax. */
    memset(scales, 0, cols * sizeof *scales);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            scales[c] = fmaxf(scales[c], fabsf(x[r * ld + c]));
    for (size_t c = 0; c < cols; c++)
        scales[c] = amax_to_scale(f, scales[c]);
}

void fp8_quantize(enum ab_dtype f, const float *x, size_t rows, size_t cols, size_t ld, float scale,
                  const float *row_scales, const float *col_scales, uint8_t *q)
{
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            float s = row_scales ? row_scales[r] : col_scales ? col_scales[c] : scale;
            q[r * cols + c] = ab_fp8_from_f32(f, x[r * ld + c] / s);
        }
}
