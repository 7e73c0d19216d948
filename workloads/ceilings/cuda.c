/* cuda.c — ceilings on an NVIDIA GPU: the case logic in C over the launchers of kernels.cu.
 *   fma:    fp32 FMA chains on every SM (8 blocks of 256 threads per SM), CUDA-core peak;
 *   gemm:   cuBLASLt n x n x n (default 8192) per dtype: fp32, tf32, bf16, fp16, fp8 (E4M3);
 *   stream: device-to-device copy of 1 GiB, counting bytes read plus bytes written. */
#include "ab_cuda.h"
#include "ceilings.h"
#include "ceilings_cuda.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { K_FMA, K_GEMM, K_STREAM };

struct cuda_state {
    int kind;
    int blocks;
    int64_t iters;
    float *out;       /* fma: one float per thread */
    float *src, *dst; /* stream */
    size_t n;
    struct ceil_gemm *gemm;
    cudaStream_t stream;
    cudaEvent_t e0, e1;
    char name[24];
};

static ab_status cuda_setup(struct ab_case *c, struct ab_error *err)
{
    struct cuda_state *s = calloc(1, sizeof *s);
    if (!s)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    c->state = s;
    AB_CUDA_TRY(cudaSetDevice(c->device->index), err);
    AB_CUDA_TRY(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking), err);
    AB_CUDA_TRY(cudaEventCreate(&s->e0), err);
    AB_CUDA_TRY(cudaEventCreate(&s->e1), err);
    const char *kind = ab_param_str(&c->params, "kind", "fma");
    s->kind = !strcmp(kind, "gemm") ? K_GEMM : !strcmp(kind, "stream") ? K_STREAM : K_FMA;
    ceilings_name(&c->params, s->name, sizeof s->name);
    c->publish_ceiling = s->name;
    c->work.ceiling = s->name;
    c->work.rate = s->kind == K_STREAM ? "bytes" : "flops";
    if (s->kind == K_FMA) {
        s->blocks = c->device->compute_units * 8;
        s->iters = 1 << 16;
        AB_CUDA_TRY(cudaMalloc((void **)&s->out, (size_t)s->blocks * 256 * sizeof(float)), err);
        c->work.flops = 2.0 * CEIL_FMA_CHAINS * (double)s->iters * s->blocks * 256;
        return AB_OK;
    }
    if (s->kind == K_STREAM) {
        s->n = (size_t)1 << 28; /* 1 GiB per buffer: far beyond any L2 */
        if (!ab_device_fits(c->device, 2 * s->n * sizeof(float)))
            return ab_fail(err, AB_ENOMEM, "copy buffers do not fit");
        AB_CUDA_TRY(cudaMalloc((void **)&s->src, s->n * sizeof(float)), err);
        AB_CUDA_TRY(cudaMalloc((void **)&s->dst, s->n * sizeof(float)), err);
        AB_CUDA_TRY(cudaMemset(s->src, 0x3f, s->n * sizeof(float)), err); /* ~0.747: not zero */
        AB_CUDA_TRY(cudaMemset(s->dst, 0, s->n * sizeof(float)), err);
        c->work.bytes = 2.0 * (double)s->n * sizeof(float);
        return AB_OK;
    }
    enum ceil_dtype dt;
    if (!ceil_dtype_parse(ab_param_str(&c->params, "dtype", "fp32"), &dt))
        return ab_fail(err, AB_EINVAL, "unknown dtype");
    if (dt == CEIL_FP8 && c->device->cc_major * 10 + c->device->cc_minor < 89)
        return ab_fail(err, AB_EUNSUPPORTED, "FP8 tensor cores need compute capability 8.9 or later");
    int n = (int)ab_param_int(&c->params, "n", 0);
    if (n == 0)
        n = 8192;
    if (!ab_device_fits(c->device, (uint64_t)n * n * 4 * 3))
        return ab_fail(err, AB_ENOMEM, "gemm %d does not fit", n);
    c->work.flops = 2.0 * n * (double)n * n;
    ab_case_metric(c, "gemm_n", n);
    ab_status st = ceil_gemm_open(&s->gemm, n, dt, c->seed, err);
    if (st == AB_OK)
        ab_case_metric_text(c, "cublaslt", "%s", ceil_gemm_algo(s->gemm));
    return st;
}

