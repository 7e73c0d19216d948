/* fake_nvml.c — a stand-in NVML library for the meter tests. Two GPUs, enumerated by NVML in
 * the opposite order of their PCI bus ids (as NVML and CUDA may disagree): index 0 is at
 * 0000:3B:00.0 and its energy counter advances by 1500 mJ per read, index 1 is at 0000:19:00.0
 * and advances by 7000 mJ; power reads 250 W. FAKE_NVML_NO_ENERGY=1 makes the energy call
 * unsupported (NVML_ERROR_NOT_SUPPORTED = 3) to exercise the sampled-power path. */
#include <stdlib.h>
#include <strings.h>

struct fake_gpu {
    const char *bus;
    unsigned long long step_mj, energy_mj;
};
static struct fake_gpu gpus[2] = { { "0000:3B:00.0", 1500, 1000000 }, { "0000:19:00.0", 7000, 2000000 } };

int nvmlInit_v2(void)
{
    return 0;
}
int nvmlShutdown(void)
{
    return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int idx, void **dev)
{
    if (idx > 1)
        return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *dev = &gpus[idx];
    return 0;
}

int nvmlDeviceGetHandleByPciBusId_v2(const char *bus, void **dev)
{
    for (int i = 0; i < 2; i++)
        if (strcasecmp(bus, gpus[i].bus) == 0) {
            *dev = &gpus[i];
            return 0;
        }
    return 6; /* NVML_ERROR_NOT_FOUND */
}

int nvmlDeviceGetTotalEnergyConsumption(void *dev, unsigned long long *mj)
{
    if (getenv("FAKE_NVML_NO_ENERGY"))
        return 3;
    struct fake_gpu *g = dev;
    g->energy_mj += g->step_mj;
    *mj = g->energy_mj;
    return 0;
}

int nvmlDeviceGetPowerUsage(void *dev, unsigned int *mw)
{
    *mw = 250000;
    return 0;
}
