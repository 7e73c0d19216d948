/* ops.c — the element-wise and row-wise operations of ops.h on the CPU (dtype conversion,
 * LayerNorm, GELU, softmax, residual add): portable loops the compiler vectorizes, LayerNorm
 * rows in AVX-512 where the CPU has it, parallel over rows or chunks with OpenMP. Matmul lives
 * in matmul.c, attention in attention.c. These ops are a few percent of a layer's time; their
 * job is to be right and not to allocate. */
#include "ops.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

void ops_convert(void *dst, enum ab_dtype dst_dt, const void *src, enum ab_dtype src_dt, size_t n)
{
    if (dst_dt == src_dt) {
        memmove(dst, src, n * ab_dtype_size(dst_dt));
        return;
    }
    if (dst_dt == AB_DTYPE_BF16) {
        uint16_t *d = dst;
        const float *s = src;
#pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++)
            d[i] = ab_bf16_from_f32(s[i]);
    } else {
        float *d = dst;
        const uint16_t *s = src;
#pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++)
            d[i] = ab_bf16_to_f32(s[i]);
    }
}

/* Rows are loaded into an fp32 line, processed, and stored back in the dtype: one code path
 * for both dtypes, and the compiler vectorizes the fp32 loops. */
static void load_row(float *dst, const void *src, size_t off, int n, enum ab_dtype dt)
{
    if (dt == AB_DTYPE_FP32)
        memcpy(dst, (const float *)src + off, (size_t)n * 4);
    else
        for (int i = 0; i < n; i++)
            dst[i] = ab_bf16_to_f32(((const uint16_t *)src)[off + (size_t)i]);
}

static void store_row(void *dst, size_t off, const float *src, int n, enum ab_dtype dt)
{
    if (dt == AB_DTYPE_FP32)
        memcpy((float *)dst + off, src, (size_t)n * 4);
    else
        for (int i = 0; i < n; i++)
            ((uint16_t *)dst)[off + (size_t)i] = ab_bf16_from_f32(src[i]);
}

enum { LINE = 1024 }; /* fp32 elements per stack line: rows longer than this go in pieces */

/* One row with AVX-512 (bf16 rounding by VCVTNEPS2BF16): the three passes of the portable
 * row below, 16 lanes at a time, C a multiple of 16. */
__attribute__((target("avx512f,avx512bf16"))) static inline __m512 ln_load(const void *x, size_t i,
                                                                           enum ab_dtype dt)
{
    if (dt == AB_DTYPE_FP32)
        return _mm512_loadu_ps((const float *)x + i);
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)x + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

__attribute__((target("avx512f,avx512bf16"))) static void ln_row_avx512(void *out, const void *inp,
                                                                        const float *gamma, const float *beta,
                                                                        size_t row, int C, enum ab_dtype dt)
{
    __m512 s = _mm512_setzero_ps();
    for (int c = 0; c < C; c += 16)
        s = _mm512_add_ps(s, ln_load(inp, row + c, dt));
    __m512 mean = _mm512_set1_ps(_mm512_reduce_add_ps(s) / (float)C), ss = _mm512_setzero_ps();
    for (int c = 0; c < C; c += 16) {
        __m512 d = _mm512_sub_ps(ln_load(inp, row + c, dt), mean);
        ss = _mm512_fmadd_ps(d, d, ss);
    }
    __m512 rstd = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(ss) / (float)C + OPS_LN_EPS));
    for (int c = 0; c < C; c += 16) {
        __m512 y = _mm512_mul_ps(_mm512_sub_ps(ln_load(inp, row + c, dt), mean), rstd);
        y = _mm512_fmadd_ps(y, _mm512_loadu_ps(gamma + c), _mm512_loadu_ps(beta + c));
        if (dt == AB_DTYPE_FP32)
            _mm512_storeu_ps((float *)out + row + c, y);
        else
            _mm256_storeu_si256((__m256i *)((uint16_t *)out + row + c), (__m256i)_mm512_cvtneps_pbh(y));
    }
}