static ab_status cuda_verify(struct ab_case *c, struct ab_error *err)
{
    struct cuda_state *s = c->state;
    if (s->kind == K_GEMM) {
        double e = 0;
        ab_status st = ceil_gemm_check(s->gemm, 64, c->seed ^ 0x5eed, &e, err);
        ab_case_metric(c, "max_err_rel_to_abs_sum", e);
        return st;
    }
    if (s->kind == K_STREAM) {
        ab_status st = ceil_cuda_copy(s->dst, s->src, s->n, s->stream, err);
        if (st)
            return st;
        AB_CUDA_TRY(cudaStreamSynchronize(s->stream), err);
        uint32_t probe[4];
        size_t at[] = { 0, s->n / 3, s->n - 4 };
        for (int i = 0; i < 3; i++) {
            AB_CUDA_TRY(cudaMemcpy(probe, s->dst + at[i], sizeof probe, cudaMemcpyDeviceToHost), err);
            for (int k = 0; k < 4; k++)
                if (probe[k] != 0x3f3f3f3fu) /* the bytes memset wrote into src */
                    return ab_fail(err, AB_EMISMATCH, "copy: dst[%zu] holds 0x%08x", at[i] + k, probe[k]);
        }
        return AB_OK;
    }
    /* fma: every thread must have produced the scalar recurrence's value. */
    ab_status st = ceil_cuda_fma(s->out, s->blocks, 100, s->stream, err);
    if (st)
        return st;
    AB_CUDA_TRY(cudaStreamSynchronize(s->stream), err);
    float got;
    AB_CUDA_TRY(cudaMemcpy(&got, s->out, sizeof got, cudaMemcpyDeviceToHost), err);
    double want = 0;
    for (int j = 0; j < CEIL_FMA_CHAINS; j++) {
        float x = 0.5f + 0.01f * (float)j;
        for (int i = 0; i < 100; i++)
            x = fmaf(x, 0.9999999f, 1e-7f);
        want += x;
    }
    if (fabs(got - want) > 1e-5 * want)
        return ab_fail(err, AB_EMISMATCH, "fma kernel gave %.9g, scalar recurrence %.9g", got, want);
    return AB_OK;
}

static ab_status cuda_run(struct ab_case *c, int64_t reps, double *time_s, struct ab_error *err)
{
    struct cuda_state *s = c->state;
    if (s->kind == K_GEMM)
        return ceil_gemm_run(s->gemm, reps, time_s, err);
    AB_CUDA_TRY(cudaEventRecord(s->e0, s->stream), err);
    for (int64_t r = 0; r < reps; r++) {
        ab_status st = s->kind == K_FMA ? ceil_cuda_fma(s->out, s->blocks, s->iters, s->stream, err)
                                        : ceil_cuda_copy(s->dst, s->src, s->n, s->stream, err);
        if (st)
            return st;
    }
    AB_CUDA_TRY(cudaEventRecord(s->e1, s->stream), err);
    AB_CUDA_TRY(cudaEventSynchronize(s->e1), err);
    float ms = 0;
    AB_CUDA_TRY(cudaEventElapsedTime(&ms, s->e0, s->e1), err);
    *time_s = ms * 1e-3;
    return AB_OK;
}

static void cuda_teardown(struct ab_case *c)
{
    struct cuda_state *s = c->state;
    if (!s)
        return;
    ceil_gemm_close(s->gemm);
    cudaFree(s->out);
    cudaFree(s->src);
    cudaFree(s->dst);
    if (s->e0)
        cudaEventDestroy(s->e0);
    if (s->e1)
        cudaEventDestroy(s->e1);
    if (s->stream)
        cudaStreamDestroy(s->stream);
    (void)cudaGetLastError();
    free(s);
    c->state = NULL;
}

const struct ab_impl ceilings_cuda_impl = {
    .setup = cuda_setup,
    .verify = cuda_verify,
    .run = cuda_run,
    .teardown = cuda_teardown,
};
