/* interconnect.c — the `interconnect` workload: the links between memories, after nvbandwidth
 * and nccl-tests. op=memcpy copies host memory on each rank (the baseline every link is read
 * against); with two or more MPI ranks (srun, mpirun), op=pingpong times round trips between
 * ranks 0 and 1 and the collectives (allreduce, allgather, reduce_scatter, alltoall) run on every
 * rank, reported as algorithm bandwidth (byte_per_s) and nccl-tests' bus bandwidth. Rank 0 leads
 * each MPI case and its row holds the times; the other ranks serve it (their rows say so). */
#include "interconnect.h"
#include "nccl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static const char *const op_names[ICX_OP_COUNT] = {
    "memcpy",       "pingpong",   "allreduce",    "allgather", "reduce_scatter", "alltoall", "h2d_pinned",
    "h2d_pageable", "d2h_pinned", "d2h_pageable", "p2p"
};

enum icx_op icx_op_parse(const char *name)
{
    for (int i = 0; i < ICX_OP_COUNT; i++)
        if (!strcmp(name, op_names[i]))
            return (enum icx_op)i;
    return ICX_OP_COUNT;
}

const char *icx_op_name(enum icx_op op)
{
    return (unsigned)op < ICX_OP_COUNT ? op_names[op] : "?";
}

bool icx_sizes(enum icx_op op, int64_t bytes, int n, size_t *send, size_t *recv, size_t *chunk,
               double *counted)
{
    size_t floats = bytes > 0 ? (size_t)bytes / sizeof(float) : 0;
    if (n < 1)
        n = 1;
    switch (op) {
    case ICX_ALLGATHER:
    case ICX_REDUCE_SCATTER:
    case ICX_ALLTOALL: {
        size_t c = floats / (size_t)n;
        *chunk = c;
        *send = op == ICX_ALLGATHER ? c : c * (size_t)n;
        *recv = op == ICX_REDUCE_SCATTER ? c : c * (size_t)n;
        *counted = (double)(c * (size_t)n * sizeof(float));
        return c > 0;
    }
    case ICX_PINGPONG:
        *chunk = *send = *recv = floats;
        *counted = 2.0 * (double)(floats * sizeof(float)); /* there and back */
        return floats > 0;
    default:
        *chunk = *send = *recv = floats;
        *counted = (double)(floats * sizeof(float));
        return floats > 0;
    }
}

double icx_busbw_factor(enum icx_op op, int n)
{
    if (n < 1)
        return 1;
    switch (op) {
    case ICX_ALLREDUCE: return 2.0 * (n - 1) / n;
    case ICX_ALLGATHER:
    case ICX_REDUCE_SCATTER:
    case ICX_ALLTOALL: return (double)(n - 1) / n;
    default: return 1;
    }
}

const char *icx_link_ceiling(enum icx_op op, bool *publishes)
{
    *publishes = op == ICX_H2D_PINNED || op == ICX_D2H_PINNED || op == ICX_P2P || op == ICX_PINGPONG;
    switch (op) {
    case ICX_H2D_PINNED:
    case ICX_H2D_PAGEABLE: return "h2d_bw";
    case ICX_D2H_PINNED:
    case ICX_D2H_PAGEABLE: return "d2h_bw";
    case ICX_P2P: return "p2p_bw";
    case ICX_PINGPONG: return "net_bw";
    default: return NULL;
    }
}

void icx_hold_against_link(struct ab_case *c, enum icx_op op, const char *detail)
{
    bool pub;
    const char *name = icx_link_ceiling(op, &pub);
    if (!name)
        return;
    c->work.ceiling = name;
    if (pub) {
        /* 0: the rate of the best sample; the device keeps the best case's value */
        ab_case_publish_ceiling(c, name, 0);
        ab_case_ceiling_detail(c, "%s", detail);
    }
}

void icx_fill(enum icx_op op, uint64_t seed, int r, float *send, size_t n_send)
{
    for (size_t i = 0; i < n_send; i++)
        send[i] = icx_value(seed, r, i);
}

