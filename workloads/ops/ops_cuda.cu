/* ops_cuda.cu — device side of the shared ops (see ops_cuda.h). Kernels, plain to fast:
 *   ln_kernel1 (a block per row, two-pass statistics), convert_kernel1: memory-bound row and
 *     element kernels (GELU and the residual adds are fused into the matmuls' epilogues);
 *   attn_warp_kernel1: fused attention on CUDA cores, a warp per query with an online
 *     softmax (fp32, or head sizes the tensor-core kernel does not take);
 *   attn_tc_kernel2: flash-style fused attention on tensor cores (mma.sync m16n8k16,
 *     bf16/fp16 in, fp32 accumulate), 64 queries per block of 4 warps, K/V tiles of 64 keys in
 *     shared memory, P kept in registers as the A operand of P V;
 *   attn_decode_kernel1 + attn_decode_merge_kernel1: one query per head over a KV cache, a
 *     warp per key row (a vector load of HS / 32 elements per lane), keys split across blocks
 *     (ops_cuda_decode_split), the splits' partial softmaxes merged.
 * The attention kernels take strided q, k, v and out (a fused QKV buffer, a (B,max_T,C) cache
 * or separate (H,n,d) tensors), grouped KV heads, out in the inputs' dtype or fp32; the fused
 * ones causal or not, with queries at q_pos0.. among the keys (a KV cache's continuation), the
 * position read from the device where a captured decode step needs it. They are the attention
 * of transformer_block, attention_memory's fused and decode cases and gpt2
 * (ops_cuda_cache_attention).
 * Matmuls: the one cuBLASLt builder of the suite (ops_cuda_matmul_plan, any ops_mm_desc), with
 * its bias / GELU+bias epilogues, C = residual or D (accumulate), beta = 1, FP8 scale pointers
 * and outer vectors, or scale_outer_kernel1 over an fp32 product where cuBLASLt lacks them. */
#include "ab_cuda.h"
#include "ops_cuda.h"

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

template <typename T> __device__ __forceinline__ float ldf(const T *p, size_t i);
template <> __device__ __forceinline__ float ldf<float>(const float *p, size_t i)
{
    return p[i];
}
template <> __device__ __forceinline__ float ldf<__nv_bfloat16>(const __nv_bfloat16 *p, size_t i)
{
    return __bfloat162float(p[i]);
}
template <> __device__ __forceinline__ float ldf<__half>(const __half *p, size_t i)
{
    return __half2float(p[i]);
}
template <typename T> __device__ __forceinline__ void stf(T *p, size_t i, float x);
template <> __device__ __forceinline__ void stf<float>(float *p, size_t i, float x)
{
    p[i] = x;
}
template <> __device__ __forceinline__ void stf<__nv_bfloat16>(__nv_bfloat16 *p, size_t i, float x)
{
    p[i] = __float2bfloat16(x);
}
template <> __device__ __forceinline__ void stf<__half>(__half *p, size_t i, float x)
{
    p[i] = __float2half(x);
}

#define DISPATCH(dt, CALL)                                                                                   \
    do {                                                                                                     \
        if ((dt) == AB_DTYPE_FP32) {                                                                         \
            typedef float T;                                                                                 \
            CALL;                                                                                            \
        } else if ((dt) == AB_DTYPE_BF16) {                                                                  \
            typedef __nv_bfloat16 T;                                                                         \
            CALL;                                                                                            \
        } else {                                                                                             \
            typedef __half T;                                                                                \
            CALL;                                                                                            \
        }                                                                                                    \
    } while (0)

/* ------------------------------------------------------------------ row and element kernels */

__device__ float block_sum(float v, float *red)
{
    for (int o = 16; o; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0)
        red[threadIdx.x >> 5] = v;
    __syncthreads();
    float s = 0;
    for (int w = 0; w < (int)(blockDim.x >> 5); w++)
        s += red[w];
    return s;
}

template <typename T> __global__ void ln_kernel1(T *out, const T *inp, const float *g, const float *b, int C)
{
    __shared__ float red[32];
    const T *x = inp + (size_t)blockIdx.x * C;
    float s = 0;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        s += ldf(x, c);
    float mean = block_sum(s, red) / C, ss = 0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float d = ldf(x, c) - mean;
        ss += d * d;
    }
    float rstd = rsqrtf(block_sum(ss, red) / C + OPS_LN_EPS);
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        stf(out, (size_t)blockIdx.x * C + c, (ldf(x, c) - mean) * rstd * g[c] + b[c]);
}

template <typename D, typename S> __global__ void convert_kernel1(D *dst, const S *src, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        stf(dst, i, ldf(src, i));
}

static int grid_for(size_t n)
{
    size_t g = (n + 255) / 256;
    return (int)(g < 65535 * 8 ? (g ? g : 1) : 65535 * 8);
}

extern "C" ab_status ops_cuda_layernorm(void *out, const void *inp, const float *gamma, const float *beta,
                                        int N, int C, enum ab_dtype dt, void *stream, struct ab_error *err)
{
    DISPATCH(dt,
             (ln_kernel1<T><<<N, 256, 0, (cudaStream_t)stream>>>((T *)out, (const T *)inp, gamma, beta, C)));
    AB_CUDA_TRY_LAUNCH(err);
    return AB_OK;
}

extern "C" ab_status ops_cuda_convert(void *dst, enum ab_dtype dst_dt, const void *src, enum ab_dtype src_dt,
                                      size_t n, void *stream, struct ab_error *err)
{
    cudaStream_t s = (cudaStream_t)stream;
    int g = grid_for(n);
    if (dst_dt == AB_DTYPE_FP32)
        DISPATCH(src_dt, (convert_kernel1<float, T><<<g, 256, 0, s>>>((float *)dst, (const T *)src, n)));
    else if (src_dt == AB_DTYPE_FP32)
        DISPATCH(dst_dt, (convert_kernel1<T, float><<<g, 256, 0, s>>>((T *)dst, (const float *)src, n)));
    else
        return ab_fail(err, AB_EINVAL, "convert: one side must be fp32");
    AB_CUDA_TRY_LAUNCH(err);
    return AB_OK;
}

