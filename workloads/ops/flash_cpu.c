/* flash_cpu.c — ops_attn on the CPU: one flash-attention kernel (online softmax over tiles of
 * a query block x a key block, nothing Tk-sized stored), parallel over (batch x head, query
 * block) pairs with OpenMP, causal key blocks past the diagonal never visited. Per key block
 * K is packed once, transposed into groups of 16 keys, so that S = Q.K^T is a register-tiled
 * GEMM (MR rows x 16 keys of FMAs); P.V is the same tile shape over V as it lies (fp32) or
 * widened once per block (bf16), with the online-softmax rescale folded into its load of O.
 * Scores are in log2 units (Q scaled by log2(e)/sqrt(HS)), so the softmax is a polynomial 2^x.
 * Micro-kernels (flash_cpu_tmpl.h), chosen per call by cpuid, portable to fast:
 *   generic:  the template on scalars (any CPU; ops_set_generic forces it);
 *   avx2_fma: 6 rows x 2 ymm accumulators (x86-64-v3: Zen 2-4, Haswell on);
 *   avx512f:  12 rows x 1 zmm, the same code (target attributes; it runs where cpuid says so);
 *   avx512_bf16: avx512f with Q.K^T of bf16 inputs by VDPBF16PS (qk_bf16: exact products).
 * Otherwise bf16 inputs are widened exactly to fp32 while packing; softmax and P.V are fp32
 * everywhere (P is never rounded to bf16).
 * Tiles are sized from the L2 cache (ops_attn_tile_sizes); attention_memory's naive and chunked
 * algorithms call the same tile kernels (ops_attn_qk, ops_attn_pv) on their own arrangement. */
#include "ops.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include "vmath.h"
#define FLASH_X86 1
#else
#define FLASH_X86 0
#endif

static bool force_generic;
void ops_set_generic(bool on)
{
    force_generic = on;
}
bool ops_generic(void)
{
    return force_generic;
}

/* 2^x: x = n + f with n = rint(x), |f| <= 1/2; 2^f by its degree-6 Taylor polynomial in
 * f ln 2 (truncation below 1.3e-7 relative), 2^n put into the exponent; x < -126 (and -inf)
 * gives 0, x > 127 is clamped. The vector versions below take the same steps. */