/* What rank r must hold at element i after op among n ranks (rank q's send buffer is
 * icx_value(seed, q, j) for its j-th element). */
static double expected(enum icx_op op, uint64_t seed, int r, int n, size_t chunk, size_t i)
{
    double s = 0;
    switch (op) {
    case ICX_ALLREDUCE:
        for (int q = 0; q < n; q++)
            s += icx_value(seed, q, i);
        return s;
    case ICX_ALLGATHER: /* block q is rank q's send buffer */
        return icx_value(seed, (int)(i / chunk), i % chunk);
    case ICX_REDUCE_SCATTER: /* rank r gets the sum of block r of every rank */
        for (int q = 0; q < n; q++)
            s += icx_value(seed, q, (size_t)r * chunk + i);
        return s;
    case ICX_ALLTOALL: /* block q is block r of rank q */
        return icx_value(seed, (int)(i / chunk), (size_t)r * chunk + i % chunk);
    case ICX_PINGPONG: /* rank 1 receives rank 0's message, rank 0 rank 1's reply */
        return icx_value(seed, r == 0 ? 1 : 0, i);
    default: return icx_value(seed, 0, i);
    }
}

int64_t icx_check(enum icx_op op, uint64_t seed, int r, int n, size_t chunk, const float *recv, size_t n_recv,
                  char *msg, size_t len)
{
    if (msg && len)
        msg[0] = '\0';
    size_t step = n_recv <= ((size_t)1 << 22) ? 1 : n_recv / ((size_t)1 << 20);
    int64_t bad = 0;
    for (size_t i = 0; i < n_recv; i = (i + step < n_recv || i == n_recv - 1) ? i + step : n_recv - 1) {
        double want = expected(op, seed, r, n, chunk ? chunk : 1, i);
        if ((double)recv[i] != want && bad++ < 3 && msg) {
            size_t l = strlen(msg);
            snprintf(msg + l, len - l, "%s[%zu] got %g expected %g", l ? "; " : "", i, (double)recv[i], want);
        }
        if (i == n_recv - 1)
            break;
    }
    return bad;
}

/* ------------------------------------------------------------------ axes and rules */

#define OPS                                                                                                  \
    "memcpy,pingpong,allreduce,allgather,reduce_scatter,alltoall,h2d_pinned,h2d_pageable,d2h_pinned,d2h_"    \
    "pageable,p2p"

/* The CPU runs memcpy and the MPI ops, CUDA the copies of a GPU and the collectives (NCCL). */
static bool icx_applies(const struct ab_params *ps, enum ab_backend_kind backend, enum ab_suite suite)
{
    enum icx_op op = icx_op_parse(ab_param_str(ps, "op", ""));
    bool cuda_op = icx_op_is_cuda(op);
    /* the collectives run on GPUs too, through NCCL (nccl_cuda.c) */
    bool nccl_op =
        op == ICX_ALLREDUCE || op == ICX_ALLGATHER || op == ICX_REDUCE_SCATTER || op == ICX_ALLTOALL;
    return backend == AB_BACKEND_CUDA ? cuda_op || nccl_op : !cuda_op;
}

static const struct ab_axis icx_axes[] = {
    { .name = "op",
      .type = AB_AXIS_STR,
      .help =
          "CPU: memcpy, a host memory copy on each rank; with >= 2 MPI ranks pingpong (ranks 0 and 1), "
          "allreduce, allgather, reduce_scatter, alltoall (float sum, every rank). CUDA: h2d and d2h from "
          "pinned or pageable host memory, p2p to the next GPU, and with >= 2 ranks the four collectives "
          "through NCCL (a GPU per rank)",
      .choices = OPS,
      .sweep = { OPS, OPS, OPS, OPS } },
    { .name = "bytes",
      .type = AB_AXIS_INT,
      .help = "message size (nccl-tests' size: the whole buffer of a collective; per rank it is "
              "bytes / ranks for allgather, reduce_scatter and alltoall)",
      .min = 4,
      .max = (double)((int64_t)1 << 32),
      .sweep = { "4K,1M", "4K:1G:x4", "4K:1G:x2", "4K,100000" } },
};

