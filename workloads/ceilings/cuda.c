/* cuda.c — ceilings on an NVIDIA GPU: the case logic in C over the launchers of kernels.cu.
 *   fma:    fp32 FMA chains on every SM (8 blocks of 256 threads per SM), CUDA-core peak;
 *           every chain of every thread is checked exactly against its closed form;
 *   gemm:   cuBLASLt n x n x n per dtype: fp32, tf32, bf16, fp16, fp8 (E4M3) and fp8_fast (fast
 *           accumulation); n = 0: the best of 4096, 8192 (and 16384 outside quick); bytes are A
 *           and B read once, C written once;
 *   stream: device-to-device copy of 1 GiB (1000004 floats in the check suite), counting
 *           bytes read plus bytes written; every element is checked. */
#include "ab_cuda.h"
#include "ceilings.h"
#include "ceilings_cuda.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { K_FMA, K_GEMM, K_STREAM };

struct cuda_state {
    int kind;
    int blocks, outer;
    float *out;       /* fma: ceil_fma_outputs(blocks) floats */
    float *src, *dst; /* stream */
    size_t n;
    uint32_t pattern; /* stream: seed of the source's bit pattern */
    struct ceil_gemm *gemm;
    cudaStream_t stream;
    char name[24];
};

/* n = 0: the best of a few squares (4096 and 8192; 16384 too outside quick, where it fits),
 * each timed briefly (its fastest of a few GEMMs after a warm-up); the best stays open in s. */
static ab_status gemm_sweep(struct ab_case *c, struct cuda_state *s, struct ceil_type dt, int *n_out,
                            struct ab_error *err)
{
    static const int sizes[] = { 4096, 8192, 16384 };
    int ns = c->suite == AB_SUITE_QUICK ? 2 : 3, tried = 0, best_n = 0;
    double best = 0;
    for (int i = 0; i < ns; i++) {
        int n = sizes[i];
        if (!ab_device_fits(c->device, (uint64_t)n * n * 4 * 3))
            continue;
        struct ceil_gemm *g = NULL;
        struct ab_timer *timer = NULL;
        ab_status st = ceil_gemm_open(&g, n, dt, c->seed, err);
        double t = 0, tmin = INFINITY;
        if (st == AB_OK)
            st = ab_timer_open(c->device, ceil_gemm_stream(g), &timer, err);
        if (st == AB_OK)
            st = ceil_gemm_launch(g, err); /* warm-up */
        for (int r = 0; st == AB_OK && r < 3; r++) {
            if ((st = ab_timer_begin(timer, err)) == AB_OK && (st = ceil_gemm_launch(g, err)) == AB_OK &&
                (st = ab_timer_end(timer, err)) == AB_OK)
                st = ab_timer_elapsed(timer, &t, err);
            tmin = fmin(tmin, t);
        }
        ab_timer_close(timer);
        if (st) {
            ceil_gemm_close(g);
            ceil_gemm_close(s->gemm);
            s->gemm = NULL;
            return st;
        }
        tried++;
        double rate = 2.0 * n * (double)n * n / tmin;
        if (rate > best) {
            best = rate;
            best_n = n;
            ceil_gemm_close(s->gemm);
            s->gemm = g;
        } else {
            ceil_gemm_close(g);
        }
    }
    if (!s->gemm)
        return ab_fail(err, AB_ENOMEM, "no gemm of the sweep (4096 and up) fits the device");
    *n_out = best_n;
    ab_case_metric(c, "gemm_shapes_tried", tried);
    ab_case_ceiling_detail(c, "gemm m=%d n=%d k=%d, best of %d sizes", best_n, best_n, best_n, tried);
    return AB_OK;
}

