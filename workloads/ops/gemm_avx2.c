/* gemm_avx2.c — the fp32 GEMM of packed matmul plans' many-row runs (prefill) on AVX2 + FMA CPUs
 * without AVX-512, over the (N,K) row-major weight matmul.c keeps there (oneDNN 2.6's gemm:jit
 * reads the same layout as a transposed B). That sgemm
 * copies both operands anew on every call, splits the work statically over the threads (one
 * preempted on a shared machine holds the others at its barrier) and applies bias and GELU in a
 * second pass over out. Here the threads take tiles of MC rows x NC columns dynamically; per
 * tile and KC-deep slice of K each 16-column panel of W^T is copied contiguous (it then stays in
 * L1 while every 6-row strip of inp takes it: 6 x 16 outputs in 12 ymm accumulators, inp read
 * in place from L2), and the epilogue is applied in registers after the last slice. */
#include "gemm_avx2.h"

#include "ops.h"

#include <immintrin.h>
#include <string.h>

#include "vmath.h"

enum { MR = 6, NR = 16, KC = 512, MC = 256, NC = 64 };

bool ops_gemm_avx2_usable(void)
{
    return !ops_generic() && ab_cpu_has("avx2") && ab_cpu_has("fma");
}

#pragma GCC push_options
#pragma GCC target("avx2,fma")

struct gemm_job {
    float *out;
    const float *inp, *W, *bias, *res;
    size_t ldi;
    int M, N, K;
    unsigned flags;
};

/* The epilogue of a strip's last slice: where its columns' bias and its rows' res start. */
struct strip_ep {
    const float *bias, *res;
};

/* C (R rows, 16 columns; row stride ldc) [+]= A (R rows of kc, row stride lda) . Bp (kc, 16),
 * from C's values when load, then the epilogue when ep (the last slice). */
static inline __attribute__((always_inline)) void ukr(const struct gemm_job *j, float *C, size_t ldc,
                                                      const float *A, size_t lda, const float *Bp, int kc,
                                                      bool load, const struct strip_ep *ep, const int R)
{
    __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        c0[r] = r < R && load ? _mm256_loadu_ps(C + r * ldc) : _mm256_setzero_ps();
        c1[r] = r < R && load ? _mm256_loadu_ps(C + r * ldc + 8) : _mm256_setzero_ps();
    }
#pragma GCC unroll 2
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(Bp + (size_t)k * NR), b1 = _mm256_load_ps(Bp + (size_t)k * NR + 8);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            __m256 a = _mm256_broadcast_ss(A + r * lda + k);
            c0[r] = _mm256_fmadd_ps(a, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(a, b1, c1[r]);
        }
    }
    if (ep) {
        unsigned f = j->flags;
        __m256 bb0 = _mm256_setzero_ps(), bb1 = _mm256_setzero_ps();
        if (f & OPS_MM_BIAS)
            bb0 = _mm256_loadu_ps(ep->bias), bb1 = _mm256_loadu_ps(ep->bias + 8);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            c0[r] = _mm256_add_ps(c0[r], bb0), c1[r] = _mm256_add_ps(c1[r], bb1);
            if (f & OPS_MM_GELU)
                c0[r] = ops_gelu_avx2(c0[r]), c1[r] = ops_gelu_avx2(c1[r]);
            if (f & OPS_MM_RESIDUAL) {
                const float *rr = ep->res + (size_t)r * j->N;
                c0[r] = _mm256_add_ps(c0[r], _mm256_loadu_ps(rr));
                c1[r] = _mm256_add_ps(c1[r], _mm256_loadu_ps(rr + 8));
            }
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        _mm256_storeu_ps(C + r * ldc, c0[r]);
        _mm256_storeu_ps(C + r * ldc + 8, c1[r]);
    }
}

/* ukr with R a constant, so that the accumulators stay registers */
static void strip(const struct gemm_job *j, float *C, size_t ldc, const float *A, const float *Bp, int kc,
                  bool load, const struct strip_ep *ep, int R)
{
    size_t lda = j->ldi;
    switch (R) {
    case 6: ukr(j, C, ldc, A, lda, Bp, kc, load, ep, 6); break;
    case 5: ukr(j, C, ldc, A, lda, Bp, kc, load, ep, 5); break;
    case 4: ukr(j, C, ldc, A, lda, Bp, kc, load, ep, 4); break;
    case 3: ukr(j, C, ldc, A, lda, Bp, kc, load, ep, 3); break;
    case 2: ukr(j, C, ldc, A, lda, Bp, kc, load, ep, 2); break;
    default: ukr(j, C, ldc, A, lda, Bp, kc, load, ep, 1); break;
    }
}