static const struct ab_metric_decl icx_metrics[] = {
    { "ranks", "", false, AB_BETTER_NONE, "MPI ranks taking part (1 for memcpy)" },
    { "busbw_factor", "", false, AB_BETTER_NONE,
      "nccl-tests' bus bandwidth factor: busbw = byte_per_s x this (allreduce 2(n-1)/n; allgather, "
      "reduce_scatter, alltoall (n-1)/n; 1 otherwise)" },
    { "checked_elements", "", false, AB_BETTER_NONE, "received floats compared with their expected values" },
    { "mpi_thread_level", "", true, AB_BETTER_NONE, "the MPI thread support granted (multiple, serialized)" },
    { "mpi_library", "", true, AB_BETTER_NONE, "MPI_Get_library_version's first words" },
    { "peer_access", "", false, AB_BETTER_NONE,
      "CUDA p2p: 1 when the two GPUs copy peer to peer, 0 when staged" },
    { "peer_device", "", false, AB_BETTER_NONE, "CUDA p2p: the ordinal of the GPU copied to" },
    { "nccl_version", "", false, AB_BETTER_NONE,
      "CUDA collectives: ncclGetVersion of the libnccl used (2.28.3 is 22803)" },
    { "nccl_call", "", true, AB_BETTER_NONE,
      "CUDA collectives: the NCCL call timed (ncclAllReduce, ... ncclAlltoAll, or ncclSend/ncclRecv)" },
};

/* ------------------------------------------------------------------ the CPU */

struct icx_state {
    enum icx_op op;
    /* memcpy */
    unsigned char *src, *dst;
    size_t n;
    /* MPI ops */
    struct icx_mpi *mpi;
};

/* Launched with two or more ranks? (MPI is joined only then: a lone process never inits it.) */
static bool launched_ranks(int *rank, int *size)
{
    struct ab_launch l;
    struct ab_error e;
    *rank = 0;
    *size = 1;
    if (ab_launch_detect((const char *const *)environ, &l, &e) != AB_OK)
        return false;
    *rank = l.rank;
    *size = l.size;
    return l.launcher[0] && l.size >= 2;
}

static ab_status icx_cpu_setup(struct ab_case *c, struct ab_error *err)
{
    struct icx_state *s = calloc(1, sizeof *s);
    if (!s)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    c->state = s;
    s->op = icx_op_parse(ab_param_str(&c->params, "op", "memcpy"));
    int64_t bytes = ab_param_int(&c->params, "bytes", 4096);
    if (s->op == ICX_OP_COUNT || icx_op_is_cuda(s->op))
        return ab_fail(err, AB_EUNSUPPORTED, "op %s is not a CPU case", ab_param_str(&c->params, "op", "?"));
    if (s->op != ICX_MEMCPY) {
        int rank, size;
        if (!icx_mpi_built())
            return ab_fail(err, AB_EUNSUPPORTED, "%s needs MPI: this build has none (meson -Dmpi=enabled)",
                           icx_op_name(s->op));
        if (!launched_ranks(&rank, &size))
            return ab_fail(
                err, AB_EUNSUPPORTED,
                "%s needs 2 or more MPI ranks: launch with mpirun -n 2 or srun -n 2 (this process is "
                "rank 0 of %d)",
                icx_op_name(s->op), size);
        ab_status st = icx_mpi_setup(s->op, bytes, c->seed, rank, size, &s->mpi, err);
        if (st)
            return st;
        ab_case_times_itself(c);
        int n = icx_mpi_size(s->mpi);
        c->work = (struct ab_work){ .bytes = icx_mpi_counted_bytes(s->mpi), .rate = "bytes" };
        ab_case_metric(c, "ranks", s->op == ICX_PINGPONG ? 2 : n);
        ab_case_metric(c, "busbw_factor", icx_busbw_factor(s->op, n));
        char what[64];
        snprintf(what, sizeof what, "pingpong %lld B, ranks 0-1 of %d", (long long)bytes, n);
        icx_hold_against_link(c, s->op, what);
        return AB_OK;
    }
    s->n = (size_t)bytes;
    if (!ab_device_fits(c->device, 2 * (uint64_t)s->n))
        return ab_fail(err, AB_ENOMEM, "two buffers of %zu bytes do not fit in host memory", s->n);
    s->src = ab_alloc(s->n);
    s->dst = ab_alloc(s->n);
    if (!s->src || !s->dst)
        return ab_fail(err, AB_ENOMEM, "cannot allocate two buffers of %zu bytes", s->n);
    struct ab_rng g;
    ab_rng_seed(&g, c->seed);
    for (size_t i = 0; i < s->n; i++) {
        unsigned char b = (unsigned char)(ab_rng_next(&g) >> 56);
        s->src[i] = b ? b : 0x5a; /* never zero: a copy that did nothing cannot pass */
    }
    memset(s->dst, 0, s->n);
    /* byte_per_s is the payload copied per second (nvbandwidth's convention); the mem_bw
     * ceiling counts STREAM's reads and writes instead, so no ceiling is named. */
    c->work = (struct ab_work){ .bytes = (double)s->n, .rate = "bytes" };
    ab_case_metric(c, "ranks", 1);
    ab_case_metric(c, "busbw_factor", 1);
    return AB_OK;
}

