/* kernels.cu — the gpt2 CUDA kernels, simple and correct first: the matmuls (cuBLASLt) and the
 * attention (ops' fused and decode kernels, ops_cuda_cache_attention) are ops', called from
 * cuda.c; these move rows: the embedding, LayerNorm, conversion, the KV-cache append and the
 * greedy argmax. */
#include "argmax.h"
#include "gpt2_cuda.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <float.h>

__device__ static inline int start_pos(const int *dpos, int pos0)
{
    return dpos ? *dpos : pos0;
}

__device__ static inline void store(void *out, int dt, size_t i, float v)
{
    if (dt == AB_DTYPE_BF16)
        ((__nv_bfloat16 *)out)[i] = __float2bfloat16(v);
    else if (dt == AB_DTYPE_FP16)
        ((__half *)out)[i] = __float2half(v);
    else
        ((float *)out)[i] = v;
}

/* Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it. */
__device__ static float block_sum(float v)
{
    __shared__ float part[32];
    for (int o = 16; o; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0)
        part[threadIdx.x >> 5] = v;
    __syncthreads();
    float t = 0;
    for (int w = 0; w < (int)(blockDim.x >> 5); w++)
        t += part[w];
    return t;
}

/* A token outside [0, V) never indexes the embedding: it reads row 0 and raises a flag. */
__global__ static void embed_kernel(float *x, const int *tok, const float *wte, const float *wpe,
                                    const int *dpos, int pos0, int Tq, int C, int V, int *flags)
{
    int r = blockIdx.x, p = start_pos(dpos, pos0) + r % Tq, t = tok[r];
    if (t < 0 || t >= V) {
        if (threadIdx.x == 0)
            atomicOr(flags, GPT2_CU_BAD_TOKEN);
        t = 0;
    }
    const float *e = wte + (size_t)t * C, *pe = wpe + (size_t)p * C;
    for (int j = threadIdx.x; j < C; j += blockDim.x)
        x[(size_t)r * C + j] = e[j] + pe[j];
}

__global__ static void layernorm_kernel(void *out, int dt, const float *x, const float *g, const float *b,
                                        int rstep, int roff, int C)
{
    const float *row = x + ((size_t)blockIdx.x * rstep + roff) * C;
    float s = 0;
    for (int j = threadIdx.x; j < C; j += blockDim.x)
        s += row[j];
    float mean = block_sum(s) / C, v = 0;
    for (int j = threadIdx.x; j < C; j += blockDim.x)
        v += (row[j] - mean) * (row[j] - mean);
    float rs = rsqrtf(block_sum(v) / C + 1e-5f);
    for (int j = threadIdx.x; j < C; j += blockDim.x)
        store(out, dt, (size_t)blockIdx.x * C + j, (row[j] - mean) * rs * g[j] + b[j]);
}

__global__ static void convert_kernel(void *dst, int dt, const float *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        store(dst, dt, i, src[i]);
}

__global__ static void kv_append_kernel(float *kc, float *vc, const float *qkv, const int *dpos, int pos0,
                                        int Tq, int C, int maxT)
{
    int r = blockIdx.x, b = r / Tq, p = start_pos(dpos, pos0) + r % Tq;
    const float *row = qkv + (size_t)r * 3 * C;
    size_t at = ((size_t)b * maxT + p) * C;
    for (int j = threadIdx.x; j < C; j += blockDim.x) {
        kc[at + j] = row[C + j];
        vc[at + j] = row[2 * C + j];
    }
}

/* One block per row of V logits (row stride ld): argmax.h's rule, the CPU's, over a strided
 * scan then a tree; any grouping of that total order gives the sequential answer. */
__global__ static void argmax_kernel(int *tok, const float *logits, int V, int ld, int *dpos, int *flags)
{
    __shared__ float bv[1024];
    __shared__ int bi[1024];
    const float *row = logits + (size_t)blockIdx.x * ld;
    float best = -FLT_MAX;
    int arg = GPT2_ARGMAX_NONE;
    for (int j = threadIdx.x; j < V; j += blockDim.x)
        if (gpt2_argmax_better(row[j], j, best, arg))
            best = row[j], arg = j;
    bv[threadIdx.x] = best, bi[threadIdx.x] = arg;
    __syncthreads();
    for (int w = blockDim.x / 2; w; w >>= 1) {
        if ((int)threadIdx.x < w &&
            gpt2_argmax_better(bv[threadIdx.x + w], bi[threadIdx.x + w], bv[threadIdx.x], bi[threadIdx.x]))
            bv[threadIdx.x] = bv[threadIdx.x + w], bi[threadIdx.x] = bi[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        int a = bi[0];
        tok[blockIdx.x] = a >= 0 && a < V ? a : 0; /* only with V < 1 */
        if (bv[0] != bv[0])                        /* NaN wins: the row held one */
            atomicOr(flags, GPT2_CU_NAN_LOGITS);
        if (dpos && blockIdx.x == 0)
            *dpos += 1;
    }
}

extern "C" {

cudaError_t gpt2_cu_embed(float *x, const int *tok, const float *wte, const float *wpe, const int *dpos,
                          int pos0, int B, int Tq, int C, int V, int *flags, cudaStream_t s)
{
    embed_kernel<<<B * Tq, 256, 0, s>>>(x, tok, wte, wpe, dpos, pos0, Tq, C, V, flags);
    return cudaGetLastError();
}

cudaError_t gpt2_cu_layernorm(void *out, int dt, const float *x, const float *g, const float *b, int rows,
                              int rstep, int roff, int C, cudaStream_t s)
{
    layernorm_kernel<<<rows, 256, 0, s>>>(out, dt, x, g, b, rstep, roff, C);
    return cudaGetLastError();
}

cudaError_t gpt2_cu_convert(void *dst, int dt, const float *src, size_t n, cudaStream_t s)
{
    size_t blocks = (n + 255) / 256;
    convert_kernel<<<(unsigned)(blocks < 65536 ? blocks : 65536), 256, 0, s>>>(dst, dt, src, n);
    return cudaGetLastError();
}

cudaError_t gpt2_cu_convert_weights(void *dst, int dt, const float *src, size_t n)
{
    cudaError_t e = gpt2_cu_convert(dst, dt, src, n, 0);
    return e != cudaSuccess ? e : cudaDeviceSynchronize();
}

cudaError_t gpt2_cu_kv_append(float *kc, float *vc, const float *qkv, const int *dpos, int pos0, int B,
                              int Tq, int C, int maxT, cudaStream_t s)
{
    kv_append_kernel<<<B * Tq, 256, 0, s>>>(kc, vc, qkv, dpos, pos0, Tq, C, maxT);
    return cudaGetLastError();
}

cudaError_t gpt2_cu_argmax(int *tok, const float *logits, int B, int V, int ld, int *dpos, int *flags,
                           cudaStream_t s)
{
    argmax_kernel<<<B, 1024, 0, s>>>(tok, logits, V, ld, dpos, flags);
    return cudaGetLastError();
}

} /* extern "C" */
