/* attention.c — ops_attn on the CPU: blocked causal multi-head attention, parallel over
 * (batch, head) with OpenMP. Per head, K and V are packed once into the thread's scratch; per
 * block of QB queries a strip of scores (QB x keys) is computed, soft-maxed exactly, and
 * multiplied by V, so memory is O(QB x Tk) per thread, never (Tq x Tk). Kernels, portable to
 * fast (chosen at plan time):
 *   generic:     fp32 loops (bf16 inputs widened while packing), any CPU;
 *   avx512f:     8x32 score and 4x64 output register tiles of fp32 FMAs;
 *   avx512_bf16: the same tiles with VDPBF16PS: K packed as (HS/2, keys, 2), V as
 *                (keys/2, HS, 2), P rounded to bf16, fp32 accumulation throughout.
 * Scores are kept in log2 units (scaled by log2 e) so the softmax uses exp2. Not an online
 * softmax: attention_memory's fused kernel (tiles of keys, running maxima) is that algorithm. */
#include "ops.h"

#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

enum { QB = 16, KT = 32 }; /* queries per block; keys per score tile */
enum { K_GENERIC, K_AVX512F, K_AVX512_BF16 };

static bool force_generic;
void ops_set_generic(bool on)
{
    force_generic = on;
}
bool ops_generic(void)
{
    return force_generic;
}

struct ops_attn {
    int B, NH, Tq, Tk, HS, Tkp;
    bool causal;
    enum ab_dtype dt;
    int kind;
    int nthreads;
    size_t per_thread; /* floats of scratch per thread */
    float *scratch;
};

static const char *const kind_names[] = { "generic", "avx512f", "avx512_bf16" };

ab_status ops_attn_create(struct ops_attn **out, int B, int NH, int Tq, int Tk, int HS, bool causal,
                          enum ab_dtype dt, struct ab_error *err)
{
    *out = NULL;
    if (B <= 0 || NH <= 0 || Tq <= 0 || Tk <= 0 || HS <= 0 || HS % 16)
        return ab_fail(err, AB_EINVAL,
                       "attention: bad shape B=%d NH=%d Tq=%d Tk=%d HS=%d (HS a multiple of 16)", B, NH, Tq,
                       Tk, HS);
    if (dt == AB_DTYPE_FP16)
        return ab_fail(err, AB_EUNSUPPORTED, "attention: fp16 is CUDA only");
    struct ops_attn *a = calloc(1, sizeof *a);
    if (!a)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    *a = (struct ops_attn){ .B = B, .NH = NH, .Tq = Tq, .Tk = Tk, .HS = HS, .causal = causal, .dt = dt };
    a->Tkp = (Tk + KT - 1) / KT * KT;
    bool f = ab_cpu_has("avx512f") && !force_generic;
    a->kind = !f ? K_GENERIC : (dt == AB_DTYPE_BF16 && ab_cpu_has("avx512_bf16")) ? K_AVX512_BF16 : K_AVX512F;
    a->nthreads = omp_get_max_threads();
    /* q block, o block (QB x HS); score and P strips (QB x Tkp); packed K, V (Tkp x HS); sums */
    size_t fl = 2 * (size_t)QB * HS + 2 * (size_t)QB * a->Tkp + 2 * (size_t)a->Tkp * HS + QB;
    a->per_thread = (fl + 15) / 16 * 16; /* keep each thread's block 64-byte aligned */
    a->scratch = ab_alloc(a->per_thread * sizeof(float) * (size_t)a->nthreads);
    if (!a->scratch) {
        int nt = a->nthreads;
        free(a);
        return ab_fail(err, AB_ENOMEM, "attention: cannot allocate scratch for %d threads", nt);
    }
    *out = a;
    return AB_OK;
}

const char *ops_attn_impl(const struct ops_attn *a)
{
    return kind_names[a->kind];
}

void ops_attn_destroy(struct ops_attn *a)
{
    if (!a)
        return;
    ab_free(a->scratch);
    free(a);
}

/* ------------------------------------------------------------------ packing */

static inline float ld(const void *x, enum ab_dtype dt, size_t i)
{
    return dt == AB_DTYPE_FP32 ? ((const float *)x)[i] : ab_bf16_to_f32(((const uint16_t *)x)[i]);
}