/* ------------------------------------------------------------------ attention, CUDA cores */

/* Element (b, h, i, c) of a strided attention tensor (see ops_cuda_attn_strides). */
static __device__ __forceinline__ size_t at(struct ops_cuda_attn_strides s, int b, int h, int i)
{
    return ops_cuda_attn_at(s, b, h, i);
}

/* The span's first query position and its keys, read from the device with d_pos. */
static __device__ __forceinline__ int span_pos(const struct ops_cuda_attn_span &sp)
{
    return sp.d_pos ? *sp.d_pos : sp.q_pos0;
}
static __device__ __forceinline__ int span_keys(const struct ops_cuda_attn_span &sp, int p0)
{
    return sp.d_pos ? ops_cuda_span_keys(sp.nk, sp.nq, p0) : sp.nk;
}

enum { WQ = 4 }; /* warps (queries) per block, as ops_cuda_attn_plan */

/* 16 blocks of 4 warps per SM, full occupancy: at most 32 registers a thread */
template <typename T, typename O>
__global__ void __launch_bounds__(32 * WQ, 16)
    attn_warp_kernel1(O *out, struct ops_cuda_attn_strides os, const T *q, struct ops_cuda_attn_strides qs,
                      const T *k, const T *v, struct ops_cuda_attn_strides kvs, struct ops_cuda_attn_span sp,
                      int HS, int group, int causal, float scale)
{
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, h = blockIdx.y, b = blockIdx.z;
    const int i = blockIdx.x * WQ + warp;
    if (i >= sp.nq)
        return;
    const int p0 = span_pos(sp), nk = span_keys(sp, p0);
    const size_t qo = at(qs, b, h, i), kvo = at(kvs, b, h / group, 0);
    float qr[8], acc[8];
    const int per = (HS + 31) / 32;
    for (int e = 0; e < per; e++) {
        int c = lane + 32 * e;
        qr[e] = c < HS ? ldf(q, qo + c) * scale : 0.f;
        acc[e] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    const int kend = ops_cuda_key_end(causal, nk, p0, i);
    for (int j = 0; j < kend; j++) {
        const size_t kr = kvo + (size_t)j * (size_t)kvs.row;
        float s = 0;
        for (int e = 0; e < per; e++) {
            int c = lane + 32 * e;
            s += c < HS ? qr[e] * ldf(k, kr + c) : 0.f;
        }
        for (int o = 16; o; o >>= 1)
            s += __shfl_xor_sync(0xffffffffu, s, o);
        float mn = fmaxf(m, s), corr = __expf(m - mn), p = __expf(s - mn);
        l = l * corr + p;
        m = mn;
        for (int e = 0; e < per; e++) {
            int c = lane + 32 * e;
            acc[e] = acc[e] * corr + (c < HS ? p * ldf(v, kr + c) : 0.f);
        }
    }
    const size_t oo = at(os, b, h, i);
    for (int e = 0; e < per; e++) {
        int c = lane + 32 * e;
        if (c < HS)
            stf(out, oo + c, acc[e] / l);
    }
}

/* ------------------------------------------------------------------ attention, tensor cores */

enum { FB = 64 }; /* queries per block (4 warps x 16) and keys per tile */

template <typename T> struct mma16;
template <> struct mma16<__nv_bfloat16> {
    static __device__ __forceinline__ uint32_t pack(float lo, float hi)
    {
        __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&v);
    }
    static __device__ __forceinline__ void run(float *c, const uint32_t *a, const uint32_t *b)
    {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    }
};
template <> struct mma16<__half> {
    static __device__ __forceinline__ uint32_t pack(float lo, float hi)
    {
        __half2 v = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&v);
    }
    static __device__ __forceinline__ void run(float *c, const uint32_t *a, const uint32_t *b)
    {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    }
};

static __device__ __forceinline__ uint32_t pair16(uint16_t lo, uint16_t hi)
{
    return (uint32_t)lo | ((uint32_t)hi << 16);
}
/* Two 16-bit elements in one load: offsets are even and rows start 4-byte aligned (HS and
 * every stride are multiples of 16 elements, from a cudaMalloc'ed base). */
static __device__ __forceinline__ uint32_t ld32(const uint16_t *p)
{
    return *reinterpret_cast<const uint32_t *>(p);
}

/* m16n8k16 fragments (g = lane / 4, t = lane % 4): A rows g and g+8, columns 2t.. and 2t+8..;
 * B column g, rows 2t.. and 2t+8..; C rows g, g+8, columns 2t, 2t+1. Two adjacent 8-key C tiles
 * of S are exactly the A fragment of P over 16 keys: P never leaves registers. Block =
 * (64 queries, query head h, batch b); KV head h / group. */
template <typename T, typename O, int D>
__global__ void __launch_bounds__(128)
    attn_tc_kernel2(O *out, struct ops_cuda_attn_strides os, const T *q, struct ops_cuda_attn_strides qs,
                    const T *k, const T *v, struct ops_cuda_attn_strides kvs, struct ops_cuda_attn_span sp,
                    int group, int causal, float scale)
{
    __shared__ uint16_t ks[FB][D + 8], vs[FB][D + 8]; /* +8: fewer bank conflicts */
    const int h = blockIdx.y, b = blockIdx.z, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const size_t ldq = (size_t)qs.row, ldkv = (size_t)kvs.row;
    const uint16_t *qh = reinterpret_cast<const uint16_t *>(q) + at(qs, b, h, 0);
    const uint16_t *kh = reinterpret_cast<const uint16_t *>(k) + at(kvs, b, h / group, 0);
    const uint16_t *vh = reinterpret_cast<const uint16_t *>(v) + at(kvs, b, h / group, 0);
    const int q0 = blockIdx.x * FB, r0 = q0 + warp * 16 + g, r1 = r0 + 8;
    const int n = sp.nq, p0 = span_pos(sp), nk = span_keys(sp, p0); /* queries, their first position, keys */

    uint32_t qa[D / 16][4];
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
        int c = kk * 16 + 2 * t;
        qa[kk][0] = r0 < n ? ld32(qh + (size_t)r0 * ldq + c) : 0u;
        qa[kk][1] = r1 < n ? ld32(qh + (size_t)r1 * ldq + c) : 0u;
        qa[kk][2] = r0 < n ? ld32(qh + (size_t)r0 * ldq + c + 8) : 0u;
        qa[kk][3] = r1 < n ? ld32(qh + (size_t)r1 * ldq + c + 8) : 0u;
    }
    float o[D / 8][4];
