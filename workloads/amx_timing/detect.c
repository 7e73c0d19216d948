/* detect.c — which matrix and dot-product instructions this x86-64 CPU and OS allow, read from
 * CPUID and XCR0 only: nothing here executes an AMX or AVX-512 instruction, so a CPU without
 * them gets a `skipped` row, never a SIGILL. Tile data also needs the kernel's permission
 * (arch_prctl ARCH_REQ_XCOMP_PERM), asked for once per process. */
#include "amx_timing.h"

#include <cpuid.h>
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AMX_ARCH_REQ_XCOMP_PERM 0x1023
#define AMX_XFEATURE_XTILEDATA  18

void amx_cpuid_read(struct amx_cpuid *out)
{
    memset(out, 0, sizeof *out);
    out->x86_64 = true;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    out->leaf1_ecx = c;
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        out->leaf7_ebx = b;
        out->leaf7_ecx = c;
        out->leaf7_edx = d;
        unsigned max_sub = a;
        if (max_sub >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            out->leaf7_1_eax = a;
        }
    }
    if (out->leaf1_ecx & (1u << 27)) { /* OSXSAVE: XGETBV is allowed */
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        out->xcr0 = ((uint64_t)hi << 32) | lo;
    }
}

void amx_features_decode(const struct amx_cpuid *id, struct amx_features *out)
{
    memset(out, 0, sizeof *out);
    if (!id->x86_64)
        return;
    /* XCR0: 1 SSE, 2 AVX (YMM), 5-7 opmask/ZMM state, 17-18 XTILECFG/XTILEDATA. */
    bool os_zmm = (id->xcr0 & 0xe6) == 0xe6;
    bool os_tiles = (id->xcr0 & (3ull << 17)) == (3ull << 17);
    bool avx512f = id->leaf7_ebx & (1u << 16);
    out->avx512_vnni = os_zmm && avx512f && (id->leaf7_ecx & (1u << 11));
    out->avx512_bf16 = os_zmm && avx512f && (id->leaf7_1_eax & (1u << 5));
    bool os_ymm = (id->xcr0 & 0x6) == 0x6;
    out->avx_vnni = os_ymm && (id->leaf7_1_eax & (1u << 4));
    out->avx2 = os_ymm && (id->leaf7_ebx & (1u << 5));
    out->fma = os_ymm && (id->leaf1_ecx & (1u << 12));
    out->amx_tile = os_tiles && (id->leaf7_edx & (1u << 24));
    out->amx_bf16 = out->amx_tile && (id->leaf7_edx & (1u << 22));
    out->amx_int8 = out->amx_tile && (id->leaf7_edx & (1u << 25));
}

ab_status amx_request_permission(struct ab_error *err)
{
    if (syscall(SYS_arch_prctl, AMX_ARCH_REQ_XCOMP_PERM, AMX_XFEATURE_XTILEDATA) != 0)
        return ab_fail(err, AB_EUNSUPPORTED, "no AMX permission: arch_prctl(ARCH_REQ_XCOMP_PERM): %s",
                       strerror(errno));
    return AB_OK;
}

uint64_t amx_tsc_now(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

uint64_t amx_tsc_empty(void)
{
    uint64_t ticks;
    __asm__ volatile("lfence\n\trdtsc\n\tlfence\n\t"
                     "shl $32, %%rdx\n\tor %%rdx, %%rax\n\tmov %%rax, %%r8\n\t"
                     "rdtscp\n\tlfence\n\t"
                     "shl $32, %%rdx\n\tor %%rdx, %%rax\n\tsub %%r8, %%rax"
                     : "=&a"(ticks)::"rcx", "rdx", "r8", "memory", "cc");
    return ticks;
}
