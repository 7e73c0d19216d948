/* fp8_gemm.c — FP8 GEMM scaling and accuracy against BF16/FP16/TF32/FP32 ("An Investigation
 * of FP8 Across Accelerators for LLM Inference"): the descriptor, axes, work model and the
 * FP64 reference shared by the CPU path (cpu.c) and the CUDA path (cuda.c).
 * Shapes: `shape=square` is m = n = k = `m`; the LLM shapes name (k, n) of a weight matrix
 * and `m` is the number of tokens. Accuracy is measured against the FP32 inputs (what FP8
 * costs), verification against the dequantized operands (whether the kernel is right). */
#include "fp8_gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct ab_impl fp8_gemm_cpu_impl;
extern const struct ab_impl fp8_gemm_cuda_impl;

static const char *const scaling_names[] = {
    [FP8G_SCALE_NONE] = "none",
    [FP8G_SCALE_TENSOR] = "tensor",
    [FP8G_SCALE_ROW] = "row",
};
static const char *const row_request_names[] = {
    [FP8G_ROW_AUTO] = "auto",
    [FP8G_ROW_CUBLASLT] = "cublaslt",
    [FP8G_ROW_KERNEL] = "kernel",
};
/* Weight shapes as k x n: Llama-style projections (attention out, MLP up, MLP down, 70B), then
 * two small LLM-like ones for the check suite (few tokens against a wide weight): 528x1488 has
 * k and n multiples of 16, as cuBLASLt's FP8 needs; 300x1500 has not (FP8 there is a skipped
 * row on CUDA, the wider types run). */
static const struct {
    const char *name;
    int64_t k, n;
} llm_shapes[] = {
    { "4096x4096", 4096, 4096 },   { "4096x14336", 4096, 14336 }, { "14336x4096", 14336, 4096 },
    { "8192x28672", 8192, 28672 }, { "528x1488", 528, 1488 },     { "300x1500", 300, 1500 },
};
static const int64_t llm_tokens[] = { 1, 16, 64, 256, 1024, 4096 };

/* The check suite: every dtype, scaling, accumulation and row-scaling path at small awkward
 * sizes (see fp8_gemm_applies for which m goes with which shape). */
static const struct ab_axis axes[] = {
    { .name = "dtype",
      .type = AB_AXIS_STR,
      .help = "operand type: fp8_e4m3 (E4M3 x E4M3), fp8_e5m2 (E4M3 x E5M2), bf16, fp16, tf32, fp32",
      .choices = "fp8_e4m3,fp8_e5m2,bf16,fp16,tf32,fp32",
      .sweep = { "fp8_e4m3,fp8_e5m2,bf16,fp16,tf32,fp32", "fp8_e4m3,fp8_e5m2,bf16,fp16,tf32,fp32",
                 "fp8_e4m3,fp8_e5m2,bf16,fp16,tf32,fp32", "fp8_e4m3,fp8_e5m2,bf16,fp16,tf32,fp32" } },
    { .name = "scaling",
      .type = AB_AXIS_STR,
      .help = "FP8 scaling: tensor (one scale per operand) or row (per token of A and per output "
              "channel of B); none for wider types",
      .choices = "none,tensor,row",
      .sweep = { "none,tensor,row", "none,tensor,row", "none,tensor,row", "none,tensor,row" } },
    { .name = "accum",
      .type = AB_AXIS_STR,
      .help = "accumulation: fp32, or fast (cuBLASLt FP8 fast accumulation, CUDA only)",
      .choices = "fp32,fast",
      .sweep = { "fp32,fast", "fp32,fast", "fp32,fast", "fp32,fast" } },
    { .name = "row_scale",
      .type = AB_AXIS_STR,
      .help = "who applies row scales on CUDA: auto (cuBLASLt outer vectors where supported, else "
              "our epilogue kernel), cublaslt (outer vectors only), kernel (always the epilogue)",
      .choices = "auto,cublaslt,kernel",
      .sweep = { "auto", "auto", "auto", "auto,kernel" },
      .implicit = "auto" },
    { .name = "shape",
      .type = AB_AXIS_STR,
      .help = "square (m = n = k = m) or an LLM weight k x n with m tokens",
      .choices = "square,4096x4096,4096x14336,14336x4096,8192x28672,528x1488,300x1500",
      .sweep = { "square,4096x4096", "square,4096x4096,4096x14336",
                 "square,4096x4096,4096x14336,14336x4096,8192x28672",
                 "square,528x1488,300x1500,4096x4096" } },
    { .name = "m",
      .type = AB_AXIS_INT,
      .help = "rows of A: the size of a square GEMM, or the tokens of an LLM shape",
      .min = 1,
      .max = 65536,
      .sweep = { "1,64,256,512,1024,2048", "1,16,64,256,512,1024,2048,4096,8192,16384",
                 "1,16,64,256,512,1024,2048,4096,8192,16384", "1,16,17,300,304" } },
};

