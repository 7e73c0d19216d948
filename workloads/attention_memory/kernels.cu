/* kernels.cu — attention_memory's own CUDA kernels and their C-linkage launchers:
 *   attn_scores_kernel1, attn_row_exp_kernel1, attn_pv_kernel1, attn_merge_kernel1: the pieces
 *     of naive attention (one n x n chunk) and of Rabe & Staats' chunked attention (many),
 *     plain CUDA-core code that stores the chunk's scores: algorithms of their own.
 * The fused kernels are ops' (workloads/ops/ops_cuda.cu), the ones transformer_block and gpt2
 * run: attn_tc_kernel2 (flash-style, tensor cores) through ops_cuda_attention_strided for the
 * fused case, attn_decode_kernel1 + merge (one query per head over a KV cache, keys split
 * across blocks) through ops_cuda_decode_attention for decode. */
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
