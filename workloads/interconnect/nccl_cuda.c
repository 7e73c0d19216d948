/* nccl_cuda.c — interconnect's collectives on GPUs through NCCL, after nccl-tests: every rank of
 * a launched job (srun, mpirun) runs the case on its own GPU, rank 0 draws the NCCL id and MPI
 * hands it to the others, each joins the communicator with ncclCommInitRank, and the four
 * collectives (float sum) run on the case's stream. MPI leads the case as it does its own ops
 * (mpi.c, struct icx_transport): rank 0 times, the others serve; the buffers live on the GPU
 * and are checked on the host against the inputs every rank can recompute. */
#include "ab_cuda.h"
#include "nccl.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;

struct icx_nccl_case {
    struct icx_nccl lib;
    struct icx_mpi *mpi;
    icx_nccl_comm comm;
    enum icx_op op;
    int device, rank, size;
    uint64_t seed;
    cudaStream_t stream;
    float *send, *recv; /* on the GPU */
    float *host;        /* staging for the input and the check */
    size_t n_send, n_recv, chunk;
};

static ab_status t_alloc(void *ctx, int rank, size_t n_send, size_t n_recv, size_t chunk, uint64_t seed,
                         struct ab_error *err)
{
    struct icx_nccl_case *s = ctx;
    s->rank = rank;
    s->n_send = n_send;
    s->n_recv = n_recv;
    s->chunk = chunk;
    s->seed = seed;
    AB_CUDA_TRY(cudaSetDevice(s->device), err);
    AB_CUDA_TRY(cudaMalloc((void **)&s->send, n_send * sizeof(float)), err);
    AB_CUDA_TRY(cudaMalloc((void **)&s->recv, n_recv * sizeof(float)), err);
    size_t n_host = n_send > n_recv ? n_send : n_recv;
    s->host = ab_alloc(n_host * sizeof(float));
    if (!s->host)
        return ab_fail(err, AB_ENOMEM, "cannot allocate %zu floats of host staging", n_host);
    icx_fill(s->op, seed, rank, s->host, n_send);
    AB_CUDA_TRY(cudaMemcpy(s->send, s->host, n_send * sizeof(float), cudaMemcpyHostToDevice), err);
    return AB_OK;
}

static ab_status t_op(void *ctx, struct ab_error *err)
{
    struct icx_nccl_case *s = ctx;
    const char *call = NULL;
    int rc = icx_nccl_collective(&s->lib, s->op, s->send, s->recv, s->n_send, s->chunk, s->size, s->comm,
                                 (void *)s->stream, &call);
    return rc ? icx_nccl_fail(&s->lib, err, rc, call) : AB_OK;
}

static ab_status t_sync(void *ctx, struct ab_error *err)
{
    struct icx_nccl_case *s = ctx;
    AB_CUDA_TRY(cudaStreamSynchronize(s->stream), err);
    return AB_OK;
}

static ab_status t_check(void *ctx, int64_t *bad, char *msg, size_t len, struct ab_error *err)
{
    struct icx_nccl_case *s = ctx;
    *bad = 0;
    /* a buffer left alone cannot pass */
    AB_CUDA_TRY(cudaMemsetAsync(s->recv, 0, s->n_recv * sizeof(float), s->stream), err);
    ab_status st = t_op(ctx, err);
    if (st || (st = t_sync(ctx, err)))
        return st;
    AB_CUDA_TRY(cudaMemcpy(s->host, s->recv, s->n_recv * sizeof(float), cudaMemcpyDeviceToHost), err);
    *bad = icx_check(s->op, s->seed, s->rank, s->size, s->chunk, s->host, s->n_recv, msg, len);
    return AB_OK;
}

static const struct icx_transport nccl_transport = {
    .alloc = t_alloc,
    .op = t_op,
    .sync = t_sync,
    .check = t_check,
};