static int find_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (s && strcmp(names[i], s) == 0)
            return i;
    return -1;
}

bool fp8g_is_fp8(enum ab_dtype d)
{
    return d == AB_DTYPE_FP8_E4M3 || d == AB_DTYPE_FP8_E5M2;
}
enum ab_dtype fp8g_format_a(enum ab_dtype d)
{
    (void)d;
    return AB_DTYPE_FP8_E4M3;
}
enum ab_dtype fp8g_format_b(enum ab_dtype d)
{
    return d == AB_DTYPE_FP8_E5M2 ? AB_DTYPE_FP8_E5M2 : AB_DTYPE_FP8_E4M3;
}

ab_status fp8g_config_parse(const struct ab_params *ps, struct fp8g_config *out, struct ab_error *err)
{
    memset(out, 0, sizeof *out);
    const char *dt = ab_param_str(ps, "dtype", "bf16");
    const char *sc = ab_param_str(ps, "scaling", "none");
    const char *acc = ab_param_str(ps, "accum", "fp32");
    const char *rs = ab_param_str(ps, "row_scale", "auto");
    const char *shape = ab_param_str(ps, "shape", "square");
    enum ab_dtype d;
    int s = find_name(scaling_names, 3, sc), r = find_name(row_request_names, 3, rs);
    if (!ab_dtype_parse(dt, &d) || d == AB_DTYPE_INT8)
        return ab_fail(err, AB_EINVAL, "fp8_gemm: unknown dtype '%s'", dt);
    if (s < 0)
        return ab_fail(err, AB_EINVAL, "fp8_gemm: unknown scaling '%s'", sc);
    if (r < 0)
        return ab_fail(err, AB_EINVAL, "fp8_gemm: unknown row_scale '%s' (auto, cublaslt, kernel)", rs);
    if (strcmp(acc, "fp32") != 0 && strcmp(acc, "fast") != 0)
        return ab_fail(err, AB_EINVAL, "fp8_gemm: unknown accum '%s' (fp32, fast)", acc);
    out->dtype = d;
    out->scaling = (enum fp8g_scaling)s;
    out->fast_accum = strcmp(acc, "fast") == 0;
    out->row_request = (enum fp8g_row_request)r;
    if (fp8g_is_fp8(out->dtype) != (out->scaling != FP8G_SCALE_NONE))
        return ab_fail(err, AB_EINVAL, "fp8_gemm: scaling=%s does not go with dtype=%s", sc, dt);
    if (out->fast_accum && !fp8g_is_fp8(out->dtype))
        return ab_fail(err, AB_EINVAL, "fp8_gemm: accum=fast is for FP8 only, not %s", dt);
    if (out->row_request != FP8G_ROW_AUTO && out->scaling != FP8G_SCALE_ROW)
        return ab_fail(err, AB_EINVAL, "fp8_gemm: row_scale=%s is for scaling=row only", rs);
    int64_t m = ab_param_int(ps, "m", 256);
    if (m < 1)
        return ab_fail(err, AB_EINVAL, "fp8_gemm: m=%lld must be at least 1", (long long)m);
    out->m = m;
    if (strcmp(shape, "square") == 0) {
        out->n = out->k = m;
        return AB_OK;
    }
    for (size_t i = 0; i < sizeof llm_shapes / sizeof llm_shapes[0]; i++)
        if (strcmp(shape, llm_shapes[i].name) == 0) {
            out->k = llm_shapes[i].k;
            out->n = llm_shapes[i].n;
            return AB_OK;
        }
    return ab_fail(err, AB_EINVAL, "fp8_gemm: unknown shape '%s'", shape);
}