#pragma unroll
    for (int x = 0; x < D / 8; x++)
        o[x][0] = o[x][1] = o[x][2] = o[x][3] = 0.f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;
    const float sl2 = scale * 1.4426950408889634f; /* scores in log2 units: exp2 */
    /* causal: no key past the block's last query */
    const int kend = ops_cuda_key_end(causal, nk, p0, q0 + FB - 1);
    for (int k0 = 0; k0 < kend; k0 += FB) {
        __syncthreads();
        for (int e = threadIdx.x; e < FB * D / 2; e += blockDim.x) {
            int r = e / (D / 2), c = (e % (D / 2)) * 2;
            bool in = k0 + r < nk;
            *reinterpret_cast<uint32_t *>(&ks[r][c]) = in ? ld32(kh + (size_t)(k0 + r) * ldkv + c) : 0u;
            *reinterpret_cast<uint32_t *>(&vs[r][c]) = in ? ld32(vh + (size_t)(k0 + r) * ldkv + c) : 0u;
        }
        __syncthreads();
        /* S (16 x 64) = Q K^T for this warp's rows: 8 tiles of 8 keys */
        float s[FB / 8][4];
#pragma unroll
        for (int nt = 0; nt < FB / 8; nt++) {
            s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                uint32_t bb[2] = { ld32(&ks[nt * 8 + g][kk * 16 + 2 * t]),
                                   ld32(&ks[nt * 8 + g][kk * 16 + 2 * t + 8]) };
                mma16<T>::run(s[nt], qa[kk], bb);
            }
        }
        /* mask (keys past nk, and above the diagonal), then the online softmax per row */
        float mx0 = m0, mx1 = m1;
#pragma unroll
        for (int nt = 0; nt < FB / 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int key = k0 + nt * 8 + 2 * t + (e & 1), row = e < 2 ? r0 : r1;
                float x = (key >= nk || (causal && key > p0 + row)) ? -INFINITY : s[nt][e] * sl2;
                s[nt][e] = x;
                if (e < 2)
                    mx0 = fmaxf(mx0, x);
                else
                    mx1 = fmaxf(mx1, x);
            }
        /* the four threads of a row (same g) hold its 64 columns between them */
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        /* rows past n see only masked keys: keep them finite */
        float b0 = mx0 == -INFINITY ? 0.f : mx0, b1 = mx1 == -INFINITY ? 0.f : mx1;
        float c0 = exp2f(m0 - b0), c1 = exp2f(m1 - b1), ps0 = 0.f, ps1 = 0.f;
#pragma unroll
        for (int nt = 0; nt < FB / 8; nt++) {
            s[nt][0] = exp2f(s[nt][0] - b0);
            s[nt][1] = exp2f(s[nt][1] - b0);
            s[nt][2] = exp2f(s[nt][2] - b1);
            s[nt][3] = exp2f(s[nt][3] - b1);
            ps0 += s[nt][0] + s[nt][1];
            ps1 += s[nt][2] + s[nt][3];
        }
        ps0 += __shfl_xor_sync(0xffffffffu, ps0, 1);
        ps0 += __shfl_xor_sync(0xffffffffu, ps0, 2);
        ps1 += __shfl_xor_sync(0xffffffffu, ps1, 1);
        ps1 += __shfl_xor_sync(0xffffffffu, ps1, 2);
        l0 = l0 * c0 + ps0;
        l1 = l1 * c1 + ps1;
        m0 = mx0;
        m1 = mx1;
#pragma unroll
        for (int x = 0; x < D / 8; x++) {
            o[x][0] *= c0;
            o[x][1] *= c0;
            o[x][2] *= c1;
            o[x][3] *= c1;
        }
        /* O += P V: P's A fragments straight from S's C fragments, V's B fragments from smem */
#pragma unroll
        for (int kk = 0; kk < FB / 16; kk++) {
            uint32_t a[4] = { mma16<T>::pack(s[2 * kk][0], s[2 * kk][1]),
                              mma16<T>::pack(s[2 * kk][2], s[2 * kk][3]),
                              mma16<T>::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                              mma16<T>::pack(s[2 * kk + 1][2], s[2 * kk + 1][3]) };
            int kr = kk * 16 + 2 * t;
#pragma unroll
            for (int x = 0; x < D / 8; x++) {
                int col = x * 8 + g;
                uint32_t bb[2] = { pair16(vs[kr][col], vs[kr + 1][col]),
                                   pair16(vs[kr + 8][col], vs[kr + 9][col]) };
                mma16<T>::run(o[x], a, bb);
            }
        }
    }
    float i0 = l0 > 0.f ? 1.f / l0 : 0.f, i1 = l1 > 0.f ? 1.f / l1 : 0.f;
    O *ob = out + at(os, b, h, 0);
    const size_t ldo = (size_t)os.row;
#pragma unroll
    for (int x = 0; x < D / 8; x++) {
        int c = x * 8 + 2 * t;
        if (r0 < n) {
            stf(ob, (size_t)r0 * ldo + c, o[x][0] * i0);
            stf(ob, (size_t)r0 * ldo + c + 1, o[x][1] * i0);
        }
        if (r1 < n) {
            stf(ob, (size_t)r1 * ldo + c, o[x][2] * i1);
            stf(ob, (size_t)r1 * ldo + c + 1, o[x][3] * i1);
        }
    }
}

