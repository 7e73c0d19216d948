/* nccl.h — NCCL for the interconnect workload's GPU collectives, opened with dlopen (as NVML is,
 * harness/meter_nvml.c) so that neither the build nor the binary needs it: a host without
 * libnccl.so.2 gets skipped rows saying so. The prototypes are nccl.h's ABI (NCCL 2.x), written
 * here with plain types: a result is an int (0 = ncclSuccess), a communicator and a stream are
 * pointers. The loader and the op and type mappings are host C, tested without a GPU. */
#ifndef INTERCONNECT_NCCL_H
#define INTERCONNECT_NCCL_H

#include "interconnect.h"

#define ICX_NCCL_ID_BYTES 128 /* NCCL_UNIQUE_ID_BYTES */

typedef struct {
    char internal[ICX_NCCL_ID_BYTES];
} icx_nccl_id;
typedef void *icx_nccl_comm;

/* The functions of libnccl the workload calls. alltoall is NULL before NCCL 2.28 (ncclAlltoAll):
 * then all-to-all is a group of ncclSend/ncclRecv, as nccl-tests does it. */
struct icx_nccl {
    void *lib;
    int version; /* ncclGetVersion: major * 10000 + minor * 100 + patch (2.28.3: 22803) */
    int (*get_version)(int *version);
    int (*get_unique_id)(icx_nccl_id *id);
    int (*comm_init_rank)(icx_nccl_comm *comm, int nranks, icx_nccl_id id, int rank);
    int (*comm_destroy)(icx_nccl_comm comm);
    const char *(*get_error_string)(int result);
    int (*all_reduce)(const void *send, void *recv, size_t count, int dtype, int op, icx_nccl_comm comm,
                      void *stream);
    int (*all_gather)(const void *send, void *recv, size_t sendcount, int dtype, icx_nccl_comm comm,
                      void *stream);
    int (*reduce_scatter)(const void *send, void *recv, size_t recvcount, int dtype, int op,
                          icx_nccl_comm comm, void *stream);
    int (*all_to_all)(const void *send, void *recv, size_t count, int dtype, icx_nccl_comm comm,
                      void *stream);
    int (*send)(const void *send, size_t count, int dtype, int peer, icx_nccl_comm comm, void *stream);
    int (*recv)(void *recv, size_t count, int dtype, int peer, icx_nccl_comm comm, void *stream);
    int (*group_start)(void);
    int (*group_end)(void);
};

/* Open libpath (NULL: $ACCELBENCH_NCCL_LIB, else "libnccl.so.2") and find its functions into
 * *out. No library: AB_EUNSUPPORTED, "NCCL not available: <dlerror> (...)"; a library without
 * one of the functions: AB_EUNSUPPORTED naming it. Close with icx_nccl_close. */
ab_status icx_nccl_open(const char *libpath, struct icx_nccl *out, struct ab_error *err);
void icx_nccl_close(struct icx_nccl *n);

/* ncclDataType_t of an element type: fp32 and tf32 (stored as fp32) 7, fp16 6, bf16 9,
 * fp8_e4m3 10, fp8_e5m2 11 (NCCL 2.24 and later), int8 0; -1 for a value out of range. */
int icx_nccl_dtype(enum ab_dtype t);
#define ICX_NCCL_SUM 0 /* ncclSum */

/* Is op one NCCL runs (allreduce, allgather, reduce_scatter, alltoall)? */
bool icx_op_is_collective(enum icx_op op);
/* The NCCL call op makes, by its nccl.h name ("ncclAllReduce", "ncclAllGather",
 * "ncclReduceScatter", "ncclAlltoAll", or for alltoall without it "ncclSend/ncclRecv"); NULL for
 * an op that is not a collective. */
const char *icx_nccl_call(const struct icx_nccl *n, enum icx_op op);

/* Enqueue one op among nranks on stream (count and chunk as icx_sizes gives: n_send, chunk),
 * float sum. Returns NCCL's result (0: success); *call names the call that failed. */
int icx_nccl_collective(const struct icx_nccl *n, enum icx_op op, const void *send, void *recv, size_t count,
                        size_t chunk, int nranks, icx_nccl_comm comm, void *stream, const char **call);
/* "ncclAllReduce: unhandled cuda error (result 1)": the message of a failed call. */
ab_status icx_nccl_fail(const struct icx_nccl *n, struct ab_error *err, int result, const char *call);

/* GPU collectives (nccl_cuda.c, in CUDA builds): a case of op on the case's GPU, one per rank of
 * a launched job (MPI shares rank 0's NCCL id and leads the case as for MPI's own ops). Without
 * launched ranks, MPI or libnccl: AB_EUNSUPPORTED with the reason. */
struct icx_nccl_case;
ab_status icx_nccl_setup(struct ab_case *c, enum icx_op op, struct icx_nccl_case **out, struct ab_error *err);
ab_status icx_nccl_verify(struct icx_nccl_case *s, struct ab_case *c, struct ab_error *err);
ab_status icx_nccl_run(struct icx_nccl_case *s, int64_t reps, double *time_s, struct ab_error *err);
void icx_nccl_teardown(struct icx_nccl_case *s);

#endif