static ab_status icx_cpu_verify(struct ab_case *c, struct ab_error *err)
{
    struct icx_state *s = c->state;
    if (s->mpi)
        return icx_mpi_verify(s->mpi, c, err);
    memcpy(s->dst, s->src, s->n);
    ab_case_metric(c, "checked_elements", (double)s->n);
    for (size_t i = 0; i < s->n; i++)
        if (s->dst[i] != s->src[i])
            return ab_fail(err, AB_EMISMATCH, "memcpy: byte %zu is 0x%02x, expected 0x%02x", i, s->dst[i],
                           s->src[i]);
    return AB_OK;
}

/* MPI collectives time themselves: rank 0 starts the peers and passes a barrier first. */
static ab_status icx_cpu_run(struct ab_case *c, int64_t reps, double *time_s, struct ab_error *err)
{
    struct icx_state *s = c->state;
    if (!s->mpi)
        return ab_fail(err, AB_EFAIL, "memcpy is timed by the engine, not by run()");
    return icx_mpi_run(s->mpi, reps, time_s, err);
}

static ab_status icx_cpu_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    struct icx_state *s = c->state;
    /* alternate the direction so no copy can be skipped as a repeat of the last */
    if (rep & 1)
        memcpy(s->src, s->dst, s->n);
    else
        memcpy(s->dst, s->src, s->n);
    __asm__ volatile("" ::"r"(s->dst), "r"(s->src) : "memory");
    return AB_OK;
}

static void icx_cpu_teardown(struct ab_case *c)
{
    struct icx_state *s = c->state;
    if (!s)
        return;
    if (s->mpi)
        icx_mpi_teardown(s->mpi);
    ab_free(s->src);
    ab_free(s->dst);
    free(s);
    c->state = NULL;
}

static const struct ab_impl icx_cpu_impl = {
    .setup = icx_cpu_setup,
    .verify = icx_cpu_verify,
    .run = icx_cpu_run,
    .launch = icx_cpu_launch,
    .teardown = icx_cpu_teardown,
};

const struct ab_workload interconnect_workload = {
    .name = "interconnect",
    .summary = "links: host memory copy, and with MPI ranks ping-pong and collectives (nccl-tests' busbw)",
    .axes = icx_axes,
    .n_axes = sizeof icx_axes / sizeof icx_axes[0],
    .applies = icx_applies,
    .impl = { [AB_BACKEND_CPU] = &icx_cpu_impl, [AB_BACKEND_CUDA] = &interconnect_cuda_impl },
    .metrics = icx_metrics,
    .n_metrics = sizeof icx_metrics / sizeof icx_metrics[0],
    .provides_ceilings = true,
    .own_ceilings_only = true,
};