/* fp32 layouts: Kt (HS, Tkp) transposed, Vp (Tkp, HS); padding keys are zero. */
static void pack_f32(const struct ops_attn *a, float *Kt, float *Vp, const void *k, const void *v,
                     size_t base, int ldkv)
{
    int HS = a->HS, Tk = a->Tk, Tkp = a->Tkp;
    for (int j = 0; j < Tkp; j++)
        for (int d = 0; d < HS; d++) {
            size_t at = base + (size_t)j * ldkv + d;
            Kt[(size_t)d * Tkp + j] = j < Tk ? ld(k, a->dt, at) : 0.f;
            Vp[(size_t)j * HS + d] = j < Tk ? ld(v, a->dt, at) : 0.f;
        }
}

/* bf16 layouts: Kp (HS/2, Tkp) of 32-bit pairs along HS; Vp (Tkp/2, HS, 2) pairs of keys. */
static void pack_bf16(const struct ops_attn *a, uint32_t *Kp, uint16_t *Vp, const uint16_t *k,
                      const uint16_t *v, size_t base, int ldkv)
{
    int HS = a->HS, Tk = a->Tk, Tkp = a->Tkp;
    for (int j = 0; j < Tkp; j++) {
        const uint16_t *kr = k + base + (size_t)j * ldkv, *vr = v + base + (size_t)j * ldkv;
        uint16_t *vo = Vp + (size_t)(j / 2) * HS * 2 + (j & 1);
        if (j < Tk) {
            for (int p = 0; p < HS / 2; p++)
                Kp[(size_t)p * Tkp + j] = (uint32_t)kr[2 * p] | ((uint32_t)kr[2 * p + 1] << 16);
            for (int c = 0; c < HS; c++)
                vo[2 * c] = vr[c];
        } else {
            for (int p = 0; p < HS / 2; p++)
                Kp[(size_t)p * Tkp + j] = 0;
            for (int c = 0; c < HS; c++)
                vo[2 * c] = 0;
        }
    }
}

/* ------------------------------------------------------------------ generic kernels */

static void scores_generic(float *S, int ldS, const float *q, int HS, const float *Kt, int Tkp, int kw,
                           float alpha)
{
    for (int r = 0; r < QB; r++)
        for (int j = 0; j < kw; j++) {
            float s = 0;
            for (int d = 0; d < HS; d++)
                s += q[r * HS + d] * Kt[(size_t)d * Tkp + j];
            S[(size_t)r * ldS + j] = s * alpha;
        }
}

/* P row (kw) = exp2(S - max) over keys j <= lim, 0 elsewhere; returns the sum. */
static float softmax_row_generic(float *P, const float *S, int kw, int lim)
{
    float mx = -INFINITY, sum = 0;
    for (int j = 0; j <= lim; j++)
        mx = fmaxf(mx, S[j]);
    for (int j = 0; j < kw; j++) {
        float e = j <= lim ? exp2f(S[j] - mx) : 0.f;
        P[j] = e;
        sum += e;
    }
    return sum;
}

static void pv_generic(float *O, const float *P, int ldP, const float *Vp, int HS, int kw)
{
    for (int r = 0; r < QB; r++) {
        for (int c = 0; c < HS; c++)
            O[r * HS + c] = 0;
        for (int j = 0; j < kw; j++) {
            float p = P[(size_t)r * ldP + j];
            for (int c = 0; c < HS; c++)
                O[r * HS + c] += p * Vp[(size_t)j * HS + c];
        }
    }
}

/* ------------------------------------------------------------------ AVX-512 kernels */

#define T512  __attribute__((target("avx512f")))
#define TBF16 __attribute__((target("avx512f,avx512bf16")))

