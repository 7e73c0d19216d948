/* test_ops_cuda_plan.c — host-side planning of the CUDA ops, which needs no GPU: the
 * row-major to column-major cuBLASLt mapping (checked by multiplying through it on the host),
 * the attention kernel choice and launch shape, when a forward becomes a CUDA graph, the
 * dtype of the matmul epilogues' bias, and the matmul descriptor's rules (shared, and
 * cuBLASLt's: FP8 architecture, layout and alignment, choice of scale method and fall-back). */
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

static void grouped_attention_needs_whole_groups_and_a_known_output(void **state)
{
    struct ops_cuda_attn_plan p;
    struct ab_error err = { { 0 } };
    assert_int_equal(ops_cuda_attn_plan_grouped(2, 32, 512, 128, 4, AB_DTYPE_BF16, AB_DTYPE_FP32, &p, &err),
                     AB_OK);
    assert_int_equal(p.kind, OPS_CUDA_ATTN_TC);
    assert_int_equal(p.grid_y, 32); /* a block row per query head, not per KV head */
    assert_int_equal(p.grid_z, 2);
    assert_int_equal(ops_cuda_attn_plan_grouped(1, 12, 64, 64, 1, AB_DTYPE_FP16, AB_DTYPE_FP16, &p, &err),
                     AB_OK);
    assert_int_equal(ops_cuda_attn_plan_grouped(1, 12, 64, 64, 5, AB_DTYPE_BF16, AB_DTYPE_BF16, &p, &err),
                     AB_EINVAL);
    assert_non_null(strstr(err.msg, "groups of 5"));
    assert_int_equal(ops_cuda_attn_plan_grouped(1, 12, 64, 64, 0, AB_DTYPE_BF16, AB_DTYPE_BF16, &p, &err),
                     AB_EINVAL);
    assert_int_equal(ops_cuda_attn_plan_grouped(1, 12, 64, 64, 1, AB_DTYPE_BF16, AB_DTYPE_FP16, &p, &err),
                     AB_EINVAL);
    assert_non_null(strstr(err.msg, "fp16 output"));
    assert_int_equal(ops_cuda_attn_plan_grouped(1, 12, 64, 40, 1, AB_DTYPE_BF16, AB_DTYPE_FP32, &p, &err),
                     AB_EINVAL);
}

static void fused_qkv_strides_step_over_three_row_blocks(void **state)
{
    struct ops_cuda_attn_strides in, out;
    ops_cuda_attn_qkv_strides(1024, 768, 64, &in, &out);
    assert_int_equal(in.row, 3 * 768);
    assert_int_equal(in.head, 64);
    assert_int_equal(in.batch, 1024 * 3 * 768);
    assert_int_equal(out.row, 768);
    assert_int_equal(out.head, 64);
    assert_int_equal(out.batch, 1024 * 768);
    /* large batches do not overflow int */
    ops_cuda_attn_qkv_strides(1 << 20, 8192, 128, &in, &out);
    assert_true(in.batch == (int64_t)3 * 8192 * (1 << 20));
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

/* Any row-major descriptor (transposes, padded leading dimensions) computes D = A . B through
 * the column-major layout it is planned into: multiplied through on the host. */
static void matmul_layout_maps_any_row_major_descriptor(void **state)
{
    int M = 3, N = 5, K = 4;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            struct ops_mm_desc d = { .m = M,
                                     .n = N,
                                     .k = K,
                                     .a_dt = AB_DTYPE_FP32,
                                     .b_dt = AB_DTYPE_FP32,
                                     .d_dt = AB_DTYPE_FP32,
                                     .trans_a = ta,
                                     .trans_b = tb,
                                     .lda = 7,
                                     .ldb = 6,
                                     .ldd = 8 };
            struct ops_cuda_mm_layout L;
            struct ab_error err = { { 0 } };
            assert_int_equal(ops_cuda_mm_layout_make(&d, 9, 0, 130100, &L, &err), AB_OK);
            assert_true(L.m == N && L.n == M && L.k == K && L.lda == 6 && L.ldb == 7 && L.ldc == 8);
            double a[7 * 7], b[7 * 7], dd[8 * 5] = { 0 };
            for (int i = 0; i < 49; i++)
                a[i] = 1 + i * 0.5, b[i] = 2 - i * 0.25;
            colmajor_gemm(&L, b, a, dd); /* cuBLASLt's A is our B */
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) {
                    double want = 0;
                    for (int k = 0; k < K; k++)
                        want += (ta ? a[k * 7 + m] : a[m * 7 + k]) * (tb ? b[n * 6 + k] : b[k * 6 + n]);
                    assert_double_equal(dd[m * 8 + n], want, 1e-12);
                }
        }
}