/* Launch the planned kernel for input type T and output type O. */
template <typename T, typename O>
static void attn_launch(const struct ops_cuda_attn_plan *p, O *out, struct ops_cuda_attn_strides os,
                        const void *q, struct ops_cuda_attn_strides qs, const void *k, const void *v,
                        struct ops_cuda_attn_strides kvs, struct ops_cuda_attn_span sp, int HS, int group,
                        int causal, float scale, cudaStream_t s)
{
    dim3 grid(p->grid_x, p->grid_y, p->grid_z);
    const T *qq = (const T *)q, *kk = (const T *)k, *vv = (const T *)v;
    if (p->kind != OPS_CUDA_ATTN_TC)
        attn_warp_kernel1<T, O>
            <<<grid, p->block, 0, s>>>(out, os, qq, qs, kk, vv, kvs, sp, HS, group, causal, scale);
    else if (HS == 64)
        attn_tc_kernel2<T, O, 64>
            <<<grid, p->block, 0, s>>>(out, os, qq, qs, kk, vv, kvs, sp, group, causal, scale);
    else
        attn_tc_kernel2<T, O, 128>
            <<<grid, p->block, 0, s>>>(out, os, qq, qs, kk, vv, kvs, sp, group, causal, scale);
}

/* The tensor-core kernel exists for 16-bit inputs only: instantiate it for those. */
template <>
void attn_launch<float, float>(const struct ops_cuda_attn_plan *p, float *out,
                               struct ops_cuda_attn_strides os, const void *q,
                               struct ops_cuda_attn_strides qs, const void *k, const void *v,
                               struct ops_cuda_attn_strides kvs, struct ops_cuda_attn_span sp, int HS,
                               int group, int causal, float scale, cudaStream_t s)
{
    dim3 grid(p->grid_x, p->grid_y, p->grid_z);
    attn_warp_kernel1<float, float><<<grid, p->block, 0, s>>>(
        out, os, (const float *)q, qs, (const float *)k, (const float *)v, kvs, sp, HS, group, causal, scale);
}

extern "C" ab_status ops_cuda_attention_span(void *out, enum ab_dtype out_dt, struct ops_cuda_attn_strides os,
                                             const void *q, struct ops_cuda_attn_strides qs, const void *k,
                                             const void *v, struct ops_cuda_attn_strides kvs, int B, int NH,
                                             struct ops_cuda_attn_span sp, int HS, int group, bool causal,
                                             enum ab_dtype dt, void *stream, struct ab_error *err)
{
    struct ops_cuda_attn_plan p;
    ab_status st = ops_cuda_attn_span_check(sp, err);
    if (st || (st = ops_cuda_attn_plan_grouped(B, NH, sp.nq, HS, group, dt, out_dt, &p, err)))
        return st;
    float scale = 1.f / sqrtf((float)HS);
    cudaStream_t s = (cudaStream_t)stream;
    int c = causal ? 1 : 0;
    if (out_dt == AB_DTYPE_FP32)
        DISPATCH(dt,
                 (attn_launch<T, float>(&p, (float *)out, os, q, qs, k, v, kvs, sp, HS, group, c, scale, s)));
    else
        DISPATCH(dt, (attn_launch<T, T>(&p, (T *)out, os, q, qs, k, v, kvs, sp, HS, group, c, scale, s)));
    AB_CUDA_TRY_LAUNCH(err);
    return AB_OK;
}

extern "C" ab_status ops_cuda_attention_strided(void *out, enum ab_dtype out_dt,
                                                struct ops_cuda_attn_strides os, const void *q,
                                                struct ops_cuda_attn_strides qs, const void *k, const void *v,
                                                struct ops_cuda_attn_strides kvs, int B, int NH, int T_,
                                                int HS, int group, bool causal, enum ab_dtype dt,
                                                void *stream, struct ab_error *err)
{
    return ops_cuda_attention_span(out, out_dt, os, q, qs, k, v, kvs, B, NH, ops_cuda_attn_self(T_), HS,
                                   group, causal, dt, stream, err);
}

extern "C" ab_status ops_cuda_attention(void *out, const void *qkv, int B, int NH, int T_, int HS,
                                        enum ab_dtype dt, void *stream, struct ab_error *err)
{
    int C = NH * HS;
    size_t es = ab_dtype_size(dt);
    struct ops_cuda_attn_strides in, os;
    ops_cuda_attn_qkv_strides(T_, C, HS, &in, &os);
    const char *q = (const char *)qkv;
    return ops_cuda_attention_strided(out, dt, os, q, in, q + (size_t)C * es, q + 2 * (size_t)C * es, in, B,
                                      NH, T_, HS, 1, true, dt, stream, err);
}

/* ------------------------------------------------------------------ attention, decode */

enum { DW = OPS_CUDA_DECODE_WARPS };

template <int BYTES> struct raw_of;
template <> struct raw_of<2> {
    typedef uint16_t t;
};
template <> struct raw_of<4> {
    typedef uint32_t t;
};
template <> struct raw_of<8> {
    typedef uint2 t;
};
template <> struct raw_of<16> {
    typedef uint4 t;
};

/* p[i .. i+PER-1] as floats in one load of PER elements (p + i aligned to them). */
template <typename T, int PER> __device__ __forceinline__ void ldv(const T *p, size_t i, float *out)
{
    typedef typename raw_of<sizeof(T) * PER>::t R;
    R u = *reinterpret_cast<const R *>(p + i);
    const T *e = reinterpret_cast<const T *>(&u);
#pragma unroll
    for (int x = 0; x < PER; x++)
        out[x] = ldf(e, x);
}

