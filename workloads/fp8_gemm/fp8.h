/* fp8.h — the scaling that maps a tensor (or each row / column of it) onto an FP8 range, and
 * quantization with those scales. Used by the CPU path to quantize operands, by both paths to
 * compute scales, and by tests as the specification. The codes themselves (round to nearest
 * even, saturation to ±448 / ±57344, NaN kept) are the harness's ab_fp8_from_f32 / _to_f32;
 * f is AB_DTYPE_FP8_E4M3 or AB_DTYPE_FP8_E5M2. */
#ifndef FP8_GEMM_FP8_H
#define FP8_GEMM_FP8_H

#include "accelbench.h"

#include <stddef.h>
#include <stdint.h>

/* Scales so that x / scale spans the format: scale = amax / fp8_max, or 1 where amax is 0
 * or not finite (a zero or broken operand is then reported by verification, not hidden).
 * x is rows x cols, row-major with leading dimension ld. */
float fp8_scale_tensor(enum ab_dtype f, const float *x, size_t rows, size_t cols, size_t ld);
/* One scale per row: scales[r] for r < rows. */
void fp8_scale_rows(enum ab_dtype f, const float *x, size_t rows, size_t cols, size_t ld, float *scales);
/* One scale per column: scales[c] for c < cols. */
void fp8_scale_cols(enum ab_dtype f, const float *x, size_t rows, size_t cols, size_t ld, float *scales);

/* Quantize x (rows x cols, row-major, ld) to FP8 codes q (rows x cols, packed): q = fp8(x / s)
 * with s = row_scales[r] if given, else col_scales[c] if given, else `scale`. */
void fp8_quantize(enum ab_dtype f, const float *x, size_t rows, size_t cols, size_t ld, float scale,
                  const float *row_scales, const float *col_scales, uint8_t *q);

#endif
