/* vexp2.h — 2^x on fp32 vectors for the CPU kernels of ops (flash_cpu.c, attn_decode_cpu.c,
 * gemm_avx2.c): x = n + f with n = round(x), |f| <= 1/2; 2^f by a degree-6 polynomial (maximum
 * relative error 3e-7 on [-126, 127], tested in test_ops), 2^n by the exponent bits; 0 below
 * -126 (and for NaN), clamped at 127. x86 only; include it after <immintrin.h>. */
#ifndef AB_OPS_VEXP2_H
#define AB_OPS_VEXP2_H

/* P = 2^f by Horner's rule, for any vector width: FMA and SET1 are its fmadd and set1. */
#define OPS_EXP2_POLY(P, f, FMA, SET1)                                                                       \
    do {                                                                                                     \
        P = SET1(1.5403530e-4f);                                                                             \
        P = FMA(P, f, SET1(1.3333558e-3f));                                                                  \
        P = FMA(P, f, SET1(9.6181291e-3f));                                                                  \
        P = FMA(P, f, SET1(5.5504109e-2f));                                                                  \
        P = FMA(P, f, SET1(2.4022651e-1f));                                                                  \
        P = FMA(P, f, SET1(6.9314718e-1f));                                                                  \
        P = FMA(P, f, SET1(1.0f));                                                                           \
    } while (0)

/* 8 lanes, AVX2 + FMA */
__attribute__((target("avx2,fma"))) static inline __m256 ops_exp2_avx2(__m256 x)
{
    __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(-126.0f), _CMP_NGE_UQ); /* also NaN */
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-126.0f)), _mm256_set1_ps(127.0f));
    __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), f = _mm256_sub_ps(x, n), p;
    OPS_EXP2_POLY(p, f, _mm256_fmadd_ps, _mm256_set1_ps);
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* 4 lanes, SSE registers with FMA (the same CPUs) */
__attribute__((target("avx2,fma"))) static inline __m128 ops_exp2_sse_fma(__m128 x)
{
    __m128 under = _mm_cmp_ps(x, _mm_set1_ps(-126.0f), _CMP_NGE_UQ);
    x = _mm_min_ps(_mm_max_ps(x, _mm_set1_ps(-126.0f)), _mm_set1_ps(127.0f));
    __m128 n = _mm_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), f = _mm_sub_ps(x, n), p;
    OPS_EXP2_POLY(p, f, _mm_fmadd_ps, _mm_set1_ps);
    __m128i e = _mm_slli_epi32(_mm_add_epi32(_mm_cvtps_epi32(n), _mm_set1_epi32(127)), 23);
    return _mm_andnot_ps(under, _mm_mul_ps(p, _mm_castsi128_ps(e)));
}

#endif