/* Block = (split, sq = b * Hkv + KV head): each warp takes every DW-th key of the split's span,
 * a lane holds PER = HS / 32 adjacent elements (one vector load per row of K and of V; aligned:
 * strides are multiples of PER, bases aligned, ops_cuda_decode_plan and the launcher check),
 * the G query heads of the KV head share the loads. parts (sq, split, G, HS + 2) get each
 * head's (max, sum, HS accumulators); a split past the keys leaves max -inf, the merge skips it. */
template <typename T, int G, int PER>
__global__ void __launch_bounds__(DW * 32)
    attn_decode_kernel1(float *parts, const T *q, struct ops_cuda_attn_strides qs, const T *k, const T *v,
                        struct ops_cuda_attn_strides kvs, int Hkv, int nk, const int *d_pos, int span,
                        float scale)
{
    enum { D = 32 * PER };
    const int split = blockIdx.x, sq = blockIdx.y, splits = gridDim.x;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, c = lane * PER;
    const int b = sq / Hkv, hk = sq % Hkv;
    const int n = d_pos ? ops_cuda_span_keys(nk, 1, *d_pos) : nk;
    const size_t kvo = at(kvs, b, hk, 0) + c, ldkv = (size_t)kvs.row;
    float qr[G][PER], acc[G][PER], m[G], l[G];
#pragma unroll
    for (int gi = 0; gi < G; gi++) {
        ldv<T, PER>(q, at(qs, b, hk * G + gi, 0) + c, qr[gi]);
#pragma unroll
        for (int e = 0; e < PER; e++) {
            qr[gi][e] *= scale;
            acc[gi][e] = 0.f;
        }
        m[gi] = -INFINITY;
        l[gi] = 0.f;
    }
    int j0, j1;
    ops_cuda_split_keys(split, span, n, &j0, &j1);
    for (int j = j0 + warp; j < j1; j += DW) {
        float kr[PER], vr[PER];
        ldv<T, PER>(k, kvo + (size_t)j * ldkv, kr);
        ldv<T, PER>(v, kvo + (size_t)j * ldkv, vr);
#pragma unroll
        for (int gi = 0; gi < G; gi++) {
            float s = qr[gi][0] * kr[0];
#pragma unroll
            for (int e = 1; e < PER; e++)
                s += qr[gi][e] * kr[e];
            for (int o = 16; o; o >>= 1)
                s += __shfl_xor_sync(0xffffffffu, s, o);
            float mn = fmaxf(m[gi], s), corr = __expf(m[gi] - mn), p = __expf(s - mn);
            l[gi] = l[gi] * corr + p;
            m[gi] = mn;
#pragma unroll
            for (int e = 0; e < PER; e++)
                acc[gi][e] = acc[gi][e] * corr + p * vr[e];
        }
    }
    /* combine the warps */
    __shared__ float sm[DW][G], sl[DW][G], sacc[DW][G][D];
#pragma unroll
    for (int gi = 0; gi < G; gi++) {
        if (lane == 0) {
            sm[warp][gi] = m[gi];
            sl[warp][gi] = l[gi];
        }
#pragma unroll
        for (int e = 0; e < PER; e++)
            sacc[warp][gi][c + e] = acc[gi][e];
    }
    __syncthreads();
    for (int x = threadIdx.x; x < G * D; x += blockDim.x) {
        int gi = x / D, cc = x % D;
        float gm = -INFINITY, num = 0.f, den = 0.f;
        for (int w = 0; w < DW; w++)
            gm = fmaxf(gm, sm[w][gi]);
        for (int w = 0; w < DW; w++) {
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

/* Block = (sq, query head gi of the group), d threads: out (b, hk * G + gi) from the splits'
 * parts of attn_decode_kernel1. */
template <typename O>
__global__ void attn_decode_merge_kernel1(O *out, struct ops_cuda_attn_strides os, const float *parts,
                                          int Hkv, int G, int d, int splits)
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
    stf(out, at(os, sq / Hkv, (sq % Hkv) * G + gi, 0) + c, num / den);
}

template <typename T, int PER>
static void decode_launch_per(const struct ops_cuda_decode_plan *p, float *parts, const void *q,
                              struct ops_cuda_attn_strides qs, const void *k, const void *v,
                              struct ops_cuda_attn_strides kvs, int nk, const int *d_pos, float scale,
                              cudaStream_t s)
{
    dim3 grid(p->grid_x, p->grid_y);
    const int Hkv = p->NH / p->group;
    const T *qq = (const T *)q, *kk = (const T *)k, *vv = (const T *)v;
#define DECODE_G(G)                                                                                          \
    attn_decode_kernel1<T, G, PER>                                                                           \
        <<<grid, p->block, 0, s>>>(parts, qq, qs, kk, vv, kvs, Hkv, nk, d_pos, p->span, scale)
    switch (p->group) {
    case 1: DECODE_G(1); break;
    case 2: DECODE_G(2); break;
    case 4: DECODE_G(4); break;
    default: DECODE_G(8); break;
    }
#undef DECODE_G
}

template <typename T>
static void decode_launch(const struct ops_cuda_decode_plan *p, float *parts, const void *q,
                          struct ops_cuda_attn_strides qs, const void *k, const void *v,
                          struct ops_cuda_attn_strides kvs, int nk, const int *d_pos, float scale,
                          cudaStream_t s)
{
    if (p->per_lane == 1)
        decode_launch_per<T, 1>(p, parts, q, qs, k, v, kvs, nk, d_pos, scale, s);
    else if (p->per_lane == 2)
        decode_launch_per<T, 2>(p, parts, q, qs, k, v, kvs, nk, d_pos, scale, s);
    else
        decode_launch_per<T, 4>(p, parts, q, qs, k, v, kvs, nk, d_pos, scale, s);
}

extern "C" ab_status ops_cuda_decode_attention(const struct ops_cuda_decode_plan *p, void *out,
                                               struct ops_cuda_attn_strides os, const void *q,
                                               struct ops_cuda_attn_strides qs, const void *k, const void *v,
                                               struct ops_cuda_attn_strides kvs, struct ops_cuda_attn_span sp,
                                               float *parts, void *stream, struct ab_error *err)
{
    ab_status st = ops_cuda_decode_check(p, sp, err);
    if (st)
        return st;
    /* a lane's vector load: the plan checked the strides, the bases are checked here */
    uintptr_t vec = (uintptr_t)p->per_lane * (uintptr_t)ab_dtype_size(p->dt);
    if ((uintptr_t)q % vec || (uintptr_t)k % vec || (uintptr_t)v % vec)
        return ab_fail(err, AB_EINVAL, "decode attention: q, k and v must be aligned to %d bytes", (int)vec);
    if (!parts)
        return ab_fail(err, AB_EINVAL, "decode attention: no buffer for the partial results");
    float scale = 1.f / sqrtf((float)p->HS);
    cudaStream_t s = (cudaStream_t)stream;
    DISPATCH(p->dt, (decode_launch<T>(p, parts, q, qs, k, v, kvs, sp.nk, sp.d_pos, scale, s)));
    AB_CUDA_TRY_LAUNCH(err);
    dim3 mg(p->merge_x, p->merge_y);
    const int Hkv = p->NH / p->group;
    if (p->out_dt == AB_DTYPE_FP32)
        attn_decode_merge_kernel1<float>
            <<<mg, p->HS, 0, s>>>((float *)out, os, parts, Hkv, p->group, p->HS, p->splits);
    else
        DISPATCH(p->out_dt, (attn_decode_merge_kernel1<T>
                             <<<mg, p->HS, 0, s>>>((T *)out, os, parts, Hkv, p->group, p->HS, p->splits)));
    AB_CUDA_TRY_LAUNCH(err);
    return AB_OK;
}

extern "C" ab_status ops_cuda_cache_attention(const struct ops_cuda_cache_plan *p, void *out, const void *qkv,
                                              const void *kc, const void *vc, int Tq, int pos0,
                                              const int *d_pos, float *parts, void *stream,
                                              struct ab_error *err)
{
    struct ops_cuda_attn_span sp;
    ab_status st = ops_cuda_cache_attn_span(p, Tq, pos0, d_pos, &sp, err);
    if (st)
        return st;
    struct ops_cuda_attn_strides qs, os;
    ops_cuda_cache_attn_strides(p, Tq, &qs, &os);
    if (Tq == 1 && p->decode)
        return ops_cuda_decode_attention(&p->dec, out, os, qkv, qs, kc, vc, p->kv, sp, parts, stream, err);
    return ops_cuda_attention_span(out, p->dt, os, qkv, qs, kc, vc, p->kv, p->B, p->NH, sp, p->HS, 1, true,
                                   p->dt, stream, err);
}

/* ------------------------------------------------------------------ cuBLASLt matmul */

/* Outer-vector scaling of an fp32 product where cuBLASLt has no outer-vector mode:
 * out (bf16) = d · sa[i] · sb[j] for d and out M x N column-major (element (i, j) at i + j·M);
 * sa has M scales, sb N. One thread per element, grid-stride, round to nearest even. */
__global__ void scale_outer_kernel1(const float *d, const float *sa, const float *sb, __nv_bfloat16 *out,
                                    int64_t M, int64_t N)
{
    int64_t total = M * N;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = e % M, j = e / M;
        out[e] = __float2bfloat16_rn(d[e] * sa[i] * sb[j]);
    }
}

static ab_status scale_outer(const float *d, const float *sa, const float *sb, void *out, int64_t M,
                             int64_t N, cudaStream_t stream, struct ab_error *err)
{
    int64_t blocks = (M * N + 255) / 256;
    if (blocks > 65536)
        blocks = 65536;
    scale_outer_kernel1<<<(unsigned)blocks, 256, 0, stream>>>(d, sa, sb, (__nv_bfloat16 *)out, M, N);
    AB_CUDA_TRY_LAUNCH(err);
    return AB_OK;
}

struct ops_cuda_matmul {
    struct ops_mm_desc d;
    struct ops_cuda_mm_layout lay;
    cublasLtHandle_t lt, own_lt; /* the handle in use: the caller's or own_lt */
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
    struct ops_cuda_algo info;
    void *ws; /* the workspace in use: the caller's or own_ws */
    void *own_ws;
    float *d32;                       /* the fp32 product our scaling kernel reads (KERNEL method) */
    const float *bound_sa, *bound_sb; /* the scale pointers the descriptor holds: cuBLASLt's A, B */
    const char *fallback;
    char algo_text[64];
};

static cudaDataType_t cuda_type(enum ab_dtype dt)
{
    switch (dt) {
    case AB_DTYPE_BF16: return CUDA_R_16BF;
    case AB_DTYPE_FP16: return CUDA_R_16F;
    case AB_DTYPE_FP8_E4M3: return CUDA_R_8F_E4M3;
    case AB_DTYPE_FP8_E5M2: return CUDA_R_8F_E5M2;
    default: return CUDA_R_32F;
    }
}

static bool fp8_type(enum ab_dtype dt)
{
    return dt == AB_DTYPE_FP8_E4M3 || dt == AB_DTYPE_FP8_E5M2;
}

static void mm_drop_desc(struct ops_cuda_matmul *mm)
{
    if (mm->la)
        cublasLtMatrixLayoutDestroy(mm->la);
    if (mm->lb)
        cublasLtMatrixLayoutDestroy(mm->lb);
    if (mm->lc)
        cublasLtMatrixLayoutDestroy(mm->lc);
    if (mm->desc)
        cublasLtMatmulDescDestroy(mm->desc);
    mm->la = mm->lb = mm->lc = NULL;
    mm->desc = NULL;
    mm->bound_sa = mm->bound_sb = NULL;
}

static ab_status set_attr(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a, const void *v, size_t n,
                          struct ab_error *err)
{
    AB_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(d, a, v, n), err);
    return AB_OK;
}

