/* fake_nvml.c — a stand-in NVML library for the meter tests: the energy counter advances by
 * 1500 mJ per read; power reads 250 W. FAKE_NVML_NO_ENERGY=1 makes the energy call
 * unsupported (NVML_ERROR_NOT_SUPPORTED = 3) to exercise the sampled-power path. */
#include <stdlib.h>

static unsigned long long energy_mj = 1000000;

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
    if (idx > 0)
        return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *dev = &energy_mj;
    return 0;
}

int nvmlDeviceGetTotalEnergyConsumption(void *dev, unsigned long long *mj)
{
    if (getenv("FAKE_NVML_NO_ENERGY"))
        return 3;
    energy_mj += 1500;
    *mj = energy_mj;
    return 0;
}

int nvmlDeviceGetPowerUsage(void *dev, unsigned int *mw)
{
    *mw = 250000;
    return 0;
}
