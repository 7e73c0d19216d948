/* device.c — the backend table, device discovery across backends, and ceilings on devices.
 * A backend with no devices (no GPU, no driver) is not an error: its reason is kept for the
 * user, and the run goes on with the devices that exist. */
#include "accelbench.h"

#include <stdlib.h>
#include <string.h>

extern const struct ab_backend ab_backend_cpu;
extern const struct ab_backend ab_backend_cuda;

/* The backends, by kind. To add one: a value in enum ab_backend_kind, its
 * harness/backend_<name>.c (and a stub file for builds without its libraries), one line here. */
static const struct ab_backend *const backends[AB_BACKEND_COUNT] = {
    [AB_BACKEND_CPU] = &ab_backend_cpu,
    [AB_BACKEND_CUDA] = &ab_backend_cuda,
};

const struct ab_backend *ab_backend_get(enum ab_backend_kind kind)
{
    return (unsigned)kind < AB_BACKEND_COUNT ? backends[kind] : NULL;
}

const char *ab_backend_name(enum ab_backend_kind kind)
{
    const struct ab_backend *b = ab_backend_get(kind);
    return b ? b->name : "cpu";
}

bool ab_backend_owns_id(const struct ab_backend *b, const char *id)
{
    size_t l = strlen(b->name);
    if (strncmp(id, b->name, l) != 0)
        return false;
    if (id[l] == '\0')
        return true;
    char *end;
    return b->indexed && id[l] == ':' && id[l + 1] && (strtol(id + l + 1, &end, 10), *end == '\0');
}

const struct ab_backend *ab_backend_of_id(const char *id)
{
    for (int k = 0; k < AB_BACKEND_COUNT; k++)
        if (backends[k] && ab_backend_owns_id(backends[k], id))
            return backends[k];
    return NULL;
}

bool ab_devices_select(const struct ab_device *devs, int n, const char *id, bool *use, int *absent)
{
    *absent = -1;
    if (strcmp(id, "all") == 0) {
        for (int d = 0; d < n; d++)
            use[d] = true;
        return true;
    }
    bool found = false;
    for (int d = 0; d < n; d++)
        if (strcmp(devs[d].id, id) == 0 || strcmp(ab_backend_name(devs[d].backend), id) == 0)
            use[d] = found = true;
    if (found)
        return true;
    for (int k = 0; k < AB_BACKEND_COUNT; k++) {
        if (!ab_backend_owns_id(backends[k], id))
            continue;
        bool any = false;
        for (int d = 0; d < n; d++)
            any |= devs[d].backend == (enum ab_backend_kind)k;
        if (!any)
            *absent = k;
    }
    return false;
}

ab_status ab_devices_discover(struct ab_device *out, int max, int *n, struct ab_error why[AB_BACKEND_COUNT],
                              struct ab_error *err)
{
    *n = 0;
    for (int k = 0; k < AB_BACKEND_COUNT; k++) {
        const struct ab_backend *b = ab_backend_get((enum ab_backend_kind)k);
        struct ab_error e = { { 0 } };
        int got = 0;
        ab_status st = b->discover(out + *n, max - *n, &got, &e);
        if (st != AB_OK) {
            /* Discovery trouble in one backend never hides the others. */
            got = 0;
        }
        if (why)
            why[k] = e;
        for (int i = 0; i < got; i++)
            out[*n + i].profile = NULL;
        *n += got;
    }
    if (*n == 0)
        return ab_fail(err, AB_EFAIL, "no devices found");
    return AB_OK;
}

bool ab_ceiling_is_bandwidth(const char *name)
{
    size_t l = strlen(name);
    return l > 3 && strcmp(name + l - 3, "_bw") == 0; /* mem_bw, llc_bw */
}

const struct ab_ceiling *ab_device_ceiling(const struct ab_device *dev, const char *name)
{
    if (!name)
        return NULL;
    for (int i = 0; i < dev->n_ceilings; i++)
        if (strcmp(dev->ceilings[i].name, name) == 0 && dev->ceilings[i].value > 0)
            return &dev->ceilings[i];
    return NULL;
}

void ab_device_set_ceiling(struct ab_device *dev, const char *name, double value, const char *source)
{
    for (int i = 0; i < dev->n_ceilings; i++) {
        struct ab_ceiling *c = &dev->ceilings[i];
        if (strcmp(c->name, name) != 0)
            continue;
        /* The best rate seen for a ceiling is the ceiling; a new source replaces an old one. */
        if (strcmp(c->source, source) != 0 || value > c->value) {
            c->value = value;
            snprintf(c->source, sizeof c->source, "%s", source);
            c->detail[0] = c->reason[0] = '\0'; /* they described the value replaced */
            c->suspect = false;
        }
        return;
    }
    if (dev->n_ceilings == AB_MAX_CEILINGS)
        return;
    struct ab_ceiling *c = &dev->ceilings[dev->n_ceilings++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->source, sizeof c->source, "%s", source);
    c->value = value;
}

void ab_device_note_ceiling(struct ab_device *dev, const char *name, const char *detail, const char *reason)
{
    for (int i = 0; i < dev->n_ceilings; i++) {
        struct ab_ceiling *c = &dev->ceilings[i];
        if (strcmp(c->name, name) != 0)
            continue;
        snprintf(c->detail, sizeof c->detail, "%s", detail ? detail : "");
        c->suspect = reason && reason[0];
        snprintf(c->reason, sizeof c->reason, "%s", c->suspect ? reason : "");
        return;
    }
}

/* MemAvailable of /proc/meminfo in bytes, 0 if unreadable. */
static uint64_t host_available_bytes(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

bool ab_device_fits(const struct ab_device *dev, uint64_t bytes)
{
    if (dev->mem_bytes == 0)
        return true;
    /* Leave a quarter of the device to everything else. On the host, what is free now
     * matters more than what is installed: other processes (and no swap) would turn an
     * over-large case into the OOM killer instead of an `oom` row. */
    uint64_t limit = dev->mem_bytes - dev->mem_bytes / 4;
    if (dev->backend == AB_BACKEND_CPU) {
        uint64_t avail = host_available_bytes();
        uint64_t margin = 512ull << 20;
        if (avail > margin && avail - margin < limit)
            limit = avail - margin;
    }
    return bytes <= limit;
}
