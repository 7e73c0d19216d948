/* ceilings_cuda.h — C-linkage launchers of the ceilings workload's CUDA side (kernels.cu),
 * called by the C host logic in cuda.c. Every launcher returns a status and names the failing
 * CUDA or cuBLASLt call in err. */
#ifndef AB_CEILINGS_CUDA_H
#define AB_CEILINGS_CUDA_H

#include "accelbench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a GEMM ceiling's `dtype` value asks for, in the harness's types: "fp32", "tf32", "bf16",
 * "fp16" are the ab_dtype of those names, "fp8" is E4M3, and "fp8_fast" E4M3 with cuBLASLt's
 * fast accumulation (CUBLASLT_MATMUL_DESC_FAST_ACCUM: the ceiling of fp8 accum=fast rows). */
struct ceil_type {
    enum ab_dtype in; /* of A and B (AB_DTYPE_TF32: fp32 storage, rounded inside the product) */
    bool fast_accum;
};

/* FMA peak: `blocks` x CEIL_FMA_THREADS threads; each runs CEIL_FMA_CHAINS independent chains
 * x = fma(x, a, b) with a = 1, b = 2^-24 passed at run time (so each step stays an FFMA), for
 * `outer` passes of a fully unrolled block of CEIL_FMA_UNROLL steps per chain: a 32-bit
 * counter and one compare-and-branch per 512 FMAs keep the loop FMA-bound. Per thread:
 * 2 x CEIL_FMA_CHAINS x CEIL_FMA_UNROLL x outer FLOPs (ceil_fma_flops). Chain j of global
 * thread g starts at CEIL_FMA_X0(g, j), a multiple of 2^-18 in [0.5, 0.735), so for up to
 * CEIL_FMA_MAX_STEPS steps every value is exact and the result x0 + steps x 2^-24 tells how
 * many steps ran. out holds CEIL_FMA_CHAINS x (blocks x CEIL_FMA_THREADS) floats, chain-major. */
#define CEIL_FMA_THREADS       256
#define CEIL_FMA_BLOCKS_PER_SM 8 /* 2048 threads: a full SM on Hopper and Ampere */
#define CEIL_FMA_CHAINS        8
#define CEIL_FMA_UNROLL        64
#define CEIL_FMA_OUTER         1024 /* timed: 65536 steps per chain */
#define CEIL_FMA_STEP          0x1p-24f
#define CEIL_FMA_MAX_STEPS     (1 << 22) /* 0.735 + 2^22 x 2^-24 < 1: still one binade */
#define CEIL_FMA_X0(g, j)      (0.5f + 0.03125f * (float)(j) + (float)((g)&4095) * 0x1p-18f)
ab_status ceil_cuda_fma(float *out, int blocks, int outer, void *stream, struct ab_error *err);
/* Host side of the FMA loop: grid size for a device, FLOPs of one launch, output count, and
 * the exact check of every output (returns the number that differ, the first three in msg;
 * -1 when steps exceed CEIL_FMA_MAX_STEPS and no exact answer exists). */
int ceil_fma_blocks(int sms);
double ceil_fma_flops(int blocks, int outer);
size_t ceil_fma_outputs(int blocks);
int64_t ceil_fma_check(const float *out, int blocks, int outer, char *msg, size_t len);

/* Copy n floats (n multiple of 4) from src to dst with 16-byte accesses. */
ab_status ceil_cuda_copy(float *dst, const float *src, size_t n, void *stream, struct ab_error *err);
/* Fill x[i] with the bits CEIL_COPY_BITS(i, seed): a float in [0.5, 1) that differs between
 * neighbours, so a copy that drops, repeats or shifts elements is seen. */
#define CEIL_COPY_BITS(i, seed)                                                                              \
    (0x3f000000u | ((((uint32_t)(i)) * 2654435761u ^ (uint32_t)(seed)) & 0x7fffffu))
ab_status ceil_cuda_fill(float *x, size_t n, uint32_t seed, void *stream, struct ab_error *err);
/* Floats per copy buffer: 2^28 (1 GiB, far beyond any L2), or 1000004 in the check suite. */
size_t ceil_copy_floats(bool check);
/* Compare n copied floats with CEIL_COPY_BITS(first + i, seed); index of the first that
 * differs, or -1. */
int64_t ceil_copy_check(const float *dst, size_t first, size_t n, uint32_t seed);

/* A square GEMM (n x n x n, TN layout: C = A^T B, column-major) through cuBLASLt with the
 * heuristic's first algorithm and a 32 MiB workspace. Inputs random normal, never zero. */
struct ceil_gemm;
ab_status ceil_gemm_open(struct ceil_gemm **out, int n, struct ceil_type t, uint64_t seed,
                         struct ab_error *err);
/* One GEMM, enqueued on the GEMM's own stream (ceil_gemm_stream: the case's, for the timer). */
ab_status ceil_gemm_launch(struct ceil_gemm *g, struct ab_error *err);
void *ceil_gemm_stream(const struct ceil_gemm *g);
/* Compare `samples` random entries of C (every entry when samples <= 0) with an FP64 product
 * of the (rounded) inputs; returns the worst |C - ref| / sum|a||b| in *max_err. */
ab_status ceil_gemm_check(struct ceil_gemm *g, int samples, uint64_t seed, double *max_err,
                          struct ab_error *err);
/* The algorithm cuBLASLt's heuristic picked, as text. */
const char *ceil_gemm_algo(const struct ceil_gemm *g);
void ceil_gemm_close(struct ceil_gemm *g);

/* Host-side: parse a `dtype` value (false for any other text). */
bool ceil_type_parse(const char *name, struct ceil_type *out);
/* The relative tolerance of the GEMM check for a type (output rounding dominates: bf16 output
 * 2^-8, fp16 2^-11, fp32 accumulation otherwise; tf32 inputs are rounded to 10-bit mantissas
 * inside the product, so its error is relative to the fp32 inputs). */
double ceil_gemm_tolerance(struct ceil_type t);
/* The type of C for inputs of type in: fp32 for fp32 and tf32, fp16 for fp16, else bf16 (FP8
 * writes bf16). Element sizes are ab_dtype_size's. */
enum ab_dtype ceil_gemm_out_dtype(enum ab_dtype in);
/* Least bytes an n x n x n GEMM moves: A and B read once, C written once. */
double ceil_gemm_min_bytes(int n, enum ab_dtype in);
/* Whether cuBLASLt can run the size: FP8 needs leading dimensions that are multiples of 16. */
bool ceil_gemm_size_ok(int n, enum ab_dtype in);

#ifdef __cplusplus
}
#endif
#endif