/* The 8 x 8 block at s (row stride ld) transposed into d (row stride ldd) */
static inline void transpose8(float *d, size_t ldd, const float *s, size_t ld)
{
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(s + (size_t)i * ld);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(d + (size_t)i * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
        _mm256_storeu_ps(d + (size_t)(i + 4) * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
}

/* Bp (kc, 16) = W^T rows k0.., columns n.. (w <= 16 of them, zeros after): W is (N,K), so the
 * panel is the transpose of w weight rows' kc elements, 8 x 8 blocks at a time. */
static void pack_panel(float *Bp, const struct gemm_job *j, int k0, int kc, int n, int w)
{
    size_t K = (size_t)j->K;
    const float *src = j->W + (size_t)n * K + (size_t)k0;
    int k = 0;
    if (w == NR)
        for (; k + 8 <= kc; k += 8) {
            transpose8(Bp + (size_t)k * NR, NR, src + k, K);
            transpose8(Bp + (size_t)k * NR + 8, NR, src + 8 * K + k, K);
        }
    for (; k < kc; k++)
        for (int c = 0; c < NR; c++)
            Bp[(size_t)k * NR + c] = c < w ? src[(size_t)c * K + k] : 0.0f;
}

/* A strip whose panel has w < 16 columns: through a (R, 16) tile of its own, the epilogue on
 * the columns that exist. */
static void strip_partial(const struct gemm_job *j, float *C, const float *A, const float *Bp, int kc,
                          bool load, bool last, int R, int m, int n, int w)
{
    _Alignas(32) float t[MR * NR];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < NR; c++)
            t[r * NR + c] = load && c < w ? C[(size_t)r * j->N + c] : 0.0f;
    strip(j, t, NR, A, Bp, kc, true, NULL, R);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < w; c++) {
            float v = t[r * NR + c];
            if (last) {
                if (j->flags & OPS_MM_BIAS)
                    v += j->bias[n + c];
                if (j->flags & OPS_MM_GELU) {
                    _Alignas(32) float g[8] = { v };
                    _mm256_store_ps(g, ops_gelu_avx2(_mm256_load_ps(g)));
                    v = g[0];
                }
                if (j->flags & OPS_MM_RESIDUAL)
                    v += j->res[(size_t)(m + r) * j->N + n + c];
            }
            C[(size_t)r * j->N + c] = v;
        }
}

/* The tile of rows m0 .. m0+mn, columns n0 .. n0+nn, over all of K. */
static void tile(const struct gemm_job *j, float *Bp, int m0, int mn, int n0, int nn)
{
    for (int k0 = 0; k0 < j->K; k0 += KC) {
        int kc = j->K - k0 < KC ? j->K - k0 : KC;
        bool load = k0 > 0 || (j->flags & OPS_MM_ACCUM), last = k0 + kc >= j->K;
        for (int p = 0; p < nn; p += NR) {
            int n = n0 + p, w = nn - p < NR ? nn - p : NR;
            pack_panel(Bp, j, k0, kc, n, w);
            for (int i = 0; i < mn; i += MR) {
                int m = m0 + i, R = mn - i < MR ? mn - i : MR;
                float *C = j->out + (size_t)m * j->N + n;
                const float *A = j->inp + (size_t)m * j->ldi + k0;
                if (w < NR) {
                    strip_partial(j, C, A, Bp, kc, load, last, R, m, n, w);
                    continue;
                }
                struct strip_ep ep = { j->bias ? j->bias + n : NULL,
                                       j->res ? j->res + (size_t)m * j->N + n : NULL };
                strip(j, C, (size_t)j->N, A, Bp, kc, load, last ? &ep : NULL, R);
            }
        }
    }
}

#pragma GCC pop_options

void ops_gemm_avx2(float *out, const float *inp, size_t ldi, const float *W, int M, int N, int K,
                   unsigned flags, const float *bias, const float *res)
{
    struct gemm_job j = { .out = out,
                          .inp = inp,
                          .W = W,
                          .bias = (flags & OPS_MM_BIAS) ? bias : NULL,
                          .res = (flags & OPS_MM_RESIDUAL) ? res : NULL,
                          .ldi = ldi,
                          .M = M,
                          .N = N,
                          .K = K,
                          .flags = flags };
    int mt = (M + MC - 1) / MC, nt = (N + NC - 1) / NC;
#pragma omp parallel
    {
        _Alignas(32) float Bp[KC * NR];
        /* column blocks outermost: the threads start on different parts of W */
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < mt * nt; t++) {
            int mb = t % mt, nb = t / mt;
            int m0 = mb * MC, n0 = nb * NC;
            tile(&j, Bp, m0, M - m0 < MC ? M - m0 : MC, n0, N - n0 < NC ? N - n0 : NC);
        }
    }
}
