/* amx_timing.h — the amx_timing workload's own modules: feature detection and TSC reads
 * (detect.c; arch_none.c off x86-64), operand generation (sparsity.c), the timed bursts (amx.c
 * for AMX tiles, avx512.c and avxvnni.c for the controls), the core clock (clock.c) and the
 * statistics against dense (stats.c). Nothing here is part of the engine. */
#ifndef AMX_TIMING_H
#define AMX_TIMING_H

#include "accelbench.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- detection */

/* The raw inputs of detection, so that decoding can be tested with made-up values. */
struct amx_cpuid {
    bool x86_64;
    uint32_t leaf1_ecx;                       /* CPUID.1:ECX (OSXSAVE is bit 27) */
    uint32_t leaf7_ebx, leaf7_ecx, leaf7_edx; /* CPUID.(7,0) */
    uint32_t leaf7_1_eax;                     /* CPUID.(7,1):EAX */
    uint64_t xcr0;                            /* XGETBV(0); 0 when OSXSAVE is clear */
};

struct amx_features {
    bool amx_tile, amx_bf16, amx_int8; /* CPUID and XCR0 both say so */
    bool avx512_bf16, avx512_vnni;     /* likewise, with the OS saving ZMM state */
    bool avx_vnni;                     /* VEX VPDPBUSD on ymm, with the OS saving YMM state */
    bool avx2, fma;                    /* likewise (CPUID.7:EBX bit 5, CPUID.1:ECX bit 12) */
    bool amx_permitted;                /* arch_prctl(ARCH_REQ_XCOMP_PERM) granted tile data */
};

/* Read CPUID and XCR0 of this CPU (XGETBV only when OSXSAVE is set). Never executes an AMX or
 * AVX-512 instruction. */
void amx_cpuid_read(struct amx_cpuid *out);
/* Decode features from raw CPUID/XCR0 values; sets no permission. */
void amx_features_decode(const struct amx_cpuid *id, struct amx_features *out);
/* Ask the kernel for permission to use tile data (Linux >= 5.16). AB_EUNSUPPORTED with the
 * reason when refused. */
ab_status amx_request_permission(struct ab_error *err);

/* ---------------------------------------------------------------- instructions */

enum amx_instr {
    AMX_TDPBF16PS = 0, /* AMX: C(16x16 fp32) += A(16x32 bf16) . B(16x32 bf16, pairs) */
    AMX_TDPBSSD,       /* AMX: C(16x16 s32) += A(16x64 s8) . B(16x64 s8, quads) */
    AMX_VDPBF16PS,     /* AVX-512 BF16: zmm fp32x16 += pairs of bf16 */
    AMX_VPDPBUSD,      /* AVX-512 VNNI: zmm s32x16 += quads of u8 x s8 */
    AMX_VPDPBUSD_VEX,  /* AVX-VNNI: ymm s32x8 += quads of u8 x s8 */
    AMX_VPMADDUBSW,    /* AVX2: vpmaddubsw + vpmaddwd + vpaddd, the same u8 x s8 step on ymm */
    AMX_VFMADD231PS,   /* AVX2/FMA: ymm fp32x8 += a * b */
    AMX_N_INSTR,
};

/* Shape of one operand set: `tiles` tiles of `rows` rows of 64 bytes, elements of elem_bytes.
 * AMX: 4 tiles (A0, A1, B0, B1) of 16 rows; AVX-512: 4 groups of 4 zmm rows (8 A, 8 B);
 * AVX-VNNI and AVX2: 2 groups (A, B) of 2 rows, each row two ymm registers. */
struct amx_shape {
    int tiles, rows, elem_bytes;
};
#define AMX_ROW_BYTES 64