static inline float flash_exp2(float x)
{
    if (!(x >= -126.0f))
        return 0.0f;
    x = x > 127.0f ? 127.0f : x;
    float n = __builtin_rintf(x), f = x - n;
    float p = 1.5403530e-4f;
    p = p * f + 1.3333558e-3f;
    p = p * f + 9.6181291e-3f;
    p = p * f + 5.5504109e-2f;
    p = p * f + 2.4022651e-1f;
    p = p * f + 6.9314718e-1f;
    p = p * f + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

/* ------------------------------------------------------------------ micro-kernels */

struct flash_kern {
    const char *name;
    void (*qk)(float *S, int ldS, const float *Q, int ldq, const float *Kp, int nq, int nk, int HS);
    void (*pv)(float *O, int ldo, const float *corr, const float *P, int ldp, const float *Vm, int64_t ldv,
               int64_t vbs, int nq, int nk, int HS);
    void (*pack_k)(float *kp, const void *k, int64_t ldk, int nk, int HS, enum ab_dtype dt);
    void (*pack_v)(float *Vp, const void *v, int64_t ldv, int nk, int HS, enum ab_dtype dt);
    void (*softmax)(float *S, int ldS, int nq, int nk, bool causal, int lim0, float *m, float *l,
                    float *corr);
    float (*row_max)(const float *s, int n);
    float (*exp2_sum)(float *s, int n, float m, float scale);
    void (*exp2v)(float *out, const float *x, size_t n);
};

/* O (R rows, cw < 16 columns) = corr . O + P . V: the columns past the last multiple of 16. */
static void pv_cols(float *O, int ldo, const float *corr, const float *P, int ldp, const float *Vc,
                    int64_t ldv, int R, int nk, int cw)
{
    for (int r = 0; r < R; r++)
        for (int c = 0; c < cw; c++) {
            float acc = corr ? O[(size_t)r * ldo + c] * corr[r] : 0.0f;
            for (int j = 0; j < nk; j++)
                acc += P[(size_t)r * ldp + j] * Vc[(size_t)j * (size_t)ldv + c];
            O[(size_t)r * ldo + c] = acc;
        }
}

/* Keys [j0, j0 + w) of k into their group g (HS, 16) of the packed layout, zeros past w. */
static void pack_k_group(float *g, const void *k, int64_t ldk, int j0, int w, int HS, enum ab_dtype dt)
{
    {
        for (int jj = 0; jj < w; jj++) {
            size_t row = (size_t)(j0 + jj) * (size_t)ldk;
            if (dt == AB_DTYPE_FP32) {
                const float *kr = (const float *)k + row;
                for (int c = 0; c < HS; c++)
                    g[(size_t)c * 16 + jj] = kr[c];
            } else {
                const uint16_t *kr = (const uint16_t *)k + row;
                for (int c = 0; c < HS; c++)
                    g[(size_t)c * 16 + jj] = ab_bf16_to_f32(kr[c]);
            }
        }
        for (int jj = w; jj < 16; jj++) /* keys past nk score 0, and are never kept */
            for (int c = 0; c < HS; c++)
                g[(size_t)c * 16 + jj] = 0.0f;
    }
}

/* kp (ceil(nk/16), HS, 16) = k (nk, HS) transposed by groups of 16 keys, in fp32. */
static void pack_k_generic(float *kp, const void *k, int64_t ldk, int nk, int HS, enum ab_dtype dt)
{
    for (int j0 = 0; j0 < nk; j0 += 16)
        pack_k_group(kp + (size_t)j0 * HS, k, ldk, j0, nk - j0 < 16 ? nk - j0 : 16, HS, dt);
}

/* The portable instance: "vectors" of one float, MR = 1 row of 16 accumulators. */
#define V             float
#define VW            1
#define NV            16
#define MR            1
#define VLOAD(p)      (*(p))
#define VSTORE(p, x)  (*(p) = (x))
#define VSET1(x)      (x)
#define VBCAST(p)     (*(p))
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VMUL(a, b)    ((a) * (b))
#define VSUB(a, b)    ((a) - (b))
#define VADD(a, b)    ((a) + (b))
#define VMAX(a, b)    fmaxf(a, b)
#define VZERO()       0.0f
#define VEXP2(x)      flash_exp2(x)
#define VHMAX(x)      (x)
#define VHSUM(x)      (x)
#define FN(name)      name##_generic
#include "flash_cpu_tmpl.h" /* undefines its parameters */

static const struct flash_kern kern_generic = { "generic",       qk_generic,       pv_generic,
                                                pack_k_generic,  pack_v_generic,   softmax_generic,
                                                row_max_generic, exp2_sum_generic, exp2v_generic };

#if FLASH_X86
/* --- AVX2 + FMA */
#pragma GCC push_options
#pragma GCC target("avx2,fma")

static inline float hmax_avx2(__m256 v)
{
    __m128 a = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_max_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_max_ss(a, _mm_shuffle_ps(a, a, 1)));
}

static inline float hsum_avx2(__m256 v)
{
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_add_ss(a, _mm_shuffle_ps(a, a, 1)));
}