/* Descriptor, layouts and the heuristic's first algorithm for the plan's layout. */
static ab_status mm_build(struct ops_cuda_matmul *mm, struct ab_error *err)
{
    const struct ops_cuda_mm_layout *L = &mm->lay;
    const struct ops_mm_desc *d = &mm->d;
    if (!mm->lt && d->handle)
        mm->lt = (cublasLtHandle_t)d->handle;
    if (!mm->lt) {
        AB_CUBLAS_TRY(cublasLtCreate(&mm->own_lt), err);
        mm->lt = mm->own_lt;
    }
    cublasComputeType_t ct = L->tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    AB_CUBLAS_TRY(cublasLtMatmulDescCreate(&mm->desc, ct, CUDA_R_32F), err);
    cublasOperation_t ta = L->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                      tb = L->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    ab_status st;
    if ((st = set_attr(mm->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta, err)) ||
        (st = set_attr(mm->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb, err)))
        return st;
    if (fp8_type(L->a_dt)) { /* said either way: FP8 rows differ in fast accumulation only */
        int8_t fast = L->fast_accum ? 1 : 0;
        if ((st = set_attr(mm->desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast, err)))
            return st;
    }
    if (d->scale == OPS_MM_SCALE_OUTER && L->scale_method == OPS_MM_SCALE_LIBRARY) {
        int32_t mode = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
        if ((st = set_attr(mm->desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &mode, sizeof mode, err)) ||
            (st = set_attr(mm->desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mode, sizeof mode, err)))
            return st;
    }
    cublasLtEpilogue_t epi = (d->epilogue & OPS_MM_GELU)   ? CUBLASLT_EPILOGUE_GELU_BIAS
                             : (d->epilogue & OPS_MM_BIAS) ? CUBLASLT_EPILOGUE_BIAS
                                                           : CUBLASLT_EPILOGUE_DEFAULT;
    if ((st = set_attr(mm->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi, err)))
        return st;
    if (d->epilogue & (OPS_MM_BIAS | OPS_MM_GELU)) {
        cudaDataType_t bt = cuda_type(ops_cuda_bias_dtype(L->d_dt));
        if ((st = set_attr(mm->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt, err)))
            return st;
    }
    cudaDataType_t dt = L->d_fp32_then_scale ? CUDA_R_32F : cuda_type(L->d_dt);
    AB_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&mm->la, cuda_type(L->a_dt), (uint64_t)L->a_rows,
                                             (uint64_t)L->a_cols, L->lda),
                  err);
    AB_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&mm->lb, cuda_type(L->b_dt), (uint64_t)L->b_rows,
                                             (uint64_t)L->b_cols, L->ldb),
                  err);
    AB_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&mm->lc, dt, (uint64_t)L->m, (uint64_t)L->n, L->ldc), err);
    if (!mm->ws && d->workspace)
        mm->ws = d->workspace;
    if (!mm->ws) {
        AB_CUDA_TRY(cudaMalloc(&mm->own_ws, L->workspace_bytes), err);
        mm->ws = mm->own_ws;
    }
    if (L->d_fp32_then_scale && !mm->d32)
        AB_CUDA_TRY(cudaMalloc((void **)&mm->d32, (size_t)L->m * (size_t)L->n * 4), err);
    cublasLtMatmulPreference_t pref;
    AB_CUBLAS_TRY(cublasLtMatmulPreferenceCreate(&pref), err);
    size_t ws_bytes = L->workspace_bytes;
    cublasStatus_t cs = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                             &ws_bytes, sizeof ws_bytes);
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    if (cs == CUBLAS_STATUS_SUCCESS)
        cs = cublasLtMatmulAlgoGetHeuristic(mm->lt, mm->desc, mm->la, mm->lb, mm->lc, mm->lc, pref, 1, &res,
                                            &found);
    cublasLtMatmulPreferenceDestroy(pref);
    AB_CUBLAS_TRY(cs, err);
    if (found < 1)
        return ab_fail(err, AB_EUNSUPPORTED, "cuBLASLt has no algorithm for %dx%dx%d %s x %s", d->m, d->n,
                       d->k, ab_dtype_name(d->a_dt), ab_dtype_name(d->b_dt));
    mm->algo = res.algo;
    size_t w = 0;
    mm->info = ops_cuda_algo();
    mm->info.workspace_bytes = res.workspaceSize;
    cublasLtMatmulAlgoConfigGetAttribute(&mm->algo, CUBLASLT_ALGO_CONFIG_ID, &mm->info.id, sizeof mm->info.id,
                                         &w);
    cublasLtMatmulAlgoConfigGetAttribute(&mm->algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &mm->info.tile,
                                         sizeof mm->info.tile, &w);
    cublasLtMatmulAlgoConfigGetAttribute(&mm->algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &mm->info.stages,
                                         sizeof mm->info.stages, &w);
    snprintf(mm->algo_text, sizeof mm->algo_text, "algo=%d tile=%d", mm->info.id, (int)mm->info.tile);
    return AB_OK;
}

