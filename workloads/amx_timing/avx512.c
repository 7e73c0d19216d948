/* avx512.c — the control experiment where AMX is absent: bursts of AVX-512 VDPBF16PS or
 * VPDPBUSD on operands held in zmm16-31, eight independent accumulators zmm0-7, written as
 * inline assembly so that the instruction count between the TSC reads is exact and no compiler
 * flag beyond this file's target attribute is needed. */
#include "amx_timing.h"

/* Loads 16 operand rows (8 A, 8 B) into zmm16-31, zeroes zmm0-7, then iters x 16 instructions
 * (accumulator k gets A_k . B_k twice per iteration). Returns TSC ticks. */
/* clang-format off */
#define AMX_AVX_BURST(INSN)                                                                      \
    __asm__ volatile("vmovdqu64 0(%[a]), %%zmm16\n\tvmovdqu64 64(%[a]), %%zmm17\n\t"           \
                     "vmovdqu64 128(%[a]), %%zmm18\n\tvmovdqu64 192(%[a]), %%zmm19\n\t"        \
                     "vmovdqu64 256(%[a]), %%zmm20\n\tvmovdqu64 320(%[a]), %%zmm21\n\t"        \
                     "vmovdqu64 384(%[a]), %%zmm22\n\tvmovdqu64 448(%[a]), %%zmm23\n\t"        \
                     "vmovdqu64 512(%[a]), %%zmm24\n\tvmovdqu64 576(%[a]), %%zmm25\n\t"        \
                     "vmovdqu64 640(%[a]), %%zmm26\n\tvmovdqu64 704(%[a]), %%zmm27\n\t"        \
                     "vmovdqu64 768(%[a]), %%zmm28\n\tvmovdqu64 832(%[a]), %%zmm29\n\t"        \
                     "vmovdqu64 896(%[a]), %%zmm30\n\tvmovdqu64 960(%[a]), %%zmm31\n\t"        \
                     "vpxord %%zmm0, %%zmm0, %%zmm0\n\tvpxord %%zmm1, %%zmm1, %%zmm1\n\t"      \
                     "vpxord %%zmm2, %%zmm2, %%zmm2\n\tvpxord %%zmm3, %%zmm3, %%zmm3\n\t"      \
                     "vpxord %%zmm4, %%zmm4, %%zmm4\n\tvpxord %%zmm5, %%zmm5, %%zmm5\n\t"      \
                     "vpxord %%zmm6, %%zmm6, %%zmm6\n\tvpxord %%zmm7, %%zmm7, %%zmm7\n\t"      \
                     "lfence\n\trdtsc\n\tlfence\n\t"                                            \
                     "shl $32, %%rdx\n\tor %%rdx, %%rax\n\tmov %%rax, %%r8\n\t"                \
                     "1:\n\t" INSN " %%zmm24, %%zmm16, %%zmm0\n\t" INSN " %%zmm25, %%zmm17, %%zmm1\n\t" \
                     INSN " %%zmm26, %%zmm18, %%zmm2\n\t" INSN " %%zmm27, %%zmm19, %%zmm3\n\t"  \
                     INSN " %%zmm28, %%zmm20, %%zmm4\n\t" INSN " %%zmm29, %%zmm21, %%zmm5\n\t"  \
                     INSN " %%zmm30, %%zmm22, %%zmm6\n\t" INSN " %%zmm31, %%zmm23, %%zmm7\n\t"  \
                     INSN " %%zmm24, %%zmm16, %%zmm0\n\t" INSN " %%zmm25, %%zmm17, %%zmm1\n\t"  \
                     INSN " %%zmm26, %%zmm18, %%zmm2\n\t" INSN " %%zmm27, %%zmm19, %%zmm3\n\t"  \
                     INSN " %%zmm28, %%zmm20, %%zmm4\n\t" INSN " %%zmm29, %%zmm21, %%zmm5\n\t"  \
                     INSN " %%zmm30, %%zmm22, %%zmm6\n\t" INSN " %%zmm31, %%zmm23, %%zmm7\n\t"  \
                     "dec %[n]\n\tjnz 1b\n\t"                                                   \
                     "rdtscp\n\tlfence\n\t"                                                     \
                     "shl $32, %%rdx\n\tor %%rdx, %%rax\n\tsub %%r8, %%rax\n\t"                \
                     "vmovdqu64 %%zmm0, 0(%[o])\n\tvmovdqu64 %%zmm1, 64(%[o])\n\t"             \
                     "vmovdqu64 %%zmm2, 128(%[o])\n\tvmovdqu64 %%zmm3, 192(%[o])\n\t"          \
                     "vmovdqu64 %%zmm4, 256(%[o])\n\tvmovdqu64 %%zmm5, 320(%[o])\n\t"          \
                     "vmovdqu64 %%zmm6, 384(%[o])\n\tvmovdqu64 %%zmm7, 448(%[o])\n\t"          \
                     : [n] "+r"(iters), "=&a"(ticks)                                            \
                     : [a] "r"(ops), [o] "r"(out)                                               \
                     : "rcx", "rdx", "r8", "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3",      \
                       "xmm4", "xmm5", "xmm6", "xmm7", "xmm16", "xmm17", "xmm18", "xmm19",      \
                       "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27",  \
                       "xmm28", "xmm29", "xmm30", "xmm31")
/* clang-format on */

__attribute__((target("avx512f"))) uint64_t amx_burst_avx512(enum amx_instr in, const uint8_t *ops,
                                                             int64_t iters, uint8_t *acc_out)
{
    /* The accumulators are always stored: to acc_out, or to a scratch area. */
    _Alignas(64) uint8_t scratch[8 * 64];
    uint8_t *out = acc_out ? acc_out : scratch;
    uint64_t ticks;
    if (iters < 1)
        iters = 1;
    if (in == AMX_VDPBF16PS)
        AMX_AVX_BURST("vdpbf16ps");
    else
        AMX_AVX_BURST("vpdpbusd");
    return ticks;
}
