/* backend_cpu.c — the host as one device: all cores the process may use.
 * Facts come from /proc and sysconf; the CPU's ceilings are measured by `ceilings`. */
#include "accelbench.h"
#include "config.h"

#include <omp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Copy the value of the first "key : value" line of /proc/cpuinfo whose key is `key`. */
static bool cpuinfo_field(const char *key, char *out, size_t len)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return false;
    char *line = NULL;
    size_t cap = 0;
    bool found = false;
    size_t kl = strlen(key);
    while (getline(&line, &cap, f) > 0) {
        if (strncmp(line, key, kl) != 0)
            continue;
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        v[strcspn(v, "\n")] = '\0';
        snprintf(out, len, "%s", v);
        found = true;
        break;
    }
    free(line);
    fclose(f);
    return found;
}

bool ab_cpu_has(const char *feature)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return false;
    char *line = NULL;
    size_t cap = 0;
    bool has = false;
    size_t fl = strlen(feature);
    while (getline(&line, &cap, f) > 0) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        for (char *p = strchr(line, ':'); p && *p; p++) {
            if ((p[-1] == ' ' || p[-1] == ':') && strncmp(p, feature, fl) == 0 &&
                (p[fl] == ' ' || p[fl] == '\n' || p[fl] == '\0')) {
                has = true;
                break;
            }
        }
        break;
    }
    free(line);
    fclose(f);
    return has;
}

void ab_cpu_features(char *buf, size_t len)
{
    static const char *const interesting[] = {
        "avx2",        "fma",      "avx512f",  "avx512bw", "avx512vl", "avx512_bf16", "avx512_vnni",
        "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", NULL,
    };
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (int i = 0; interesting[i]; i++)
        if (ab_cpu_has(interesting[i])) {
            int w = snprintf(buf + used, len - used, "%s%s", used ? " " : "", interesting[i]);
            if (w > 0 && (size_t)w < len - used)
                used += (size_t)w;
        }
}

int ab_cpu_threads(void)
{
    int n = omp_get_max_threads();
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int a = CPU_COUNT(&set);
        if (a > 0 && a < n)
            n = a;
    }
    return n > 0 ? n : 1;
}

/* The largest data or unified cache of cpu0 in sysfs (its last level), else sysconf's L3/L2. */
static uint64_t cpu_llc_bytes(void)
{
    uint64_t best = 0;
    for (int i = 0; i < 8; i++) {
        char path[96], type[32] = "", size[32] = "";
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        FILE *f = fopen(path, "r");
        if (!f)
            break;
        if (!fgets(type, sizeof type, f))
            type[0] = '\0';
        fclose(f);
        if (strncmp(type, "Instruction", 11) == 0)
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!(f = fopen(path, "r")))
            continue;
        if (fgets(size, sizeof size, f)) {
            char *end;
            uint64_t v = strtoull(size, &end, 10);
            v *= *end == 'K' ? 1024 : *end == 'M' ? 1048576 : 1;
            if (v > best)
                best = v;
        }
        fclose(f);
    }
#ifdef _SC_LEVEL3_CACHE_SIZE
    if (best == 0) {
        long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
        best = l3 > 0 ? (uint64_t)l3 : l2 > 0 ? (uint64_t)l2 : 0;
    }
#endif
    return best;
}

static ab_status cpu_discover(struct ab_device *out, int max, int *n, struct ab_error *err)
{
    *n = 0;
    if (max < 1)
        return AB_OK;
    struct ab_device *d = out;
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "cpu");
    d->backend = AB_BACKEND_CPU;
    if (!cpuinfo_field("model name", d->name, sizeof d->name))
        snprintf(d->name, sizeof d->name, "unknown CPU");
    d->threads = ab_cpu_threads();
    d->compute_units = d->threads;
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0)
        d->mem_bytes = (uint64_t)pages * (uint64_t)psz;
    char mhz[32];
    if (cpuinfo_field("cpu MHz", mhz, sizeof mhz))
        d->clock_mhz = atof(mhz);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(d->driver, sizeof d->driver, "linux %s", u.release);
    ab_cpu_features(d->features, sizeof d->features);
    d->l2_bytes = cpu_llc_bytes();
    *n = 1;
#if AB_TEST_HOOKS
    /* Test-only: ACCELBENCH_TEST_FAKE_DEVICES=N adds N devices cpu:1..cpu:N, each the host again,
     * so that a run over several devices (-d all, --concurrent-devices) can be tested here. */
    const char *fake = getenv("ACCELBENCH_TEST_FAKE_DEVICES");
    for (int k = 1; fake && k <= atoi(fake) && *n < max; k++) {
        struct ab_device *f = &out[(*n)++];
        *f = *d;
        snprintf(f->id, sizeof f->id, "cpu:%d", k);
        f->index = k;
        snprintf(f->name, sizeof f->name, "test device %d", k);
    }
#endif
    return AB_OK;
}

/* RAPL through powercap, else PAPI's energy component. */
static ab_status cpu_meter_open(const struct ab_device *dev, struct ab_meter **out, struct ab_error *err)
{
    const char *root = getenv("ACCELBENCH_POWERCAP_ROOT");
    if (ab_rapl_open(root ? root : "/sys/class/powercap", out, err) == AB_OK)
        return AB_OK;
    return ab_papi_energy_open(out, err);
}

static void cpu_describe(const struct ab_device *d, char *buf, size_t len)
{
    snprintf(
        buf, len,
        "         %d threads, %.1f GiB, %.0f MHz, last-level cache %.1f MiB, %s\n         features: %s\n",
        d->threads, d->mem_bytes / 1073741824.0, d->clock_mhz, d->l2_bytes / 1048576.0, d->driver,
        d->features);
}

/* The CPU's timer: CLOCK_MONOTONIC read at begin and end. A launch on the CPU has finished when
 * it returns, so there is nothing to wait for. */
struct cpu_timer {
    double t0, t1;
};

static ab_status cpu_timer_open(const struct ab_device *dev, void *stream, void **out, struct ab_error *err)
{
    *out = calloc(1, sizeof(struct cpu_timer));
    return *out ? AB_OK : ab_fail(err, AB_ENOMEM, "out of memory for a timer");
}

static ab_status cpu_timer_begin(void *timer, struct ab_error *err)
{
    ((struct cpu_timer *)timer)->t0 = ab_now_s();
    return AB_OK;
}

static ab_status cpu_timer_end(void *timer, struct ab_error *err)
{
    ((struct cpu_timer *)timer)->t1 = ab_now_s();
    return AB_OK;
}

static ab_status cpu_timer_elapsed(void *timer, double *time_s, struct ab_error *err)
{
    const struct cpu_timer *t = timer;
    *time_s = t->t1 - t->t0;
    return AB_OK;
}

static void cpu_timer_close(void *timer)
{
    free(timer);
}

const struct ab_backend ab_backend_cpu = {
    .name = "cpu",
    .title = "CPU",
    .kind = AB_BACKEND_CPU,
    .discover = cpu_discover,
    .meter_open = cpu_meter_open,
    .describe = cpu_describe,
    .timer_open = cpu_timer_open,
    .timer_begin = cpu_timer_begin,
    .timer_end = cpu_timer_end,
    .timer_elapsed = cpu_timer_elapsed,
    .timer_close = cpu_timer_close,
};