static bool is_llm_tokens(int64_t m)
{
    for (size_t i = 0; i < sizeof llm_tokens / sizeof llm_tokens[0]; i++)
        if (llm_tokens[i] == m)
            return true;
    return false;
}

/* Drop the points that are no case: scaling, fast accumulation and the choice of row-scaling
 * path belong to FP8 (the last two to CUDA), TF32 and FP16 to CUDA (oneDNN has no FP16 matmul on
 * CPUs without AVX512-FP16), square sizes start at 256 (smaller m are the token counts of the
 * LLM shapes), LLM shapes take the token counts of the study, and the CPU's quick and default
 * suites stop where a case would take minutes. The check suite pairs square with m = 300 and,
 * on CUDA, 304 (n = k not and then a multiple of 16), the small LLM-like shapes with m = 1, 16, 17 (GEMV,
 * a full and a ragged tile of tokens), and 4096x4096 (CUDA only: its host-side quantization is
 * too slow for the CPU's check) with m = 1 and 17. */
static bool fp8_gemm_applies(const struct ab_params *ps, enum ab_backend_kind backend, enum ab_suite suite)
{
    struct fp8g_config g;
    if (fp8g_config_parse(ps, &g, NULL) != AB_OK)
        return false;
    bool cpu = backend == AB_BACKEND_CPU;
    if (cpu && (g.fast_accum || g.row_request != FP8G_ROW_AUTO))
        return false;
    if (cpu && (g.dtype == AB_DTYPE_TF32 || g.dtype == AB_DTYPE_FP16))
        return false;
    bool square = ab_param_is(ps, "shape", "square");
    if (suite == AB_SUITE_CHECK) {
        if (square) /* 304: FP8 on cuBLASLt needs n and k multiples of 16; the CPU does not */
            return g.m == 300 || (g.m == 304 && !cpu);
        if (g.k == 4096 && g.n == 4096)
            return !cpu && (g.m == 1 || g.m == 17);
        if (ab_param_is(ps, "shape", "528x1488") || ab_param_is(ps, "shape", "300x1500"))
            return g.m == 1 || g.m == 16 || g.m == 17;
        return false;
    }
    if (square) {
        if (g.m < 256) /* the token counts of the LLM shapes, not square sizes */
            return false;
        if (cpu && suite == AB_SUITE_QUICK && g.m > 2048)
            return false;
        if (cpu && suite == AB_SUITE_DEFAULT && g.m > 4096)
            return false;
        return true;
    }
    if (!is_llm_tokens(g.m))
        return false;
    if (suite == AB_SUITE_QUICK && g.m > 64)
        return false;
    if (cpu && suite == AB_SUITE_DEFAULT && g.m > 1024)
        return false;
    return true;
}

const char *fp8g_cuda_ceiling(const struct fp8g_config *g)
{
    switch (g->dtype) {
    case AB_DTYPE_FP8_E4M3:
    case AB_DTYPE_FP8_E5M2: return g->fast_accum ? "fp8_fast_gemm" : "fp8_gemm";
    case AB_DTYPE_BF16: return "bf16_gemm";
    case AB_DTYPE_FP16: return "fp16_gemm";
    case AB_DTYPE_TF32: return "tf32_gemm";
    default: return "fp32_gemm";
    }
}