/* 8 rows of 8 floats transposed in registers. */
static inline void tr8x8_avx2(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* pack_k_generic with whole groups as 8 x 8 register transposes (HS a multiple of 8). */
static void pack_k_avx2(float *kp, const void *k, int64_t ldk, int nk, int HS, enum ab_dtype dt)
{
    for (int j0 = 0; j0 < nk; j0 += 16) {
        float *g = kp + (size_t)j0 * HS;
        if (nk - j0 < 16 || HS % 8) {
            pack_k_group(g, k, ldk, j0, nk - j0 < 16 ? nk - j0 : 16, HS, dt);
            continue;
        }
        for (int h = 0; h < 16; h += 8)
            for (int c = 0; c < HS; c += 8) {
                __m256 r[8];
                for (int i = 0; i < 8; i++) {
                    size_t at = (size_t)(j0 + h + i) * (size_t)ldk + (size_t)c;
                    r[i] = dt == AB_DTYPE_FP32 ? _mm256_loadu_ps((const float *)k + at)
                                               : _mm256_castsi256_ps(_mm256_slli_epi32(
                                                     _mm256_cvtepu16_epi32(_mm_loadu_si128(
                                                         (const __m128i *)((const uint16_t *)k + at))),
                                                     16));
                }
                tr8x8_avx2(r);
                for (int i = 0; i < 8; i++)
                    _mm256_storeu_ps(g + (size_t)(c + i) * 16 + h, r[i]);
            }
    }
}

#define V             __m256
#define VW            8
#define NV            2
#define MR            6
#define VLOAD(p)      _mm256_loadu_ps(p)
#define VSTORE(p, x)  _mm256_storeu_ps(p, x)
#define VSET1(x)      _mm256_set1_ps(x)
#define VBCAST(p)     _mm256_broadcast_ss(p)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VMUL(a, b)    _mm256_mul_ps(a, b)
#define VSUB(a, b)    _mm256_sub_ps(a, b)
#define VADD(a, b)    _mm256_add_ps(a, b)
#define VMAX(a, b)    _mm256_max_ps(a, b)
#define VZERO()       _mm256_setzero_ps()
#define VEXP2(x)      ops_exp2_avx2(x)
#define VHMAX(x)      hmax_avx2(x)
#define VHSUM(x)      hsum_avx2(x)
#define FN(name)      name##_avx2
#include "flash_cpu_tmpl.h" /* undefines its parameters */
#pragma GCC pop_options

/* --- AVX-512F */
#pragma GCC push_options
#pragma GCC target("avx512f")

static inline __m512 exp2_avx512(__m512 x)
{
    __mmask16 under = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-126.0f), _CMP_NGE_UQ);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-126.0f)), _mm512_set1_ps(127.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
           f = _mm512_sub_ps(x, n), p;
    OPS_EXP2_POLY(p, f, _mm512_fmadd_ps, _mm512_set1_ps);
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mov_ps((__mmask16)~under, _mm512_mul_ps(p, _mm512_castsi512_ps(e)));
}

#define V             __m512
#define VW            16
#define NV            1
#define MR            12
#define VLOAD(p)      _mm512_loadu_ps(p)
#define VSTORE(p, x)  _mm512_storeu_ps(p, x)
#define VSET1(x)      _mm512_set1_ps(x)
#define VBCAST(p)     _mm512_set1_ps(*(p))
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VMUL(a, b)    _mm512_mul_ps(a, b)
#define VSUB(a, b)    _mm512_sub_ps(a, b)
#define VADD(a, b)    _mm512_add_ps(a, b)
#define VMAX(a, b)    _mm512_max_ps(a, b)
#define VZERO()       _mm512_setzero_ps()
#define VEXP2(x)      exp2_avx512(x)
#define VHMAX(x)      _mm512_reduce_max_ps(x)
#define VHSUM(x)      _mm512_reduce_add_ps(x)
#define FN(name)      name##_avx512
#include "flash_cpu_tmpl.h" /* undefines its parameters */
#pragma GCC pop_options

/* --- AVX-512 BF16: Q.K^T of bf16 inputs with VDPBF16PS (pairs of bf16 along HS, exact products,
 * fp32 sums); softmax and P.V stay the avx512f kernels', so the arithmetic after the scores is
 * fp32 as everywhere (P is not rounded to bf16) and the CPU tolerance holds. */
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bf16")

/* kb (ceil(nk/16), HS/2, 16) pairs (k[2p], k[2p+1]) as uint32, zero past nk; HS even. */
static void pack_k_bf16(uint32_t *kb, const uint16_t *k, int64_t ldk, int nk, int HS)
{
    int hp = HS / 2;
    for (int j0 = 0; j0 < nk; j0 += 16) {
        uint32_t *g = kb + (size_t)j0 * hp;
        for (int jj = 0; jj < 16; jj++) {
            const uint16_t *kr = k + (size_t)(j0 + jj) * (size_t)ldk;
            bool in = j0 + jj < nk;
            for (int p = 0; p < hp; p++)
                g[(size_t)p * 16 + jj] = in ? (uint32_t)kr[2 * p] | ((uint32_t)kr[2 * p + 1] << 16) : 0u;
        }
    }
}

