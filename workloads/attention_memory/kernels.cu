/* kernels.cu — attention_memory's CUDA kernels and their C-linkage launchers, from naive to fast:
 *   attn_scores_kernel1, attn_row_exp_kernel1, attn_pv_kernel1, attn_merge_kernel1: the pieces
 *     of naive attention (one n x n chunk) and of Rabe & Staats' chunked attention (many),
 *     plain CUDA-core code that stores the chunk's scores;
 *   (fused: ops' attn_tc_kernel2 in workloads/ops/ops_cuda.cu, through
 *     ops_cuda_attention_strided: flash-style online softmax on tensor cores, the kernel
 *     transformer_block and gpt2 run too);
 *   attn_decode_kernel1 + merge: one query per head over a KV cache, a warp per key row
 *     (coalesced 8-byte loads per lane), keys split across blocks (several per SM, see
 *     attention_memory_cuda_decode_split), partial results merged. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>

#include "attention_memory_cuda.h"

enum { DT_FP32 = 0, DT_BF16 = 1, DT_FP16 = 2 }; /* = enum ab_dtype */

template <typename T> __device__ __forceinline__ float ld(const T *p, size_t i);
template <> __device__ __forceinline__ float ld<float>(const float *p, size_t i)
{
    return p[i];
}
template <> __device__ __forceinline__ float ld<__nv_bfloat16>(const __nv_bfloat16 *p, size_t i)
{
    return __bfloat162float(p[i]);
}
template <> __device__ __forceinline__ float ld<__half>(const __half *p, size_t i)
{
    return __half2float(p[i]);
}

/* p[i..i+3] as floats in one 8-byte load (16-bit types; p + i 8-byte aligned). */
template <typename T> __device__ __forceinline__ void ld4(const T *p, size_t i, float *out);
template <> __device__ __forceinline__ void ld4<__nv_bfloat16>(const __nv_bfloat16 *p, size_t i, float *out)
{
    uint2 u = *reinterpret_cast<const uint2 *>(p + i);
    float2 a = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(&u.x));
    float2 b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(&u.y));
    out[0] = a.x, out[1] = a.y, out[2] = b.x, out[3] = b.y;
}
template <> __device__ __forceinline__ void ld4<__half>(const __half *p, size_t i, float *out)
{
    uint2 u = *reinterpret_cast<const uint2 *>(p + i);
    float2 a = __half22float2(*reinterpret_cast<const __half2 *>(&u.x));
    float2 b = __half22float2(*reinterpret_cast<const __half2 *>(&u.y));
    out[0] = a.x, out[1] = a.y, out[2] = b.x, out[3] = b.y;
}

/* ------------------------------------------------------------------ naive / chunked pieces */

enum { TS = 16 };

template <typename T>
__global__ void attn_scores_kernel1(float *S, int ldS, const T *q, const T *k, int qn, int kn, int d,
                                    int causal, int diag, float scale)
{
    __shared__ float qs[TS][TS + 1], ks[TS][TS + 1];
    int i = blockIdx.y * TS + threadIdx.y, j = blockIdx.x * TS + threadIdx.x;
    int kr = blockIdx.x * TS + threadIdx.y; /* the key row this thread loads */
    float acc = 0;
    for (int c0 = 0; c0 < d; c0 += TS) {
        int c = c0 + threadIdx.x;
        qs[threadIdx.y][threadIdx.x] = (i < qn && c < d) ? ld(q, (size_t)i * d + c) : 0.f;
        ks[threadIdx.y][threadIdx.x] = (kr < kn && c < d) ? ld(k, (size_t)kr * d + c) : 0.f;
        __syncthreads();
#pragma unroll
        for (int t = 0; t < TS; t++)
            acc += qs[threadIdx.y][t] * ks[threadIdx.x][t];
        __syncthreads();
    }
    if (i < qn && j < kn)
        S[(size_t)i * ldS + j] = (causal && j > i + diag) ? -INFINITY : acc * scale;
}