struct amx_instr_info {
    const char *name;
    bool is_amx;
    struct amx_shape shape;
    int instrs_per_iter;  /* instructions per loop iteration of the burst */
    double ops_per_instr; /* multiply-adds x 2 */
    const char *ceiling;  /* NULL where the device holds no matching ceiling */
};
const struct amx_instr_info *amx_instr_get(enum amx_instr in);
bool amx_instr_parse(const char *name, enum amx_instr *out);

/* ---------------------------------------------------------------- operands */

enum amx_pattern { AMX_PAT_RANDOM = 0, AMX_PAT_ROWS, AMX_PAT_TILES };
bool amx_pattern_parse(const char *name, enum amx_pattern *out);

/* Fill buf (shape.tiles * shape.rows * 64 bytes) with fresh nonzero random elements of the
 * instruction's type (shape.elem_bytes 4: fp32 normals, whatever `bf16` says), then zero round(sparsity *
 * units) units chosen at random, where a unit is an element, a row or a tile by pattern. Returns the number
 * of zero elements. Bytes are s8 in -127..127 without 0 (read as u8 by VPDPBUSD's first source: still
 * nonzero); bf16 are normal. */
size_t amx_operands_fill(uint8_t *buf, struct amx_shape shape, bool bf16, enum amx_pattern pattern,
                         double sparsity, struct ab_rng *rng);
/* Number of zero elements of buf (bf16 zero means +0 or -0). */
size_t amx_operands_zeros(const uint8_t *buf, struct amx_shape shape, bool bf16);

/* ---------------------------------------------------------------- bursts */

/* One burst: load the operands, then `iters` loop iterations of instrs_per_iter independent
 * instructions between serialized TSC reads (lfence; rdtsc; lfence ... rdtscp; lfence).
 * Returns TSC ticks; writes the accumulators (AMX: 4 tiles of 16x16 x 4 bytes; AVX-512: 8 zmm)
 * to acc_out when not NULL. `a` holds the operands laid out as amx_shape says.
 * The caller has checked the features (and, for AMX, permission and tile configuration). */
uint64_t amx_burst_avx512(enum amx_instr in, const uint8_t *ops, int64_t iters, uint8_t *acc_out);
uint64_t amx_burst_amx(enum amx_instr in, const uint8_t *ops, int64_t iters, uint8_t *acc_out);
/* AVX-VNNI: 4 accumulators ymm0-3 (4 x 32 bytes), 8 instructions per iteration. */
uint64_t amx_burst_avxvnni(const uint8_t *ops, int64_t iters, uint8_t *acc_out);
/* AVX2 (avx2.c): 4 accumulators ymm0-3, 8 steps per iteration. For AMX_VPMADDUBSW a step is
 * the three instructions vpmaddubsw (u8 x s8 pairs, saturated to s16), vpmaddwd by ones (to s32)
 * and vpaddd; for AMX_VFMADD231PS it is one vfmadd231ps. */
uint64_t amx_burst_avx2(enum amx_instr in, const uint8_t *ops, int64_t iters, uint8_t *acc_out);
/* Configure all 8 tiles as 16 rows x 64 bytes (ldtilecfg) / release them (tilerelease). */
void amx_tiles_config(void);
void amx_tiles_release(void);

/* Serialized TSC reads; the ticks an empty timed region costs (the same fences as a burst);
 * the TSC rate measured against CLOCK_MONOTONIC. */
uint64_t amx_tsc_now(void);
uint64_t amx_tsc_empty(void);
double amx_tsc_hz(double window_s);

/* User-mode core cycles of this thread (perf_event); -1 where the kernel has no such counter.
 * Read gives the count since open; close with amx_cycles_close. */
int amx_cycles_open(void);
bool amx_cycles_read(int fd, uint64_t *cycles);
void amx_cycles_close(int fd);

/* ---------------------------------------------------------------- verification */

/* Compare n accumulators (fp32 when fp, else s32; 4 bytes each) with an fp64 reference:
 * floating point within 1e-30 + tol_rel * mag[i] (mag: the sum of |terms|), integers exactly.
 * Returns how many differ (NaN differs); the largest |got - ref| / mag goes to *worst and the
 * first three mismatches, as text, to first (may be NULL). */