static ab_status cuda_setup(struct ab_case *c, struct ab_error *err)
{
    struct cuda_state *s = calloc(1, sizeof *s);
    if (!s)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    c->state = s;
    AB_CUDA_TRY(cudaSetDevice(c->device->index), err);
    AB_CUDA_TRY(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking), err);
    ab_case_set_stream(c, s->stream);
    const char *kind = ab_param_str(&c->params, "kind", "fma");
    s->kind = !strcmp(kind, "gemm") ? K_GEMM : !strcmp(kind, "stream") ? K_STREAM : K_FMA;
    ceilings_name(&c->params, s->name, sizeof s->name);
    ab_case_publish_ceiling(c, s->name, 0);
    c->work.ceiling = s->name;
    c->work.rate = s->kind == K_STREAM ? "bytes" : "flops";
    if (s->kind == K_FMA) {
        s->blocks = ceil_fma_blocks(c->device->compute_units);
        s->outer = CEIL_FMA_OUTER;
        AB_CUDA_TRY(cudaMalloc((void **)&s->out, ceil_fma_outputs(s->blocks) * sizeof(float)), err);
        c->work.flops = ceil_fma_flops(s->blocks, s->outer);
        return AB_OK;
    }
    if (s->kind == K_STREAM) {
        s->n = ceil_copy_floats(c->suite == AB_SUITE_CHECK);
        if (!ab_device_fits(c->device, 2 * s->n * sizeof(float)))
            return ab_fail(err, AB_ENOMEM, "copy buffers do not fit");
        AB_CUDA_TRY(cudaMalloc((void **)&s->src, s->n * sizeof(float)), err);
        AB_CUDA_TRY(cudaMalloc((void **)&s->dst, s->n * sizeof(float)), err);
        s->pattern = (uint32_t)(c->seed ^ (c->seed >> 32));
        ab_status st = ceil_cuda_fill(s->src, s->n, s->pattern, s->stream, err);
        if (st)
            return st;
        AB_CUDA_TRY(cudaMemsetAsync(s->dst, 0, s->n * sizeof(float), s->stream), err);
        AB_CUDA_TRY(cudaStreamSynchronize(s->stream), err);
        c->work.bytes = 2.0 * (double)s->n * sizeof(float);
        return AB_OK;
    }
    struct ceil_type dt;
    if (!ceil_type_parse(ab_param_str(&c->params, "dtype", "fp32"), &dt))
        return ab_fail(err, AB_EINVAL, "unknown dtype");
    if (dt.in == AB_DTYPE_FP8_E4M3 && c->device->cc_major * 10 + c->device->cc_minor < 89)
        return ab_fail(err, AB_EUNSUPPORTED, "FP8 tensor cores need compute capability 8.9 or later");
    int n = (int)ab_param_int(&c->params, "n", 0);
    ab_status st;
    if (n == 0) {
        if ((st = gemm_sweep(c, s, dt, &n, err)))
            return st;
    } else {
        if (!ceil_gemm_size_ok(n, dt.in))
            return ab_fail(err, AB_EUNSUPPORTED, "cuBLASLt FP8 GEMM needs n a multiple of 16 (n = %d)", n);
        if (!ab_device_fits(c->device, (uint64_t)n * n * 4 * 3))
            return ab_fail(err, AB_ENOMEM, "gemm %d does not fit", n);
        if ((st = ceil_gemm_open(&s->gemm, n, dt, c->seed, err)))
            return st;
        ab_case_ceiling_detail(c, "gemm m=%d n=%d k=%d", n, n, n);
    }
    ab_case_set_stream(c, ceil_gemm_stream(s->gemm)); /* the GEMM runs on its own stream */
    c->work.flops = 2.0 * n * (double)n * n;
    c->work.bytes = ceil_gemm_min_bytes(n, dt.in);
    ab_case_metric(c, "gemm_n", n);
    ab_case_metric_text(c, "accum", "%s", dt.fast_accum ? "fast" : "fp32");
    ab_case_metric_text(c, "cublaslt", "%s", ceil_gemm_algo(s->gemm));
    return AB_OK;
}

