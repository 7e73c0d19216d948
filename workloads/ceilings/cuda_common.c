/* cuda_common.c — host-side pieces of the CUDA ceilings that need no GPU (unit-tested): dtype
 * names and sizes, the FMA loop's geometry, FLOP count and exact check, the copy's pattern
 * check, and the GEMM's bytes, size rules and tolerances. */
#include "ceilings_cuda.h"

#include <stdio.h>
#include <string.h>

bool ceil_dtype_parse(const char *name, enum ceil_dtype *out)
{
    static const char *const names[] = { "fp32", "tf32", "bf16", "fp16", "fp8", "fp8_fast" };
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
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
    case CEIL_FP8:
        return 8e-3; /* exact fp8 products, fp32 accumulation, bf16 output */
    /* Fast accumulation keeps fewer accumulator bits (about 14): even if every one of the n
     * additions lost 2^-14 of the partial sum, the error stays below 2^-14 sqrt(n) sum|ab|
     * (5.5e-3 at n = 8192) for random inputs; bf16 output rounding as for fp8. */
    case CEIL_FP8_FAST: return 8e-3;
    }
    return 1e-5;
}

int ceil_dtype_in_size(enum ceil_dtype dt)
{
    switch (dt) {
    case CEIL_BF16:
    case CEIL_FP16: return 2;
    case CEIL_FP8:
    case CEIL_FP8_FAST: return 1;
    default: return 4;
    }
}

int ceil_dtype_out_size(enum ceil_dtype dt)
{
    return dt == CEIL_FP32 || dt == CEIL_TF32 ? 4 : 2; /* fp8 writes bf16 */
}

bool ceil_dtype_is_fp8(enum ceil_dtype dt)
{
    return dt == CEIL_FP8 || dt == CEIL_FP8_FAST;
}

bool ceil_gemm_fast_accum(enum ceil_dtype dt)
{
    return dt == CEIL_FP8_FAST;
}

double ceil_gemm_min_bytes(int n, enum ceil_dtype dt)
{
    double nn = (double)n * n;
    return nn * (2.0 * ceil_dtype_in_size(dt) + ceil_dtype_out_size(dt));
}

bool ceil_gemm_size_ok(int n, enum ceil_dtype dt)
{
    return n > 0 && (!ceil_dtype_is_fp8(dt) || n % 16 == 0);
}

int ceil_fma_blocks(int sms)
{
    return (sms > 0 ? sms : 1) * CEIL_FMA_BLOCKS_PER_SM;
}

double ceil_fma_flops(int blocks, int outer)
{
    /* one FMA = 2 FLOPs, per chain per unrolled step per pass, per thread */
    return 2.0 * CEIL_FMA_CHAINS * CEIL_FMA_UNROLL * (double)outer * (double)blocks * CEIL_FMA_THREADS;
}

size_t ceil_fma_outputs(int blocks)
{
    return (size_t)CEIL_FMA_CHAINS * (size_t)blocks * CEIL_FMA_THREADS;
}

int64_t ceil_fma_check(const float *out, int blocks, int outer, char *msg, size_t len)
{
    if (msg && len)
        msg[0] = '\0';
    int64_t steps = (int64_t)CEIL_FMA_UNROLL * outer;
    if (steps > CEIL_FMA_MAX_STEPS) {
        if (msg)
            snprintf(msg, len, " %lld steps leave the exact range", (long long)steps);
        return -1;
    }
    int64_t threads = (int64_t)blocks * CEIL_FMA_THREADS, bad = 0;
    for (int j = 0; j < CEIL_FMA_CHAINS; j++)
        for (int64_t g = 0; g < threads; g++) {
            /* x0 and every partial value are multiples of 2^-24 in [0.5, 1): exact in float */
            double want = (double)CEIL_FMA_X0(g, j) + (double)steps * (double)CEIL_FMA_STEP;
            float got = out[(size_t)j * (size_t)threads + (size_t)g];
            if ((double)got == want)
                continue;
            if (bad++ < 3 && msg) {
                size_t k = strlen(msg);
                snprintf(msg + k, len - k, " thread %lld chain %d: %.9g, expected %.9g;", (long long)g, j,
                         (double)got, want);
            }
        }
    return bad;
}

size_t ceil_copy_floats(bool check)
{
    return check ? 1000004 : (size_t)1 << 28;
}

int64_t ceil_copy_check(const float *dst, size_t first, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &dst[i], sizeof u);
        if (u != CEIL_COPY_BITS(first + i, seed))
            return (int64_t)(first + i);
    }
    return -1;
}
