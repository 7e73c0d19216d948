/* interconnect.h — what the interconnect workload's files share: its operations, the sizes and
 * bus-bandwidth factors of nccl-tests, the input pattern every rank can recompute for any rank,
 * and the checks of received buffers against it. The MPI side (mpi.c, or mpi_none.c in builds
 * without MPI) exports the icx_mpi_* functions only. */
#ifndef INTERCONNECT_H
#define INTERCONNECT_H

#include "accelbench.h"

enum icx_op {
    ICX_MEMCPY = 0, /* host memory copy on one rank: the baseline */
    ICX_PINGPONG,   /* MPI: rank 0 -> 1 -> 0, one round trip per repetition */
    ICX_ALLREDUCE,  /* MPI collectives over every rank, float sum */
    ICX_ALLGATHER,
    ICX_REDUCE_SCATTER,
    ICX_ALLTOALL,
    ICX_H2D_PINNED, /* CUDA: host to device from cudaMallocHost memory */
    ICX_H2D_PAGEABLE,
    ICX_D2H_PINNED,
    ICX_D2H_PAGEABLE,
    ICX_P2P, /* CUDA: this GPU to the next, peer to peer where allowed */
    ICX_OP_COUNT
};
/* Is op a copy of the CUDA backend (h2d, d2h, p2p)? */
static inline bool icx_op_is_cuda(enum icx_op op)
{
    return op >= ICX_H2D_PINNED && op <= ICX_P2P;
}
extern const struct ab_impl interconnect_cuda_impl;

/* "memcpy", "pingpong", ...; ICX_OP_COUNT for an unknown name. */
enum icx_op icx_op_parse(const char *name);
const char *icx_op_name(enum icx_op op);

/* nccl-tests' sizes for a message of `bytes` on n ranks, in floats: *send and *recv per rank,
 * *chunk the per-rank block (allgather, reduce_scatter, alltoall: bytes / 4 / n rounded down;
 * allreduce, pingpong and memcpy: bytes / 4), and the bytes a repetition counts (nccl-tests'
 * "size": the whole buffer; pingpong 2 messages). false when too small for n ranks. */
bool icx_sizes(enum icx_op op, int64_t bytes, int n, size_t *send, size_t *recv, size_t *chunk,
               double *counted);
/* nccl-tests' bus bandwidth factor: busbw = algbw x factor (allreduce 2(n-1)/n; allgather,
 * reduce_scatter, alltoall (n-1)/n; pingpong and memcpy 1). */
double icx_busbw_factor(enum icx_op op, int n);
/* The link ceiling an op's rows are held against: "h2d_bw", "d2h_bw" (host to GPU and back),
 * "p2p_bw" (GPU to GPU), "net_bw" (MPI ping-pong between ranks 0 and 1); NULL for memcpy and the
 * collectives. *publishes: its cases publish it (pinned copies, p2p, ping-pong), so the ceiling is
 * the best sample over the sizes run; pageable copies are only held against the pinned one. */
const char *icx_link_ceiling(enum icx_op op, bool *publishes);
/* Publish the op's link ceiling from the case (when it publishes one) and name it as the case's
 * ceiling; detail says which case gave it. Call at the end of setup, after c->work is set. */
void icx_hold_against_link(struct ab_case *c, enum icx_op op, const char *detail);

/* The input of rank r at element i: a whole number in [1, 1024], so sums over up to 2^14 ranks
 * are exact in float and no element is zero. Any rank can recompute any rank's input. */
static inline float icx_value(uint64_t seed, int r, size_t i)
{
    uint64_t z = seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(r + 1)) ^ ((uint64_t)i * 0xbf58476d1ce4e5b9ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)(1 + (z & 1023));
}
/* Fill rank r's send buffer of n_send floats for op (pingpong: rank r's message). */
void icx_fill(enum icx_op op, uint64_t seed, int r, float *send, size_t n_send);
/* Check the n_recv floats rank r received in op among n ranks (chunk as icx_sizes gives):
 * every element when n_recv <= 2^22, else an even sample that keeps the first and last.
 * Returns the mismatches; msg gets the first few ("[i] got x expected y"). */
int64_t icx_check(enum icx_op op, uint64_t seed, int r, int n, size_t chunk, const float *recv, size_t n_recv,
                  char *msg, size_t len);

/* MPI (mpi.c; mpi_none.c says "built without MPI"). One case's MPI state, made by setup. */
struct icx_mpi;
/* Is this build linked with MPI? */
bool icx_mpi_built(void);
/* Join the launcher's MPI job (MPI_Init_thread on the first call; AB_EUNSUPPORTED when MPI's
 * rank and size are not the launcher's launch_rank and launch_size) and start one case on every
 * rank: rank 0 tells the others which case (op, bytes, seed) and waits for each to agree, so
 * ranks out of step fail instead of hanging. *out is the state (rank, size, buffers). */
ab_status icx_mpi_setup(enum icx_op op, int64_t bytes, uint64_t seed, int launch_rank, int launch_size,
                        struct icx_mpi **out, struct ab_error *err);
/* Rank 0: one verified operation on every rank (each checks its own received data).
 * Other ranks: serve rank 0's verification and repetitions until it ends the case; their
 * status is AB_EUNSUPPORTED naming rank 0's row as the measurement, or AB_EMISMATCH. */
ab_status icx_mpi_verify(struct icx_mpi *m, struct ab_case *c, struct ab_error *err);
/* Rank 0: reps repetitions with every rank, timed from a common start. */
ab_status icx_mpi_run(struct icx_mpi *m, int64_t reps, double *time_s, struct ab_error *err);
/* Rank 0 ends the case on every rank; frees the state. */
void icx_mpi_teardown(struct icx_mpi *m);
/* Bytes a repetition counts (icx_sizes' counted) for the case's world size. */
double icx_mpi_counted_bytes(const struct icx_mpi *m);
int icx_mpi_size(const struct icx_mpi *m);

/* A transport of a case's data other than MPI's own (NCCL on GPUs, nccl_cuda.c): MPI still leads
 * the case (HELLO, VERIFY, RUN, DONE with their deadlines), the buffers and the operation are the
 * transport's. ctx is the transport's, passed back to each call. */
struct icx_transport {
    /* This rank's buffers of n_send and n_recv floats, the send buffer filled with rank's input
     * (icx_fill with seed). */
    ab_status (*alloc)(void *ctx, int rank, size_t n_send, size_t n_recv, size_t chunk, uint64_t seed,
                       struct ab_error *err);
    ab_status (*op)(void *ctx, struct ab_error *err);   /* start one operation */
    ab_status (*sync)(void *ctx, struct ab_error *err); /* wait for the operations started */
    /* One operation on a cleared receive buffer, then its check (icx_check): *bad mismatches,
     * the first few in msg. */
    ab_status (*check)(void *ctx, int64_t *bad, char *msg, size_t len, struct ab_error *err);
};
/* icx_mpi_setup with the data moved by t (t NULL: by MPI, as icx_mpi_setup). */
ab_status icx_mpi_setup_transport(enum icx_op op, int64_t bytes, uint64_t seed, int launch_rank,
                                  int launch_size, const struct icx_transport *t, void *ctx,
                                  struct icx_mpi **out, struct ab_error *err);
/* Rank 0's len bytes at buf to every rank of the case (an NCCL unique id), within a step's
 * deadline: a rank that never comes is a failed row, not a hang. */
ab_status icx_mpi_bcast(struct icx_mpi *m, void *buf, size_t len, struct ab_error *err);
int icx_mpi_rank(const struct icx_mpi *m);

#endif
