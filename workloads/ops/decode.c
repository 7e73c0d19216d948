/* decode.c — a whole decode step of a pre-LN GPT-2 stack for a few sequences in one OpenMP
 * parallel region, and the attention of one query over a KV cache (fp32 or bf16 rows) that
 * both the fused step and a prefill use. Not a general transformer: GELU MLP, learned
 * positions, one new token per sequence. The one idea: a step is a chain of small matmuls
 * bound by reading their weights, so the threads meet only where the data requires it (four
 * barriers per layer), take the matmuls' column blocks and the (sequence, head) attention
 * items dynamically (a thread preempted on a shared machine does not stall the others), and
 * compute each LayerNorm redundantly in their own buffer, straight into the GEMV's input. */
#include "ops.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#define TAVX2 __attribute__((target("avx2,fma")))

static bool use_avx2(int HS)
{
    return !ops_generic() && HS % 8 == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* ------------------------------------------------------------------ attention over a cache */

static inline float kv_at(const void *p, enum ab_dtype dt, size_t i)
{
    return dt == AB_DTYPE_BF16 ? ab_bf16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

static void attend_generic(float *out, const float *q, const void *K, const void *V, enum ab_dtype dt,
                           size_t ld, int n, int HS, float scale, float *sc)
{
    float mx = -INFINITY, sum = 0;
    for (int j = 0; j < n; j++) {
        float d = 0;
        for (int e = 0; e < HS; e++)
            d += q[e] * kv_at(K, dt, (size_t)j * ld + e);
        sc[j] = d * scale;
        mx = sc[j] > mx ? sc[j] : mx;
    }
    for (int j = 0; j < n; j++)
        sum += (sc[j] = expf(sc[j] - mx));
    for (int e = 0; e < HS; e++)
        out[e] = 0;
    for (int j = 0; j < n; j++) {
        float w = sc[j] / sum;
        for (int e = 0; e < HS; e++)
            out[e] += w * kv_at(V, dt, (size_t)j * ld + e);
    }
}

TAVX2 static inline __m256 load8(const void *p, enum ab_dtype dt, size_t i)
{
    if (dt == AB_DTYPE_FP32)
        return _mm256_loadu_ps((const float *)p + i);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); /* bf16 widened */
}

TAVX2 static float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* HS a multiple of 8; K rows read once for the scores, V rows once for the sum */
TAVX2 static void attend_avx2(float *out, const float *q, const void *K, const void *V, enum ab_dtype dt,
                              size_t ld, int n, int HS, float scale, float *sc)
{
    float mx = -INFINITY, sum = 0;
    for (int j = 0; j < n; j++) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        int e = 0;
        for (; e + 16 <= HS; e += 16) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + e), load8(K, dt, (size_t)j * ld + e), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + e + 8), load8(K, dt, (size_t)j * ld + e + 8), a1);
        }
        if (e < HS)
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + e), load8(K, dt, (size_t)j * ld + e), a0);
        sc[j] = hsum8(_mm256_add_ps(a0, a1)) * scale;
        mx = sc[j] > mx ? sc[j] : mx;
    }
    for (int j = 0; j < n; j++)
        sum += (sc[j] = expf(sc[j] - mx));
    float inv = 1.0f / sum;
    for (int e0 = 0; e0 < HS; e0 += 64) { /* 8 accumulators of 8 lanes per pass over V */
        int w = HS - e0 < 64 ? (HS - e0) / 8 : 8;
        __m256 acc[8];
        for (int k = 0; k < 8; k++)
            acc[k] = _mm256_setzero_ps();
        for (int j = 0; j < n; j++) {
            __m256 p = _mm256_set1_ps(sc[j] * inv);
            for (int k = 0; k < w; k++)
                acc[k] = _mm256_fmadd_ps(p, load8(V, dt, (size_t)j * ld + e0 + 8 * k), acc[k]);
        }
        for (int k = 0; k < w; k++)
            _mm256_storeu_ps(out + e0 + 8 * k, acc[k]);
    }
}

void ops_cache_attend(float *out, const float *q, const void *K, const void *V, enum ab_dtype kv_dt,
                      size_t ld, int n, int HS, float scale, float *scores)
{
    if (use_avx2(HS))
        attend_avx2(out, q, K, V, kv_dt, ld, n, HS, scale, scores);
    else
        attend_generic(out, q, K, V, kv_dt, ld, n, HS, scale, scores);
}