ab_status fp8g_cpu_gemm_choose(const struct fp8g_config *g, bool has_bf16_matmul, enum fp8g_cpu_gemm *out,
                               struct ab_error *err)
{
    *out = FP8G_CPU_GEMM_F32;
    if (g->dtype == AB_DTYPE_FP16 || g->dtype == AB_DTYPE_TF32)
        return ab_fail(err, AB_EUNSUPPORTED, "fp8_gemm: %s is measured on CUDA only",
                       g->dtype == AB_DTYPE_FP16 ? "fp16" : "tf32");
    if (g->fast_accum)
        return ab_fail(err, AB_EUNSUPPORTED, "fp8_gemm: accum=fast is a cuBLASLt mode (CUDA only)");
    if (g->row_request != FP8G_ROW_AUTO)
        return ab_fail(err, AB_EUNSUPPORTED, "fp8_gemm: row_scale=%s chooses a CUDA path (CPU: auto only)",
                       row_request_names[g->row_request]);
    if (g->dtype == AB_DTYPE_FP32)
        return AB_OK;
    if (has_bf16_matmul) {
        *out = FP8G_CPU_GEMM_BF16;
        return AB_OK;
    }
    if (g->dtype == AB_DTYPE_BF16)
        return ab_fail(err, AB_EUNSUPPORTED, "oneDNN has no bf16 matmul on this CPU (needs AVX-512)");
    return AB_OK; /* FP8 on the FP32 matmul */
}

const char *fp8g_cpu_gemm_name(enum fp8g_cpu_gemm k)
{
    return k == FP8G_CPU_GEMM_BF16 ? "bf16" : "f32";
}

const char *fp8g_cpu_ceiling(enum fp8g_cpu_gemm k)
{
    return k == FP8G_CPU_GEMM_BF16 ? "bf16_gemm" : "fp32_gemm";
}

void fp8g_work(const struct fp8g_config *g, size_t a_elem_bytes, size_t b_elem_bytes, size_t out_elem_bytes,
               struct ab_work *w)
{
    double m = (double)g->m, n = (double)g->n, k = (double)g->k;
    w->flops = 2.0 * m * n * k;
    w->bytes = m * k * (double)a_elem_bytes + k * n * (double)b_elem_bytes + m * n * (double)out_elem_bytes;
    w->tokens = 0;
    w->rate = "flops";
}

double fp8g_operand_value(const struct fp8g_operand *op, int64_t o, int64_t kk)
{
    int64_t at = o * op->stride_o + kk * op->stride_k;
    double v = op->stored ? ab_dtype_get(op->store, op->stored, at) : (double)op->orig[at];
    if (op->scales)
        v *= op->scales[op->n_scales == 1 ? 0 : o];
    return v;
}

/* Indices of `want` of 0..n-1, sorted and distinct: all of them when want >= n, else one
 * drawn in each of `want` equal strata (so the sample spreads over the matrix). */
static int64_t pick(int64_t n, int64_t want, struct ab_rng *r, int64_t *out)
{
    if (want >= n) {
        for (int64_t i = 0; i < n; i++)
            out[i] = i;
        return n;
    }
    for (int64_t t = 0; t < want; t++) {
        int64_t lo = t * n / want, hi = (t + 1) * n / want;
        out[t] = lo + (int64_t)(ab_rng_uniform(r) * (double)(hi - lo));
    }
    return want;
}

/* The sample is a grid: up to 64 rows times enough columns for 4096 entries (every entry when
 * m·n <= 16384). Each sampled column of B is gathered once, in increasing order, so that the
 * strided reads of a row-major B reuse the cache lines of the previous column. */
