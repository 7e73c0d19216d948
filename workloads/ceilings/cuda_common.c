/* cuda_common.c — host-side pieces of the CUDA ceilings that need no GPU (unit-tested): the FMA
 * loop's geometry, FLOP count and exact check, the copy's pattern check, and the GEMM's types
 * (the harness's ab_dtype and its sizes), bytes, size rules and tolerances. */
#include "ceilings_cuda.h"

#include <stdio.h>
#include <string.h>

static bool is_fp8(enum ab_dtype t)
{
    return t == AB_DTYPE_FP8_E4M3 || t == AB_DTYPE_FP8_E5M2;
}

bool ceil_type_parse(const char *name, struct ceil_type *out)
{
    enum ab_dtype t;
    if (strcmp(name, "fp8") == 0 || strcmp(name, "fp8_fast") == 0) {
        *out = (struct ceil_type){ .in = AB_DTYPE_FP8_E4M3, .fast_accum = name[3] != '\0' };
        return true;
    }
    if (!ab_dtype_parse(name, &t) ||
        (t != AB_DTYPE_FP32 && t != AB_DTYPE_TF32 && t != AB_DTYPE_BF16 && t != AB_DTYPE_FP16))
        return false;
    *out = (struct ceil_type){ .in = t, .fast_accum = false };
    return true;
}

double ceil_gemm_tolerance(struct ceil_type t)
{
    switch (t.in) {
    case AB_DTYPE_TF32: return 2e-3; /* 10-bit mantissa operands: ~2^-11 per product, averaged */
    case AB_DTYPE_BF16: return 8e-3; /* bf16 output rounding, 2^-8 relative, on |C| <= sum|ab| */
    case AB_DTYPE_FP16: return 2e-3; /* fp16 output, 2^-11 */
    case AB_DTYPE_FP8_E4M3:
    case AB_DTYPE_FP8_E5M2:
        /* Exact fp8 products, fp32 accumulation, bf16 output. Fast accumulation keeps fewer
         * accumulator bits (about 14): even if every one of the n additions lost 2^-14 of the
         * partial sum, the error stays below 2^-14 sqrt(n) sum|ab| (5.5e-3 at n = 8192) for
         * random inputs; bf16 output rounding as without it. */
        return 8e-3;
    default: return 1e-5;
    }
}

enum ab_dtype ceil_gemm_out_dtype(enum ab_dtype in)
{
    return in == AB_DTYPE_FP32 || in == AB_DTYPE_TF32 ? AB_DTYPE_FP32
           : in == AB_DTYPE_FP16                      ? AB_DTYPE_FP16
                                                      : AB_DTYPE_BF16;
}

double ceil_gemm_min_bytes(int n, enum ab_dtype in)
{
    double nn = (double)n * n;
    return nn * (2.0 * (double)ab_dtype_size(in) + (double)ab_dtype_size(ceil_gemm_out_dtype(in)));
}

bool ceil_gemm_size_ok(int n, enum ab_dtype in)
{
    return n > 0 && (!is_fp8(in) || n % 16 == 0);
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