void ops_cache_store(void *cache, enum ab_dtype kv_dt, size_t at, const float *src, int n)
{
    if (kv_dt == AB_DTYPE_FP32)
        memcpy((float *)cache + at, src, (size_t)n * 4);
    else
        for (int i = 0; i < n; i++)
            ((uint16_t *)cache)[at + (size_t)i] = ab_bf16_from_f32(src[i]);
}

/* ------------------------------------------------------------------ the fused step */

/* one LayerNorm row in fp32, as ops_layernorm's portable row: mean, then variance about it */
static void ln_row(float *out, const float *x, const float *g, const float *b, int C)
{
    float mu = 0, var = 0;
    for (int j = 0; j < C; j++)
        mu += x[j];
    mu /= (float)C;
    for (int j = 0; j < C; j++)
        var += (x[j] - mu) * (x[j] - mu);
    float rs = 1.0f / sqrtf(var / (float)C + OPS_LN_EPS);
    for (int j = 0; j < C; j++)
        out[j] = (x[j] - mu) * rs * g[j] + b[j];
}

static void ln_rows(float *out, const float *x, const float *g, const float *b, int B, int C)
{
    for (int r = 0; r < B; r++)
        ln_row(out + (size_t)r * C, x + (size_t)r * C, g, b, C);
}

size_t ops_decode_scratch_floats(int B, int C, int max_T, int threads)
{
    return (size_t)B * 8 * C + (size_t)threads * ((size_t)B * C + (size_t)max_T);
}

bool ops_decode_fusable(const struct ops_decode_layer *ly, int L, const struct ops_matmul *head)
{
    for (int l = 0; l < L; l++)
        if (!ops_matmul_blocks(ly[l].qkv) || !ops_matmul_blocks(ly[l].proj) || !ops_matmul_blocks(ly[l].fc) ||
            !ops_matmul_blocks(ly[l].fcp))
            return false;
    return ops_matmul_blocks(head) > 0;
}

/* the blocks of one matmul, taken dynamically; the loop's end is a barrier */
static void mm_blocks(const struct ops_matmul *mm, float *out, const float *inp, int rows, const float *bias)
{
    int n = ops_matmul_blocks(mm);
#pragma omp for schedule(dynamic, 1)
    for (int blk = 0; blk < n; blk++)
        ops_matmul_run_block(mm, blk, out, inp, rows, bias);
}

void ops_decode_step(const struct ops_decode_layer *ly, int L, const struct ops_matmul *head,
                     const float *lnf_g, const float *lnf_b, float *logits, float *x, int B, int C, int NH,
                     int max_T, int pos, enum ab_dtype kv_dt, float *scratch, int threads)
{
    int HS = C / NH;
    float scale = 1.0f / sqrtf((float)HS);
    size_t es = ab_dtype_size(kv_dt), bstride = (size_t)max_T * C;
    float *qkv = scratch, *att = qkv + (size_t)B * 3 * C, *h = att + (size_t)B * C;
    float *priv = h + (size_t)B * 4 * C;
#pragma omp parallel num_threads(threads)
    {
        float *ln = priv + (size_t)omp_get_thread_num() * ((size_t)B * C + max_T), *sc = ln + (size_t)B * C;
        for (int l = 0; l < L; l++) {
            const struct ops_decode_layer *w = &ly[l];
            ln_rows(ln, x, w->ln1_g, w->ln1_b, B, C);
            mm_blocks(w->qkv, qkv, ln, B, w->qkv_b);
#pragma omp for schedule(dynamic, 1)
            for (int it = 0; it < B * NH; it++) {
                int b = it / NH, hh = it % NH;
                const float *row = qkv + (size_t)b * 3 * C;
                size_t base = (size_t)b * bstride + (size_t)hh * HS;
                ops_cache_store(w->kc, kv_dt, base + (size_t)pos * C, row + C + hh * HS, HS);
                ops_cache_store(w->vc, kv_dt, base + (size_t)pos * C, row + 2 * C + hh * HS, HS);
                ops_cache_attend(att + (size_t)b * C + hh * HS, row + hh * HS,
                                 (const char *)w->kc + base * es, (const char *)w->vc + base * es, kv_dt,
                                 (size_t)C, pos + 1, HS, scale, sc);
            }
            mm_blocks(w->proj, x, att, B, w->proj_b);
            ln_rows(ln, x, w->ln2_g, w->ln2_b, B, C);
            mm_blocks(w->fc, h, ln, B, w->fc_b);
            mm_blocks(w->fcp, x, h, B, w->fcp_b);
        }
        ln_rows(ln, x, lnf_g, lnf_b, B, C);
        mm_blocks(head, logits, ln, B, NULL);
    }
}
