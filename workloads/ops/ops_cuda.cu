/* ops_cuda.cu — device side of the shared ops (see ops_cuda.h). Kernels, plain to fast:
 *   ln_kernel1 (a block per row, two-pass statistics), convert_kernel1: memory-bound row and
 *     element kernels (GELU and the residual adds are fused into the matmuls' epilogues);
 *   attn_warp_kernel1: fused causal attention on CUDA cores, a warp per query with an online
 *     softmax (fp32, or head sizes the tensor-core kernel does not take);
 *   attn_tc_kernel2: flash-style fused causal attention on tensor cores (mma.sync m16n8k16,
 *     bf16/fp16 in, fp32 accumulate), 64 queries per block of 4 warps, K/V tiles of 64 keys in
 *     shared memory, P kept in registers as the A operand of P V.
 * Matmuls go to cuBLASLt with its bias / GELU+bias epilogues and C = residual, beta = 1. */
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

enum { WQ = 4 }; /* warps (queries) per block, as ops_cuda_attn_plan */

template <typename T>
__global__ void attn_warp_kernel1(T *out, const T *qkv, int T_, int C, int HS, float scale)
{
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, h = blockIdx.y, b = blockIdx.z;
    const int i = blockIdx.x * WQ + warp;
    if (i >= T_)
        return;
    const size_t ld = 3 * (size_t)C, base = (size_t)b * T_ * ld + (size_t)h * HS;
    float q[8], acc[8];
    const int per = (HS + 31) / 32;
    for (int e = 0; e < per; e++) {
        int c = lane + 32 * e;
        q[e] = c < HS ? ldf(qkv, base + (size_t)i * ld + c) * scale : 0.f;
        acc[e] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    for (int j = 0; j <= i; j++) {
        const size_t kr = base + (size_t)j * ld + C;
        float s = 0;
        for (int e = 0; e < per; e++) {
            int c = lane + 32 * e;
            s += c < HS ? q[e] * ldf(qkv, kr + c) : 0.f;
        }
        for (int o = 16; o; o >>= 1)
            s += __shfl_xor_sync(0xffffffffu, s, o);
        float mn = fmaxf(m, s), corr = __expf(m - mn), p = __expf(s - mn);
        l = l * corr + p;
        m = mn;
        for (int e = 0; e < per; e++) {
            int c = lane + 32 * e;
            acc[e] = acc[e] * corr + (c < HS ? p * ldf(qkv, kr + C + c) : 0.f);
        }
    }
    for (int e = 0; e < per; e++) {
        int c = lane + 32 * e;
        if (c < HS)
            stf(out, ((size_t)b * T_ + i) * C + (size_t)h * HS + c, acc[e] / l);
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
static __device__ __forceinline__ uint32_t ld32(const uint16_t *p)
{
    return *reinterpret_cast<const uint32_t *>(p);
}

/* m16n8k16 fragments (g = lane / 4, t = lane % 4): A rows g and g+8, columns 2t.. and 2t+8..;
 * B column g, rows 2t.. and 2t+8..; C rows g, g+8, columns 2t, 2t+1. Two adjacent 8-key C tiles
 * of S are exactly the A fragment of P over 16 keys. */
template <typename T, int D>
__global__ void __launch_bounds__(128) attn_tc_kernel2(T *out, const T *qkv, int n, int C, float scale)
{
    __shared__ uint16_t ks[FB][D + 8], vs[FB][D + 8];
    const int h = blockIdx.y, b = blockIdx.z, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const size_t ld = 3 * (size_t)C;
    const uint16_t *base = reinterpret_cast<const uint16_t *>(qkv) + (size_t)b * n * ld + (size_t)h * D;
    const uint16_t *qh = base, *kh = base + C, *vh = base + 2 * (size_t)C;
    const int q0 = blockIdx.x * FB, r0 = q0 + warp * 16 + g, r1 = r0 + 8;

    uint32_t qa[D / 16][4];
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
        int c = kk * 16 + 2 * t;
        qa[kk][0] = r0 < n ? ld32(qh + (size_t)r0 * ld + c) : 0u;
        qa[kk][1] = r1 < n ? ld32(qh + (size_t)r1 * ld + c) : 0u;
        qa[kk][2] = r0 < n ? ld32(qh + (size_t)r0 * ld + c + 8) : 0u;
        qa[kk][3] = r1 < n ? ld32(qh + (size_t)r1 * ld + c + 8) : 0u;
    }
    float o[D / 8][4];
#pragma unroll
    for (int x = 0; x < D / 8; x++)
        o[x][0] = o[x][1] = o[x][2] = o[x][3] = 0.f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;
    const float sl2 = scale * 1.4426950408889634f; /* scores in log2 units: exp2 */
    const int kend = min(n, q0 + FB);              /* causal: no key past the block's last query */
    for (int k0 = 0; k0 < kend; k0 += FB) {
        __syncthreads();
        for (int e = threadIdx.x; e < FB * D / 2; e += blockDim.x) {
            int r = e / (D / 2), c = (e % (D / 2)) * 2;
            bool in = k0 + r < n;
            *reinterpret_cast<uint32_t *>(&ks[r][c]) = in ? ld32(kh + (size_t)(k0 + r) * ld + c) : 0u;
            *reinterpret_cast<uint32_t *>(&vs[r][c]) = in ? ld32(vh + (size_t)(k0 + r) * ld + c) : 0u;
        }
        __syncthreads();
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
        float mx0 = m0, mx1 = m1;
#pragma unroll
        for (int nt = 0; nt < FB / 8; nt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int key = k0 + nt * 8 + 2 * t + (e & 1), row = e < 2 ? r0 : r1;
                float x = (key >= n || key > row) ? -INFINITY : s[nt][e] * sl2;
                s[nt][e] = x;
                if (e < 2)
                    mx0 = fmaxf(mx0, x);
                else
                    mx1 = fmaxf(mx1, x);
            }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
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
    T *ob = out + (size_t)b * n * C + (size_t)h * D;
#pragma unroll
    for (int x = 0; x < D / 8; x++) {
        int c = x * 8 + 2 * t;
        if (r0 < n) {
            stf(ob, (size_t)r0 * C + c, o[x][0] * i0);
            stf(ob, (size_t)r0 * C + c + 1, o[x][1] * i0);
        }
        if (r1 < n) {
            stf(ob, (size_t)r1 * C + c, o[x][2] * i1);
            stf(ob, (size_t)r1 * C + c + 1, o[x][3] * i1);
        }
    }
}

extern "C" ab_status ops_cuda_attention(void *out, const void *qkv, int B, int NH, int T_, int HS,
                                        enum ab_dtype dt, void *stream, struct ab_error *err)
{
    struct ops_cuda_attn_plan p;
    ab_status st = ops_cuda_attn_plan(B, NH, T_, HS, dt, &p, err);
    if (st)
        return st;
    int C = NH * HS;
    float scale = 1.f / sqrtf((float)HS);
    dim3 grid(p.grid_x, p.grid_y, p.grid_z);
    cudaStream_t s = (cudaStream_t)stream;
    if (p.kind == OPS_CUDA_ATTN_TC) {
        if (dt == AB_DTYPE_BF16 && HS == 64)
            attn_tc_kernel2<__nv_bfloat16, 64>
                <<<grid, p.block, 0, s>>>((__nv_bfloat16 *)out, (const __nv_bfloat16 *)qkv, T_, C, scale);
        else if (dt == AB_DTYPE_BF16)
            attn_tc_kernel2<__nv_bfloat16, 128>
                <<<grid, p.block, 0, s>>>((__nv_bfloat16 *)out, (const __nv_bfloat16 *)qkv, T_, C, scale);
        else if (HS == 64)
            attn_tc_kernel2<__half, 64>
                <<<grid, p.block, 0, s>>>((__half *)out, (const __half *)qkv, T_, C, scale);
        else
            attn_tc_kernel2<__half, 128>
                <<<grid, p.block, 0, s>>>((__half *)out, (const __half *)qkv, T_, C, scale);
    } else {
        DISPATCH(dt,
                 (attn_warp_kernel1<T><<<grid, p.block, 0, s>>>((T *)out, (const T *)qkv, T_, C, HS, scale)));
    }
    AB_CUDA_TRY_LAUNCH(err);
    return AB_OK;
}

/* ------------------------------------------------------------------ cuBLASLt matmul */

struct ops_cuda_matmul {
    struct ops_cuda_mm_layout lay;
    enum ab_dtype dt;
    unsigned flags;
    cublasLtHandle_t lt;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
    void *ws;
    size_t ws_bytes;
    char algo_text[64];
};

static cudaDataType_t cuda_type(enum ab_dtype dt)
{
    return dt == AB_DTYPE_FP32 ? CUDA_R_32F : dt == AB_DTYPE_BF16 ? CUDA_R_16BF : CUDA_R_16F;
}

static ab_status mm_build(struct ops_cuda_matmul *mm, struct ab_error *err)
{
    const struct ops_cuda_mm_layout *L = &mm->lay;
    cudaDataType_t t = cuda_type(mm->dt);
    AB_CUBLAS_TRY(cublasLtCreate(&mm->lt), err);
    AB_CUBLAS_TRY(cublasLtMatmulDescCreate(&mm->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), err);
    cublasOperation_t ta = L->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                      tb = L->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    AB_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(mm->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), err);
    AB_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(mm->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), err);
    cublasLtEpilogue_t epi = (mm->flags & OPS_MM_GELU)   ? CUBLASLT_EPILOGUE_GELU_BIAS
                             : (mm->flags & OPS_MM_BIAS) ? CUBLASLT_EPILOGUE_BIAS
                                                         : CUBLASLT_EPILOGUE_DEFAULT;
    AB_CUBLAS_TRY(cublasLtMatmulDescSetAttribute(mm->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi),
                  err);
    if (mm->flags & (OPS_MM_BIAS | OPS_MM_GELU)) {
        cudaDataType_t bt = cuda_type(ops_cuda_bias_dtype(mm->dt));
        AB_CUBLAS_TRY(
            cublasLtMatmulDescSetAttribute(mm->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt),
            err);
    }
    AB_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&mm->la, t, L->a_rows, L->a_cols, L->lda), err);
    AB_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&mm->lb, t, L->b_rows, L->b_cols, L->ldb), err);
    AB_CUBLAS_TRY(cublasLtMatrixLayoutCreate(&mm->lc, t, L->m, L->n, L->ldc), err);
    mm->ws_bytes = (size_t)32 << 20;
    AB_CUDA_TRY(cudaMalloc(&mm->ws, mm->ws_bytes), err);
    cublasLtMatmulPreference_t pref;
    AB_CUBLAS_TRY(cublasLtMatmulPreferenceCreate(&pref), err);
    cublasStatus_t s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                            &mm->ws_bytes, sizeof mm->ws_bytes);
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    if (s == CUBLAS_STATUS_SUCCESS)
        s = cublasLtMatmulAlgoGetHeuristic(mm->lt, mm->desc, mm->la, mm->lb, mm->lc, mm->lc, pref, 1, &res,
                                           &found);
    cublasLtMatmulPreferenceDestroy(pref);
    AB_CUBLAS_TRY(s, err);
    if (found < 1)
        return ab_fail(err, AB_EUNSUPPORTED, "cuBLASLt has no algorithm for %dx%dx%d %s", L->n, L->m, L->k,
                       ab_dtype_name(mm->dt));
    mm->algo = res.algo;
    int id = 0, tile = 0;
    size_t w;
    cublasLtMatmulAlgoConfigGetAttribute(&mm->algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof id, &w);
    cublasLtMatmulAlgoConfigGetAttribute(&mm->algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile, &w);
    snprintf(mm->algo_text, sizeof mm->algo_text, "algo=%d tile=%d", id, tile);
    return AB_OK;
}

