/* clock.c — the core's clock while the experiment runs: core cycles counted by perf_event over
 * a wall-clock window give the effective frequency, so a frequency shift (Hertzbleed) shows up
 * apart from a data-dependent cycle count. Where the kernel offers no hardware counter (many
 * virtual machines), callers fall back on cpufreq or /proc/cpuinfo, read before and after. */
#include "amx_timing.h"

#include <linux/perf_event.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int amx_cycles_open(void)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_HARDWARE;
    a.size = sizeof a;
    a.config = PERF_COUNT_HW_CPU_CYCLES;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    long fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
    return fd < 0 ? -1 : (int)fd;
}

bool amx_cycles_read(int fd, uint64_t *cycles)
{
    return fd >= 0 && read(fd, cycles, sizeof *cycles) == (ssize_t)sizeof *cycles;
}

void amx_cycles_close(int fd)
{
    if (fd >= 0)
        close(fd);
}
