/* vmath.h — 2^x and GELU on fp32 vectors for the CPU kernels of ops (flash_cpu.c,
 * attn_decode_cpu.c, gemm_avx2.c, matmul.c's GEMV). 2^x: x = n + f with n = round(x), |f| <= 1/2; 2^f by a
 * degree-6 polynomial (maximum relative error 3e-7 on [-126, 127], tested in test_ops), 2^n by the exponent
 * bits; 0 below -126 (and for NaN), clamped at 127. x86 only; include it after <immintrin.h>. */
#ifndef AB_OPS_VMATH_H
#define AB_OPS_VMATH_H

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

/* GELU, tanh form as ops_gelu: 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)) on 8 lanes; exp as 2^n 2^f, n =
 * round(t log2 e), the polynomial of exp on |r| <= ln2/2 (Cephes' expf, ~1 ulp); t clamped to +-88 (beyond,
 * the quotient is x or 0 in fp32 anyway). */
__attribute__((target("avx2,fma"))) static inline __m256 ops_gelu_avx2(__m256 x)
{
    __m256 u =
        _mm256_mul_ps(_mm256_set1_ps(0.7978845608f),
                      _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(0.044715f), x), _mm256_mul_ps(x, x), x));
    __m256 t = _mm256_mul_ps(_mm256_set1_ps(-2.0f), u);
    t = _mm256_min_ps(_mm256_max_ps(t, _mm256_set1_ps(-88.0f)), _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(1.44269504089f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), t);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 ex = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), ex));
}

#endif
