/* amx.c — bursts of AMX tile multiplies: tiles 4-5 hold A (two 16x64-byte tiles), 6-7 hold B,
 * and 0-3 accumulate the 2x2 block products, four independent TDPBF16PS or TDPBSSD per loop
 * iteration. Written as inline assembly, which the assembler knows without -mamx flags, so
 * the build works everywhere; it runs only where detect.c found AMX and permission. */
#include "amx_timing.h"

#include <string.h>

struct amx_tilecfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};
_Static_assert(sizeof(struct amx_tilecfg) == 64, "ldtilecfg reads a 64-byte palette-1 layout");

void amx_tiles_config(void)
{
    _Alignas(64) struct amx_tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) {
        cfg.colsb[i] = AMX_ROW_BYTES;
        cfg.rows[i] = 16;
    }
    __asm__ volatile("ldtilecfg %0" ::"m"(cfg));
}

void amx_tiles_release(void)
{
    __asm__ volatile("tilerelease" ::: "memory");
}

/* ops: tiles A0, A1, B0, B1 of 1 KiB each, rows of 64 bytes. */
/* clang-format off */
#define AMX_TILE_BURST(INSN)                                                                     \
    __asm__ volatile("tileloadd (%[a],%[s],1), %%tmm4\n\t"                                      \
                     "tileloadd (%[a1],%[s],1), %%tmm5\n\t"                                     \
                     "tileloadd (%[b],%[s],1), %%tmm6\n\t"                                      \
                     "tileloadd (%[b1],%[s],1), %%tmm7\n\t"                                     \
                     "tilezero %%tmm0\n\ttilezero %%tmm1\n\ttilezero %%tmm2\n\ttilezero %%tmm3\n\t" \
                     "lfence\n\trdtsc\n\tlfence\n\t"                                            \
                     "shl $32, %%rdx\n\tor %%rdx, %%rax\n\tmov %%rax, %%r8\n\t"                \
                     "1:\n\t" INSN " %%tmm6, %%tmm4, %%tmm0\n\t" INSN " %%tmm7, %%tmm4, %%tmm1\n\t" \
                     INSN " %%tmm6, %%tmm5, %%tmm2\n\t" INSN " %%tmm7, %%tmm5, %%tmm3\n\t"      \
                     "dec %[n]\n\tjnz 1b\n\t"                                                   \
                     "rdtscp\n\tlfence\n\t"                                                     \
                     "shl $32, %%rdx\n\tor %%rdx, %%rax\n\tsub %%r8, %%rax\n\t"                \
                     "tilestored %%tmm0, (%[o],%[s],1)\n\t"                                     \
                     "tilestored %%tmm1, (%[o1],%[s],1)\n\t"                                    \
                     "tilestored %%tmm2, (%[o2],%[s],1)\n\t"                                    \
                     "tilestored %%tmm3, (%[o3],%[s],1)\n\t"                                    \
                     : [n] "+r"(iters), "=&a"(ticks)                                            \
                     : [a] "r"(ops), [a1] "r"(ops + 1024), [b] "r"(ops + 2048),                 \
                       [b1] "r"(ops + 3072), [s] "r"((int64_t)AMX_ROW_BYTES), [o] "r"(out),     \
                       [o1] "r"(out + 1024), [o2] "r"(out + 2048), [o3] "r"(out + 3072)         \
                     : "rcx", "rdx", "r8", "memory", "cc")
/* clang-format on */

uint64_t amx_burst_amx(enum amx_instr in, const uint8_t *ops, int64_t iters, uint8_t *acc_out)
{
    _Alignas(64) uint8_t scratch[4 * 1024];
    uint8_t *out = acc_out ? acc_out : scratch;
    uint64_t ticks;
    if (iters < 1)
        iters = 1;
    if (in == AMX_TDPBF16PS)
        AMX_TILE_BURST("tdpbf16ps");
    else
        AMX_TILE_BURST("tdpbssd");
    return ticks;
}