/* Our scaling kernel instead of cuBLASLt's outer vectors, and a new descriptor for it. */
static ab_status mm_to_kernel(struct ops_cuda_matmul *mm, const char *who, struct ab_error *err)
{
    if (mm->lay.d_dt != AB_DTYPE_BF16 || mm->lay.ldc != mm->lay.m)
        return ab_fail(err, AB_EUNSUPPORTED, "matmul: the scaling kernel writes a packed bf16 D");
    mm_drop_desc(mm);
    mm->lay.scale_method = OPS_MM_SCALE_KERNEL;
    mm->lay.d_fp32_then_scale = true;
    mm->fallback = who;
    return mm_build(mm, err);
}

extern "C" ab_status ops_cuda_matmul_plan(struct ops_cuda_matmul **out, const struct ops_mm_desc *d,
                                          struct ab_error *err)
{
    *out = NULL;
    ab_status st = ops_mm_desc_check(d, err);
    if (st)
        return st;
    if ((d->epilogue & OPS_MM_GELU) && (d->epilogue & OPS_MM_RESIDUAL))
        return ab_fail(err, AB_EINVAL,
                       "matmul: cuBLASLt applies GELU after adding C: no GELU with a residual");
    int dev = 0, major = 0, minor = 0;
    AB_CUDA_TRY(cudaGetDevice(&dev), err);
    AB_CUDA_TRY(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev), err);
    AB_CUDA_TRY(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev), err);
    struct ops_cuda_mm_layout lay;
    if ((st = ops_cuda_mm_layout_make(d, major, minor, (int)cublasLtGetVersion(), &lay, err)))
        return st;
    struct ops_cuda_matmul *mm = (struct ops_cuda_matmul *)calloc(1, sizeof *mm);
    if (!mm)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    mm->d = *d;
    mm->lay = lay;
    st = mm_build(mm, err);
    if (ops_cuda_mm_scale_falls_back(d->scale_method, mm->lay.scale_method, st))
        st = mm_to_kernel(mm, "the heuristic", err);
    if (st) {
        ops_cuda_matmul_destroy(mm);
        return st;
    }
    *out = mm;
    return AB_OK;
}

