/* cuda.c — attention_memory on a CUDA device: host logic for the kernels of kernels.cu.
 * Scratch memory of every algorithm comes from the device's default stream-ordered memory
 * pool (cudaMallocAsync); its used-memory high-water mark, reset before the measured pass, is
 * the case's peak extra memory. Inputs and output are plain cudaMalloc and not counted. The
 * fused and decode cases are ops' attention kernels (ops_cuda.h); naive and chunked are
 * kernels.cu's. */
#include "ab_cuda.h"
#include "attention_memory.h"
#include "attention_memory_cuda.h"
#include "ops_cuda.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cuda_state {
    struct am_shape s;
    void *hq, *hk, *hv; /* host inputs, kept for the reference */
    float *hout;
    void *dq, *dk, *dv;
    float *dout;
    size_t q_bytes, kv_bytes, out_bytes;
    cudaStream_t stream;
    cudaMemPool_t pool;
    int sms;
    struct ops_cuda_decode_plan dec; /* decode: ops' decode kernel's plan */
};

static ab_status pool_alloc(struct cuda_state *st, void **p, size_t bytes, struct ab_error *err)
{
    AB_CUDA_TRY(cudaMallocFromPoolAsync(p, bytes, st->pool, st->stream), err);
    return AB_OK;
}

#define POOL(ptr, bytes)                                                                                     \
    do {                                                                                                     \
        if ((rc = pool_alloc(st, (void **)&(ptr), (bytes), err)) != AB_OK)                                   \
            goto done;                                                                                       \
    } while (0)