/* Every element of the copy against the source's pattern, read back in 16 MiB chunks. */
static ab_status copy_verify(struct cuda_state *s, struct ab_error *err)
{
    ab_status st = ceil_cuda_copy(s->dst, s->src, s->n, s->stream, err);
    if (st)
        return st;
    AB_CUDA_TRY(cudaStreamSynchronize(s->stream), err);
    size_t chunk = (size_t)1 << 22;
    float *h = malloc(chunk * sizeof *h);
    if (!h)
        return ab_fail(err, AB_ENOMEM, "out of host memory for the copy check");
    for (size_t at = 0; at < s->n; at += chunk) {
        size_t m = s->n - at < chunk ? s->n - at : chunk;
        cudaError_t e = cudaMemcpy(h, s->dst + at, m * sizeof *h, cudaMemcpyDeviceToHost);
        if (e != cudaSuccess) {
            free(h);
            AB_CUDA_TRY(e, err);
        }
        int64_t bad = ceil_copy_check(h, at, m, s->pattern);
        if (bad >= 0) {
            uint32_t u;
            memcpy(&u, &h[bad - (int64_t)at], sizeof u);
            free(h);
            return ab_fail(err, AB_EMISMATCH, "copy: dst[%lld] holds 0x%08x, src 0x%08x", (long long)bad, u,
                           CEIL_COPY_BITS(bad, s->pattern));
        }
    }
    free(h);
    return AB_OK;
}

/* The timed launch itself, every chain of every thread against its closed form. */
static ab_status fma_verify(struct ab_case *c, struct cuda_state *s, struct ab_error *err)
{
    size_t count = ceil_fma_outputs(s->blocks);
    AB_CUDA_TRY(cudaMemsetAsync(s->out, 0xff, count * sizeof(float), s->stream), err); /* NaN */
    ab_status st = ceil_cuda_fma(s->out, s->blocks, s->outer, s->stream, err);
    if (st)
        return st;
    AB_CUDA_TRY(cudaStreamSynchronize(s->stream), err);
    float *h = malloc(count * sizeof *h);
    if (!h)
        return ab_fail(err, AB_ENOMEM, "out of host memory for the FMA check");
    cudaError_t e = cudaMemcpy(h, s->out, count * sizeof *h, cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) {
        free(h);
        AB_CUDA_TRY(e, err);
    }
    char msg[300];
    int64_t bad = ceil_fma_check(h, s->blocks, s->outer, msg, sizeof msg);
    free(h);
    ab_case_metric(c, "fma_outputs_checked", (double)count);
    if (bad)
        return ab_fail(err, AB_EMISMATCH, "fma kernel: %lld of %zu outputs differ from x0 + %d steps:%s",
                       (long long)bad, count, s->outer * CEIL_FMA_UNROLL, msg);
    return AB_OK;
}

static ab_status cuda_verify(struct ab_case *c, struct ab_error *err)
{
    struct cuda_state *s = c->state;
    if (s->kind == K_GEMM) {
        /* every entry at small sizes (the check suite's), else 64 at random */
        int samples =
            ab_param_int(&c->params, "n", 0) > 0 && ab_param_int(&c->params, "n", 0) <= 384 ? 0 : 64;
        double e = 0;
        ab_status st = ceil_gemm_check(s->gemm, samples, c->seed ^ 0x5eed, &e, err);
        ab_case_metric(c, "max_err_rel_to_abs_sum", e);
        return st;
    }
    if (s->kind == K_STREAM)
        return copy_verify(s, err);
    return fma_verify(c, s, err);
}

static ab_status cuda_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    struct cuda_state *s = c->state;
    if (s->kind == K_GEMM)
        return ceil_gemm_launch(s->gemm, err);
    return s->kind == K_FMA ? ceil_cuda_fma(s->out, s->blocks, s->outer, s->stream, err)
                            : ceil_cuda_copy(s->dst, s->src, s->n, s->stream, err);
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
    if (s->stream)
        cudaStreamDestroy(s->stream);
    (void)cudaGetLastError();
    free(s);
    c->state = NULL;
}

const struct ab_impl ceilings_cuda_impl = {
    .setup = cuda_setup,
    .verify = cuda_verify,
    .launch = cuda_launch,
    .teardown = cuda_teardown,
};