static void matmul_descriptor_refuses_what_no_backend_takes(void **state)
{
    struct ops_mm_desc ok = {
        .m = 16, .n = 32, .k = 64, .a_dt = AB_DTYPE_BF16, .b_dt = AB_DTYPE_BF16, .d_dt = AB_DTYPE_FP32
    };
    struct ab_error err = { { 0 } };
    assert_int_equal(ops_mm_desc_check(&ok, &err), AB_OK);
    assert_int_equal(ops_mm_lda(&ok), 64);
    assert_int_equal(ops_mm_ldb(&ok), 32);
    assert_int_equal(ops_mm_ldd(&ok), 32);
    struct ops_mm_desc d = ok;
    d.k = 0;
    assert_int_equal(ops_mm_desc_check(&d, &err), AB_EINVAL);
    d = ok, d.lda = 63;
    assert_int_equal(ops_mm_desc_check(&d, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "leading"));
    d = ok, d.trans_b = true, d.ldb = 32; /* stored (n,k): rows of k = 64 */
    assert_int_equal(ops_mm_desc_check(&d, &err), AB_EINVAL);
    d = ok, d.epilogue = OPS_MM_ACCUM | OPS_MM_GELU;
    assert_int_equal(ops_mm_desc_check(&d, &err), AB_EINVAL);
    d = ok, d.epilogue = OPS_MM_OUT_F32;
    assert_int_equal(ops_mm_desc_check(&d, &err), AB_EINVAL);
    d = ok, d.a_dt = AB_DTYPE_FP8_E4M3;
    assert_int_equal(ops_mm_desc_check(&d, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "FP8"));
    d = ok, d.b_dt = AB_DTYPE_FP32;
    assert_int_equal(ops_mm_desc_check(&d, &err), AB_EINVAL);
    d = ok, d.fast_accum = true;
    assert_int_equal(ops_mm_desc_check(&d, &err), AB_EINVAL);
    d = ok, d.tf32 = true;
    assert_int_equal(ops_mm_desc_check(&d, &err), AB_EINVAL);
    d = ok, d.scale = OPS_MM_SCALE_TENSOR, d.epilogue = OPS_MM_BIAS;
    assert_int_equal(ops_mm_desc_check(&d, &err), AB_EINVAL);
    /* scales alone go with any operands (the CPU emulates FP8 with their values) */
    d = ok, d.scale = OPS_MM_SCALE_OUTER;
    assert_int_equal(ops_mm_desc_check(&d, &err), AB_OK);
    /* packed weights are the CPU's */
    struct ops_cuda_mm_layout L;
    d = ok, d.packed_b = true;
    assert_int_equal(ops_cuda_mm_layout_make(&d, 9, 0, 130100, &L, &err), AB_EINVAL);
}

/* FP8 on cuBLASLt: sm_89+, the TN layout, k and n (and the leading dimensions) multiples of 16;
 * BF16 and TF32 need sm_80. */
static void fp8_matmul_needs_ada_tn_and_16_byte_rows(void **state)
{
    struct ops_mm_desc f = { .m = 8,
                             .n = 32,
                             .k = 64,
                             .a_dt = AB_DTYPE_FP8_E4M3,
                             .b_dt = AB_DTYPE_FP8_E5M2,
                             .d_dt = AB_DTYPE_BF16,
                             .trans_b = true };
    struct ops_cuda_mm_layout L;
    struct ab_error err = { { 0 } };
    assert_int_equal(ops_cuda_mm_layout_make(&f, 8, 9, 130100, &L, &err), AB_OK);
    assert_true(L.a_dt == AB_DTYPE_FP8_E5M2 && L.b_dt == AB_DTYPE_FP8_E4M3 && L.trans_a && !L.trans_b);
    assert_int_equal(L.workspace_bytes, (size_t)32 << 20);
    assert_int_equal(ops_cuda_mm_layout_make(&f, 8, 6, 130100, &L, &err), AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "8.9"));
    struct ops_mm_desc d = f;
    d.trans_b = false;
    assert_int_equal(ops_cuda_mm_layout_make(&d, 9, 0, 130100, &L, &err), AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "TN"));
    d = f, d.k = 72;
    assert_int_equal(ops_cuda_mm_layout_make(&d, 9, 0, 130100, &L, &err), AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "multiples of 16"));
    d = f, d.n = 40;
    assert_int_equal(ops_cuda_mm_layout_make(&d, 9, 0, 130100, &L, &err), AB_EUNSUPPORTED);
    d = f, d.lda = 72;
    assert_int_equal(ops_cuda_mm_layout_make(&d, 9, 0, 130100, &L, &err), AB_EUNSUPPORTED);
    d = f, d.m = 7; /* tokens are free */
    assert_int_equal(ops_cuda_mm_layout_make(&d, 9, 0, 130100, &L, &err), AB_OK);
    struct ops_mm_desc b = {
        .m = 8, .n = 8, .k = 8, .a_dt = AB_DTYPE_BF16, .b_dt = AB_DTYPE_BF16, .d_dt = AB_DTYPE_BF16
    };
    assert_int_equal(ops_cuda_mm_layout_make(&b, 7, 5, 130100, &L, &err), AB_EUNSUPPORTED);
    b.a_dt = b.b_dt = b.d_dt = AB_DTYPE_FP32;
    assert_int_equal(ops_cuda_mm_layout_make(&b, 7, 5, 130100, &L, &err), AB_OK);
    b.tf32 = true;
    assert_int_equal(ops_cuda_mm_layout_make(&b, 7, 5, 130100, &L, &err), AB_EUNSUPPORTED);
}