#define LAUNCH(call)                                                                                         \
    do {                                                                                                     \
        cudaError_t e_ = (call);                                                                             \
        if (e_ != cudaSuccess) {                                                                             \
            rc = ab_fail(err, AB_EFAIL, "%s: %s", #call, cudaGetErrorString(e_));                            \
            goto done;                                                                                       \
        }                                                                                                    \
    } while (0)
#define POOL_FREE(ptr)                                                                                       \
    do {                                                                                                     \
        if (ptr)                                                                                             \
            (void)cudaFreeAsync((ptr), st->stream);                                                          \
    } while (0)

/* Naive is one chunk of n x n; chunked is Rabe & Staats' q_chunk x k_chunk grid. */
static ab_status cuda_chunked(struct cuda_state *st, int qc, int kc, struct ab_error *err)
{
    const struct am_shape *s = &st->s;
    int n = (int)s->n, d = s->d, nkc = (n + kc - 1) / kc;
    size_t es = ab_dtype_size(s->dtype), hs = (size_t)n * (size_t)d;
    float scale = 1.0f / sqrtf((float)d);
    float *S = NULL, *vals = NULL, *m = NULL, *l = NULL;
    ab_status rc = AB_OK;
    POOL(S, (size_t)qc * (size_t)kc * 4);
    POOL(vals, (size_t)nkc * (size_t)qc * (size_t)d * 4);
    POOL(m, (size_t)nkc * (size_t)qc * 4);
    POOL(l, (size_t)nkc * (size_t)qc * 4);
    for (int h = 0; h < s->heads; h++) {
        const char *qh = (const char *)st->dq + (size_t)h * hs * es,
                   *kh = (const char *)st->dk + (size_t)h * hs * es;
        const char *vh = (const char *)st->dv + (size_t)h * hs * es;
        for (int q0 = 0; q0 < n; q0 += qc) {
            int qn = n - q0 < qc ? n - q0 : qc;
            for (int c = 0; c < nkc; c++) {
                int k0 = c * kc, kn = n - k0 < kc ? n - k0 : kc;
                float *cv = vals + (size_t)c * (size_t)qn * (size_t)d, *cm = m + (size_t)c * (size_t)qn,
                      *cl = l + (size_t)c * (size_t)qn;
                /* A chunk wholly above the diagonal still runs: its rows come out with max
                 * -inf and weight 0 in the merge. */
                LAUNCH(am_cuda_scores(S, kc, qh + (size_t)q0 * (size_t)d * es,
                                      kh + (size_t)k0 * (size_t)d * es, qn, kn, d, (int)s->dtype, s->causal,
                                      q0 - k0, scale, st->stream));
                LAUNCH(am_cuda_row_exp(S, kc, qn, kn, cm, cl, st->stream));
                LAUNCH(am_cuda_pv(cv, S, kc, vh + (size_t)k0 * (size_t)d * es, qn, kn, d, (int)s->dtype,
                                  st->stream));
            }
            LAUNCH(am_cuda_merge(st->dout + (size_t)h * hs + (size_t)q0 * (size_t)d, vals, m, l, nkc, qn, d,
                                 st->stream));
        }
    }
done:
    POOL_FREE(l);
    POOL_FREE(m);
    POOL_FREE(vals);
    POOL_FREE(S);
    return rc;
}

/* Decode's layouts: q and out (B, heads*G, d), k and v (B, heads, n, d); heads are KV heads. */
static void decode_strides(const struct am_shape *s, struct ops_cuda_attn_strides *q,
                           struct ops_cuda_attn_strides *kv)
{
    int64_t d = s->d, n = s->n, hq = (int64_t)s->heads * s->group;
    *q = (struct ops_cuda_attn_strides){ .batch = hq * d, .head = d, .row = d };
    *kv = (struct ops_cuda_attn_strides){ .batch = s->heads * n * d, .head = n * d, .row = d };
}

static ab_status decode_plan(const struct am_shape *s, int sms, struct ops_cuda_decode_plan *out,
                             struct ab_error *err)
{
    struct ops_cuda_attn_strides qs, kvs;
    decode_strides(s, &qs, &kvs);
    return ops_cuda_decode_plan(s->batch, s->heads * s->group, (int)s->n, s->d, s->group, s->dtype,
                                AB_DTYPE_FP32, qs, kvs, sms, out, err);
}

/* ops' decode kernel: the one query of every head over all n keys, fp32 out */
static ab_status cuda_decode(struct cuda_state *st, struct ab_error *err)
{
    const struct am_shape *s = &st->s;
    ab_status rc = AB_OK;
    struct ops_cuda_attn_strides qs, kvs;
    decode_strides(s, &qs, &kvs);
    struct ops_cuda_attn_span sp = { .nq = 1, .nk = (int)s->n, .q_pos0 = (int)s->n - 1 };
    float *parts = NULL;
    POOL(parts, st->dec.parts_bytes);
    rc = ops_cuda_decode_attention(&st->dec, st->dout, qs, st->dq, qs, st->dk, st->dv, kvs, sp, parts,
                                   st->stream, err);
done:
    POOL_FREE(parts);
    return rc;
}

static ab_status cuda_once(struct cuda_state *st, struct ab_error *err)
{
    const struct am_shape *s = &st->s;
    if (s->mode == AM_DECODE)
        return cuda_decode(st, err);
    if (s->algo == AM_NAIVE)
        return cuda_chunked(st, (int)s->n, (int)s->n, err);
    if (s->algo == AM_CHUNKED)
        return cuda_chunked(st, s->q_chunk, s->k_chunk, err);
    /* ops' one attention kernel over (H, n, d) tensors: one batch of H heads, fp32 out */
    struct ops_cuda_attn_strides hnd = { .batch = 0, .head = s->n * s->d, .row = s->d };
    return ops_cuda_attention_strided(st->dout, AB_DTYPE_FP32, hnd, st->dq, hnd, st->dk, st->dv, hnd, 1,
                                      s->heads, (int)s->n, s->d, 1, s->causal, s->dtype, st->stream, err);
}

static ab_status cuda_setup(struct ab_case *c, struct ab_error *err)
{
    struct am_shape s;
    ab_status rc = attention_memory_shape(&c->params, &s, err);
    if (rc)
        return rc;
    if (s.mode == AM_PREFILL && s.algo == AM_FUSED && (s.dtype == AB_DTYPE_FP32 || (s.d != 64 && s.d != 128)))
        return ab_fail(err, AB_EUNSUPPORTED,
                       "the tensor-core fused kernel takes bf16/fp16 with d = 64 or 128");
    if (s.n > (1 << 30) / 2)
        return ab_fail(err, AB_EUNSUPPORTED, "n=%lld is beyond the kernels' int indexing", (long long)s.n);
    /* what ops' decode kernel takes (head size, group, grid) does not depend on the SMs */
    struct ops_cuda_decode_plan dec;
    if (s.mode == AM_DECODE && (rc = decode_plan(&s, 1, &dec, err)) != AB_OK)
        return rc;
    int64_t rows = s.mode == AM_DECODE ? 0 : s.algo == AM_NAIVE ? s.n : s.algo == AM_CHUNKED ? s.q_chunk : 0;
    if ((rows + 15) / 16 > AM_CUDA_MAX_GRID_Y)
        return ab_fail(err, AB_EUNSUPPORTED,
                       "a chunk of %lld query rows is more than the scores kernel's grid takes (%d)",
                       (long long)rows, 16 * AM_CUDA_MAX_GRID_Y);
    uint64_t extra =
        attention_memory_analytic_extra(&s, 1) + (s.algo == AM_NAIVE ? (uint64_t)s.n * (s.d + 2) * 4 : 0);
    uint64_t need = attention_memory_io_bytes(&s) + extra;
    if (!ab_device_fits(c->device, need))
        return ab_fail(err, AB_ENOMEM, "needs %.3g GB (inputs %.3g GB + extra %.3g GB): more than fits on %s",
                       (double)need / 1e9, (double)attention_memory_io_bytes(&s) / 1e9, (double)extra / 1e9,
                       c->device->id);
    /* Before any allocation or launch: a case the watchdog would have to abandon leaves its
     * kernels running and its memory held. */
    if ((rc = attention_memory_cuda_time_check(&s, c->device, c->suite, err)) != AB_OK)
        return rc;
    struct cuda_state *st = calloc(1, sizeof *st);
    if (!st)
        return ab_fail(err, AB_ENOMEM, "out of memory for the case state");
    c->state = st;
    st->s = s;
    AB_CUDA_TRY(cudaSetDevice(c->device->index), err);
    st->sms = c->device->compute_units;
    if (st->sms < 1)
        AB_CUDA_TRY(cudaDeviceGetAttribute(&st->sms, cudaDevAttrMultiProcessorCount, c->device->index), err);
    if (s.mode == AM_DECODE && (rc = decode_plan(&s, st->sms, &st->dec, err)) != AB_OK)
        return rc;
    size_t es = ab_dtype_size(s.dtype), d = (size_t)s.d, n = (size_t)s.n,
           hq = (size_t)s.heads * (size_t)s.group;
    if (s.mode == AM_DECODE) {
        st->q_bytes = (size_t)s.batch * hq * d * es;
        st->kv_bytes = (size_t)s.batch * (size_t)s.heads * n * d * es;
        st->out_bytes = (size_t)s.batch * hq * d * 4;
    } else {
        st->q_bytes = st->kv_bytes = (size_t)s.heads * n * d * es;
        st->out_bytes = (size_t)s.heads * n * d * 4;
    }
    st->hq = ab_alloc(st->q_bytes);
    st->hk = ab_alloc(st->kv_bytes);
    st->hv = ab_alloc(st->kv_bytes);
    st->hout = ab_alloc(st->out_bytes);
    if (!st->hq || !st->hk || !st->hv || !st->hout)
        return ab_fail(err, AB_ENOMEM, "cannot allocate host copies of the inputs");
    attention_memory_fill(st->hq, st->q_bytes / es, s.dtype, c->seed);
    attention_memory_fill(st->hk, st->kv_bytes / es, s.dtype, c->seed + 1);
    attention_memory_fill(st->hv, st->kv_bytes / es, s.dtype, c->seed + 2);
    AB_CUDA_TRY(cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking), err);
    ab_case_set_stream(c, st->stream);
    AB_CUDA_TRY(cudaDeviceGetDefaultMemPool(&st->pool, c->device->index), err);
    uint64_t keep = UINT64_MAX; /* keep freed blocks: repetitions then reuse them */
    AB_CUDA_TRY(cudaMemPoolSetAttribute(st->pool, cudaMemPoolAttrReleaseThreshold, &keep), err);
    AB_CUDA_TRY(cudaMalloc(&st->dq, st->q_bytes), err);
    AB_CUDA_TRY(cudaMalloc(&st->dk, st->kv_bytes), err);
    AB_CUDA_TRY(cudaMalloc(&st->dv, st->kv_bytes), err);
    AB_CUDA_TRY(cudaMalloc((void **)&st->dout, st->out_bytes), err);
    AB_CUDA_TRY(cudaMemcpy(st->dq, st->hq, st->q_bytes, cudaMemcpyHostToDevice), err);
    AB_CUDA_TRY(cudaMemcpy(st->dk, st->hk, st->kv_bytes, cudaMemcpyHostToDevice), err);
    AB_CUDA_TRY(cudaMemcpy(st->dv, st->hv, st->kv_bytes, cudaMemcpyHostToDevice), err);
    AB_CUDA_TRY(cudaMemset(st->dout, 0xff, st->out_bytes), err); /* NaN until written */
    attention_memory_work(&s, AB_BACKEND_CUDA, &c->work);
    return AB_OK;
}

