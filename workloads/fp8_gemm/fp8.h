/* fp8.h — exact software FP8: OCP E4M3FN and E5M2 encode/decode and the scaling that maps a
 * tensor (or each row / column of it) onto the FP8 range. Used by the CPU path to quantize
 * operands, by both paths to compute scales, and by tests as the specification.
 * Encoding rounds to nearest, ties to even, and saturates to the largest finite value
 * (±448 for E4M3, ±57344 for E5M2, infinities included); NaN stays NaN. */
#ifndef FP8_GEMM_FP8_H
#define FP8_GEMM_FP8_H

#include <stddef.h>
#include <stdint.h>

enum fp8_format { FP8_E4M3 = 0, FP8_E5M2 = 1 };

#define FP8_E4M3_MAX 448.0f
#define FP8_E5M2_MAX 57344.0f
#define FP8_E4M3_NAN 0x7f /* E4M3FN has one NaN per sign: S.1111.111 */
#define FP8_E5M2_NAN 0x7e /* a quiet NaN: S.11111.10 */

/* Largest finite value of a format. */
float fp8_max(enum fp8_format f);
/* Decode one code exactly (E5M2 0x7c/0xfc are ±inf, as in the format). */
float fp8_to_f32(enum fp8_format f, uint8_t code);
/* Encode: round to nearest even, saturate, NaN to the format's NaN. */
uint8_t fp8_from_f32(enum fp8_format f, float x);

/* Scales so that x / scale spans the format: scale = amax / fp8_max, or 1 where amax is 0
 * or not finite (a zero or broken operand is then reported by verification, not hidden).
 * x is rows x cols, row-major with leading dimension ld. */
float fp8_scale_tensor(enum fp8_format f, const float *x, size_t rows, size_t cols, size_t ld);
/* One scale per row: scales[r] for r < rows. */
void fp8_scale_rows(enum fp8_format f, const float *x, size_t rows, size_t cols, size_t ld, float *scales);
/* One scale per column: scales[c] for c < cols. */
void fp8_scale_cols(enum fp8_format f, const float *x, size_t rows, size_t cols, size_t ld, float *scales);

/* Quantize x (rows x cols, row-major, ld) to FP8 codes q (rows x cols, packed): q = fp8(x / s)
 * with s = row_scales[r] if given, else col_scales[c] if given, else `scale`. */
void fp8_quantize(enum fp8_format f, const float *x, size_t rows, size_t cols, size_t ld, float scale,
                  const float *row_scales, const float *col_scales, uint8_t *q);

/* Round an FP32 value to BF16 (nearest even; NaN kept) and widen it back: the bits of the
 * BF16 value are the upper 16 bits of the result. */
uint16_t fp8_bf16_from_f32(float x);
float fp8_bf16_to_f32(uint16_t b);

#endif