__global__ void attn_row_exp_kernel1(float *S, int ldS, int qn, int kn, float *m, float *l)
{
    __shared__ float red[32];
    int i = blockIdx.x;
    if (i >= qn)
        return;
    float *row = S + (size_t)i * ldS;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < kn; j += blockDim.x)
        mx = fmaxf(mx, row[j]);
    for (int o = 16; o; o >>= 1)
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    if ((threadIdx.x & 31) == 0)
        red[threadIdx.x >> 5] = mx;
    __syncthreads();
    mx = -INFINITY;
    for (int w = 0; w < (int)(blockDim.x >> 5); w++)
        mx = fmaxf(mx, red[w]);
    __syncthreads();
    float sum = 0;
    for (int j = threadIdx.x; j < kn; j += blockDim.x) {
        float p = mx == -INFINITY ? 0.f : __expf(row[j] - mx);
        row[j] = p;
        sum += p;
    }
    for (int o = 16; o; o >>= 1)
        sum += __shfl_xor_sync(0xffffffffu, sum, o);
    if ((threadIdx.x & 31) == 0)
        red[threadIdx.x >> 5] = sum;
    __syncthreads();
    if (threadIdx.x == 0) {
        float s = 0;
        for (int w = 0; w < (int)(blockDim.x >> 5); w++)
            s += red[w];
        m[i] = mx;
        l[i] = s;
    }
}

/* out[i][c] = sum_j P[i][j] v[j][c]: a thread per (i, c), threads of a warp along c. Rows go
 * on grid x (up to 2^31 - 1 blocks): naive attention's qn = n passes grid y's 65535. */
template <typename T>
__global__ void attn_pv_kernel1(float *out, const float *P, int ldP, const T *v, int qn, int kn, int d)
{
    int c = blockIdx.y * blockDim.x + threadIdx.x, i = blockIdx.x;
    if (c >= d || i >= qn)
        return;
    const float *p = P + (size_t)i * ldP;
    float acc = 0;
    for (int j = 0; j < kn; j++)
        acc += p[j] * ld(v, (size_t)j * d + c);
    out[(size_t)i * d + c] = acc;
}

__global__ void attn_merge_kernel1(float *out, const float *vals, const float *m, const float *l, int nc,
                                   int qn, int d)
{
    int c = blockIdx.y * blockDim.x + threadIdx.x, i = blockIdx.x; /* rows on grid x, as in pv */
    if (c >= d || i >= qn)
        return;
    float gm = -INFINITY, num = 0, den = 0;
    for (int k = 0; k < nc; k++)
        gm = fmaxf(gm, m[(size_t)k * qn + i]);
    for (int k = 0; k < nc; k++) {
        float mk = m[(size_t)k * qn + i];
        if (mk == -INFINITY)
            continue;
        float w = __expf(mk - gm);
        num += w * vals[((size_t)k * qn + i) * d + c];
        den += w * l[(size_t)k * qn + i];
    }
    out[(size_t)i * d + c] = num / den;
}

/* ------------------------------------------------------------------ decode */

enum { DEC_WARPS = 4, DEC_MAXG = 8 };

/* Block = (b, kv head, split); each warp takes every DEC_WARPS-th key of the span, a lane
 * holds 4 of the 128 dimensions: one 8-byte load per row of K and of V, aligned because rows
 * are 256 bytes from a cudaMalloc'ed base and a lane's 4 elements start at 8 * lane bytes. */