T512 static void scores_avx512(float *S, int ldS, const float *q, int HS, const float *Kt, int Tkp, int kw,
                               float alpha)
{
    __m512 al = _mm512_set1_ps(alpha);
    for (int r0 = 0; r0 < QB; r0 += 8)
        for (int j0 = 0; j0 < kw; j0 += KT) {
            __m512 acc[8][2];
            for (int r = 0; r < 8; r++)
                acc[r][0] = acc[r][1] = _mm512_setzero_ps();
            for (int d = 0; d < HS; d++) {
                __m512 k0 = _mm512_loadu_ps(Kt + (size_t)d * Tkp + j0),
                       k1 = _mm512_loadu_ps(Kt + (size_t)d * Tkp + j0 + 16);
#pragma GCC unroll 8
                for (int r = 0; r < 8; r++) {
                    __m512 qv = _mm512_set1_ps(q[(r0 + r) * HS + d]);
                    acc[r][0] = _mm512_fmadd_ps(qv, k0, acc[r][0]);
                    acc[r][1] = _mm512_fmadd_ps(qv, k1, acc[r][1]);
                }
            }
            for (int r = 0; r < 8; r++) {
                _mm512_storeu_ps(S + (size_t)(r0 + r) * ldS + j0, _mm512_mul_ps(acc[r][0], al));
                _mm512_storeu_ps(S + (size_t)(r0 + r) * ldS + j0 + 16, _mm512_mul_ps(acc[r][1], al));
            }
        }
}

TBF16 static void scores_bf16(float *S, int ldS, const uint16_t *q, int HS, const uint32_t *Kp, int Tkp,
                              int kw, float alpha)
{
    __m512 al = _mm512_set1_ps(alpha);
    const uint32_t *q32 = (const uint32_t *)q;
    int hp = HS / 2;
    for (int r0 = 0; r0 < QB; r0 += 8)
        for (int j0 = 0; j0 < kw; j0 += KT) {
            __m512 acc[8][2];
            for (int r = 0; r < 8; r++)
                acc[r][0] = acc[r][1] = _mm512_setzero_ps();
            for (int p = 0; p < hp; p++) {
                __m512bh k0 = (__m512bh)_mm512_loadu_si512(Kp + (size_t)p * Tkp + j0);
                __m512bh k1 = (__m512bh)_mm512_loadu_si512(Kp + (size_t)p * Tkp + j0 + 16);
#pragma GCC unroll 8
                for (int r = 0; r < 8; r++) {
                    __m512bh qv = (__m512bh)_mm512_set1_epi32((int)q32[(r0 + r) * hp + p]);
                    acc[r][0] = _mm512_dpbf16_ps(acc[r][0], qv, k0);
                    acc[r][1] = _mm512_dpbf16_ps(acc[r][1], qv, k1);
                }
            }
            for (int r = 0; r < 8; r++) {
                _mm512_storeu_ps(S + (size_t)(r0 + r) * ldS + j0, _mm512_mul_ps(acc[r][0], al));
                _mm512_storeu_ps(S + (size_t)(r0 + r) * ldS + j0 + 16, _mm512_mul_ps(acc[r][1], al));
            }
        }
}

/* 2^x for x <= 0 (x = -inf gives 0): x = n + f, f in [-1/2, 1/2], 2^f by a degree-6
 * polynomial (relative error ~2e-7), scaled by 2^n with VSCALEFPS. */
T512 static inline __m512 exp2_avx512(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-150.f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.5403530e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504109e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022651e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

static inline __mmask16 valid_mask(int j0, int lim)
{
    if (j0 + 15 <= lim)
        return 0xffff;
    if (j0 > lim)
        return 0;
    return (__mmask16)((1u << (lim - j0 + 1)) - 1u);
}

/* As softmax_row_generic; kw is a multiple of 16. */
T512 static float softmax_row_avx512(float *P, const float *S, int kw, int lim)
{
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < kw; j += 16)
        mx = _mm512_mask_max_ps(mx, valid_mask(j, lim), mx, _mm512_loadu_ps(S + j));
    __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 sum = _mm512_setzero_ps();
    for (int j = 0; j < kw; j += 16) {
        __m512 e =
            _mm512_maskz_mov_ps(valid_mask(j, lim), exp2_avx512(_mm512_sub_ps(_mm512_loadu_ps(S + j), m)));
        _mm512_storeu_ps(P + j, e);
        sum = _mm512_add_ps(sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}

TBF16 static void to_bf16_row(uint16_t *dst, const float *src, int n)
{
    for (int j = 0; j < n; j += 16)
        _mm256_storeu_si256((__m256i *)(dst + j), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + j)));
}