/* S (R rows, cols <= 16 keys) = alpha Q . K^T: Q (R, HS/2) pairs with row stride ldq pairs. */
static inline __attribute__((always_inline)) void qk_tile_bf16(float *S, int ldS, const uint32_t *Q, int ldq,
                                                               const uint32_t *Kg, int hp, int cols,
                                                               float alpha, const int R)
{
    __m512 acc[12];
#pragma GCC unroll 16
    for (int r = 0; r < 12; r++)
        acc[r] = _mm512_setzero_ps();
    for (int p = 0; p < hp; p++) {
        __m512bh kv = (__m512bh)_mm512_loadu_si512(Kg + (size_t)p * 16);
#pragma GCC unroll 16
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_dpbf16_ps(acc[r], (__m512bh)_mm512_set1_epi32((int)Q[(size_t)r * ldq + p]), kv);
    }
    __mmask16 m = cols == 16 ? (__mmask16)0xffff : (__mmask16)((1u << cols) - 1u);
#pragma GCC unroll 16
    for (int r = 0; r < R; r++)
        _mm512_mask_storeu_ps(S + (size_t)r * ldS, m, _mm512_mul_ps(acc[r], _mm512_set1_ps(alpha)));
}

static void qk_bf16(float *S, int ldS, const uint32_t *Q, int ldq, const uint32_t *Kb, int nq, int nk, int HS,
                    float alpha)
{
    int hp = HS / 2;
    for (int j0 = 0; j0 < nk; j0 += 16) {
        int cols = nk - j0 < 16 ? nk - j0 : 16;
        for (int r0 = 0; r0 < nq; r0 += 12) {
            int R = nq - r0 < 12 ? nq - r0 : 12;
            float *s = S + (size_t)r0 * ldS + j0;
            const uint32_t *q = Q + (size_t)r0 * ldq, *kg = Kb + (size_t)j0 * hp;
            switch (R) {
            case 12: qk_tile_bf16(s, ldS, q, ldq, kg, hp, cols, alpha, 12); break;
            case 1: qk_tile_bf16(s, ldS, q, ldq, kg, hp, cols, alpha, 1); break;
            case 2: qk_tile_bf16(s, ldS, q, ldq, kg, hp, cols, alpha, 2); break;
            case 4: qk_tile_bf16(s, ldS, q, ldq, kg, hp, cols, alpha, 4); break;
            default: qk_tile_bf16(s, ldS, q, ldq, kg, hp, cols, alpha, R); break;
            }
        }
    }
}
#pragma GCC pop_options

static const struct flash_kern kern_avx2 = { "avx2_fma",   qk_avx2,       pv_avx2,
                                             pack_k_avx2,  pack_v_avx2,   softmax_avx2,
                                             row_max_avx2, exp2_sum_avx2, exp2v_avx2 };
static const struct flash_kern kern_avx512 = { "avx512f",      qk_avx512,       pv_avx512,
                                               pack_k_generic, pack_v_avx512,   softmax_avx512,
                                               row_max_avx512, exp2_sum_avx512, exp2v_avx512 };
#endif

bool ops_attn_bf16_qk_for(bool avx512_bf16, enum ab_dtype in_dt, int HS, bool generic)
{
    return FLASH_X86 && avx512_bf16 && !generic && in_dt == AB_DTYPE_BF16 && HS % 16 == 0;
}

const char *ops_attn_isa_for(bool avx512f, bool avx2_fma, bool generic)
{
    if (generic || !FLASH_X86)
        return "generic";
    return avx512f ? "avx512f" : avx2_fma ? "avx2_fma" : "generic";
}

