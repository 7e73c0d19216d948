/* backend_cuda.cu — discovers NVIDIA GPUs through the CUDA runtime. No driver, or no GPU,
 * gives zero devices and a reason, never a crash: cudaGetDeviceCount is the first call and
 * its error is the reason. */
#include "accelbench.h"

#include "ab_cuda.h"
#include "backend_internal.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <new>
#include <stdio.h>
#include <string.h>

static ab_status cuda_discover(struct ab_device *out, int max, int *n, struct ab_error *err)
{
    *n = 0;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        ab_fail(err, AB_OK, "no CUDA device: %s", cudaGetErrorString(e));
        return AB_OK;
    }
    if (count == 0) {
        ab_fail(err, AB_OK, "no CUDA device");
        return AB_OK;
    }
    int drv = 0, rt = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    for (int i = 0; i < count && *n < max; i++) {
        cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
            (void)cudaGetLastError();
            continue;
        }
        struct ab_device *d = &out[(*n)++];
        memset(d, 0, sizeof *d);
        snprintf(d->id, sizeof d->id, "cuda:%d", i);
        d->backend = AB_BACKEND_CUDA;
        d->index = i;
        snprintf(d->name, sizeof d->name, "%s", p.name);
        d->compute_units = p.multiProcessorCount;
        d->threads = p.maxThreadsPerMultiProcessor;
        d->mem_bytes = p.totalGlobalMem;
        int clk = 0, memclk = 0;
        cudaDeviceGetAttribute(&clk, cudaDevAttrClockRate, i);
        cudaDeviceGetAttribute(&memclk, cudaDevAttrMemoryClockRate, i);
        d->clock_mhz = clk / 1000.0;
        d->mem_clock_mhz = memclk / 1000.0;
        d->cc_major = p.major;
        d->cc_minor = p.minor;
        snprintf(d->driver, sizeof d->driver, "%d.%d", drv / 1000, (drv % 1000) / 10);
        snprintf(d->runtime, sizeof d->runtime, "%d.%d", rt / 1000, (rt % 1000) / 10);
        char bus[32] = "";
        if (cudaDeviceGetPCIBusId(bus, (int)sizeof bus, i) == cudaSuccess)
            snprintf(d->pci_bus_id, sizeof d->pci_bus_id, "%s", bus);
        else
            (void)cudaGetLastError();
        d->l2_bytes = (uint64_t)p.l2CacheSize;
        snprintf(d->features, sizeof d->features, "sm_%d%d l2=%dKiB smem_per_block_optin=%zuKiB", p.major,
                 p.minor, p.l2CacheSize / 1024, p.sharedMemPerBlockOptin / 1024);
    }
    return AB_OK;
}

extern "C" const char *ab_cublas_status_text(int status)
{
    /* cuBLASLt names every status; a code it does not know still gets a readable text. */
    static __thread char buf[160];
    const char *name = cublasLtGetStatusName((cublasStatus_t)status);
    const char *text = cublasLtGetStatusString((cublasStatus_t)status);
    snprintf(buf, sizeof buf, "%s: %s (status %d)", name ? name : "cuBLAS status", text ? text : "unknown",
             status);
    return buf;
}

/* Errors after which the CUDA context is unusable for the rest of the process: every later
 * call on the device returns the same error (the CUDA runtime's "sticky" errors). */
extern "C" bool ab_cuda_error_is_sticky(int code)
{
    switch ((cudaError_t)code) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorECCUncorrectable:
    case cudaErrorLaunchTimeout:
    case cudaErrorDevicesUnavailable:
    case cudaErrorContextIsDestroyed:
    case cudaErrorUnknown: return true;
    default: return false;
    }
}

static ab_status cuda_health(const struct ab_device *dev, struct ab_error *err)
{
    cudaError_t e = cudaSetDevice(dev->index);
    if (e == cudaSuccess)
        e = cudaDeviceSynchronize();
    if (e == cudaSuccess)
        e = cudaGetLastError(); /* a non-sticky error left behind is cleared by this read */
    if (e == cudaSuccess || !ab_cuda_error_is_sticky((int)e)) {
        (void)cudaGetLastError();
        return AB_OK;
    }
    return ab_fail(err, AB_EFAIL, "%s (%s): the CUDA context is unusable for the rest of the run",
                   cudaGetErrorString(e), cudaGetErrorName(e));
}

/* The timer: a pair of events recorded on the case's stream around the batch; elapsed waits
 * for the end event. Events belong to the device current at their creation: the case's. */
struct cuda_timer {
    cudaEvent_t e0, e1;
    cudaStream_t stream;
};

static void cuda_timer_close(void *timer)
{
    struct cuda_timer *t = (struct cuda_timer *)timer;
    if (!t)
        return;
    if (t->e0)
        cudaEventDestroy(t->e0);
    if (t->e1)
        cudaEventDestroy(t->e1);
    (void)cudaGetLastError();
    delete t;
}

static ab_status cuda_timer_make(struct cuda_timer *t, const struct ab_device *dev, struct ab_error *err)
{
    AB_CUDA_TRY(cudaSetDevice(dev->index), err);
    AB_CUDA_TRY(cudaEventCreate(&t->e0), err);
    AB_CUDA_TRY(cudaEventCreate(&t->e1), err);
    return AB_OK;
}

static ab_status cuda_timer_open(const struct ab_device *dev, void *stream, void **out, struct ab_error *err)
{
    *out = NULL;
    struct cuda_timer *t = new (std::nothrow) cuda_timer();
    if (!t)
        return ab_fail(err, AB_ENOMEM, "out of memory for a timer");
    t->stream = (cudaStream_t)stream;
    ab_status st = cuda_timer_make(t, dev, err);
    if (st) {
        cuda_timer_close(t);
        return st;
    }
    *out = t;
    return AB_OK;
}

static ab_status cuda_timer_begin(void *timer, struct ab_error *err)
{
    struct cuda_timer *t = (struct cuda_timer *)timer;
    AB_CUDA_TRY(cudaEventRecord(t->e0, t->stream), err);
    return AB_OK;
}

static ab_status cuda_timer_end(void *timer, struct ab_error *err)
{
    struct cuda_timer *t = (struct cuda_timer *)timer;
    AB_CUDA_TRY(cudaEventRecord(t->e1, t->stream), err);
    return AB_OK;
}

static ab_status cuda_timer_elapsed(void *timer, double *time_s, struct ab_error *err)
{
    struct cuda_timer *t = (struct cuda_timer *)timer;
    float ms = 0;
    AB_CUDA_TRY(cudaEventSynchronize(t->e1), err);
    AB_CUDA_TRY(cudaEventElapsedTime(&ms, t->e0, t->e1), err);
    *time_s = ms * 1e-3;
    return AB_OK;
}

/* Positional: the fields of struct ab_backend in order. */
extern "C" const struct ab_backend ab_backend_cuda = {
    "cuda",          /* name */
    "CUDA",          /* title */
    AB_BACKEND_CUDA, /* kind */
    true,            /* indexed: cuda:N */
    false,           /* stub */
    true,            /* accelerator: a launcher's local ranks take one GPU each */
    cuda_discover,
    cuda_health,
    ab_cuda_meter_open,
    ab_cuda_describe,
    ab_cuda_facts,
    cuda_timer_open,
    cuda_timer_begin,
    cuda_timer_end,
    cuda_timer_elapsed,
    cuda_timer_close,
};
