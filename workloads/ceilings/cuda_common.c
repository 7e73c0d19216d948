/* cuda_common.c — host-side pieces of the CUDA ceilings that need no GPU (unit-tested). */
#include "ceilings_cuda.h"

#include <string.h>

bool ceil_dtype_parse(const char *name, enum ceil_dtype *out)
{
    static const char *const names[] = { "fp32", "tf32", "bf16", "fp16", "fp8" };
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (enum ceil_dtype)i;
            return true;
        }
    return false;
}

double ceil_gemm_tolerance(enum ceil_dtype dt)
{
    switch (dt) {
    case CEIL_FP32: return 1e-5;
    case CEIL_TF32: return 2e-3; /* 10-bit mantissa operands: ~2^-11 per product, averaged */
    case CEIL_BF16: return 8e-3; /* bf16 output rounding, 2^-8 relative, on |C| <= sum|ab| */
    case CEIL_FP16: return 2e-3; /* fp16 output, 2^-11 */
    case CEIL_FP8: return 8e-3;  /* exact fp8 products, fp32 accumulation, bf16 output */
    }
    return 1e-5;
}