/* The micro-kernels for this CPU now (cpuid, and ops_set_generic). */
static const struct flash_kern *flash_pick(void)
{
#if FLASH_X86
    const char *isa =
        ops_attn_isa_for(__builtin_cpu_supports("avx512f"),
                         __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"), force_generic);
    if (strcmp(isa, "avx512f") == 0)
        return &kern_avx512;
    if (strcmp(isa, "avx2_fma") == 0)
        return &kern_avx2;
#endif
    return &kern_generic;
}

/* ------------------------------------------------------------------ tile-level entry points */

size_t ops_attn_packed_k_floats(int nk, int HS)
{
    return (size_t)(nk + 15) / 16 * 16 * (size_t)HS;
}

void ops_attn_pack_k(float *kp, const void *k, int64_t ldk, int nk, int HS, enum ab_dtype dt)
{
    flash_pick()->pack_k(kp, k, ldk, nk, HS, dt);
}

void ops_attn_qk(float *S, int ldS, const float *q, int ldq, const float *kp, int nq, int nk, int HS)
{
    flash_pick()->qk(S, ldS, q, ldq, kp, nq, nk, HS);
}

void ops_attn_pv(float *O, int ldo, const float *corr, const float *P, int ldp, const float *v, int64_t ldv,
                 int nq, int nk, int HS)
{
    flash_pick()->pv(O, ldo, corr, P, ldp, v, ldv, 16, nq, nk, HS);
}

float ops_attn_row_max(const float *s, int n)
{
    return flash_pick()->row_max(s, n);
}

float ops_attn_exp_sum(float *s, int n, float m)
{
    return flash_pick()->exp2_sum(s, n, m, 1.44269504088896341f);
}

void ops_attn_exp2(float *out, const float *x, size_t n)
{
    flash_pick()->exp2v(out, x, n);
}

const char *ops_attn_tile_impl(void)
{
    return flash_pick()->name;
}

/* ------------------------------------------------------------------ plans */

struct ops_attn {
    struct ops_attn_desc d;
    const struct flash_kern *k;
    int BQ, BK, nthreads;
    bool bf16_qk;      /* Q.K^T by VDPBF16PS (qk_bf16) */
    size_t per_thread; /* floats of scratch per thread, a multiple of 16 */
    float *scratch;    /* NULL with external_scratch */
};

void ops_attn_tile_sizes(size_t l2_bytes, int HS, int64_t BH, int Tq, int Tk, int threads, int *BQ, int *BK)
{
    if (l2_bytes < 64 * 1024)
        l2_bytes = 64 * 1024;
    int bq = 256, bk = 16;
    /* Enough query blocks for two per thread, where the shape has them. */
    while (bq > 16 && BH * ((Tq + bq - 1) / bq) < 2 * (int64_t)threads)
        bq /= 2;
    for (;;) {
        /* What every row strip of a key block reads again, S (BQ x BK) and the packed K and V
         * (BK x HS each), in half of L2; Q and O stream past them (measured on Zen 3: 256
         * queries a block re-read K and V half as often as 128, for 1.2x). */
        int64_t b = (int64_t)(l2_bytes / 4 / 2) / (bq + 2 * (int64_t)HS) / 16 * 16;
        bk = b < 16 ? 16 : b > 512 ? 512 : (int)b;
        if (bk >= 64 || bq <= 32)
            break;
        bq /= 2;
    }
    int tk16 = (Tk + 15) / 16 * 16;
    *BQ = bq < Tq ? bq : Tq;
    *BK = bk < tk16 ? bk : tk16;
}

static size_t l2_cache_bytes(void)
{
#ifdef _SC_LEVEL2_CACHE_SIZE
    long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (v > 0)
        return (size_t)v;
#endif
    return 256 * 1024;
}

ab_status ops_attn_plan(struct ops_attn **out, const struct ops_attn_desc *d, struct ab_error *err)
{
    *out = NULL;
    if (d->B <= 0 || d->NH <= 0 || d->Tq <= 0 || d->Tk <= 0 || d->HS <= 0 || d->HS > 1024 || d->group <= 0 ||
        d->NH % d->group)
        return ab_fail(err, AB_EINVAL,
                       "attention: bad shape B=%d NH=%d group=%d Tq=%d Tk=%d HS=%d (group divides NH, "
                       "HS <= 1024)",
                       d->B, d->NH, d->group, d->Tq, d->Tk, d->HS);
    bool ok_in = d->in_dt == AB_DTYPE_FP32 || d->in_dt == AB_DTYPE_BF16,
         ok_out = d->out_dt == AB_DTYPE_FP32 || d->out_dt == AB_DTYPE_BF16;
    if (!ok_in || !ok_out)
        return ab_fail(err, AB_EUNSUPPORTED, "attention: %s in, %s out: the CPU takes fp32 or bf16",
                       ab_dtype_name(d->in_dt), ab_dtype_name(d->out_dt));
    struct ops_attn *a = calloc(1, sizeof *a);
    if (!a)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    a->d = *d;
    a->k = flash_pick();
#if FLASH_X86
    a->bf16_qk =
        !d->q_fp32 && ops_attn_bf16_qk_for(ab_cpu_has("avx512_bf16"), d->in_dt, d->HS, force_generic);
#endif
    a->nthreads = omp_get_max_threads();
    ops_attn_tile_sizes(l2_cache_bytes(), d->HS, (int64_t)d->B * d->NH, d->Tq, d->Tk, a->nthreads, &a->BQ,
                        &a->BK);
    size_t HS = (size_t)d->HS, bq = (size_t)a->BQ, bk = (size_t)a->BK;
    size_t fl = 2 * bq * HS + bq * bk + 2 * bk * HS + 3 * bq;
    a->per_thread = (fl + 15) / 16 * 16; /* each thread's block 64-byte aligned */
    if (!d->external_scratch) {
        a->scratch = ab_alloc(ops_attn_scratch_bytes(a));
        if (!a->scratch) {
            free(a);
            return ab_fail(err, AB_ENOMEM, "attention: cannot allocate scratch");
        }
    }
    *out = a;
    return AB_OK;
}

size_t ops_attn_scratch_bytes(const struct ops_attn *a)
{
    return a->per_thread * sizeof(float) * (size_t)a->nthreads;
}

void ops_attn_tiles(const struct ops_attn *a, int *BQ, int *BK)
{
    *BQ = a->BQ;
    *BK = a->BK;
}

const char *ops_attn_impl(const struct ops_attn *a)
{
    return a->bf16_qk ? "avx512_bf16" : a->k->name;
}

void ops_attn_destroy(struct ops_attn *a)
{
    if (!a)
        return;
    ab_free(a->scratch);
    free(a);
}

/* One (batch b, query head h, queries [i0, i0 + nq)) task over its key blocks. */
static void flash_task(const struct ops_attn *a, const struct ops_attn_io *io, float *scr, int b, int h,
                       int i0, int nq)
{
    const struct ops_attn_desc *d = &a->d;
    const struct flash_kern *k = a->k;
    const int HS = d->HS, BQ = a->BQ, BK = a->BK;
    const bool bf_in = d->in_dt == AB_DTYPE_BF16, bf_q = bf_in && !d->q_fp32;
    float *Qs = scr, *O = Qs + (size_t)BQ * HS, *S = O + (size_t)BQ * HS, *Kp = S + (size_t)BQ * BK;
    float *Vf = Kp + (size_t)BK * HS, *m = Vf + (size_t)BK * HS, *l = m + BQ, *corr = l + BQ;
    const float alpha = (float)(1.4426950408889634 / sqrt((double)HS)); /* log2(e) / sqrt(HS) */
    const size_t es = ab_dtype_size(d->in_dt);
    for (int r = 0; r < nq; r++) {
        int64_t off = (int64_t)b * io->q_b + (int64_t)h * io->q_h + (int64_t)(i0 + r) * io->q_t;
        float *qr = Qs + (size_t)r * HS;
        if (a->bf16_qk) /* raw bf16 pairs; alpha is applied to the scores */
            memcpy(qr, (const uint16_t *)io->q + off, (size_t)HS * 2);
        else if (bf_q)
            for (int c = 0; c < HS; c++)
                qr[c] = ab_bf16_to_f32(((const uint16_t *)io->q)[off + c]) * alpha;
        else
            for (int c = 0; c < HS; c++)
                qr[c] = ((const float *)io->q)[off + c] * alpha;
        m[r] = -INFINITY;
        l[r] = 0.0f;
    }
    const int qpos = io->q_pos0 + i0; /* the first query's position among the keys */
    int kend = d->Tk;
    if (d->causal && qpos + nq < kend)
        kend = qpos + nq;
    const int64_t kvb = (int64_t)b * io->kv_b + (int64_t)(h / d->group) * io->kv_h;
    bool first = true;
    for (int k0 = 0; k0 < kend; k0 += BK) {
        int kn = kend - k0 < BK ? kend - k0 : BK;
        int64_t at = kvb + (int64_t)k0 * io->kv_t;
#if FLASH_X86
        if (a->bf16_qk)
            pack_k_bf16((uint32_t *)Kp, (const uint16_t *)io->k + at, io->kv_t, kn, HS);
        else
#endif
            k->pack_k(Kp, (const char *)io->k + (size_t)at * es, io->kv_t, kn, HS, d->in_dt);
        const char *vsrc = (const char *)io->v + (size_t)at * es;
        const float *Vm = Vf;
        int64_t ldv = 16, vbs = (int64_t)kn * 16;
        if (HS % 16 == 0) { /* by column blocks: each stays in L1 through P.V */
            k->pack_v(Vf, vsrc, io->kv_t, kn, HS, d->in_dt);
        } else if (bf_in) { /* widened, row-major */
            for (int j = 0; j < kn; j++)
                for (int c = 0; c < HS; c++)
                    Vf[(size_t)j * HS + c] =
                        ab_bf16_to_f32(((const uint16_t *)vsrc)[(size_t)j * io->kv_t + c]);
            ldv = HS, vbs = 16;
        } else { /* where it lies */
            Vm = (const float *)vsrc, ldv = io->kv_t, vbs = 16;
        }
#if FLASH_X86
        if (a->bf16_qk)
            qk_bf16(S, BK, (const uint32_t *)Qs, HS / 2, (const uint32_t *)Kp, nq, kn, HS, alpha);
        else
#endif
            k->qk(S, BK, Qs, HS, Kp, nq, kn, HS);
        bool masked = d->causal && k0 + kn - 1 > qpos; /* some key past the first query's */
        k->softmax(S, BK, nq, kn, masked, qpos - k0, m, l, corr);
        k->pv(O, HS, first ? NULL : corr, S, BK, Vm, ldv, vbs, nq, kn, HS);
        first = false;
    }
    for (int r = 0; r < nq; r++) {
        int64_t off = (int64_t)b * io->o_b + (int64_t)h * io->o_h + (int64_t)(i0 + r) * io->o_t;
        float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
        const float *orow = O + (size_t)r * HS;
        for (int c = 0; c < HS; c++) {
            float x = first ? 0.0f : orow[c] * inv; /* no key at all (a query before every key): 0 */
            if (d->out_dt == AB_DTYPE_FP32)
                ((float *)io->out)[off + c] = x;
            else
                ((uint16_t *)io->out)[off + c] = ab_bf16_from_f32(x);
        }
    }
}

void ops_attn_exec(struct ops_attn *a, const struct ops_attn_io *io, void *scratch)
{
    const struct ops_attn_desc *d = &a->d;
    float *base = scratch ? scratch : a->scratch;
    const int nqb = (d->Tq + a->BQ - 1) / a->BQ;
    const int64_t tasks = (int64_t)d->B * d->NH * nqb;
#pragma omp parallel num_threads(a->nthreads)
    {
        float *scr = base + a->per_thread * (size_t)omp_get_thread_num();
        /* Causal: the last query blocks have the most keys; hand them out first. */
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < tasks; t++) {
            int64_t bh = t % ((int64_t)d->B * d->NH);
            int qb = nqb - 1 - (int)(t / ((int64_t)d->B * d->NH));
            int i0 = qb * a->BQ, nq = d->Tq - i0 < a->BQ ? d->Tq - i0 : a->BQ;
            flash_task(a, io, scr, (int)(bh / d->NH), (int)(bh % d->NH), i0, nq);
        }
    }
}

