/* avx2.c — the controls every x86-64 CPU since Haswell / Zen runs: the AVX2 int8 dot product
 * that VPDPBUSD replaces (VPMADDUBSW u8 x s8 -> saturated s16 pairs, VPMADDWD by ones -> s32,
 * VPADDD into the accumulator) and the fp32 VFMADD231PS, both on ymm registers. They let the
 * statistics run on real timings where neither AMX nor AVX-512 exists. Same timing discipline
 * as avx512.c: operands in registers, four accumulators ymm0-3, serialized TSC reads. */
#include "amx_timing.h"

/* One u8 x s8 step on accumulator C from A (unsigned bytes) and B (signed bytes), through the
 * temporary T; ymm6 holds sixteen s16 ones. Braces escaped as in avxvnni.c. */
#define AMX_MADD(A, B, C, T)                                                                                 \
    "vpmaddubsw %%ymm" B ", %%ymm" A ", %%ymm" T "\n\tvpmaddwd %%ymm6, %%ymm" T ", %%ymm" T "\n\t"           \
    "vpaddd %%ymm" T ", %%ymm" C ", %%ymm" C "\n\t"
#define AMX_FMA(A, B, C) "vfmadd231ps %%ymm" B ", %%ymm" A ", %%ymm" C "\n\t"

#define AMX_AVX2_LOAD                                                                                        \
    "vmovdqu 0(%[a]), %%ymm8\n\tvmovdqu 32(%[a]), %%ymm9\n\t"                                                \
    "vmovdqu 64(%[a]), %%ymm10\n\tvmovdqu 96(%[a]), %%ymm11\n\t"                                             \
    "vmovdqu 128(%[a]), %%ymm12\n\tvmovdqu 160(%[a]), %%ymm13\n\t"                                           \
    "vmovdqu 192(%[a]), %%ymm14\n\tvmovdqu 224(%[a]), %%ymm15\n\t"                                           \
    "vpxor %%ymm0, %%ymm0, %%ymm0\n\tvpxor %%ymm1, %%ymm1, %%ymm1\n\t"                                       \
    "vpxor %%ymm2, %%ymm2, %%ymm2\n\tvpxor %%ymm3, %%ymm3, %%ymm3\n\t"                                       \
    "vpcmpeqw %%ymm6, %%ymm6, %%ymm6\n\tvpsrlw $15, %%ymm6, %%ymm6\n\t"                                      \
    "lfence\n\trdtsc\n\tlfence\n\t"                                                                          \
    "shl $32, %%rdx\n\tor %%rdx, %%rax\n\tmov %%rax, %%r8\n\t"
#define AMX_AVX2_STORE                                                                                       \
    "dec %[n]\n\tjnz 1b\n\t"                                                                                 \
    "rdtscp\n\tlfence\n\t"                                                                                   \
    "shl $32, %%rdx\n\tor %%rdx, %%rax\n\tsub %%r8, %%rax\n\t"                                               \
    "vmovdqu %%ymm0, 0(%[o])\n\tvmovdqu %%ymm1, 32(%[o])\n\t"                                                \
    "vmovdqu %%ymm2, 64(%[o])\n\tvmovdqu %%ymm3, 96(%[o])\n\t"                                               \
    "vzeroupper\n\t"
#define AMX_AVX2_CLOBBERS                                                                                    \
    "rcx", "rdx", "r8", "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm8",      \
        "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

__attribute__((target("avx2"))) static uint64_t amx_burst_madd(const uint8_t *ops, int64_t iters,
                                                               uint8_t *out)
{
    uint64_t ticks;
    /* clang-format off */
    __asm__ volatile(AMX_AVX2_LOAD
                     "1:\n\t" AMX_MADD("8", "12", "0", "4") AMX_MADD("9", "13", "1", "5")
                     AMX_MADD("10", "14", "2", "4") AMX_MADD("11", "15", "3", "5")
                     AMX_MADD("8", "12", "0", "4") AMX_MADD("9", "13", "1", "5")
                     AMX_MADD("10", "14", "2", "4") AMX_MADD("11", "15", "3", "5")
                     AMX_AVX2_STORE
                     : [n] "+r"(iters), "=&a"(ticks)
                     : [a] "r"(ops), [o] "r"(out)
                     : AMX_AVX2_CLOBBERS);
    /* clang-format on */
    return ticks;
}

__attribute__((target("avx2,fma"))) static uint64_t amx_burst_fma(const uint8_t *ops, int64_t iters,
                                                                  uint8_t *out)
{
    uint64_t ticks;
    /* clang-format off */
    __asm__ volatile(AMX_AVX2_LOAD
                     "1:\n\t" AMX_FMA("8", "12", "0") AMX_FMA("9", "13", "1")
                     AMX_FMA("10", "14", "2") AMX_FMA("11", "15", "3")
                     AMX_FMA("8", "12", "0") AMX_FMA("9", "13", "1")
                     AMX_FMA("10", "14", "2") AMX_FMA("11", "15", "3")
                     AMX_AVX2_STORE
                     : [n] "+r"(iters), "=&a"(ticks)
                     : [a] "r"(ops), [o] "r"(out)
                     : AMX_AVX2_CLOBBERS);
    /* clang-format on */
    return ticks;
}

uint64_t amx_burst_avx2(enum amx_instr in, const uint8_t *ops, int64_t iters, uint8_t *acc_out)
{
    _Alignas(64) uint8_t scratch[4 * 32];
    uint8_t *out = acc_out ? acc_out : scratch;
    if (iters < 1)
        iters = 1;
    return in == AMX_VFMADD231PS ? amx_burst_fma(ops, iters, out) : amx_burst_madd(ops, iters, out);
}
