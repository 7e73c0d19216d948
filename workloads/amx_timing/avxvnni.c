/* avxvnni.c — the control where a CPU has AVX-VNNI but no AVX-512 (client cores): bursts of
 * VEX-encoded VPDPBUSD on ymm registers, which only reach ymm0-15: four accumulators ymm0-3,
 * operands A in ymm8-11 and B in ymm12-15. Same timing discipline as avx512.c. */
#include "amx_timing.h"

/* Braces escaped: in GCC asm templates they select dialect alternatives. */
#define AMX_VEX2(A, B, C) "%{vex%} vpdpbusd %%ymm" B ", %%ymm" A ", %%ymm" C "\n\t"

uint64_t amx_burst_avxvnni(const uint8_t *ops, int64_t iters, uint8_t *acc_out)
{
    _Alignas(64) uint8_t scratch[4 * 32];
    uint8_t *out = acc_out ? acc_out : scratch;
    uint64_t ticks;
    if (iters < 1)
        iters = 1;
    /* clang-format off */
    __asm__ volatile("vmovdqu 0(%[a]), %%ymm8\n\tvmovdqu 32(%[a]), %%ymm9\n\t"
                     "vmovdqu 64(%[a]), %%ymm10\n\tvmovdqu 96(%[a]), %%ymm11\n\t"
                     "vmovdqu 128(%[a]), %%ymm12\n\tvmovdqu 160(%[a]), %%ymm13\n\t"
                     "vmovdqu 192(%[a]), %%ymm14\n\tvmovdqu 224(%[a]), %%ymm15\n\t"
                     "vpxor %%ymm0, %%ymm0, %%ymm0\n\tvpxor %%ymm1, %%ymm1, %%ymm1\n\t"
                     "vpxor %%ymm2, %%ymm2, %%ymm2\n\tvpxor %%ymm3, %%ymm3, %%ymm3\n\t"
                     "lfence\n\trdtsc\n\tlfence\n\t"
                     "shl $32, %%rdx\n\tor %%rdx, %%rax\n\tmov %%rax, %%r8\n\t"
                     "1:\n\t" AMX_VEX2("8", "12", "0") AMX_VEX2("9", "13", "1")
                     AMX_VEX2("10", "14", "2") AMX_VEX2("11", "15", "3")
                     AMX_VEX2("8", "12", "0") AMX_VEX2("9", "13", "1")
                     AMX_VEX2("10", "14", "2") AMX_VEX2("11", "15", "3")
                     "dec %[n]\n\tjnz 1b\n\t"
                     "rdtscp\n\tlfence\n\t"
                     "shl $32, %%rdx\n\tor %%rdx, %%rax\n\tsub %%r8, %%rax\n\t"
                     "vmovdqu %%ymm0, 0(%[o])\n\tvmovdqu %%ymm1, 32(%[o])\n\t"
                     "vmovdqu %%ymm2, 64(%[o])\n\tvmovdqu %%ymm3, 96(%[o])\n\t"
                     "vzeroupper\n\t"
                     : [n] "+r"(iters), "=&a"(ticks)
                     : [a] "r"(ops), [o] "r"(out)
                     : "rcx", "rdx", "r8", "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    /* clang-format on */
    return ticks;
}