extern "C" ab_status ops_cuda_matmul_create(struct ops_cuda_matmul **out, int M, int N, int K,
                                            enum ab_dtype dt, unsigned flags, struct ab_error *err)
{
    *out = NULL;
    if (M <= 0 || N <= 0 || K <= 0)
        return ab_fail(err, AB_EINVAL, "matmul: bad shape M=%d N=%d K=%d", M, N, K);
    if ((flags & OPS_MM_GELU) && (flags & OPS_MM_RESIDUAL))
        return ab_fail(err, AB_EINVAL,
                       "matmul: cuBLASLt applies GELU after adding C: no GELU with a residual");
    struct ops_cuda_matmul *mm = (struct ops_cuda_matmul *)calloc(1, sizeof *mm);
    if (!mm)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    ops_cuda_mm_plan(M, N, K, &mm->lay);
    mm->dt = dt;
    mm->flags = flags;
    ab_status st = mm_build(mm, err);
    if (st) {
        ops_cuda_matmul_destroy(mm);
        return st;
    }
    *out = mm;
    return AB_OK;
}

extern "C" ab_status ops_cuda_matmul_run(struct ops_cuda_matmul *mm, void *out, const void *inp,
                                         const void *weight, const void *bias, const void *res, void *stream,
                                         struct ab_error *err)
{
    if (mm->flags & (OPS_MM_BIAS | OPS_MM_GELU))
        AB_CUBLAS_TRY(
            cublasLtMatmulDescSetAttribute(mm->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias),
            err);
    float alpha = 1.f, beta = (mm->flags & OPS_MM_RESIDUAL) ? 1.f : 0.f;
    const void *c = (mm->flags & OPS_MM_RESIDUAL) ? res : out;
    AB_CUBLAS_TRY(cublasLtMatmul(mm->lt, mm->desc, &alpha, weight, mm->la, inp, mm->lb, &beta, c, mm->lc, out,
                                 mm->lc, &mm->algo, mm->ws, mm->ws_bytes, (cudaStream_t)stream),
                  err);
    return AB_OK;
}

extern "C" const char *ops_cuda_matmul_algo(const struct ops_cuda_matmul *mm)
{
    return mm->algo_text;
}

extern "C" void ops_cuda_matmul_destroy(struct ops_cuda_matmul *mm)
{
    if (!mm)
        return;
    if (mm->la)
        cublasLtMatrixLayoutDestroy(mm->la);
    if (mm->lb)
        cublasLtMatrixLayoutDestroy(mm->lb);
    if (mm->lc)
        cublasLtMatrixLayoutDestroy(mm->lc);
    if (mm->desc)
        cublasLtMatmulDescDestroy(mm->desc);
    if (mm->lt)
        cublasLtDestroy(mm->lt);
    cudaFree(mm->ws);
    free(mm);
}
