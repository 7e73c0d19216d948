/* fake_nccl.c — a stand-in libnccl for the interconnect tests: every call NCCL's loader looks up,
 * each recording what it was called with (fake_nccl_log, read by the test through dlsym), so the
 * mapping of the workload's ops to NCCL calls, counts, types and peers can be checked without a
 * GPU. Version 2.28.3; ncclAlltoAll present. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

char fake_nccl_log[4096];

static void note(const char *fmt, ...)
{
    size_t l = strlen(fake_nccl_log);
    va_list ap;
    va_start(ap, fmt);
    if (l < sizeof fake_nccl_log - 64)
        vsnprintf(fake_nccl_log + l, sizeof fake_nccl_log - l, fmt, ap);
    va_end(ap);
}

int ncclGetVersion(int *v)
{
    *v = 22803;
    return 0;
}
int ncclGetUniqueId(void *id)
{
    memset(id, 7, 128);
    return 0;
}
int ncclCommInitRank(void **comm, int nranks, char id[128], int rank)
{
    *comm = fake_nccl_log;
    return 0;
}
int ncclCommDestroy(void *comm)
{
    return 0;
}
const char *ncclGetErrorString(int r)
{
    return r == 1 ? "unhandled cuda error (run with NCCL_DEBUG=INFO for details)" : "fake error";
}
int ncclAllReduce(const void *s, void *r, size_t count, int dtype, int op, void *comm, void *stream)
{
    note("allreduce count=%zu dtype=%d op=%d;", count, dtype, op);
    return 0;
}
int ncclAllGather(const void *s, void *r, size_t count, int dtype, void *comm, void *stream)
{
    note("allgather count=%zu dtype=%d;", count, dtype);
    return 0;
}
int ncclReduceScatter(const void *s, void *r, size_t count, int dtype, int op, void *comm, void *stream)
{
    note("reduce_scatter count=%zu dtype=%d op=%d;", count, dtype, op);
    return 1; /* ncclUnhandledCudaError: the failure path */
}
int ncclAlltoAll(const void *s, void *r, size_t count, int dtype, void *comm, void *stream)
{
    note("alltoall count=%zu dtype=%d;", count, dtype);
    return 0;
}
int ncclSend(const void *s, size_t count, int dtype, int peer, void *comm, void *stream)
{
    note("send count=%zu dtype=%d peer=%d;", count, dtype, peer);
    return 0;
}
int ncclRecv(void *r, size_t count, int dtype, int peer, void *comm, void *stream)
{
    note("recv count=%zu dtype=%d peer=%d;", count, dtype, peer);
    return 0;
}
int ncclGroupStart(void)
{
    note("group(");
    return 0;
}
int ncclGroupEnd(void)
{
    note(");");
    return 0;
}