void fp8g_check(const struct fp8g_config *g, const struct fp8g_operand *a, const struct fp8g_operand *b,
                const float *C, int64_t ldc, double atol, double rtol, uint64_t seed,
                struct fp8g_accuracy *out)
{
    memset(out, 0, sizeof *out);
    int64_t m = g->m, n = g->n, k = g->k;
    bool all = m * n <= 16384;
    int64_t want_rows = all || m < 64 ? m : 64;
    struct ab_rng r;
    ab_rng_seed(&r, seed ^ 0x5eed0f8ull);
    int64_t *rows = malloc((size_t)(want_rows + n) * sizeof *rows);
    double *ar = malloc((size_t)want_rows * (size_t)k * 2 * sizeof *ar);
    double *bc = malloc((size_t)k * 2 * sizeof *bc);
    if (!rows || !ar || !bc) {
        free(rows);
        free(ar);
        free(bc);
        out->bad = 1;
        snprintf(out->first, sizeof out->first, " out of memory for the reference");
        out->rel_fro_err = out->max_rel_err = out->kernel_err = NAN;
        return;
    }
    int64_t nr = pick(m, want_rows, &r, rows);
    int64_t *cols = rows + nr;
    int64_t nc = pick(n, all ? n : (4096 + nr - 1) / nr, &r, cols);
    /* ar: for each sampled row, its FP32 values then its dequantized values, as doubles. */
    for (int64_t t = 0; t < nr; t++)
        for (int64_t kk = 0; kk < k; kk++) {
            ar[(2 * t) * k + kk] = a->orig[rows[t] * a->stride_o + kk * a->stride_k];
            ar[(2 * t + 1) * k + kk] = fp8g_operand_value(a, rows[t], kk);
        }
    double err2 = 0, ref2 = 0, max_abs = 0;
    for (int64_t u = 0; u < nc; u++) {
        int64_t j = cols[u];
        for (int64_t kk = 0; kk < k; kk++) {
            bc[kk] = b->orig[j * b->stride_o + kk * b->stride_k];
            bc[k + kk] = fp8g_operand_value(b, j, kk);
        }
        for (int64_t t = 0; t < nr; t++) {
            const double *ao = ar + 2 * t * k, *ad = ao + k;
            double ref = 0, deq = 0, mag = 0;
            for (int64_t kk = 0; kk < k; kk++) {
                ref += ao[kk] * bc[kk];
                double p = ad[kk] * bc[k + kk];
                deq += p;
                mag += fabs(p);
            }
            int64_t i = rows[t];
            double got = C[i * ldc + j];
            double e = fabs(got - ref), ke = fabs(got - deq);
            err2 += e * e;
            ref2 += ref * ref;
            if (!(e <= max_abs))
                max_abs = isnan(e) ? INFINITY : e;
            double kr = mag > 0 ? ke / mag : ke;
            if (!(kr <= out->kernel_err))
                out->kernel_err = isnan(kr) ? INFINITY : kr;
            if (!(ke <= atol + rtol * mag) && out->bad++ < 3) {
                size_t l = strlen(out->first);
                snprintf(out->first + l, sizeof out->first - l, " C[%lld,%lld]=%.6g expected %.6g;",
                         (long long)i, (long long)j, got, deq);
            }
        }
    }
    free(rows);
    free(ar);
    free(bc);
    out->entries = nr * nc;
    out->rel_fro_err = ref2 > 0 ? sqrt(err2 / ref2) : INFINITY;
    out->max_rel_err = ref2 > 0 ? max_abs / sqrt(ref2 / (double)out->entries) : INFINITY;
}

ab_status fp8g_report(struct ab_case *c, const struct fp8g_accuracy *acc, double rtol, struct ab_error *err)
{
    ab_case_metric(c, "rel_fro_err", acc->rel_fro_err);
    ab_case_metric(c, "max_rel_err", acc->max_rel_err);
    ab_case_metric(c, "kernel_err", acc->kernel_err);
    ab_case_metric(c, "checked_entries", (double)acc->entries);
    if (acc->bad)
        return ab_fail(err, AB_EMISMATCH,
                       "%lld of %lld entries differ from the FP64 product of the dequantized "
                       "operands by more than %g of sum|a||b|:%s",
                       (long long)acc->bad, (long long)acc->entries, rtol, acc->first);
    return AB_OK;
}

