/* backend_cuda_common.c — the CUDA backend's functions that need no CUDA library: its meter
 * (NVML is opened with dlopen) and how its devices are described. Built with or without CUDA,
 * so that a build without it still reads NVML for tests and tools. */
#include "backend_internal.h"

#include <stdlib.h>

ab_status ab_cuda_meter_open(const struct ab_device *dev, struct ab_meter **out, struct ab_error *err)
{
    return ab_nvml_open(getenv("ACCELBENCH_NVML_LIB"), dev->index, dev->pci_bus_id, out, err);
}

void ab_cuda_describe(const struct ab_device *dev, char *buf, size_t len)
{
    snprintf(buf, len,
             "         %d SMs, compute capability %d.%d, %.1f GiB, %.0f MHz, driver %s, runtime %s\n",
             dev->compute_units, dev->cc_major, dev->cc_minor, dev->mem_bytes / 1073741824.0, dev->clock_mhz,
             dev->driver, dev->runtime);
}

int ab_cuda_facts(const struct ab_device *dev, struct ab_device_fact *out, int max)
{
    if (max < 1)
        return 0;
    snprintf(out[0].key, sizeof out[0].key, "compute_capability");
    snprintf(out[0].value, sizeof out[0].value, "%d.%d", dev->cc_major, dev->cc_minor);
    return 1;
}