static void ln_row(void *out, const void *inp, const float *gamma, const float *beta, size_t row, int C,
                   enum ab_dtype dt)
{
    float line[LINE];
    /* two passes over the row (mean, then squared deviations): no cancellation */
    float sum = 0;
    for (int c0 = 0; c0 < C; c0 += LINE) {
        int n = C - c0 < LINE ? C - c0 : LINE;
        load_row(line, inp, row + c0, n, dt);
        for (int i = 0; i < n; i++)
            sum += line[i];
    }
    float mean = sum / (float)C, ss = 0;
    for (int c0 = 0; c0 < C; c0 += LINE) {
        int n = C - c0 < LINE ? C - c0 : LINE;
        load_row(line, inp, row + c0, n, dt);
        for (int i = 0; i < n; i++)
            ss += (line[i] - mean) * (line[i] - mean);
    }
    float rstd = 1.0f / sqrtf(ss / (float)C + OPS_LN_EPS);
    for (int c0 = 0; c0 < C; c0 += LINE) {
        int n = C - c0 < LINE ? C - c0 : LINE;
        load_row(line, inp, row + c0, n, dt);
        for (int i = 0; i < n; i++)
            line[i] = (line[i] - mean) * rstd * gamma[c0 + i] + beta[c0 + i];
        store_row(out, row + c0, line, n, dt);
    }
}

void ops_layernorm(void *out, const void *inp, const float *gamma, const float *beta, int N, int C,
                   enum ab_dtype dt)
{
    bool vec = C % 16 == 0 && ab_cpu_has("avx512f") && ab_cpu_has("avx512_bf16") && !ops_generic();
    /* a decode step's row or two takes less than waking the threads */
#pragma omp parallel for schedule(static) if ((size_t)N * C > 16384)
    for (int r = 0; r < N; r++) {
        if (vec)
            ln_row_avx512(out, inp, gamma, beta, (size_t)r * C, C, dt);
        else
            ln_row(out, inp, gamma, beta, (size_t)r * C, C, dt);
    }
}

/* 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)): one exp, no tanh; exact at both tails. */
static inline float gelu1(float x)
{
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    float u = k * (x + 0.044715f * x * x * x);
    float e = expf(fminf(-2.0f * u, 80.0f));
    return x / (1.0f + e);
}

void ops_gelu(void *out, const void *inp, size_t n, enum ab_dtype dt)
{
    size_t chunks = (n + LINE - 1) / LINE;
#pragma omp parallel for schedule(static) if (n > 16384)
    for (size_t ch = 0; ch < chunks; ch++) {
        float line[LINE];
        size_t off = ch * LINE;
        int m = n - off < LINE ? (int)(n - off) : LINE;
        load_row(line, inp, off, m, dt);
        for (int i = 0; i < m; i++)
            line[i] = gelu1(line[i]);
        store_row(out, off, line, m, dt);
    }
}

void ops_softmax(float *out, const float *inp, int rows, int cols)
{
#pragma omp parallel for schedule(static) if (rows > 8)
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * cols;
        float *y = out + (size_t)r * cols;
        float mx = -INFINITY;
        for (int j = 0; j < cols; j++)
            mx = fmaxf(mx, x[j]);
        if (mx == -INFINITY) { /* every entry masked: define the row as zeros */
            for (int j = 0; j < cols; j++)
                y[j] = 0;
            continue;
        }
        float s = 0;
        for (int j = 0; j < cols; j++) {
            y[j] = expf(x[j] - mx);
            s += y[j];
        }
        float inv = 1.0f / s;
        for (int j = 0; j < cols; j++)
            y[j] *= inv;
    }
}

void ops_residual(void *out, const void *a, const void *b, size_t n, enum ab_dtype dt)
{
    if (dt == AB_DTYPE_FP32) {
        float *o = out;
        const float *x = a, *y = b;
#pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++)
            o[i] = x[i] + y[i];
        return;
    }
    uint16_t *o = out;
    const uint16_t *x = a, *y = b;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++)
        o[i] = ab_bf16_from_f32(ab_bf16_to_f32(x[i]) + ab_bf16_to_f32(y[i]));
}
