/* cuda.c — interconnect on an NVIDIA GPU, after nvbandwidth: host-to-device and device-to-host
 * copies from pinned (cudaMallocHost) and pageable (ordinary) host memory, and device-to-device
 * copies to the next GPU, peer to peer where cudaDeviceCanAccessPeer allows (else the driver
 * stages through the host; the row says which). Copies on one stream, timed with events; every
 * byte of one copy is checked against the random source before timing. */
#include "ab_cuda.h"
#include "interconnect.h"
#include "nccl.h"

#include <stdlib.h>
#include <string.h>

struct cuda_state {
    enum icx_op op;
    size_t n;
    unsigned char *host; /* h2d source / d2h destination: pinned or pageable */
    unsigned char *ref;  /* the random pattern, and the buffer results are read back into */
    unsigned char *back; /* read-back for the check */
    bool pinned;
    void *dev, *peer; /* this GPU's buffer; p2p: the next GPU's */
    int peer_dev;
    bool peer_access; /* p2p: copies go peer to peer */
    cudaStream_t stream;
    struct icx_nccl_case *nccl; /* a collective (nccl_cuda.c): the case is its */
};

static ab_status copy_once(struct ab_case *c, struct cuda_state *s, struct ab_error *err)
{
    switch (s->op) {
    case ICX_H2D_PINNED:
    case ICX_H2D_PAGEABLE:
        AB_CUDA_TRY(cudaMemcpyAsync(s->dev, s->host, s->n, cudaMemcpyHostToDevice, s->stream), err);
        break;
    case ICX_D2H_PINNED:
    case ICX_D2H_PAGEABLE:
        AB_CUDA_TRY(cudaMemcpyAsync(s->host, s->dev, s->n, cudaMemcpyDeviceToHost, s->stream), err);
        break;
    case ICX_P2P:
        AB_CUDA_TRY(cudaMemcpyPeerAsync(s->peer, s->peer_dev, s->dev, c->device->index, s->n, s->stream),
                    err);
        break;
    default: return ab_fail(err, AB_EINVAL, "not a CUDA copy");
    }
    return AB_OK;
}

static ab_status cuda_setup(struct ab_case *c, struct ab_error *err)
{
    struct cuda_state *s = calloc(1, sizeof *s);
    if (!s)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    c->state = s;
    s->op = icx_op_parse(ab_param_str(&c->params, "op", ""));
    if (icx_op_is_collective(s->op)) {
        ab_case_times_itself(c); /* NCCL's collectives end on a synchronize, timed by nccl_cuda.c */
        return icx_nccl_setup(c, s->op, &s->nccl, err);
    }
    if (!icx_op_is_cuda(s->op))
        return ab_fail(err, AB_EUNSUPPORTED, "%s runs on the CPU backend", icx_op_name(s->op));
    s->n = (size_t)ab_param_int(&c->params, "bytes", 4096);
    s->pinned = s->op == ICX_H2D_PINNED || s->op == ICX_D2H_PINNED;
    int dev = c->device->index;
    AB_CUDA_TRY(cudaSetDevice(dev), err);
    if (s->op == ICX_P2P) {
        int count = 0;
        AB_CUDA_TRY(cudaGetDeviceCount(&count), err);
        if (count < 2)
            return ab_fail(err, AB_EUNSUPPORTED, "p2p needs 2 GPUs; this host shows %d", count);
        s->peer_dev = (dev + 1) % count;
        int can = 0;
        AB_CUDA_TRY(cudaDeviceCanAccessPeer(&can, dev, s->peer_dev), err);
        if (can) {
            cudaError_t e = cudaDeviceEnablePeerAccess(s->peer_dev, 0);
            if (e != cudaSuccess && e != cudaErrorPeerAccessAlreadyEnabled)
                AB_CUDA_TRY(e, err);
            (void)cudaGetLastError();
        }
        s->peer_access = can != 0;
        ab_case_metric(c, "peer_access", can);
        ab_case_metric(c, "peer_device", s->peer_dev);
        AB_CUDA_TRY(cudaSetDevice(s->peer_dev), err);
        AB_CUDA_TRY(cudaMalloc(&s->peer, s->n), err);
        AB_CUDA_TRY(cudaSetDevice(dev), err);
    }
    if (!ab_device_fits(c->device, s->n))
        return ab_fail(err, AB_ENOMEM, "%zu bytes do not fit on %s", s->n, c->device->id);
    AB_CUDA_TRY(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking), err);
    ab_case_set_stream(c, s->stream);
    AB_CUDA_TRY(cudaMalloc(&s->dev, s->n), err);
    if (s->pinned)
        AB_CUDA_TRY(cudaMallocHost((void **)&s->host, s->n), err);
    else
        s->host = ab_alloc(s->n);
    s->ref = ab_alloc(s->n);
    s->back = ab_alloc(s->n);
    if (!s->host || !s->ref || !s->back)
        return ab_fail(err, AB_ENOMEM, "cannot allocate host buffers of %zu bytes", s->n);
    struct ab_rng g;
    ab_rng_seed(&g, c->seed);
    for (size_t i = 0; i < s->n; i++) {
        unsigned char b = (unsigned char)(ab_rng_next(&g) >> 56);
        s->ref[i] = b ? b : 0xa5; /* never zero: a copy that did nothing cannot pass */
    }
    /* h2d reads the pattern from host memory; d2h and p2p from this GPU's buffer */
    memcpy(s->host, s->ref, s->n);
    if (s->op != ICX_H2D_PINNED && s->op != ICX_H2D_PAGEABLE) {
        AB_CUDA_TRY(cudaMemcpy(s->dev, s->ref, s->n, cudaMemcpyHostToDevice), err);
        memset(s->host, 0, s->n);
    }
    c->work = (struct ab_work){ .bytes = (double)s->n, .rate = "bytes" };
    ab_case_metric(c, "ranks", 1);
    ab_case_metric(c, "busbw_factor", 1);
    char what[64];
    if (s->op == ICX_P2P)
        snprintf(what, sizeof what, "p2p %zu B to cuda:%d%s", s->n, s->peer_dev,
                 s->peer_access ? ", peer access" : ", staged");
    else
        snprintf(what, sizeof what, "%s %zu B", icx_op_name(s->op), s->n);
    icx_hold_against_link(c, s->op, what);
    return AB_OK;
}