template <typename T, int G>
__global__ void __launch_bounds__(DEC_WARPS * 32)
    attn_decode_kernel1(float *parts, const T *q, const T *k, const T *v, int Hkv, int n, int span,
                        float scale)
{
    const int D = 128;
    const int split = blockIdx.x, sq = blockIdx.y, splits = gridDim.x; /* sq = b * Hkv + hk */
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, c = lane * 4;
    const int b = sq / Hkv, hk = sq % Hkv;
    const size_t cache = (size_t)sq * n * D;
    float qr[G][4], acc[G][4], m[G], l[G];
#pragma unroll
    for (int gi = 0; gi < G; gi++) {
        size_t qo = ((size_t)b * Hkv * G + (size_t)hk * G + gi) * D + c;
        ld4(q, qo, qr[gi]);
#pragma unroll
        for (int e = 0; e < 4; e++) {
            qr[gi][e] *= scale;
            acc[gi][e] = 0.f;
        }
        m[gi] = -INFINITY;
        l[gi] = 0.f;
    }
    int j0 = split * span, j1 = min(n, j0 + span);
    for (int j = j0 + warp; j < j1; j += DEC_WARPS) {
        float kr[4], vr[4];
        ld4(k, cache + (size_t)j * D + c, kr);
        ld4(v, cache + (size_t)j * D + c, vr);
#pragma unroll
        for (int gi = 0; gi < G; gi++) {
            float s = qr[gi][0] * kr[0] + qr[gi][1] * kr[1] + qr[gi][2] * kr[2] + qr[gi][3] * kr[3];
            for (int o = 16; o; o >>= 1)
                s += __shfl_xor_sync(0xffffffffu, s, o);
            float mn = fmaxf(m[gi], s), corr = __expf(m[gi] - mn), p = __expf(s - mn);
            l[gi] = l[gi] * corr + p;
            m[gi] = mn;
#pragma unroll
            for (int e = 0; e < 4; e++)
                acc[gi][e] = acc[gi][e] * corr + p * vr[e];
        }
    }
    /* combine the warps */
    __shared__ float sm[DEC_WARPS][G], sl[DEC_WARPS][G], sacc[DEC_WARPS][G][D];
#pragma unroll
    for (int gi = 0; gi < G; gi++) {
        if (lane == 0) {
            sm[warp][gi] = m[gi];
            sl[warp][gi] = l[gi];
        }
#pragma unroll
        for (int e = 0; e < 4; e++)
            sacc[warp][gi][c + e] = acc[gi][e];
    }
    __syncthreads();
    for (int x = threadIdx.x; x < G * D; x += blockDim.x) {
        int gi = x / D, cc = x % D;
        float gm = -INFINITY, num = 0.f, den = 0.f;
        for (int w = 0; w < DEC_WARPS; w++)
            gm = fmaxf(gm, sm[w][gi]);
        for (int w = 0; w < DEC_WARPS; w++) {
            if (sm[w][gi] == -INFINITY)
                continue;
            float wt = __expf(sm[w][gi] - gm);
            num += wt * sacc[w][gi][cc];
            den += wt * sl[w][gi];
        }
        float *pg = parts + ((size_t)sq * splits + split) * G * (D + 2) + (size_t)gi * (D + 2);
        if (cc == 0) {
            pg[0] = gm;
            pg[1] = den;
        }
        pg[2 + cc] = num;
    }
}

__global__ void attn_decode_merge_kernel1(float *out, const float *parts, int G, int d, int splits)
{
    int sq = blockIdx.x, gi = blockIdx.y, c = threadIdx.x;
    if (c >= d)
        return;
    const float *base = parts + (size_t)sq * splits * G * (d + 2) + (size_t)gi * (d + 2);
    size_t stride = (size_t)G * (d + 2);
    float gm = -INFINITY, num = 0.f, den = 0.f;
    for (int s = 0; s < splits; s++)
        gm = fmaxf(gm, base[s * stride]);
    for (int s = 0; s < splits; s++) {
        const float *p = base + s * stride;
        if (p[0] == -INFINITY)
            continue;
        float w = __expf(p[0] - gm);
        num += w * p[2 + c];
        den += w * p[1];
    }
    out[((size_t)sq * G + gi) * d + c] = num / den;
}

/* ------------------------------------------------------------------ launchers */

extern "C" cudaError_t am_cuda_scores(float *S, int ldS, const void *q, const void *k, int qn, int kn, int d,
                                      int dtype, int causal, int diag, float scale, cudaStream_t stream)
{
    if ((qn + TS - 1) / TS > AM_CUDA_MAX_GRID_Y)
        return cudaErrorInvalidValue;
    dim3 block(TS, TS), grid((kn + TS - 1) / TS, (qn + TS - 1) / TS);
    if (dtype == DT_FP32)
        attn_scores_kernel1<float><<<grid, block, 0, stream>>>(S, ldS, (const float *)q, (const float *)k, qn,
                                                               kn, d, causal, diag, scale);
    else if (dtype == DT_BF16)
        attn_scores_kernel1<__nv_bfloat16><<<grid, block, 0, stream>>>(
            S, ldS, (const __nv_bfloat16 *)q, (const __nv_bfloat16 *)k, qn, kn, d, causal, diag, scale);
    else
        attn_scores_kernel1<__half><<<grid, block, 0, stream>>>(S, ldS, (const __half *)q, (const __half *)k,
                                                                qn, kn, d, causal, diag, scale);
    return cudaGetLastError();
}