/* Every metric an fp8_gemm row may carry (fp8_gemm.c, cpu.c, cuda.c); see results/schema.md. */
static const struct ab_metric_decl metrics[] = {
    { "rel_fro_err", "", false, AB_BETTER_LOWER,
      "||C - R||_F / ||R||_F, R the FP64 product of the FP32 inputs: what the format costs" },
    { "max_rel_err", "", false, AB_BETTER_LOWER, "max |C - R| / rms(R) over the checked entries" },
    { "kernel_err", "", false, AB_BETTER_LOWER,
      "max |C - D| / sum |a||b|, D the FP64 product of the operands as the kernel read them" },
    { "checked_entries", "", false, AB_BETTER_NONE, "entries compared with the references" },
    { "quant_time_s", "s", false, AB_BETTER_LOWER,
      "CPU, FP8: time to compute the scales and quantize both operands" },
    { "host_quant_time_s", "s", false, AB_BETTER_LOWER, "CUDA, FP8: the same on the host before upload" },
    { "kernel", "", true, AB_BETTER_NONE, "CPU: the oneDNN primitive that ran" },
    { "cpu_gemm", "", true, AB_BETTER_NONE, "CPU: the oneDNN GEMM type the operands were fed as" },
    { "onednn_impl", "", true, AB_BETTER_NONE, "CPU: oneDNN's implementation name" },
    { "cublaslt_algo", "", true, AB_BETTER_NONE,
      "CUDA: the heuristic's algorithm (id, tile, stages) and its workspace" },
    { "rotation_sets", "", false, AB_BETTER_NONE,
      "CUDA: operand sets rotated through so the L2 cache does not flatter" },
    { "row_scaling", "", true, AB_BETTER_NONE, "CUDA, FP8 row scaling: outer_vec, epilogue or none" },
    { "row_scaling_fallback", "", true, AB_BETTER_NONE,
      "CUDA, FP8: why cuBLASLt's outer-vector scaling was not used" },
};

/* The work without setup (run --dry-run): operands in their stored type, output fp32; the
 * ceiling of the matmul the backend would run (the CPU's choice asks oneDNN's cached probe). */
static ab_status fp8_gemm_work(const struct ab_params *ps, enum ab_backend_kind backend, struct ab_work *w,
                               struct ab_error *err)
{
    struct fp8g_config g;
    ab_status st = fp8g_config_parse(ps, &g, err);
    if (st)
        return st;
    size_t eb = ab_dtype_size(g.dtype);
    fp8g_work(&g, eb, eb, 4, w);
    if (backend == AB_BACKEND_CUDA) {
        w->ceiling = fp8g_cuda_ceiling(&g);
        return AB_OK;
    }
    enum fp8g_cpu_gemm k;
    if ((st = fp8g_cpu_gemm_choose(&g, fp8g_cpu_has_bf16_matmul(), &k, err)))
        return st; /* the case will be a skipped row: the message says why */
    w->ceiling = fp8g_cpu_ceiling(k);
    return AB_OK;
}

/* Throughput and error against m, square shapes apart from the LLM shapes. */
static const struct ab_chart_decl chart = {
    .x = "m",
    .xlabel = "m (square: m = n = k; LLM shapes: tokens)",
    .xunit = "",
    .facet = "shape",
    .metrics = { "throughput", "max_rel_err" },
};

const struct ab_workload fp8_gemm_workload = {
    .name = "fp8_gemm",
    .summary = "FP8 GEMM throughput and accuracy (tensor/row scaling) against BF16/FP16/TF32/FP32",
    .axes = axes,
    .n_axes = sizeof axes / sizeof axes[0],
    .applies = fp8_gemm_applies,
    .impl = { [AB_BACKEND_CPU] = &fp8_gemm_cpu_impl, [AB_BACKEND_CUDA] = &fp8_gemm_cuda_impl },
    .metrics = metrics,
    .n_metrics = sizeof metrics / sizeof metrics[0],
    .chart = &chart,
    .work = fp8_gemm_work,
};
