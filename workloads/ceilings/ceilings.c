/* ceilings.c — the `ceilings` workload: what each device can do at best, so every later
 * number can be read as a fraction of it. kind=fma: a register-only FMA loop (the SIMD or
 * CUDA-core peak); kind=gemm: the best rate of the matrix library (oneDNN, cuBLASLt) over a
 * sweep of sizes; kind=stream: memory bandwidth of a triad (CPU) or copy (CUDA) over arrays far
 * larger than the caches; kind=llc: the triad over arrays that fit the last-level cache (CPU).
 * Each case publishes the ceiling it measured: the rate of its best sample.
 * The check suite runs every (kind, dtype) a backend has, gemm at n = 300 and 1504 (FP8 needs
 * multiples of 16) and stream over a small odd-sized array, verified only. */
#include "ceilings.h"

#include <string.h>

static const struct ab_axis ceilings_axes[] = {
    { .name = "kind",
      .type = AB_AXIS_STR,
      .help = "what is measured: fma loop, library gemm, memory stream, last-level cache stream (llc, CPU)",
      .choices = "fma,gemm,stream,llc",
      .sweep = { "fma,gemm,stream,llc", "fma,gemm,stream,llc", "fma,gemm,stream,llc",
                 "fma,gemm,stream,llc" } },
    { .name = "dtype",
      .type = AB_AXIS_STR,
      .help = "data type (stream is fp32); fp8 is E4M3 with fp32 accumulation, fp8_fast the same "
              "with cuBLASLt's fast accumulation (CUBLASLT_MATMUL_DESC_FAST_ACCUM, CUDA gemm only), "
              "the ceiling of fp8 accum=fast rows",
      .choices = "fp32,bf16,tf32,fp16,fp8,fp8_fast",
      .sweep = { "fp32,bf16,tf32,fp16,fp8,fp8_fast", "fp32,bf16,tf32,fp16,fp8,fp8_fast",
                 "fp32,bf16,tf32,fp16,fp8,fp8_fast", "fp32,bf16,tf32,fp16,fp8,fp8_fast" } },
    { .name = "n",
      .type = AB_AXIS_INT,
      .help = "gemm: square sizes; the ceiling is the best of them (0 = the best of a sweep the backend "
              "chooses: CPU shapes sized from the last-level cache and threads, CUDA 4096 and 8192 (and "
              "16384 outside quick); fma, stream and llc run only at 0; the check suite runs gemm at "
              "n > 0 only; fp8 needs a multiple of 16)",
      .min = 0,
      .max = 65536,
      .sweep = { "0", "0,2048", "0,1024,2048,8192,16384", "0,300,1504" } },
};

void ceilings_name(const struct ab_params *ps, char *buf, size_t len)
{
    const char *kind = ab_param_str(ps, "kind", "fma");
    if (strcmp(kind, "stream") == 0)
        snprintf(buf, len, "mem_bw");
    else if (strcmp(kind, "llc") == 0)
        snprintf(buf, len, "llc_bw");
    else
        snprintf(buf, len, "%s_%s", ab_param_str(ps, "dtype", "fp32"), kind);
}

static bool ceilings_applies(const struct ab_params *ps, enum ab_backend_kind backend, enum ab_suite suite)
{
    const char *kind = ab_param_str(ps, "kind", "");
    const char *dt = ab_param_str(ps, "dtype", "");
    int64_t n = ab_param_int(ps, "n", 0);
    bool gemm = strcmp(kind, "gemm") == 0;
    if (!gemm && n != 0)
        return false; /* n means nothing to fma and stream: keep one case */
    if (gemm && suite == AB_SUITE_CHECK && n == 0)
        return false;             /* the default sizes are large; the check runs the awkward ones */
    if (strcmp(kind, "llc") == 0) /* no CUDA L2 stream yet */
        return backend == AB_BACKEND_CPU && strcmp(dt, "fp32") == 0;
    if (strcmp(kind, "stream") == 0)
        return strcmp(dt, "fp32") == 0;
    if (backend == AB_BACKEND_CPU) /* no tf32/fp16/fp8 units on the CPU's SIMD path */
        return strcmp(dt, "fp32") == 0 || strcmp(dt, "bf16") == 0;
    if (!gemm)
        return strcmp(dt, "fp32") == 0;
    /* cuBLASLt FP8 needs leading dimensions that are multiples of 16: a size the check suite
     * sweeps for the other types is dropped here; elsewhere setup says so in a skipped row. */
    if (suite == AB_SUITE_CHECK && strncmp(dt, "fp8", 3) == 0 && n % 16 != 0)
        return false;
    return true;
}

/* Every metric a ceilings row may carry (cpu.c, cuda.c). */
static const struct ab_metric_decl metrics[] = {
    { "gemm_n", "", false, AB_BETTER_NONE, "n of the GEMM measured (C is m x n)" },
    { "gemm_m", "", false, AB_BETTER_NONE, "CPU: m of the GEMM measured (rows of A and C)" },
    { "gemm_k", "", false, AB_BETTER_NONE, "CPU: k of the GEMM measured (the inner dimension)" },
    { "gemm_shapes_tried", "", false, AB_BETTER_NONE,
      "n = 0: how many shapes the sweep timed before the best" },
    { "max_err_rel_to_abs_sum", "", false, AB_BETTER_LOWER,
      "GEMM: worst |C - ref| / sum |a||b| over the checked entries" },
    { "entries_checked", "", false, AB_BETTER_NONE, "CPU GEMM: entries compared with the FP64 reference" },
    { "fma_outputs_checked", "", false, AB_BETTER_NONE, "FMA loop: outputs compared with their closed form" },
    { "isa", "", true, AB_BETTER_NONE,
      "CPU FMA loop: the instruction set it ran (avx2, avx512f, avx512_bf16)" },
    { "accum", "", true, AB_BETTER_NONE, "CUDA GEMM: fp32 or fast (FP8 fast) accumulation" },
    { "cublaslt", "", true, AB_BETTER_NONE, "CUDA GEMM: the cuBLASLt algorithm the heuristic chose" },
};

/* A bar per (kind, dtype) case: what the device reaches, and per joule. */
static const struct ab_chart_decl chart = { .metrics = { "throughput", "efficiency" } };

const struct ab_workload ceilings_workload = {
    .name = "ceilings",
    .summary = "peak FLOP/s per data type (FMA loop, library GEMM) and memory bandwidth of each device",
    .axes = ceilings_axes,
    .n_axes = sizeof ceilings_axes / sizeof ceilings_axes[0],
    .applies = ceilings_applies,
    .impl = { [AB_BACKEND_CPU] = &ceilings_cpu_impl, [AB_BACKEND_CUDA] = &ceilings_cuda_impl },
    .metrics = metrics,
    .n_metrics = sizeof metrics / sizeof metrics[0],
    .chart = &chart,
    .provides_ceilings = true,
};