static ab_status cuda_verify(struct ab_case *c, struct ab_error *err)
{
    struct cuda_state *st = c->state;
    uint64_t zero = 0, high = 0;
    AB_CUDA_TRY(cudaStreamSynchronize(st->stream), err);
    AB_CUDA_TRY(cudaMemPoolTrimTo(st->pool, 0), err);
    AB_CUDA_TRY(cudaMemPoolSetAttribute(st->pool, cudaMemPoolAttrUsedMemHigh, &zero), err);
    ab_status rc = cuda_once(st, err);
    if (rc)
        return rc;
    AB_CUDA_TRY(cudaStreamSynchronize(st->stream), err);
    AB_CUDA_TRY(cudaMemPoolGetAttribute(st->pool, cudaMemPoolAttrUsedMemHigh, &high), err);
    attention_memory_record_memory(c, &st->s, high, st->sms);
    AB_CUDA_TRY(cudaMemcpy(st->hout, st->dout, st->out_bytes, cudaMemcpyDeviceToHost), err);
    double atol, rtol;
    attention_memory_tolerance(st->s.dtype, AB_BACKEND_CUDA, &atol, &rtol);
    return attention_memory_check(c, &st->s, st->hq, st->hk, st->hv, st->hout, atol, rtol, err);
}

static ab_status cuda_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    return cuda_once(c->state, err);
}

static void cuda_teardown(struct ab_case *c)
{
    struct cuda_state *st = c->state;
    if (!st)
        return;
    if (st->stream)
        (void)cudaStreamSynchronize(st->stream);
    cudaFree(st->dq);
    cudaFree(st->dk);
    cudaFree(st->dv);
    cudaFree(st->dout);
    if (st->stream)
        cudaStreamDestroy(st->stream);
    if (st->pool)
        (void)cudaMemPoolTrimTo(st->pool, 0);
    (void)cudaGetLastError();
    ab_free(st->hq);
    ab_free(st->hk);
    ab_free(st->hv);
    ab_free(st->hout);
    free(st);
    c->state = NULL;
}

const struct ab_impl attention_memory_cuda_impl = {
    .setup = cuda_setup, .verify = cuda_verify, .launch = cuda_launch, .teardown = cuda_teardown
};
