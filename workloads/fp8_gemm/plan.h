/* plan.h — how the CUDA path maps a case onto cuBLASLt, as plain C so that it is tested
 * without a GPU. cuBLASLt is column-major and FP8 wants the TN layout, so C = A · B (A m x k
 * tokens, B k x n weights) is computed as D = W^T-op · X: cuBLAS's A operand is the weight
 * matrix W (n x k row-major = k x n column-major, transposed), its B operand the activations
 * X (m x k row-major = k x m column-major), and D (n x m column-major) is C row-major. */
#ifndef FP8_GEMM_PLAN_H
#define FP8_GEMM_PLAN_H

#include "fp8_gemm.h"
#include "ops.h"

enum fp8g_row_method {
    FP8G_ROW_NONE = 0,  /* tensor scaling or no FP8 */
    FP8G_ROW_OUTER_VEC, /* cuBLASLt's CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F */
    FP8G_ROW_EPILOGUE,  /* unscaled FP32 product, then our kernel applies both vectors */
};

struct fp8g_plan {
    int64_t M, N, K;                /* cuBLAS dimensions: M = n, N = m, K = k */
    int64_t lda, ldb, ldd;          /* leading dimensions: K, K, M */
    enum ab_dtype a_store, b_store; /* storage of cuBLAS's A (weights) and B (activations) */
    int d_bytes;                    /* bytes per output element (BF16 2, FP16 2, FP32 4) */
    bool d_fp32_then_scale;         /* the epilogue method: D is FP32, scaled into BF16 */
    enum fp8g_row_method row;       /* how row scaling is done */
    /* Which of our scales goes to cuBLAS's A (weights: per output channel = our B's columns)
     * and B (activations: per token = our A's rows). */
    int64_t a_scales, b_scales; /* counts: 1 for tensor, M and N for row; 0 without FP8 */
    /* The matmul as ops plans it: D (m,n) = X (m,k) . W (n,k)^T, scales sX (m) and sW (n). */
    struct ops_mm_desc desc;
};

/* How row scales are applied for a request (axis row_scale) on a device of compute capability
 * cc_major.cc_minor with cuBLASLt version `cublas_version` (major*10000 + minor*100 + patch):
 * ops_cuda_mm_scale_choose's answer in this workload's words (outer_vec = its LIBRARY,
 * epilogue = its KERNEL). */
ab_status fp8g_row_method_choose(enum fp8g_row_request req, int cc_major, int cc_minor, int cublas_version,
                                 enum fp8g_row_method *out, struct ab_error *err);
/* After cuBLASLt answered st for the planned method: fall back to the epilogue? As
 * ops_cuda_mm_scale_falls_back. */
bool fp8g_row_falls_back(enum fp8g_row_request req, enum fp8g_row_method planned, ab_status st);
/* Plan a case for a device of compute capability cc_major.cc_minor with cuBLASLt version
 * `cublas_version` (CUBLAS_VERSION: major*10000 + minor*100 + patch): its ops_mm_desc, checked
 * by ops_cuda_mm_layout_make. AB_EUNSUPPORTED (with the reason) where FP8 needs sm_89+ or the
 * shape breaks the 16-byte alignment FP8 requires of K and M. The workspace is what cuBLAS
 * recommends: 32 MiB on Hopper and later, 4 MiB before. */
ab_status fp8g_plan_make(const struct fp8g_config *g, int cc_major, int cc_minor, int cublas_version,
                         struct fp8g_plan *out, struct ab_error *err);
/* The word recorded for the row-scaling method: "outer_vec", "epilogue", "none". */
const char *fp8g_row_method_name(enum fp8g_row_method r);

/* L2 assumed where the device does not report one: H100's 50 MiB. */
#define FP8G_L2_FALLBACK_BYTES ((uint64_t)50 << 20)
/* How many sets of operands (set_bytes each: one copy of cuBLAS's A and B) the timed
 * repetitions rotate over, so that no set is still in L2 when its turn comes: the fewest with
 * sets x set_bytes >= 2 x L2 + L2 / 4 (the margin covers D and the scales sharing L2), at
 * least 2, but no more than fit in budget_bytes (and at least 1). l2_bytes 0: unknown,
 * FP8G_L2_FALLBACK_BYTES. */
int64_t fp8g_rotation_sets(uint64_t set_bytes, uint64_t l2_bytes, uint64_t budget_bytes);

#endif