int amx_acc_compare(const uint8_t *acc, const double *ref, const double *mag, int n, bool fp, double tol_rel,
                    double *worst, char *first, size_t first_len);
/* A burst's rate as a share of one core's part of a device ceiling (ceiling_flops / threads in
 * use): the burst runs on one pinned core while ceilings are measured on all. NaN when the
 * ceiling or a count is missing. */
double amx_core_fraction(double ops_per_instr, double cpi_cycles, double tsc_hz, double ceiling_flops,
                         int threads);

/* ---------------------------------------------------------------- statistics */

/* The tests (Welch, Kolmogorov-Smirnov) and the bootstrap of the median difference are the
 * harness's ab_stats_*; what is this workload's own is the channel model. */
/* Bits a receiver learns per sample telling x from y with the best single threshold, sender
 * choosing each with probability 1/2: 1 - H2(error rate) (a binary symmetric channel). */
double amx_channel_bits(const double *x, int64_t nx, const double *y, int64_t ny);

/* Lag-1 autocorrelation of a series (NaN below 3 values or with no spread). */
double amx_lag1(const double *x, int64_t n);
/* Moving-block length for n pairs: ceil(n^(1/3)) (Hall, Horowitz & Jing), within [1, n]. */
int64_t amx_block_length(int64_t n);
/* Two-sided sign-flip randomization p-value of sum(d) = 0: each pair's order was a fair coin,
 * so under "no effect" every sign pattern of the differences is equally likely, whatever the
 * autocorrelation. Monte Carlo over `perms` patterns from seed: (1 + extreme) / (perms + 1),
 * so the smallest p is 1 / (perms + 1). 1 when every difference is 0; NaN for n < 1. */
double amx_signflip_p(const double *d, int64_t n, int perms, uint64_t seed);
/* Percentile interval (conf) of mean(d) from a moving-block bootstrap (blocks of `block`
 * consecutive values). NaN for n < 2 or fewer than 10 resamples. */
void amx_block_mean_ci(const double *d, int64_t n, int64_t block, int boots, double conf, uint64_t seed,
                       double *lo, double *hi);
/* The same interval for amx_channel_bits(x, n, y, n), resampling whole pairs in blocks. */
void amx_channel_bits_ci(const double *x, const double *y, int64_t n, int64_t block, int boots, double conf,
                         uint64_t seed, double *lo, double *hi);

/* One case's paired statistics: d = ref - level per pair (positive: the level is faster), on
 * the pairs where neither burst exceeds cut_factor x the median of all 2 n bursts (an
 * interrupted burst); everything NaN with under 2 pairs kept. */
struct amx_paired {
    int64_t n, dropped, block;     /* pairs kept, pairs dropped; block length of the bootstrap */
    double cut;                    /* the cut, in the unit of the samples */
    double mean_diff;              /* mean(d), the unit of the samples (cycles per instruction) */
    double ci_lo, ci_hi;           /* its 95% moving-block interval */
    double pct, pct_lo, pct_hi;    /* the same as % of mean(ref) over the pairs kept */
    double lag1;                   /* lag-1 autocorrelation of d */
    double p;                      /* amx_signflip_p */
    double bits, bits_lo, bits_hi; /* amx_channel_bits(ref, level) with its 95% interval */
};
void amx_paired(const double *ref, const double *level, int64_t n, double cut_factor, int perms, int boots,
                uint64_t seed, struct amx_paired *out);
/* The per-run decision over one family of rows (one instruction's): Holm-adjusted p-values,
 * and a claim where the adjusted p is below alpha AND |effect| >= min_effect_pct. */
void amx_verdicts(const double *p, const double *pct, int n, double alpha, double min_effect_pct,
                  double *p_holm, bool *claimed);

#endif /* AMX_TIMING_H */