/* Outer-vector scales: cuBLASLt's on SM90 with cuBLASLt 12.9+, else our kernel over an fp32
 * product into a packed bf16 D; a request for the library's is refused where it is absent,
 * and only AUTO falls back after a refusal. Tensor scales are always the library's. */
static void outer_scales_use_the_library_on_sm90_else_the_kernel(void **state)
{
    struct ops_mm_desc f = { .m = 16,
                             .n = 32,
                             .k = 64,
                             .a_dt = AB_DTYPE_FP8_E4M3,
                             .b_dt = AB_DTYPE_FP8_E4M3,
                             .d_dt = AB_DTYPE_BF16,
                             .trans_b = true,
                             .scale = OPS_MM_SCALE_OUTER };
    struct ops_cuda_mm_layout L;
    struct ab_error err = { { 0 } };
    assert_int_equal(ops_cuda_mm_layout_make(&f, 9, 0, 120900, &L, &err), AB_OK);
    assert_true(L.scale_method == OPS_MM_SCALE_LIBRARY && !L.d_fp32_then_scale);
    static const int cc[][3] = { { 9, 0, 120800 }, { 8, 9, 130100 }, { 10, 0, 130100 }, { 12, 0, 130100 } };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ops_cuda_mm_layout_make(&f, cc[i][0], cc[i][1], cc[i][2], &L, &err), AB_OK);
        assert_true(L.scale_method == OPS_MM_SCALE_KERNEL && L.d_fp32_then_scale);
        struct ops_mm_desc lib = f;
        lib.scale_method = OPS_MM_SCALE_LIBRARY;
        assert_int_equal(ops_cuda_mm_layout_make(&lib, cc[i][0], cc[i][1], cc[i][2], &L, &err),
                         AB_EUNSUPPORTED);
        assert_non_null(strstr(err.msg, "SM90"));
    }
    struct ops_mm_desc k = f;
    k.scale_method = OPS_MM_SCALE_KERNEL;
    assert_int_equal(ops_cuda_mm_layout_make(&k, 9, 0, 130100, &L, &err), AB_OK);
    assert_true(L.scale_method == OPS_MM_SCALE_KERNEL && L.d_fp32_then_scale);
    k.d_dt = AB_DTYPE_FP16; /* the kernel writes bf16 */
    assert_int_equal(ops_cuda_mm_layout_make(&k, 9, 0, 130100, &L, &err), AB_EUNSUPPORTED);
    struct ops_mm_desc t = f;
    t.scale = OPS_MM_SCALE_TENSOR;
    assert_int_equal(ops_cuda_mm_layout_make(&t, 8, 9, 130100, &L, &err), AB_OK);
    assert_true(L.scale_method == OPS_MM_SCALE_LIBRARY && !L.d_fp32_then_scale);
    assert_true(ops_cuda_mm_scale_falls_back(OPS_MM_SCALE_AUTO, OPS_MM_SCALE_LIBRARY, AB_EUNSUPPORTED));
    assert_false(ops_cuda_mm_scale_falls_back(OPS_MM_SCALE_AUTO, OPS_MM_SCALE_LIBRARY, AB_EFAIL));
    assert_false(ops_cuda_mm_scale_falls_back(OPS_MM_SCALE_AUTO, OPS_MM_SCALE_LIBRARY, AB_OK));
    assert_false(ops_cuda_mm_scale_falls_back(OPS_MM_SCALE_LIBRARY, OPS_MM_SCALE_LIBRARY, AB_EUNSUPPORTED));
    assert_false(ops_cuda_mm_scale_falls_back(OPS_MM_SCALE_AUTO, OPS_MM_SCALE_KERNEL, AB_EUNSUPPORTED));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matmul_layout_computes_row_major_inp_times_weight_transposed),
        cmocka_unit_test(attention_uses_tensor_cores_for_16_bit_heads_of_64_and_128),
        cmocka_unit_test(grouped_attention_needs_whole_groups_and_a_known_output),
        cmocka_unit_test(fused_qkv_strides_step_over_three_row_blocks),
        cmocka_unit_test(small_forwards_become_graphs),
        cmocka_unit_test(matmul_bias_takes_the_output_dtype),
        cmocka_unit_test(matmul_layout_maps_any_row_major_descriptor),
        cmocka_unit_test(matmul_descriptor_refuses_what_no_backend_takes),
        cmocka_unit_test(fp8_matmul_needs_ada_tn_and_16_byte_rows),
        cmocka_unit_test(outer_scales_use_the_library_on_sm90_else_the_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
