/* test_ops_cuda_plan.c — host-side planning of the CUDA ops, which needs no GPU: the
 * row-major to column-major cuBLASLt mapping (checked by multiplying through it on the host),
 * the attention kernel choice and launch shape, when a forward becomes a CUDA graph, and the
 * dtype of the matmul epilogues' bias. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "accelbench.h"
#include "ops/ops_cuda.h"
#include "test_util.h"

/* Column-major GEMM as cuBLASLt defines it, D (m,n) = op(A) (m,k) . op(B) (k,n). */
static void colmajor_gemm(const struct ops_cuda_mm_layout *L, const double *A, const double *B, double *D)
{
    for (int i = 0; i < L->m; i++)
        for (int j = 0; j < L->n; j++) {
            double s = 0;
            for (int p = 0; p < L->k; p++) {
                double a = L->trans_a ? A[i * L->lda + p] : A[p * L->lda + i];
                double b = L->trans_b ? B[p * L->ldb + j] : B[j * L->ldb + p];
                s += a * b;
            }
            D[j * L->ldc + i] = s;
        }
}

static void matmul_layout_computes_row_major_inp_times_weight_transposed(void **state)
{
    int M = 3, N = 5, K = 4;
    struct ops_cuda_mm_layout L;
    ops_cuda_mm_plan(M, N, K, &L);
    assert_int_equal(L.m, N);
    assert_int_equal(L.n, M);
    assert_int_equal(L.a_rows * L.a_cols, N * K);
    double x[12], w[20], d[15];
    for (int i = 0; i < 12; i++)
        x[i] = 1 + i * 0.5;
    for (int i = 0; i < 20; i++)
        w[i] = 2 - i * 0.25;
    colmajor_gemm(&L, w, x, d); /* A = weight buffer, B = input buffer, D = output buffer */
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double want = 0;
            for (int k = 0; k < K; k++)
                want += x[m * K + k] * w[n * K + k];
            assert_double_equal(d[m * N + n], want, 1e-12); /* row-major out (M,N) */
        }
}

static void attention_uses_tensor_cores_for_16_bit_heads_of_64_and_128(void **state)
{
    struct ops_cuda_attn_plan p;
    struct ab_error err = { { 0 } };
    assert_int_equal(ops_cuda_attn_plan(4, 64, 2048, 64, AB_DTYPE_BF16, &p, &err), AB_OK);
    assert_int_equal(p.kind, OPS_CUDA_ATTN_TC);
    assert_int_equal(p.grid_x, 32);
    assert_int_equal(p.grid_y, 64);
    assert_int_equal(p.grid_z, 4);
    assert_true(p.smem_bytes <= 48 * 1024); /* static shared memory limit */
    assert_int_equal(ops_cuda_attn_plan(1, 8, 100, 128, AB_DTYPE_FP16, &p, &err), AB_OK);
    assert_int_equal(p.kind, OPS_CUDA_ATTN_TC);
    assert_int_equal(p.grid_x, 2);
    assert_true(p.smem_bytes <= 48 * 1024);
    assert_int_equal(ops_cuda_attn_plan(1, 8, 100, 64, AB_DTYPE_FP32, &p, &err), AB_OK);
    assert_int_equal(p.kind, OPS_CUDA_ATTN_WARP);
    assert_int_equal(p.grid_x * (p.block / 32), 100); /* a warp per query */
    assert_int_equal(ops_cuda_attn_plan(1, 8, 100, 96, AB_DTYPE_BF16, &p, &err), AB_OK);
    assert_int_equal(p.kind, OPS_CUDA_ATTN_WARP);
    assert_int_equal(ops_cuda_attn_plan(1, 8, 100, 40, AB_DTYPE_BF16, &p, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "HS=40"));
}

static void small_forwards_become_graphs(void **state)
{
    assert_true(ops_cuda_use_graph(24.0 * 128 * 768 * 768));           /* GPT-2 small, 128 tokens */
    assert_false(ops_cuda_use_graph(24.0 * 4 * 2048 * 4096.0 * 4096)); /* the H100 target case */
}

/* cuBLASLt's BIAS / GELU_BIAS epilogues read the bias in D's type for non-IMMA, non-FP8 GEMMs:
 * an fp32 bias with a bf16 or fp16 output is not a supported combination. */
static void matmul_bias_takes_the_output_dtype(void **state)
{
    assert_int_equal(ops_cuda_bias_dtype(AB_DTYPE_BF16), AB_DTYPE_BF16);
    assert_int_equal(ops_cuda_bias_dtype(AB_DTYPE_FP16), AB_DTYPE_FP16);
    assert_int_equal(ops_cuda_bias_dtype(AB_DTYPE_FP32), AB_DTYPE_FP32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matmul_layout_computes_row_major_inp_times_weight_transposed),
        cmocka_unit_test(attention_uses_tensor_cores_for_16_bit_heads_of_64_and_128),
        cmocka_unit_test(small_forwards_become_graphs),
        cmocka_unit_test(matmul_bias_takes_the_output_dtype),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
