/* kernels.cu — device side of the CUDA ceilings: an FP32 FMA loop (CUDA-core peak), a
 * 16-byte-wide copy (memory bandwidth) and the fill of its source, and square GEMMs through
 * cuBLASLt per data type (tensor-core peaks; fp8 with and without fast accumulation). Thin
 * launchers with C linkage; the case logic and the checks' arithmetic are C in cuda.c and
 * cuda_common.c. */
#include "ab_cuda.h"
#include "ceilings_cuda.h"
#include "ops_cuda.h"

#include <cuda_runtime.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

/* out is (CEIL_FMA_CHAINS, gridDim.x * blockDim.x): chain-major, coalesced stores. a and b
 * arrive as arguments so the compiler cannot fold x*1 + b into an add. */
__global__ void fma_kernel(float *out, int outer, float a, float b)
{
    int g = blockIdx.x * blockDim.x + threadIdx.x;
    float x[CEIL_FMA_CHAINS];
#pragma unroll
    for (int j = 0; j < CEIL_FMA_CHAINS; j++)
        x[j] = CEIL_FMA_X0(g, j);
    for (int i = 0; i < outer; i++) {
#pragma unroll
        for (int u = 0; u < CEIL_FMA_UNROLL; u++) {
#pragma unroll
            for (int j = 0; j < CEIL_FMA_CHAINS; j++)
                x[j] = fmaf(x[j], a, b);
        }
    }
    size_t threads = (size_t)gridDim.x * blockDim.x;
#pragma unroll
    for (int j = 0; j < CEIL_FMA_CHAINS; j++)
        out[(size_t)j * threads + g] = x[j];
}

extern "C" ab_status ceil_cuda_fma(float *out, int blocks, int outer, void *stream, struct ab_error *err)
{
    fma_kernel<<<blocks, CEIL_FMA_THREADS, 0, (cudaStream_t)stream>>>(out, outer, 1.0f, CEIL_FMA_STEP);
    AB_CUDA_TRY_LAUNCH(err);
    return AB_OK;
}

__global__ void fill_kernel(uint32_t *x, size_t n, uint32_t seed)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        x[i] = CEIL_COPY_BITS(i, seed);
}

extern "C" ab_status ceil_cuda_fill(float *x, size_t n, uint32_t seed, void *stream, struct ab_error *err)
{
    fill_kernel<<<1024, 256, 0, (cudaStream_t)stream>>>((uint32_t *)x, n, seed);
    AB_CUDA_TRY_LAUNCH(err);
    return AB_OK;
}

__global__ void copy_kernel(float4 *__restrict__ dst, const float4 *__restrict__ src, size_t n4)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += stride)
        dst[i] = src[i];
}

extern "C" ab_status ceil_cuda_copy(float *dst, const float *src, size_t n, void *stream,
                                    struct ab_error *err)
{
    int dev, sms;
    AB_CUDA_TRY(cudaGetDevice(&dev), err);
    AB_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), err);
    copy_kernel<<<sms * 8, 512, 0, (cudaStream_t)stream>>>((float4 *)dst, (const float4 *)src, n / 4);
    AB_CUDA_TRY_LAUNCH(err);
    return AB_OK;
}

/* ------------------------------------------------------------------ cuBLASLt GEMM (ops' matmul) */

struct ceil_gemm {
    int n;
    struct ceil_type t;
    enum ab_dtype out; /* C's type */
    size_t in_size, out_size;
    void *A, *B, *C;
    struct ops_cuda_matmul *mm;
    cudaStream_t stream;
    std::vector<float> hA, hB; /* the inputs as the device holds them, widened exactly */
    char algo_text[64];
};

/* Store v as element i of dst (type dt, the harness's rounding) and return the stored value:
 * the value the GPU will see. */
static float stored(float v, enum ab_dtype dt, void *dst, size_t i)
{
    ab_dtype_from_f32(dt, (unsigned char *)dst + i * ab_dtype_size(dt), &v, 1);
    return (float)ab_dtype_get(dt, dst, i);
}

extern "C" void ceil_gemm_close(struct ceil_gemm *g)
{
    if (!g)
        return;
    ops_cuda_matmul_destroy(g->mm);
    cudaFree(g->A);
    cudaFree(g->B);
    cudaFree(g->C);
    if (g->stream)
        cudaStreamDestroy(g->stream);
    delete g;
}