extern "C" cudaError_t am_cuda_row_exp(float *S, int ldS, int qn, int kn, float *m, float *l,
                                       cudaStream_t stream)
{
    attn_row_exp_kernel1<<<qn, 256, 0, stream>>>(S, ldS, qn, kn, m, l);
    return cudaGetLastError();
}

extern "C" cudaError_t am_cuda_pv(float *out, const float *P, int ldP, const void *v, int qn, int kn, int d,
                                  int dtype, cudaStream_t stream)
{
    dim3 block(64), grid(qn, (d + 63) / 64);
    if (dtype == DT_FP32)
        attn_pv_kernel1<float><<<grid, block, 0, stream>>>(out, P, ldP, (const float *)v, qn, kn, d);
    else if (dtype == DT_BF16)
        attn_pv_kernel1<__nv_bfloat16>
            <<<grid, block, 0, stream>>>(out, P, ldP, (const __nv_bfloat16 *)v, qn, kn, d);
    else
        attn_pv_kernel1<__half><<<grid, block, 0, stream>>>(out, P, ldP, (const __half *)v, qn, kn, d);
    return cudaGetLastError();
}

extern "C" cudaError_t am_cuda_merge(float *out, const float *vals, const float *m, const float *l, int nc,
                                     int qn, int d, cudaStream_t stream)
{
    dim3 block(64), grid(qn, (d + 63) / 64);
    attn_merge_kernel1<<<grid, block, 0, stream>>>(out, vals, m, l, nc, qn, d);
    return cudaGetLastError();
}

template <typename T>
static void decode_launch(float *parts, const void *q, const void *k, const void *v, int B, int Hkv, int G,
                          int n, int splits, int span, float scale, cudaStream_t stream)
{
    dim3 grid(splits, B * Hkv), block(DEC_WARPS * 32);
    const T *qq = (const T *)q, *kk = (const T *)k, *vv = (const T *)v;
    switch (G) {
    case 1:
        attn_decode_kernel1<T, 1><<<grid, block, 0, stream>>>(parts, qq, kk, vv, Hkv, n, span, scale);
        break;
    case 2:
        attn_decode_kernel1<T, 2><<<grid, block, 0, stream>>>(parts, qq, kk, vv, Hkv, n, span, scale);
        break;
    case 4:
        attn_decode_kernel1<T, 4><<<grid, block, 0, stream>>>(parts, qq, kk, vv, Hkv, n, span, scale);
        break;
    default:
        attn_decode_kernel1<T, 8><<<grid, block, 0, stream>>>(parts, qq, kk, vv, Hkv, n, span, scale);
        break;
    }
}

extern "C" cudaError_t am_cuda_decode(float *parts, const void *q, const void *k, const void *v, int B,
                                      int Hkv, int G, int n, int d, int dtype, int splits, int span,
                                      float scale, cudaStream_t stream)
{
    if (d != 128 || (G != 1 && G != 2 && G != 4 && G != 8) || dtype == DT_FP32 ||
        (int64_t)B * Hkv > AM_CUDA_MAX_GRID_Y)
        return cudaErrorInvalidValue;
    if (dtype == DT_BF16)
        decode_launch<__nv_bfloat16>(parts, q, k, v, B, Hkv, G, n, splits, span, scale, stream);
    else
        decode_launch<__half>(parts, q, k, v, B, Hkv, G, n, splits, span, scale, stream);
    return cudaGetLastError();
}

extern "C" cudaError_t am_cuda_decode_merge(float *out, const float *parts, int B, int Hkv, int G, int d,
                                            int splits, cudaStream_t stream)
{
    dim3 grid(B * Hkv, G), block(d);
    attn_decode_merge_kernel1<<<grid, block, 0, stream>>>(out, parts, G, d, splits);
    return cudaGetLastError();
}