/* O (4 rows, NV x 16 columns from c0) = P (4 rows) . Vp, fp32. */
T512 static inline __attribute__((always_inline)) void
pv_tile_f32(float *O, const float *P, int ldP, const float *Vp, int HS, int kw, int c0, const int NV)
{
    __m512 acc[4][4];
    for (int r = 0; r < 4; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_setzero_ps();
    for (int j = 0; j < kw; j++) {
        __m512 vv[4];
        for (int v = 0; v < NV; v++)
            vv[v] = _mm512_loadu_ps(Vp + (size_t)j * HS + c0 + 16 * v);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            __m512 pb = _mm512_set1_ps(P[(size_t)r * ldP + j]);
            for (int v = 0; v < NV; v++)
                acc[r][v] = _mm512_fmadd_ps(pb, vv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int v = 0; v < NV; v++)
            _mm512_storeu_ps(O + (size_t)r * HS + c0 + 16 * v, acc[r][v]);
}

T512 static void pv_avx512(float *O, const float *P, int ldP, const float *Vp, int HS, int kw)
{
    for (int r0 = 0; r0 < QB; r0 += 4)
        for (int c0 = 0; c0 < HS; c0 += 64) {
            int nv = (HS - c0) / 16 < 4 ? (HS - c0) / 16 : 4;
            float *o = O + (size_t)r0 * HS;
            const float *p = P + (size_t)r0 * ldP;
            switch (nv) {
            case 4: pv_tile_f32(o, p, ldP, Vp, HS, kw, c0, 4); break;
            case 3: pv_tile_f32(o, p, ldP, Vp, HS, kw, c0, 3); break;
            case 2: pv_tile_f32(o, p, ldP, Vp, HS, kw, c0, 2); break;
            default: pv_tile_f32(o, p, ldP, Vp, HS, kw, c0, 1); break;
            }
        }
}

/* bf16: P (4 rows of bf16, ldP elements), Vp (kw/2, HS, 2); pairs of keys per VDPBF16PS. */
TBF16 static inline __attribute__((always_inline)) void
pv_tile_bf16(float *O, const uint16_t *P, int ldP, const uint16_t *Vp, int HS, int kw, int c0, const int NV)
{
    __m512 acc[4][4];
    for (int r = 0; r < 4; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_setzero_ps();
    for (int jp = 0; jp < kw / 2; jp++) {
        __m512bh vv[4];
        for (int v = 0; v < NV; v++)
            vv[v] = (__m512bh)_mm512_loadu_si512(Vp + ((size_t)jp * HS + c0 + 16 * v) * 2);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            uint32_t pp;
            memcpy(&pp, P + (size_t)r * ldP + 2 * jp, 4);
            __m512bh pb = (__m512bh)_mm512_set1_epi32((int)pp);
            for (int v = 0; v < NV; v++)
                acc[r][v] = _mm512_dpbf16_ps(acc[r][v], pb, vv[v]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int v = 0; v < NV; v++)
            _mm512_storeu_ps(O + (size_t)r * HS + c0 + 16 * v, acc[r][v]);
}

TBF16 static void pv_bf16(float *O, const uint16_t *P, int ldP, const uint16_t *Vp, int HS, int kw)
{
    for (int r0 = 0; r0 < QB; r0 += 4)
        for (int c0 = 0; c0 < HS; c0 += 64) {
            int nv = (HS - c0) / 16 < 4 ? (HS - c0) / 16 : 4;
            float *o = O + (size_t)r0 * HS;
            const uint16_t *p = P + (size_t)r0 * ldP;
            switch (nv) {
            case 4: pv_tile_bf16(o, p, ldP, Vp, HS, kw, c0, 4); break;
            case 3: pv_tile_bf16(o, p, ldP, Vp, HS, kw, c0, 3); break;
            case 2: pv_tile_bf16(o, p, ldP, Vp, HS, kw, c0, 2); break;
            default: pv_tile_bf16(o, p, ldP, Vp, HS, kw, c0, 1); break;
            }
        }
}

/* ------------------------------------------------------------------ driver */

/* One (batch, head): pack K and V, then every block of queries. */
static void attn_head(const struct ops_attn *a, float *scr, void *out, const void *q, int ldq, const void *k,
                      const void *v, int ldkv, int q_pos0, int b, int h)
{
    const int HS = a->HS, Tkp = a->Tkp, Tk = a->Tk, ld_out = a->NH * HS;
    float *qf = scr, *O = qf + (size_t)QB * HS, *S = O + (size_t)QB * HS, *P = S + (size_t)QB * Tkp;
    float *Kw = P + (size_t)QB * Tkp, *Vw = Kw + (size_t)Tkp * HS, *l = Vw + (size_t)Tkp * HS;
    const bool bf = a->kind == K_AVX512_BF16;
    const float alpha = (float)(1.4426950408889634 / sqrt((double)HS)); /* log2(e) / sqrt(HS) */
    size_t kbase = (size_t)b * Tk * ldkv + (size_t)h * HS;
    if (bf)
        pack_bf16(a, (uint32_t *)Kw, (uint16_t *)Vw, k, v, kbase, ldkv);
    else
        pack_f32(a, Kw, Vw, k, v, kbase, ldkv);
    for (int i0 = 0; i0 < a->Tq; i0 += QB) {
        int nq = a->Tq - i0 < QB ? a->Tq - i0 : QB;
        int last = a->causal ? q_pos0 + i0 + nq - 1 : Tk - 1;
        if (last > Tk - 1)
            last = Tk - 1;
        int kw = last < 0 ? 0 : (last + KT) / KT * KT; /* keys scored, a multiple of KT */
        /* the block of queries, zero rows past Tq */
        for (int r = 0; r < QB; r++) {
            size_t qo = ((size_t)b * a->Tq + i0 + r) * ldq + (size_t)h * HS;
            for (int d = 0; d < HS; d++) {
                if (bf)
                    ((uint16_t *)qf)[r * HS + d] = r < nq ? ((const uint16_t *)q)[qo + d] : 0;
                else
                    qf[r * HS + d] = r < nq ? ld(q, a->dt, qo + d) : 0.f;
            }
        }
        if (kw > 0) {
            if (bf)
                scores_bf16(S, Tkp, (const uint16_t *)qf, HS, (const uint32_t *)Kw, Tkp, kw, alpha);
            else if (a->kind == K_AVX512F)
                scores_avx512(S, Tkp, qf, HS, Kw, Tkp, kw, alpha);
            else
                scores_generic(S, Tkp, qf, HS, Kw, Tkp, kw, alpha);
            for (int r = 0; r < QB; r++) {
                int lim = a->causal ? q_pos0 + i0 + r : Tk - 1;
                if (lim > Tk - 1)
                    lim = Tk - 1;
                if (r >= nq)
                    lim = -1; /* padding rows: all masked */
                float *Sr = S + (size_t)r * Tkp, *Pr = P + (size_t)r * Tkp;
                l[r] = a->kind == K_GENERIC ? softmax_row_generic(Pr, Sr, kw, lim)
                                            : softmax_row_avx512(Pr, Sr, kw, lim);
                if (bf) /* bf16 P over the score strip: S is free once P is made */
                    to_bf16_row((uint16_t *)S + (size_t)r * Tkp, Pr, kw);
            }
            if (bf)
                pv_bf16(O, (const uint16_t *)S, Tkp, (const uint16_t *)Vw, HS, kw);
            else if (a->kind == K_AVX512F)
                pv_avx512(O, P, Tkp, Vw, HS, kw);
            else
                pv_generic(O, P, Tkp, Vw, HS, kw);
        }
        for (int r = 0; r < nq; r++) {
            float inv = kw > 0 && l[r] > 0 ? 1.0f / l[r] : 0.f;
            size_t oo = ((size_t)b * a->Tq + i0 + r) * ld_out + (size_t)h * HS;
            for (int c = 0; c < HS; c++) {
                float x = kw > 0 ? O[r * HS + c] * inv : 0.f;
                if (a->dt == AB_DTYPE_FP32)
                    ((float *)out)[oo + c] = x;
                else
                    ((uint16_t *)out)[oo + c] = ab_bf16_from_f32(x);
            }
        }
    }
}

void ops_attn_run(struct ops_attn *a, void *out, const void *q, int ldq, const void *k, const void *v,
                  int ldkv, int q_pos0)
{
    int tasks = a->B * a->NH;
#pragma omp parallel num_threads(a->nthreads)
    {
        float *scr = a->scratch + a->per_thread * (size_t)omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < tasks; t++)
            attn_head(a, scr, out, q, ldq, k, v, ldkv, q_pos0, t / a->NH, t % a->NH);
    }
}
