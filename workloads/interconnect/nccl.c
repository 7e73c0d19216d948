/* nccl.c — libnccl opened with dlopen, its functions looked up by their nccl.h names, and the
 * mapping of the workload's ops and element types to NCCL's calls and enums. Host C only: the
 * CUDA side (nccl_cuda.c) owns buffers, streams and communicators. */
#include "nccl.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

ab_status icx_nccl_open(const char *libpath, struct icx_nccl *out, struct ab_error *err)
{
    memset(out, 0, sizeof *out);
    if (!libpath)
        libpath = getenv("ACCELBENCH_NCCL_LIB");
    if (!libpath || !libpath[0])
        libpath = "libnccl.so.2";
    void *lib = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return ab_fail(err, AB_EUNSUPPORTED,
                       "NCCL not available: %s (install NCCL, e.g. Debian's libnccl2 or NVIDIA's "
                       "libnccl2 package, or set ACCELBENCH_NCCL_LIB to its libnccl.so.2)",
                       dlerror());
    /* Required, in the order of struct icx_nccl; all-to-all falls back to send/recv. */
    static const char *const names[] = { "ncclGetVersion",  "ncclGetUniqueId",    "ncclCommInitRank",
                                         "ncclCommDestroy", "ncclGetErrorString", "ncclAllReduce",
                                         "ncclAllGather",   "ncclReduceScatter",  "ncclSend",
                                         "ncclRecv",        "ncclGroupStart",     "ncclGroupEnd" };
    void *fn[sizeof names / sizeof *names];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!(fn[i] = dlsym(lib, names[i]))) {
            dlclose(lib);
            return ab_fail(err, AB_EUNSUPPORTED, "%s: not an NCCL 2 library (no %s)", libpath, names[i]);
        }
    }
    out->lib = lib;
    /* POSIX lets a dlsym result be converted to a function pointer; memcpy says so to C11. */
    memcpy(&out->get_version, &fn[0], sizeof fn[0]);
    memcpy(&out->get_unique_id, &fn[1], sizeof fn[1]);
    memcpy(&out->comm_init_rank, &fn[2], sizeof fn[2]);
    memcpy(&out->comm_destroy, &fn[3], sizeof fn[3]);
    memcpy(&out->get_error_string, &fn[4], sizeof fn[4]);
    memcpy(&out->all_reduce, &fn[5], sizeof fn[5]);
    memcpy(&out->all_gather, &fn[6], sizeof fn[6]);
    memcpy(&out->reduce_scatter, &fn[7], sizeof fn[7]);
    memcpy(&out->send, &fn[8], sizeof fn[8]);
    memcpy(&out->recv, &fn[9], sizeof fn[9]);
    memcpy(&out->group_start, &fn[10], sizeof fn[10]);
    memcpy(&out->group_end, &fn[11], sizeof fn[11]);
    void *a2a = dlsym(lib, "ncclAlltoAll");
    if (a2a)
        memcpy(&out->all_to_all, &a2a, sizeof a2a);
    int v = 0;
    if (out->get_version(&v) == 0)
        out->version = v;
    return AB_OK;
}

void icx_nccl_close(struct icx_nccl *n)
{
    if (n && n->lib)
        dlclose(n->lib);
    if (n)
        memset(n, 0, sizeof *n);
}

int icx_nccl_dtype(enum ab_dtype t)
{
    switch (t) {
    case AB_DTYPE_FP32:
    case AB_DTYPE_TF32: return 7;      /* ncclFloat32 */
    case AB_DTYPE_FP16: return 6;      /* ncclFloat16 */
    case AB_DTYPE_BF16: return 9;      /* ncclBfloat16 */
    case AB_DTYPE_FP8_E4M3: return 10; /* ncclFloat8e4m3 */
    case AB_DTYPE_FP8_E5M2: return 11; /* ncclFloat8e5m2 */
    case AB_DTYPE_INT8: return 0;      /* ncclInt8 */
    default: return -1;
    }
}

bool icx_op_is_collective(enum icx_op op)
{
    return op == ICX_ALLREDUCE || op == ICX_ALLGATHER || op == ICX_REDUCE_SCATTER || op == ICX_ALLTOALL;
}

const char *icx_nccl_call(const struct icx_nccl *n, enum icx_op op)
{
    switch (op) {
    case ICX_ALLREDUCE: return "ncclAllReduce";
    case ICX_ALLGATHER: return "ncclAllGather";
    case ICX_REDUCE_SCATTER: return "ncclReduceScatter";
    case ICX_ALLTOALL: return n && n->all_to_all ? "ncclAlltoAll" : "ncclSend/ncclRecv";
    default: return NULL;
    }
}

int icx_nccl_collective(const struct icx_nccl *n, enum icx_op op, const void *send, void *recv, size_t count,
                        size_t chunk, int nranks, icx_nccl_comm comm, void *stream, const char **call)
{
    const int f32 = icx_nccl_dtype(AB_DTYPE_FP32);
    *call = icx_nccl_call(n, op);
    switch (op) {
    case ICX_ALLREDUCE: return n->all_reduce(send, recv, count, f32, ICX_NCCL_SUM, comm, stream);
    case ICX_ALLGATHER: return n->all_gather(send, recv, chunk, f32, comm, stream);
    case ICX_REDUCE_SCATTER: return n->reduce_scatter(send, recv, chunk, f32, ICX_NCCL_SUM, comm, stream);
    case ICX_ALLTOALL: {
        if (n->all_to_all)
            return n->all_to_all(send, recv, chunk, f32, comm, stream);
        /* block q of this rank's send buffer to rank q, block q of recv from it */
        int rc = n->group_start();
        for (int q = 0; rc == 0 && q < nranks; q++) {
            rc = n->send((const float *)send + (size_t)q * chunk, chunk, f32, q, comm, stream);
            if (rc == 0)
                rc = n->recv((float *)recv + (size_t)q * chunk, chunk, f32, q, comm, stream);
        }
        int end = n->group_end();
        return rc ? rc : end;
    }
    default: *call = "icx_nccl_collective"; return 4; /* ncclInvalidArgument */
    }
}

ab_status icx_nccl_fail(const struct icx_nccl *n, struct ab_error *err, int result, const char *call)
{
    const char *text = n && n->get_error_string ? n->get_error_string(result) : NULL;
    /* ncclSystemError (2) and ncclRemoteError (6) come from another rank or the network */
    return ab_fail(err, AB_EFAIL, "%s: %s (result %d)", call ? call : "NCCL", text ? text : "error", result);
}