static ab_status gemm_open(struct ceil_gemm *g, uint64_t seed, struct ab_error *err)
{
    int n = g->n;
    size_t nn = (size_t)n * n;
    g->out = ceil_gemm_out_dtype(g->t.in);
    g->in_size = nn * ab_dtype_size(g->t.in);
    g->out_size = nn * ab_dtype_size(g->out);
    AB_CUDA_TRY(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking), err);
    AB_CUDA_TRY(cudaMalloc(&g->A, g->in_size), err);
    AB_CUDA_TRY(cudaMalloc(&g->B, g->in_size), err);
    AB_CUDA_TRY(cudaMalloc(&g->C, g->out_size), err);
    /* Inputs on the host (normal, seeded), rounded to the storage type, then copied. */
    std::vector<unsigned char> buf(g->in_size);
    g->hA.resize(nn);
    g->hB.resize(nn);
    struct ab_rng r;
    ab_rng_seed(&r, seed);
    for (int m = 0; m < 2; m++) {
        std::vector<float> &h = m ? g->hB : g->hA;
        for (size_t i = 0; i < nn; i++)
            h[i] = stored((float)ab_rng_normal(&r), g->t.in, buf.data(), i);
        AB_CUDA_TRY(cudaMemcpy(m ? g->B : g->A, buf.data(), g->in_size, cudaMemcpyHostToDevice), err);
    }
    AB_CUDA_TRY(cudaMemset(g->C, 0xff, g->out_size), err); /* poison: NaN until written */
    /* TN: the layout FP8 requires on Hopper, and a fast one for every type. Column-major
     * C = A^T B is row-major C^T (n,n) = B^T (n,n) . A: ops' A is our B, its weight B our A. */
    struct ops_mm_desc d = {};
    d.m = d.n = d.k = n;
    d.tf32 = g->t.in == AB_DTYPE_TF32; /* fp32 storage, rounded by the library */
    d.a_dt = d.b_dt = d.tf32 ? AB_DTYPE_FP32 : g->t.in;
    d.d_dt = g->out;
    d.trans_b = true;
    d.fast_accum = g->t.fast_accum;
    d.workspace_bytes = (size_t)32 << 20; /* cuBLAS's recommendation for Hopper */
    ab_status st = ops_cuda_matmul_plan(&g->mm, &d, err);
    if (st)
        return st;
    struct ops_cuda_algo a;
    ops_cuda_matmul_algo_info(g->mm, &a);
    snprintf(g->algo_text, sizeof g->algo_text, "algo=%d ws=%zu", a.id, a.workspace_bytes);
    return AB_OK;
}

extern "C" ab_status ceil_gemm_open(struct ceil_gemm **out, int n, struct ceil_type t, uint64_t seed,
                                    struct ab_error *err)
{
    *out = NULL;
    struct ceil_gemm *g = new (std::nothrow) ceil_gemm();
    if (!g)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    g->n = n;
    g->t = t;
    ab_status st = gemm_open(g, seed, err);
    if (st) {
        ceil_gemm_close(g);
        return st;
    }
    *out = g;
    return AB_OK;
}

static ab_status gemm_launch(struct ceil_gemm *g, struct ab_error *err)
{
    return ops_cuda_matmul_exec(g->mm, g->C, g->B, g->A, NULL, NULL, NULL, NULL, g->stream, err);
}

extern "C" ab_status ceil_gemm_launch(struct ceil_gemm *g, struct ab_error *err)
{
    return gemm_launch(g, err);
}

extern "C" void *ceil_gemm_stream(const struct ceil_gemm *g)
{
    return g->stream;
}

extern "C" ab_status ceil_gemm_check(struct ceil_gemm *g, int samples, uint64_t seed, double *max_err,
                                     struct ab_error *err)
{
    ab_status st = gemm_launch(g, err);
    if (st)
        return st;
    AB_CUDA_TRY(cudaStreamSynchronize(g->stream), err);
    std::vector<unsigned char> hc(g->out_size);
    AB_CUDA_TRY(cudaMemcpy(hc.data(), g->C, g->out_size, cudaMemcpyDeviceToHost), err);
    /* Column-major, TN: C[i + j n] = sum_k A[k + i n] B[k + j n]. */
    int n = g->n;
    struct ab_rng r;
    ab_rng_seed(&r, seed);
    double worst = 0, tol = ceil_gemm_tolerance(g->t);
    int bad = 0;
    bool all = samples <= 0;
    int64_t count = all ? (int64_t)n * n : samples;
    char first[200] = "";
    for (int64_t t = 0; t < count; t++) {
        int i = all ? (int)(t % n) : (int)(ab_rng_uniform(&r) * n);
        int j = all ? (int)(t / n) : (int)(ab_rng_uniform(&r) * n);
        double ref = 0, mag = 0;
        for (int k = 0; k < n; k++) {
            double p = (double)g->hA[(size_t)i * n + k] * g->hB[(size_t)j * n + k];
            ref += p;
            mag += fabs(p);
        }
        double got = ab_dtype_get(g->out, hc.data(), (size_t)i + (size_t)j * n);
        double e = fabs(got - ref) / mag;
        if (!(e <= tol) && bad++ < 2) {
            size_t l = strlen(first);
            snprintf(first + l, sizeof first - l, " C[%d,%d]=%g ref %g;", i, j, got, ref);
        }
        if (!(e <= worst))
            worst = isnan(e) ? INFINITY : e;
    }
    *max_err = worst;
    if (bad)
        return ab_fail(err, AB_EMISMATCH, "%d of %lld%s entries off by more than %g of sum|a||b|:%s", bad,
                       (long long)count, all ? "" : " sampled", tol, first);
    return AB_OK;
}

extern "C" const char *ceil_gemm_algo(const struct ceil_gemm *g)
{
    return g->algo_text;
}
