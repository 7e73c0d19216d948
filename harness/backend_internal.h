/* backend_internal.h — what the CUDA backend's two builds share (backend_cuda.cu where CUDA is
 * compiled in, backend_cuda_none.c elsewhere): the parts that need no CUDA library, in
 * backend_cuda_common.c. Private to the harness. */
#ifndef AB_BACKEND_INTERNAL_H
#define AB_BACKEND_INTERNAL_H

#include "accelbench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* NVML energy (else sampled power) of the GPU at the device's PCI bus id. */
ab_status ab_cuda_meter_open(const struct ab_device *dev, struct ab_meter **out, struct ab_error *err);
/* `info` lines: SMs, compute capability, memory, clock, driver and runtime. */
void ab_cuda_describe(const struct ab_device *dev, char *buf, size_t len);
/* run.json: compute_capability. */
int ab_cuda_facts(const struct ab_device *dev, struct ab_device_fact *out, int max);

#ifdef __cplusplus
}
#endif

#endif