/* The multi-head layout of transformer_block and gpt2: q, k, v rows of a (B,T,*) buffer. */
ab_status ops_attn_create(struct ops_attn **out, int B, int NH, int Tq, int Tk, int HS, bool causal,
                          enum ab_dtype dt, struct ab_error *err)
{
    struct ops_attn_desc d = { .B = B,
                               .NH = NH,
                               .group = 1,
                               .Tq = Tq,
                               .Tk = Tk,
                               .HS = HS,
                               .causal = causal,
                               .in_dt = dt,
                               .out_dt = dt };
    return ops_attn_plan(out, &d, err);
}

void ops_attn_run(struct ops_attn *a, void *out, const void *q, int ldq, const void *k, const void *v,
                  int ldkv, int q_pos0)
{
    const struct ops_attn_desc *d = &a->d;
    int64_t ldo = (int64_t)d->NH * d->HS;
    struct ops_attn_io io = { .q = q,
                              .k = k,
                              .v = v,
                              .out = out,
                              .q_b = (int64_t)d->Tq * ldq,
                              .q_h = d->HS,
                              .q_t = ldq,
                              .kv_b = (int64_t)d->Tk * ldkv,
                              .kv_h = d->HS,
                              .kv_t = ldkv,
                              .o_b = (int64_t)d->Tq * ldo,
                              .o_h = d->HS,
                              .o_t = ldo,
                              .q_pos0 = q_pos0 };
    ops_attn_exec(a, &io, NULL);
}
