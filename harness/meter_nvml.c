/* meter_nvml.c — GPU energy through NVML, opened with dlopen so the build needs neither a
 * header nor a package. The total-energy counter (mJ since driver load, Volta and later) is
 * preferred; where it is missing, power (mW) is sampled by a thread every 10 ms and
 * integrated with the trapezoid rule. NVML's counters update every few tens of ms, so
 * windows are stretched to at least a second. */
#include "meter_internal.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The few NVML prototypes we use (ABI of nvml.h; return 0 is NVML_SUCCESS). */
typedef void *nvml_device_t;
typedef int (*nvml_init_fn)(void);
typedef int (*nvml_shutdown_fn)(void);
typedef int (*nvml_handle_fn)(unsigned int, nvml_device_t *);
typedef int (*nvml_bus_handle_fn)(const char *, nvml_device_t *);
typedef int (*nvml_energy_fn)(nvml_device_t, unsigned long long *);
typedef int (*nvml_power_fn)(nvml_device_t, unsigned int *);

struct nvml {
    void *lib;
    nvml_shutdown_fn shutdown;
    nvml_energy_fn energy;
    nvml_power_fn power;
    nvml_device_t dev;
    unsigned long long e0_mj;
    /* power sampling */
    pthread_t thread;
    pthread_mutex_t mu;
    bool running;
    bool stop;
    double joules;
};

static void *sampler(void *arg)
{
    struct nvml *n = arg;
    double t_prev = ab_now_s();
    unsigned int p_prev = 0;
    n->power(n->dev, &p_prev);
    for (;;) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        unsigned int p = p_prev;
        if (n->power(n->dev, &p) != 0)
            p = p_prev;
        double t = ab_now_s();
        pthread_mutex_lock(&n->mu);
        n->joules += 0.5 * (p + p_prev) * 1e-3 * (t - t_prev);
        bool stop = n->stop;
        pthread_mutex_unlock(&n->mu);
        t_prev = t;
        p_prev = p;
        if (stop)
            break;
    }
    return NULL;
}

static ab_status energy_begin(struct ab_meter *m, struct ab_error *err)
{
    struct nvml *n = m->impl;
    int rc = n->energy(n->dev, &n->e0_mj);
    if (rc)
        return ab_fail(err, AB_EFAIL, "nvmlDeviceGetTotalEnergyConsumption: error %d", rc);
    return AB_OK;
}

static ab_status energy_end(struct ab_meter *m, double *energy_j, struct ab_error *err)
{
    struct nvml *n = m->impl;
    unsigned long long e1;
    int rc = n->energy(n->dev, &e1);
    if (rc)
        return ab_fail(err, AB_EFAIL, "nvmlDeviceGetTotalEnergyConsumption: error %d", rc);
    *energy_j = (double)(e1 - n->e0_mj) * 1e-3;
    return AB_OK;
}

static ab_status power_begin(struct ab_meter *m, struct ab_error *err)
{
    struct nvml *n = m->impl;
    n->joules = 0;
    n->stop = false;
    if (pthread_create(&n->thread, NULL, sampler, n) != 0)
        return ab_fail(err, AB_EFAIL, "cannot start the power sampling thread");
    n->running = true;
    return AB_OK;
}

static ab_status power_end(struct ab_meter *m, double *energy_j, struct ab_error *err)
{
    struct nvml *n = m->impl;
    if (!n->running) {
        *energy_j = NAN;
        return AB_OK;
    }
    pthread_mutex_lock(&n->mu);
    n->stop = true;
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL);
    n->running = false;
    *energy_j = n->joules;
    return AB_OK;
}

static void nvml_close(struct ab_meter *m)
{
    struct nvml *n = m->impl;
    if (!n)
        return;
    if (n->running) {
        double j;
        power_end(m, &j, NULL);
    }
    if (n->shutdown)
        n->shutdown();
    pthread_mutex_destroy(&n->mu);
    dlclose(n->lib);
    free(n);
}

ab_status ab_nvml_open(const char *libpath, int idx, const char *pci_bus_id, struct ab_meter **out,
                       struct ab_error *err)
{
    *out = NULL;
    if (!libpath)
        libpath = "libnvidia-ml.so.1";
    void *lib = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return ab_fail(err, AB_EUNSUPPORTED, "NVML not available: %s", dlerror());
    nvml_init_fn init = (nvml_init_fn)dlsym(lib, "nvmlInit_v2");
    nvml_handle_fn handle = (nvml_handle_fn)dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    nvml_bus_handle_fn by_bus = (nvml_bus_handle_fn)dlsym(lib, "nvmlDeviceGetHandleByPciBusId_v2");
    struct nvml *n = calloc(1, sizeof *n);
    if (!n) {
        dlclose(lib);
        return ab_fail(err, AB_ENOMEM, "out of memory");
    }
    n->lib = lib;
    pthread_mutex_init(&n->mu, NULL);
    n->shutdown = (nvml_shutdown_fn)dlsym(lib, "nvmlShutdown");
    n->energy = (nvml_energy_fn)dlsym(lib, "nvmlDeviceGetTotalEnergyConsumption");
    n->power = (nvml_power_fn)dlsym(lib, "nvmlDeviceGetPowerUsage");
    struct ab_meter tmp = { .impl = n };
    int rc;
    if (!init || !handle) {
        n->shutdown = NULL;
        nvml_close(&tmp);
        return ab_fail(err, AB_EUNSUPPORTED, "%s: not an NVML library", libpath);
    }
    if ((rc = init()) != 0) {
        n->shutdown = NULL;
        nvml_close(&tmp);
        return ab_fail(err, AB_EUNSUPPORTED, "nvmlInit: error %d", rc);
    }
    if (pci_bus_id && pci_bus_id[0]) {
        /* No index fallback: a reading from another GPU would be worse than none. */
        if (!by_bus) {
            nvml_close(&tmp);
            return ab_fail(err, AB_EUNSUPPORTED, "%s has no nvmlDeviceGetHandleByPciBusId_v2", libpath);
        }
        if ((rc = by_bus(pci_bus_id, &n->dev)) != 0) {
            nvml_close(&tmp);
            return ab_fail(err, AB_EUNSUPPORTED, "NVML device at PCI %s: error %d", pci_bus_id, rc);
        }
    } else if ((rc = handle((unsigned)idx, &n->dev)) != 0) {
        nvml_close(&tmp);
        return ab_fail(err, AB_EUNSUPPORTED, "NVML device %d: error %d", idx, rc);
    }
    unsigned long long e;
    unsigned int p;
    const char *src;
    if (n->energy && n->energy(n->dev, &e) == 0) {
        src = "nvml-energy";
    } else if (n->power && n->power(n->dev, &p) == 0) {
        src = "nvml-power";
    } else {
        nvml_close(&tmp);
        return ab_fail(err, AB_EUNSUPPORTED, "NVML device %d reports neither energy nor power", idx);
    }
    struct ab_meter *m = ab_meter_new(src, 1.0);
    if (!m) {
        nvml_close(&tmp);
        return ab_fail(err, AB_ENOMEM, "out of memory");
    }
    m->impl = n;
    bool counter = strcmp(src, "nvml-energy") == 0;
    m->begin = counter ? energy_begin : power_begin;
    m->end = counter ? energy_end : power_end;
    m->close = nvml_close;
    *out = m;
    return AB_OK;
}