static ab_status cuda_verify(struct ab_case *c, struct cuda_state *s, struct ab_error *err)
{
    ab_status st = copy_once(c, s, err);
    if (st)
        return st;
    AB_CUDA_TRY(cudaStreamSynchronize(s->stream), err);
    const void *got = s->back;
    if (s->op == ICX_H2D_PINNED || s->op == ICX_H2D_PAGEABLE)
        AB_CUDA_TRY(cudaMemcpy(s->back, s->dev, s->n, cudaMemcpyDeviceToHost), err);
    else if (s->op == ICX_P2P)
        AB_CUDA_TRY(cudaMemcpy(s->back, s->peer, s->n, cudaMemcpyDefault), err);
    else
        got = s->host;
    const unsigned char *g = got;
    ab_case_metric(c, "checked_elements", (double)s->n);
    for (size_t i = 0; i < s->n; i++)
        if (g[i] != s->ref[i])
            return ab_fail(err, AB_EMISMATCH, "%s: byte %zu is 0x%02x, expected 0x%02x", icx_op_name(s->op),
                           i, g[i], s->ref[i]);
    return AB_OK;
}

static ab_status cuda_verify_case(struct ab_case *c, struct ab_error *err)
{
    struct cuda_state *s = c->state;
    if (s->nccl)
        return icx_nccl_verify(s->nccl, c, err);
    return cuda_verify(c, s, err);
}

static ab_status cuda_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    return copy_once(c, c->state, err);
}

/* A collective's reps, timed by nccl_cuda.c (the cases that said ab_case_times_itself). */
static ab_status cuda_run(struct ab_case *c, int64_t reps, double *time_s, struct ab_error *err)
{
    struct cuda_state *s = c->state;
    if (!s->nccl)
        return ab_fail(err, AB_EFAIL, "interconnect: a copy case is timed by the engine, not run()");
    return icx_nccl_run(s->nccl, reps, time_s, err);
}

static void cuda_teardown(struct ab_case *c)
{
    struct cuda_state *s = c->state;
    if (!s)
        return;
    icx_nccl_teardown(s->nccl);
    if (s->stream)
        cudaStreamSynchronize(s->stream);
    if (s->pinned)
        cudaFreeHost(s->host);
    else
        ab_free(s->host);
    ab_free(s->ref);
    ab_free(s->back);
    cudaFree(s->dev);
    cudaFree(s->peer);
    if (s->stream)
        cudaStreamDestroy(s->stream);
    (void)cudaGetLastError();
    free(s);
    c->state = NULL;
}

const struct ab_impl interconnect_cuda_impl = {
    .setup = cuda_setup,
    .verify = cuda_verify_case,
    .run = cuda_run,
    .launch = cuda_launch,
    .teardown = cuda_teardown,
};
