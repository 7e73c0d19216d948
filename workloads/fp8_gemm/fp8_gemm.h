/* fp8_gemm.h — what the fp8_gemm workload's descriptor, its CPU path and its CUDA host logic
 * share: the case configuration parsed from the axes, the work model and the check against an
 * FP64 reference. C = A · B with A m x k (activations, one row per token) and B k x n
 * (weights, one column per output channel); FLOPs are 2·m·n·k. */
#ifndef FP8_GEMM_H
#define FP8_GEMM_H

#include "accelbench.h"
#include "fp8.h"

enum fp8g_scaling { FP8G_SCALE_NONE = 0, FP8G_SCALE_TENSOR, FP8G_SCALE_ROW };
/* Who applies row scales on CUDA (axis row_scale): auto (cuBLASLt's outer vectors where it has
 * them, else our epilogue kernel), cublaslt (outer vectors or a skipped row), kernel (always the
 * epilogue, so that it is checked where cuBLASLt could do without it). */
enum fp8g_row_request { FP8G_ROW_AUTO = 0, FP8G_ROW_CUBLASLT, FP8G_ROW_KERNEL };

struct fp8g_config {
    int64_t m, n, k;
    enum ab_dtype dtype; /* the dtype axis: fp8_e4m3, fp8_e5m2 (E4M3 x E5M2), bf16, fp16, tf32, fp32 */
    enum fp8g_scaling scaling;
    bool fast_accum; /* cuBLASLt's FP8 fast accumulation (CUDA only) */
    enum fp8g_row_request row_request;
};

/* Parse a case's parameters (dtype, scaling, accum, row_scale, shape, m); AB_EINVAL names the
 * bad one. */
ab_status fp8g_config_parse(const struct ab_params *ps, struct fp8g_config *out, struct ab_error *err);
bool fp8g_is_fp8(enum ab_dtype d);
/* FP8 formats of the two operands: E4M3 x E4M3, or E4M3 x E5M2 for fp8_e5m2. */
enum ab_dtype fp8g_format_a(enum ab_dtype d);
enum ab_dtype fp8g_format_b(enum ab_dtype d);
/* The ceiling a CUDA case is held against: "fp8_gemm" (FP8 with FP32 accumulation),
 * "fp8_fast_gemm" (accum=fast), "bf16_gemm", "fp16_gemm", "tf32_gemm", "fp32_gemm". */
const char *fp8g_cuda_ceiling(const struct fp8g_config *g);

/* The oneDNN matmul a CPU case runs. FP8 values are exact in BF16 and in FP32, so the FP8
 * emulation runs on the BF16 matmul where oneDNN has one and on the FP32 matmul otherwise:
 * the same exact products accumulated in FP32 either way. */
enum fp8g_cpu_gemm { FP8G_CPU_GEMM_F32 = 0, FP8G_CPU_GEMM_BF16 };
/* Can oneDNN create a BF16 matmul on this CPU? Probed once per process (a tiny primitive
 * descriptor); test builds answer false while ACCELBENCH_TEST_NO_BF16_MATMUL is set. */
bool fp8g_cpu_has_bf16_matmul(void);
/* The matmul for a case given that capability: AB_EUNSUPPORTED with the reason for what the
 * CPU path cannot run (bf16 without a BF16 matmul, fp16, tf32, accum=fast, row_scale). */
ab_status fp8g_cpu_gemm_choose(const struct fp8g_config *g, bool has_bf16_matmul, enum fp8g_cpu_gemm *out,
                               struct ab_error *err);
/* "bf16" or "f32" (the cpu_gemm metric). */
const char *fp8g_cpu_gemm_name(enum fp8g_cpu_gemm k);
/* The ceiling a CPU case is held against: that of the matmul it runs. */
const char *fp8g_cpu_ceiling(enum fp8g_cpu_gemm k);
/* Work per repetition: 2·m·n·k FLOPs, operand and output bytes moved once. */
void fp8g_work(const struct fp8g_config *g, size_t in_a_bytes_per_elem, size_t in_b_bytes_per_elem,
               size_t out_bytes_per_elem, struct ab_work *w);

/* One operand of the check. Element (o, kk) of A is row o, column kk; of B, row kk, column o
 * (o indexes the output: a token of A, an output channel of B). It lies at
 * o * stride_o + kk * stride_k in both `orig` (FP32, the accuracy reference) and `stored`
 * (what the kernel reads, in type `store`: fp32, bf16, fp16 or FP8; NULL when that is orig). Its dequantized
 * value is stored · scales[n_scales == 1 ? 0 : o]; scales NULL means 1. */
struct fp8g_operand {
    const float *orig;
    const void *stored;
    enum ab_dtype store;
    const float *scales;
    int64_t n_scales;
    int64_t stride_o, stride_k;
};
double fp8g_operand_value(const struct fp8g_operand *op, int64_t o, int64_t kk);

/* The outcome of a check on sampled entries of C. */
struct fp8g_accuracy {
    int64_t entries;    /* entries compared */
    double rel_fro_err; /* ||C - ref||_F / ||ref||_F, ref the FP64 product of the FP32 inputs */
    double max_rel_err; /* max |C - ref| / rms(ref) */
    double kernel_err;  /* max |C - deq| / sum|a||b|, deq the FP64 product of the dequantized
                           operands: the kernel's own arithmetic error */
    int64_t bad;        /* entries with |C - deq| > atol + rtol · sum|a||b| */
    char first[256];    /* the first few of them */
};
/* Compare C (m x n, row-major, leading dimension ldc) with the references: every entry when
 * m·n <= 16384, else at least 4096 entries (a grid of rows and columns drawn from seed). */
void fp8g_check(const struct fp8g_config *g, const struct fp8g_operand *a, const struct fp8g_operand *b,
                const float *C, int64_t ldc, double atol, double rtol, uint64_t seed,
                struct fp8g_accuracy *out);
/* Record the accuracy metrics on the case and turn bad entries into AB_EMISMATCH. */
ab_status fp8g_report(struct ab_case *c, const struct fp8g_accuracy *acc, double rtol, struct ab_error *err);

#endif