extern "C" ab_status ops_cuda_matmul_create(struct ops_cuda_matmul **out, int M, int N, int K,
                                            enum ab_dtype dt, unsigned flags, struct ab_error *err)
{
    *out = NULL;
    if (M <= 0 || N <= 0 || K <= 0)
        return ab_fail(err, AB_EINVAL, "matmul: bad shape M=%d N=%d K=%d", M, N, K);
    struct ops_mm_desc d = {};
    d.m = M;
    d.n = N;
    d.k = K;
    d.a_dt = d.b_dt = d.d_dt = dt;
    d.trans_b = true;
    d.epilogue = flags;
    return ops_cuda_matmul_plan(out, &d, err);
}

extern "C" ab_status ops_cuda_matmul_exec(struct ops_cuda_matmul *mm, void *D, const void *A, const void *B,
                                          const float *a_scales, const float *b_scales, const void *bias,
                                          const void *res, void *stream, struct ab_error *err)
{
    const struct ops_cuda_mm_layout *L = &mm->lay;
    unsigned epi = mm->d.epilogue;
    ab_status st;
    if (mm->d.scale != OPS_MM_SCALE_NONE && (!a_scales || !b_scales))
        return ab_fail(err, AB_EINVAL, "matmul: scales missing for the plan's scale mode");
    if ((epi & (OPS_MM_BIAS | OPS_MM_GELU)) &&
        (st = set_attr(mm->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias, err)))
        return st;
    /* cuBLASLt's A is our B: its scales are b_scales (per column of D), its B's a_scales. */
    if (mm->d.scale != OPS_MM_SCALE_NONE && !L->d_fp32_then_scale &&
        (b_scales != mm->bound_sa || a_scales != mm->bound_sb)) {
        if ((st =
                 set_attr(mm->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &b_scales, sizeof b_scales, err)) ||
            (st = set_attr(mm->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &a_scales, sizeof a_scales, err)))
            return st;
        mm->bound_sa = b_scales;
        mm->bound_sb = a_scales;
    }
    float alpha = 1.f, beta = (epi & (OPS_MM_RESIDUAL | OPS_MM_ACCUM)) ? 1.f : 0.f;
    void *dst = L->d_fp32_then_scale ? (void *)mm->d32 : D;
    const void *c = (epi & OPS_MM_RESIDUAL) ? res : dst;
    AB_CUBLAS_TRY(cublasLtMatmul(mm->lt, mm->desc, &alpha, B, mm->la, A, mm->lb, &beta, c, mm->lc, dst,
                                 mm->lc, &mm->algo, mm->ws, L->workspace_bytes, (cudaStream_t)stream),
                  err);
    if (L->d_fp32_then_scale)
        return scale_outer(mm->d32, b_scales, a_scales, D, L->m, L->n, (cudaStream_t)stream, err);
    return AB_OK;
}

extern "C" ab_status ops_cuda_matmul_run(struct ops_cuda_matmul *mm, void *out, const void *inp,
                                         const void *weight, const void *bias, const void *res, void *stream,
                                         struct ab_error *err)
{
    return ops_cuda_matmul_exec(mm, out, inp, weight, NULL, NULL, bias, res, stream, err);
}

extern "C" ab_status ops_cuda_matmul_fall_back(struct ops_cuda_matmul *mm, const char *who,
                                               struct ab_error *err)
{
    if (!ops_cuda_mm_scale_falls_back(mm->d.scale_method, mm->lay.scale_method, AB_EUNSUPPORTED))
        return ab_fail(err, AB_EINVAL, "matmul: no fall-back from %s scales",
                       mm->lay.scale_method == OPS_MM_SCALE_KERNEL ? "kernel" : "requested library");
    return mm_to_kernel(mm, who, err);
}

extern "C" const char *ops_cuda_matmul_fallback(const struct ops_cuda_matmul *mm)
{
    return mm->fallback;
}

extern "C" const struct ops_cuda_mm_layout *ops_cuda_matmul_layout(const struct ops_cuda_matmul *mm)
{
    return &mm->lay;
}

extern "C" void ops_cuda_matmul_algo_info(const struct ops_cuda_matmul *mm, struct ops_cuda_algo *out)
{
    *out = mm->info;
}

extern "C" const char *ops_cuda_matmul_algo(const struct ops_cuda_matmul *mm)
{
    return mm->algo_text;
}

extern "C" void ops_cuda_matmul_destroy(struct ops_cuda_matmul *mm)
{
    if (!mm)
        return;
    mm_drop_desc(mm);
    if (mm->own_lt)
        cublasLtDestroy(mm->own_lt);
    cudaFree(mm->own_ws);
    cudaFree(mm->d32);
    free(mm);
}