ab_status icx_nccl_setup(struct ab_case *c, enum icx_op op, struct icx_nccl_case **out, struct ab_error *err)
{
    *out = NULL;
    struct ab_launch l;
    if (ab_launch_detect((const char *const *)environ, &l, err) != AB_OK)
        return AB_EUNSUPPORTED;
    if (!l.launcher[0] || l.size < 2)
        return ab_fail(err, AB_EUNSUPPORTED,
                       "%s on GPUs needs 2 or more ranks, one per GPU: launch with mpirun -n 2 or srun -n 2 "
                       "(this process is rank 0 of %d)",
                       icx_op_name(op), l.size);
    if (!icx_mpi_built())
        return ab_fail(err, AB_EUNSUPPORTED,
                       "%s on GPUs shares NCCL's id over MPI: this build has none (meson -Dmpi=enabled)",
                       icx_op_name(op));
    struct icx_nccl_case *s = calloc(1, sizeof *s);
    if (!s)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    *out = s;
    s->op = op;
    s->device = c->device->index;
    s->rank = l.rank;
    s->size = l.size;
    ab_status st = icx_nccl_open(NULL, &s->lib, err);
    if (st)
        return st;
    AB_CUDA_TRY(cudaSetDevice(s->device), err);
    AB_CUDA_TRY(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking), err);
    int64_t bytes = ab_param_int(&c->params, "bytes", 4096);
    size_t a, b, ch;
    double counted;
    if (icx_sizes(op, bytes, l.size, &a, &b, &ch, &counted) &&
        !ab_device_fits(c->device, (uint64_t)(a + b) * 4))
        return ab_fail(err, AB_ENOMEM, "%s buffers of %lld bytes do not fit on %s", icx_op_name(op),
                       (long long)bytes, c->device->id);
    if ((st = icx_mpi_setup_transport(op, bytes, c->seed, l.rank, l.size, &nccl_transport, s, &s->mpi, err)))
        return st;
    icx_nccl_id id;
    memset(&id, 0, sizeof id);
    int rc;
    if (s->rank == 0 && (rc = s->lib.get_unique_id(&id)) != 0)
        return icx_nccl_fail(&s->lib, err, rc, "ncclGetUniqueId");
    if ((st = icx_mpi_bcast(s->mpi, &id, sizeof id, err)))
        return st;
    if ((rc = s->lib.comm_init_rank(&s->comm, s->size, id, s->rank)) != 0) {
        s->comm = NULL;
        return icx_nccl_fail(&s->lib, err, rc, "ncclCommInitRank");
    }
    c->work = (struct ab_work){ .bytes = icx_mpi_counted_bytes(s->mpi), .rate = "bytes" };
    ab_case_metric(c, "ranks", s->size);
    ab_case_metric(c, "busbw_factor", icx_busbw_factor(op, s->size));
    ab_case_metric(c, "nccl_version", s->lib.version);
    ab_case_metric_text(c, "nccl_call", "%s", icx_nccl_call(&s->lib, op));
    return AB_OK;
}

ab_status icx_nccl_verify(struct icx_nccl_case *s, struct ab_case *c, struct ab_error *err)
{
    return icx_mpi_verify(s->mpi, c, err);
}

ab_status icx_nccl_run(struct icx_nccl_case *s, int64_t reps, double *time_s, struct ab_error *err)
{
    return icx_mpi_run(s->mpi, reps, time_s, err);
}

void icx_nccl_teardown(struct icx_nccl_case *s)
{
    if (!s)
        return;
    icx_mpi_teardown(s->mpi); /* rank 0 ends the case on every rank */
    if (s->stream)
        cudaStreamSynchronize(s->stream);
    if (s->comm)
        s->lib.comm_destroy(s->comm);
    cudaFree(s->send);
    cudaFree(s->recv);
    ab_free(s->host);
    if (s->stream)
        cudaStreamDestroy(s->stream);
    (void)cudaGetLastError();
    icx_nccl_close(&s->lib);
    free(s);
}
