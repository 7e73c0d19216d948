/* test_ops_cuda_plan.c — host-side planning of the CUDA ops, which needs no GPU: the
 * row-major to column-major cuBLASLt mapping (checked by multiplying through it on the host),
 * the attention kernels' choice and launch shape (fused, decode, gpt2's KV cache: strides,
 * spans, splits, refusals; the kernels' index arithmetic run on the host through the plans and
 * compared with a reference), when a forward becomes a CUDA graph, the
 * dtype of the matmul epilogues' bias, and the matmul descriptor's rules (shared, and
 * cuBLASLt's: FP8 architecture, layout and alignment, choice of scale method and fall-back). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* ------------------------------------------------------------------ attention spans and decode */

static void span_helpers_place_queries_among_the_keys(void **state)
{
    /* self-attention: query i sees keys 0..i, causal */
    struct ops_cuda_attn_span self = ops_cuda_attn_self(70);
    assert_int_equal(self.nq, 70);
    assert_int_equal(self.nk, 70);
    assert_int_equal(self.q_pos0, 0);
    assert_int_equal(ops_cuda_key_end(1, 70, 0, 0), 1);
    assert_int_equal(ops_cuda_key_end(1, 70, 0, 69), 70);
    assert_int_equal(ops_cuda_key_end(0, 70, 0, 3), 70);
    /* a continuation of 5 tokens at position 20: query 3 sits at 23, sees keys 0..23 */
    assert_int_equal(ops_cuda_key_end(1, 25, 20, 3), 24);
    assert_int_equal(ops_cuda_key_end(1, 25, 20, 4), 25);
    /* the tensor-core block of queries 0..63 at position 20: keys up to 84, at most nk */
    assert_int_equal(ops_cuda_key_end(1, 200, 20, 63), 84);
    assert_int_equal(ops_cuda_key_end(1, 70, 20, 63), 70);
    /* past the last query (rows of a partial block) never past nk */
    assert_int_equal(ops_cuda_key_end(1, 25, 20, 40), 25);
    /* keys of a span read from the device: the query's position + 1, at most the cache */
    assert_int_equal(ops_cuda_span_keys(48, 1, 20), 21);
    assert_int_equal(ops_cuda_span_keys(48, 1, 47), 48);
    assert_int_equal(ops_cuda_span_keys(48, 1, 60), 48);
    assert_int_equal(ops_cuda_span_keys(48, 4, 40), 44);
    /* splits: the tail is short, a split past the keys is empty */
    int j0, j1;
    ops_cuda_split_keys(2, 32, 70, &j0, &j1);
    assert_int_equal(j0, 64);
    assert_int_equal(j1, 70);
    ops_cuda_split_keys(3, 32, 70, &j0, &j1);
    assert_true(j0 >= j1);
    ops_cuda_split_keys(0, 32, 70, &j0, &j1);
    assert_int_equal(j1 - j0, 32);
    /* element offsets */
    struct ops_cuda_attn_strides kv = { .batch = 48 * 768, .head = 64, .row = 768 };
    assert_int_equal(ops_cuda_attn_at(kv, 1, 2, 3), 48 * 768 + 2 * 64 + 3 * 768);
    struct ab_error err = { { 0 } };
    assert_int_equal(ops_cuda_attn_span_check(self, &err), AB_OK);
    struct ops_cuda_attn_span bad = { .nq = 0, .nk = 4 };
    assert_int_equal(ops_cuda_attn_span_check(bad, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "0 queries"));
    bad = (struct ops_cuda_attn_span){ .nq = 2, .nk = 4, .q_pos0 = -1 };
    assert_int_equal(ops_cuda_attn_span_check(bad, &err), AB_EINVAL);
    int pos = 3;
    bad.d_pos = &pos; /* q_pos0 is not read then */
    assert_int_equal(ops_cuda_attn_span_check(bad, &err), AB_OK);
}

static void decode_split_fills_the_sms_without_empty_spans(void **state)
{
    int splits, span;
    ops_cuda_decode_split(1, 16384, 132, &splits, &span); /* 528 wanted, 512 at 32 keys a span */
    assert_int_equal(splits, 512);
    assert_int_equal(span, 32);
    ops_cuda_decode_split(64, 16384, 132, &splits, &span); /* ceil(528 / 64) = 9 */
    assert_int_equal(splits, 9);
    assert_int_equal(span, 1821);
    ops_cuda_decode_split(1024, 16384, 132, &splits, &span);
    assert_int_equal(splits, 1);
    assert_int_equal(span, 16384);
    ops_cuda_decode_split(12, 300, 132, &splits, &span); /* GPT-2's 12 heads at 300 keys: 9 of 34 */
    assert_int_equal(splits, 9);
    assert_int_equal(span, 34);
    static const int64_t ns[] = { 1, 31, 33, 300, 1000, 1024, 1500, 16383, 100003 };
    static const int64_t seqs[] = { 1, 3, 6, 12, 1000 };
    static const int sms[] = { 0, 1, 80, 132 };
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        for (size_t j = 0; j < sizeof seqs / sizeof seqs[0]; j++)
            for (size_t k = 0; k < sizeof sms / sizeof sms[0]; k++) {
                ops_cuda_decode_split(seqs[j], ns[i], sms[k], &splits, &span);
                assert_true(splits >= 1 && span >= 1);
                assert_true((int64_t)splits * span >= ns[i]);      /* every key covered */
                assert_true((int64_t)(splits - 1) * span < ns[i]); /* the last span is not empty */
                assert_true(span >= OPS_CUDA_DECODE_MIN_SPAN || splits == 1);
                /* what any device's plan needs stays inside the bound gpt2 allocates */
                int64_t most = ns[i] / OPS_CUDA_DECODE_MIN_SPAN > 1 ? ns[i] / OPS_CUDA_DECODE_MIN_SPAN : 1;
                assert_true(splits <= most);
            }
}

static const struct ops_cuda_attn_strides gpt2_q1 = { .batch = 3 * 768, .head = 64, .row = 3 * 768 };
static const struct ops_cuda_attn_strides gpt2_kv = { .batch = 1024 * 768, .head = 64, .row = 768 };

static void decode_plan_sizes_grid_parts_and_shared_memory(void **state)
{
    struct ops_cuda_decode_plan p;
    struct ab_error err = { { 0 } };
    /* GPT-2 124M decode, B = 2, fp32 cache of 1024 positions, an H200's 132 SMs */
    assert_int_equal(ops_cuda_decode_plan(2, 12, 1024, 64, 1, AB_DTYPE_FP32, AB_DTYPE_FP32, gpt2_q1, gpt2_kv,
                                          132, &p, &err),
                     AB_OK);
    assert_int_equal(p.per_lane, 2);
    assert_int_equal(p.splits, 22); /* ceil(4 * 132 / 24) = 22 wanted: spans of 47 keys */
    assert_int_equal(p.span, 47);
    assert_int_equal(p.grid_x, p.splits);
    assert_int_equal(p.grid_y, 24);
    assert_int_equal(p.block, 128);
    assert_int_equal(p.merge_x, 24);
    assert_int_equal(p.merge_y, 1);
    assert_int_equal(p.parts_bytes, (size_t)24 * p.splits * 66 * 4);
    assert_int_equal(p.smem_bytes, 4 * 66 * 4);
    assert_true(p.parts_bytes <= ops_cuda_decode_parts_bound(2, 12, 1024, 64));
    assert_int_equal(ops_cuda_decode_parts_bound(2, 12, 1024, 64), 2 * 12 * 32 * 66 * 4);
    /* attention_memory's (B, Hkv, n, d) cache, 8 query heads a KV head, bf16, d = 128 */
    struct ops_cuda_attn_strides q = { .batch = 32 * 128, .head = 128, .row = 128 };
    struct ops_cuda_attn_strides kv = { .batch = 4 * 4096 * 128, .head = 4096 * 128, .row = 128 };
    assert_int_equal(
        ops_cuda_decode_plan(2, 32, 4096, 128, 8, AB_DTYPE_BF16, AB_DTYPE_FP32, q, kv, 132, &p, &err), AB_OK);
    assert_int_equal(p.per_lane, 4);
    assert_int_equal(p.grid_y, 8);
    assert_int_equal(p.splits, 66);
    assert_int_equal(p.span, 63);
    assert_int_equal(p.merge_y, 8);
    assert_int_equal(p.parts_bytes, (size_t)8 * 66 * 8 * 130 * 4);
    assert_int_equal(p.smem_bytes, 4 * 8 * 130 * 4);
    assert_true(p.smem_bytes <= 48 * 1024);
    /* GPT-2 tiny's head size 32: a lane holds one element */
    struct ops_cuda_attn_strides tq = { .batch = 3 * 128, .head = 32, .row = 3 * 128 };
    struct ops_cuda_attn_strides tkv = { .batch = 100 * 128, .head = 32, .row = 128 };
    assert_int_equal(
        ops_cuda_decode_plan(1, 4, 100, 32, 1, AB_DTYPE_FP32, AB_DTYPE_FP32, tq, tkv, 132, &p, &err), AB_OK);
    assert_int_equal(p.per_lane, 1);
    assert_int_equal(p.splits, 3);
    assert_int_equal(p.span, 34);
}

static void decode_plan_refuses_what_the_kernel_has_no_instance_for(void **state)
{
    struct ops_cuda_decode_plan p;
    struct ab_error err = { { 0 } };
    struct ops_cuda_attn_strides q = { .batch = 12 * 96, .head = 96, .row = 96 };
    assert_int_equal(
        ops_cuda_decode_plan(1, 12, 1024, 96, 1, AB_DTYPE_BF16, AB_DTYPE_FP32, q, q, 132, &p, &err),
        AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "head size 96"));
    assert_int_equal(ops_cuda_decode_plan(1, 12, 1024, 64, 3, AB_DTYPE_BF16, AB_DTYPE_FP32, gpt2_q1, gpt2_kv,
                                          132, &p, &err),
                     AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "groups of 3"));
    assert_int_equal(ops_cuda_decode_plan(1, 12, 1024, 64, 8, AB_DTYPE_BF16, AB_DTYPE_FP32, gpt2_q1, gpt2_kv,
                                          132, &p, &err),
                     AB_EINVAL);
    assert_non_null(strstr(err.msg, "12 query heads are not groups of 8"));
    assert_int_equal(ops_cuda_decode_plan(4096, 32, 1024, 64, 1, AB_DTYPE_BF16, AB_DTYPE_FP32, gpt2_q1,
                                          gpt2_kv, 132, &p, &err),
                     AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "batch 4096 x heads 32"));
    /* a row of 130 elements breaks a lane's 4-element load */
    struct ops_cuda_attn_strides odd = { .batch = 130 * 64, .head = 64 * 130, .row = 130 };
    struct ops_cuda_attn_strides q128 = { .batch = 128, .head = 128, .row = 128 };
    assert_int_equal(
        ops_cuda_decode_plan(1, 1, 64, 128, 1, AB_DTYPE_FP16, AB_DTYPE_FP32, q128, odd, 132, &p, &err),
        AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "multiples of 4"));
    assert_int_equal(ops_cuda_decode_plan(1, 12, 1024, 64, 1, AB_DTYPE_BF16, AB_DTYPE_FP16, gpt2_q1, gpt2_kv,
                                          132, &p, &err),
                     AB_EINVAL);
    assert_non_null(strstr(err.msg, "fp16 output"));
    assert_int_equal(
        ops_cuda_decode_plan(1, 12, 0, 64, 1, AB_DTYPE_BF16, AB_DTYPE_FP32, gpt2_q1, gpt2_kv, 132, &p, &err),
        AB_EINVAL);
    assert_int_equal(ops_cuda_decode_plan(1, 12, 64, 64, 1, AB_DTYPE_FP8_E4M3, AB_DTYPE_FP32, gpt2_q1,
                                          gpt2_kv, 132, &p, &err),
                     AB_EINVAL);
    /* the launch's span: one query over at most the planned keys */
    assert_int_equal(
        ops_cuda_decode_plan(1, 12, 64, 64, 1, AB_DTYPE_FP32, AB_DTYPE_FP32, gpt2_q1, gpt2_kv, 132, &p, &err),
        AB_OK);
    struct ops_cuda_attn_span sp = { .nq = 1, .nk = 64, .q_pos0 = 63 };
    assert_int_equal(ops_cuda_decode_check(&p, sp, &err), AB_OK);
    sp.nk = 65;
    assert_int_equal(ops_cuda_decode_check(&p, sp, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "65 keys"));
    sp = (struct ops_cuda_attn_span){ .nq = 2, .nk = 64 };
    assert_int_equal(ops_cuda_decode_check(&p, sp, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "2 queries"));
}

static void cache_plan_maps_gpt2s_layout_and_picks_the_kernel(void **state)
{
    struct ops_cuda_cache_plan p;
    struct ab_error err = { { 0 } };
    /* GPT-2 124M, B = 2, prompts of 16, 48 positions */
    assert_int_equal(ops_cuda_cache_attn_plan(2, 12, 64, 16, 48, AB_DTYPE_FP32, 132, &p, &err), AB_OK);
    assert_true(p.decode);
    assert_int_equal(p.kv.batch, 48 * 768);
    assert_int_equal(p.kv.head, 64);
    assert_int_equal(p.kv.row, 768);
    assert_int_equal(p.dec.nk, 48);
    assert_int_equal(p.dec.per_lane, 2);
    assert_int_equal(p.dec.group, 1);
    struct ops_cuda_attn_strides q, o;
    ops_cuda_cache_attn_strides(&p, 16, &q, &o);
    assert_int_equal(q.batch, 16 * 3 * 768);
    assert_int_equal(q.head, 64);
    assert_int_equal(q.row, 3 * 768);
    assert_int_equal(o.batch, 16 * 768);
    assert_int_equal(o.row, 768);
    ops_cuda_cache_attn_strides(&p, 1, &q, &o); /* a decode step: one row per sequence */
    assert_int_equal(q.batch, 3 * 768);
    assert_int_equal(o.batch, 768);
    /* spans: the prompt, a step at 20, a continuation, the captured step at *d_pos */
    struct ops_cuda_attn_span sp;
    assert_int_equal(ops_cuda_cache_attn_span(&p, 16, 0, NULL, &sp, &err), AB_OK);
    assert_int_equal(sp.nq, 16);
    assert_int_equal(sp.nk, 16);
    assert_int_equal(sp.q_pos0, 0);
    assert_int_equal(ops_cuda_cache_attn_span(&p, 1, 20, NULL, &sp, &err), AB_OK);
    assert_int_equal(sp.nk, 21);
    assert_int_equal(sp.q_pos0, 20);
    assert_int_equal(ops_cuda_cache_attn_span(&p, 5, 30, NULL, &sp, &err), AB_OK);
    assert_int_equal(sp.nk, 35);
    int pos = 17;
    assert_int_equal(ops_cuda_cache_attn_span(&p, 1, 0, &pos, &sp, &err), AB_OK);
    assert_int_equal(sp.nk, 48); /* the grid's bound; the kernel reads 18 keys */
    assert_ptr_equal(sp.d_pos, &pos);
    assert_int_equal(ops_cuda_decode_check(&p.dec, sp, &err), AB_OK);
    /* refusals */
    assert_int_equal(ops_cuda_cache_attn_span(&p, 17, 0, NULL, &sp, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "17 queries"));
    assert_int_equal(ops_cuda_cache_attn_span(&p, 16, 40, NULL, &sp, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "positions 40 to 55 outside the cache's 48"));
    assert_int_equal(ops_cuda_cache_attn_span(&p, 1, -1, NULL, &sp, &err), AB_EINVAL);
    assert_int_equal(ops_cuda_cache_attn_plan(1, 12, 40, 16, 48, AB_DTYPE_FP32, 132, &p, &err),
                     AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "head size 40"));
    assert_int_equal(ops_cuda_cache_attn_plan(1, 12, 64, 64, 48, AB_DTYPE_FP32, 132, &p, &err), AB_EINVAL);
    /* head sizes or grids the decode kernel lacks: one query takes the fused kernel */
    assert_int_equal(ops_cuda_cache_attn_plan(1, 8, 96, 16, 48, AB_DTYPE_FP32, 132, &p, &err), AB_OK);
    assert_false(p.decode);
    assert_int_equal(ops_cuda_cache_attn_plan(4096, 32, 64, 1, 48, AB_DTYPE_FP32, 132, &p, &err), AB_OK);
    assert_false(p.decode);
    /* GPT-2 tiny (head size 32) decodes on the decode kernel */
    assert_int_equal(ops_cuda_cache_attn_plan(3, 4, 32, 8, 100, AB_DTYPE_FP32, 132, &p, &err), AB_OK);
    assert_true(p.decode);
    assert_int_equal(p.dec.per_lane, 1);
}

/* ---- the kernels' arithmetic on the host, through the plans and the shared helpers */

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* attn_decode_kernel1 + merge as the device runs them: grid (splits, B*Hkv), 4 warps taking
 * every 4th key of the split's span, lane l holding elements l*PER .. l*PER+PER-1, the warps'
 * and then the splits' partial softmaxes combined. parts has p->parts_bytes. */
static void decode_emulate(const struct ops_cuda_decode_plan *p, float *out, struct ops_cuda_attn_strides os,
                           const float *q, struct ops_cuda_attn_strides qs, const float *k, const float *v,
                           struct ops_cuda_attn_strides kvs, struct ops_cuda_attn_span sp, float *parts)
{
    enum { W = OPS_CUDA_DECODE_WARPS };
    const int Hkv = p->NH / p->group, G = p->group, D = p->HS, PER = p->per_lane, splits = p->grid_x;
    const size_t nparts = p->parts_bytes / 4;
    const int n = sp.d_pos ? ops_cuda_span_keys(sp.nk, 1, *sp.d_pos) : sp.nk;
    const float scale = 1.f / sqrtf((float)D);
    static float m[W][8], l[W][8], acc[W][8][128];
    for (int sq = 0; sq < p->grid_y; sq++)
        for (int split = 0; split < splits; split++) {
            int b = sq / Hkv, hk = sq % Hkv, j0, j1;
            ops_cuda_split_keys(split, p->span, n, &j0, &j1);
            for (int w = 0; w < W; w++) {
                for (int gi = 0; gi < G; gi++) {
                    m[w][gi] = -INFINITY, l[w][gi] = 0;
                    for (int c = 0; c < D; c++)
                        acc[w][gi][c] = 0;
                }
                for (int j = j0 + w; j < j1; j += W)
                    for (int gi = 0; gi < G; gi++) {
                        float s = 0;
                        for (int lane = 0; lane < 32; lane++)
                            for (int e = 0; e < PER; e++) {
                                int c = lane * PER + e;
                                s += q[ops_cuda_attn_at(qs, b, hk * G + gi, 0) + c] * scale *
                                     k[ops_cuda_attn_at(kvs, b, hk, j) + c];
                            }
                        float mn = fmaxf(m[w][gi], s), corr = expf(m[w][gi] - mn), pj = expf(s - mn);
                        l[w][gi] = l[w][gi] * corr + pj;
                        m[w][gi] = mn;
                        for (int c = 0; c < D; c++)
                            acc[w][gi][c] =
                                acc[w][gi][c] * corr + pj * v[ops_cuda_attn_at(kvs, b, hk, j) + c];
                    }
            }
            for (int gi = 0; gi < G; gi++)
                for (int c = 0; c < D; c++) {
                    float gm = -INFINITY, num = 0, den = 0;
                    for (int w = 0; w < W; w++)
                        gm = fmaxf(gm, m[w][gi]);
                    for (int w = 0; w < W; w++)
                        if (m[w][gi] != -INFINITY) {
                            float wt = expf(m[w][gi] - gm);
                            num += wt * acc[w][gi][c], den += wt * l[w][gi];
                        }
                    size_t pg = ((size_t)sq * splits + split) * G * (D + 2) + (size_t)gi * (D + 2);
                    assert_true(pg + 2 + c < nparts);
                    parts[pg] = gm, parts[pg + 1] = den, parts[pg + 2 + c] = num;
                }
        }
    for (int sq = 0; sq < p->merge_x; sq++)
        for (int gi = 0; gi < p->merge_y; gi++)
            for (int c = 0; c < D; c++) {
                const float *base = parts + (size_t)sq * splits * G * (D + 2) + (size_t)gi * (D + 2);
                size_t stride = (size_t)G * (D + 2);
                float gm = -INFINITY, num = 0, den = 0;
                for (int x = 0; x < splits; x++)
                    gm = fmaxf(gm, base[x * stride]);
                for (int x = 0; x < splits; x++)
                    if (base[x * stride] != -INFINITY) {
                        float wt = expf(base[x * stride] - gm);
                        num += wt * base[x * stride + 2 + c], den += wt * base[x * stride + 1];
                    }
                out[ops_cuda_attn_at(os, sq / Hkv, (sq % Hkv) * G + gi, 0) + c] = num / den;
            }
}

/* attn_warp_kernel1 over a span: query i of (b, h) over keys 0 .. ops_cuda_key_end - 1. */
static void warp_emulate(float *out, struct ops_cuda_attn_strides os, const float *q,
                         struct ops_cuda_attn_strides qs, const float *k, const float *v,
                         struct ops_cuda_attn_strides kvs, int B, int NH, int HS, int group,
                         struct ops_cuda_attn_span sp)
{
    const int p0 = sp.d_pos ? *sp.d_pos : sp.q_pos0,
              nk = sp.d_pos ? ops_cuda_span_keys(sp.nk, sp.nq, p0) : sp.nk;
    const float scale = 1.f / sqrtf((float)HS);
    float acc[256];
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < sp.nq; i++) {
                float m = -INFINITY, l = 0;
                for (int c = 0; c < HS; c++)
                    acc[c] = 0;
                for (int j = 0; j < ops_cuda_key_end(1, nk, p0, i); j++) {
                    float s = 0;
                    for (int c = 0; c < HS; c++)
                        s += q[ops_cuda_attn_at(qs, b, h, i) + c] * scale *
                             k[ops_cuda_attn_at(kvs, b, h / group, j) + c];
                    float mn = fmaxf(m, s), corr = expf(m - mn), pj = expf(s - mn);
                    l = l * corr + pj, m = mn;
                    for (int c = 0; c < HS; c++)
                        acc[c] = acc[c] * corr + pj * v[ops_cuda_attn_at(kvs, b, h / group, j) + c];
                }
                for (int c = 0; c < HS; c++)
                    out[ops_cuda_attn_at(os, b, h, i) + c] = acc[c] / l;
            }
}

/* gpt2's attention in double, its own indexing: qkv (B,Tq,3C), cache (B,max_T,C), out (B,Tq,C),
 * query i at position pos0 + i over keys 0 .. pos0 + i. */
static void gpt2_reference(double *out, const float *qkv, const float *kc, const float *vc, int B, int Tq,
                           int NH, int HS, int max_T, int pos0)
{
    int C = NH * HS;
    double sc[512];
    for (int b = 0; b < B; b++)
        for (int i = 0; i < Tq; i++)
            for (int h = 0; h < NH; h++) {
                const float *qr = qkv + ((size_t)b * Tq + i) * 3 * C + h * HS;
                int n = pos0 + i + 1;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < n; j++) {
                    double d = 0;
                    for (int c = 0; c < HS; c++)
                        d += (double)qr[c] * kc[((size_t)b * max_T + j) * C + h * HS + c];
                    sc[j] = d / sqrt((double)HS);
                    mx = fmax(mx, sc[j]);
                }
                for (int j = 0; j < n; j++)
                    sum += sc[j] = exp(sc[j] - mx);
                for (int c = 0; c < HS; c++) {
                    double a = 0;
                    for (int j = 0; j < n; j++)
                        a += sc[j] * vc[((size_t)b * max_T + j) * C + h * HS + c];
                    out[((size_t)b * Tq + i) * C + h * HS + c] = a / sum;
                }
            }
}

/* One gpt2 attention call through the cache plan, emulated as the kernel it picks runs. */
static void gpt2_cache_case(int B, int NH, int HS, int max_Tq, int max_T, int Tq, int pos0, bool from_dev,
                            bool want_decode)
{
    struct ops_cuda_cache_plan p;
    struct ab_error err = { { 0 } };
    assert_int_equal(ops_cuda_cache_attn_plan(B, NH, HS, max_Tq, max_T, AB_DTYPE_FP32, 132, &p, &err), AB_OK);
    int C = NH * HS;
    size_t nqkv = (size_t)B * Tq * 3 * C, nkv = (size_t)B * max_T * C, nout = (size_t)B * Tq * C;
    float *qkv = malloc(nqkv * 4), *kc = malloc(nkv * 4), *vc = malloc(nkv * 4), *out = malloc(nout * 4);
    float *parts = malloc(ops_cuda_decode_parts_bound(B, NH, max_T, HS));
    double *ref = malloc(nout * 8);
    assert_true(qkv && kc && vc && out && parts && ref);
    unsigned seed = 7;
    for (size_t i = 0; i < nqkv; i++)
        qkv[i] = frand(&seed);
    for (size_t i = 0; i < nkv; i++)
        kc[i] = frand(&seed), vc[i] = frand(&seed);
    for (size_t i = 0; i < nout; i++)
        out[i] = NAN;
    struct ops_cuda_attn_span sp;
    int dpos = pos0;
    assert_int_equal(
        ops_cuda_cache_attn_span(&p, Tq, from_dev ? 0 : pos0, from_dev ? &dpos : NULL, &sp, &err), AB_OK);
    struct ops_cuda_attn_strides qs, os;
    ops_cuda_cache_attn_strides(&p, Tq, &qs, &os);
    bool decode = Tq == 1 && p.decode;
    assert_true(decode == want_decode);
    if (decode) {
        assert_int_equal(ops_cuda_decode_check(&p.dec, sp, &err), AB_OK);
        decode_emulate(&p.dec, out, os, qkv, qs, kc, vc, p.kv, sp, parts);
    } else {
        assert_int_equal(ops_cuda_attn_span_check(sp, &err), AB_OK);
        warp_emulate(out, os, qkv, qs, kc, vc, p.kv, B, NH, HS, 1, sp);
    }
    gpt2_reference(ref, qkv, kc, vc, B, Tq, NH, HS, max_T, pos0);
    for (size_t i = 0; i < nout; i++)
        assert_double_equal(out[i], ref[i], 1e-5 + 1e-4 * fabs(ref[i]));
    free(qkv), free(kc), free(vc), free(out), free(parts), free(ref);
}

static void gpt2_cache_attention_through_the_plans_matches_the_reference(void **state)
{
    gpt2_cache_case(2, 4, 32, 8, 100, 1, 70, false, true); /* tiny: a step at 70, 3 splits of 34 */
    gpt2_cache_case(2, 4, 32, 8, 100, 1, 70, true, true);  /* the same step read from the device */
    gpt2_cache_case(3, 2, 64, 8, 300, 1, 150, true, true); /* most splits empty at 150 of 300 */
    gpt2_cache_case(1, 2, 128, 4, 64, 1, 0, false, true);  /* the first position, one key */
    gpt2_cache_case(1, 2, 128, 4, 64, 1, 63, true, true);  /* the last position of the cache */
    gpt2_cache_case(2, 3, 32, 8, 40, 8, 0, false, false);  /* a prompt */
    gpt2_cache_case(2, 3, 32, 8, 40, 5, 20, false, false); /* a continuation at 20 */
    gpt2_cache_case(1, 2, 96, 4, 40, 1, 30, false, false); /* head size 96: the fused kernel */
}

static void attention_memory_decode_layout_through_the_plan_matches_the_reference(void **state)
{
    /* q, out (B, Hkv*G, d), k, v (B, Hkv, n, d), groups of 4 query heads, n = 300 */
    enum { B = 2, HKV = 2, G = 4, D = 128, N = 300, HQ = HKV * G };
    struct ops_cuda_attn_strides qs = { .batch = HQ * D, .head = D, .row = D };
    struct ops_cuda_attn_strides kvs = { .batch = HKV * N * D, .head = N * D, .row = D };
    struct ops_cuda_decode_plan p;
    struct ab_error err = { { 0 } };
    assert_int_equal(
        ops_cuda_decode_plan(B, HQ, N, D, G, AB_DTYPE_BF16, AB_DTYPE_FP32, qs, kvs, 132, &p, &err), AB_OK);
    assert_true(p.splits > 1);
    static float q[B * HQ * D], k[B * HKV * N * D], v[B * HKV * N * D], out[B * HQ * D];
    float *parts = malloc(p.parts_bytes);
    assert_non_null(parts);
    unsigned seed = 3;
    for (size_t i = 0; i < sizeof q / 4; i++)
        q[i] = frand(&seed);
    for (size_t i = 0; i < sizeof k / 4; i++)
        k[i] = frand(&seed), v[i] = frand(&seed);
    struct ops_cuda_attn_span sp = { .nq = 1, .nk = N, .q_pos0 = N - 1 };
    decode_emulate(&p, out, qs, q, qs, k, v, kvs, sp, parts);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < HQ; h++) {
            const float *qr = q + ((size_t)b * HQ + h) * D;
            const float *kh = k + ((size_t)b * HKV + h / G) * N * D,
                        *vh = v + ((size_t)b * HKV + h / G) * N * D;
            double sc[N], mx = -INFINITY, sum = 0;
            for (int j = 0; j < N; j++) {
                double d = 0;
                for (int c = 0; c < D; c++)
                    d += (double)qr[c] * kh[(size_t)j * D + c];
                mx = fmax(mx, sc[j] = d / sqrt((double)D));
            }
            for (int j = 0; j < N; j++)
                sum += sc[j] = exp(sc[j] - mx);
            for (int c = 0; c < D; c++) {
                double a = 0;
                for (int j = 0; j < N; j++)
                    a += sc[j] * vh[(size_t)j * D + c];
                assert_double_equal(out[((size_t)b * HQ + h) * D + c], a / sum, 1e-5 + 1e-4 * fabs(a / sum));
            }
        }
    free(parts);
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
        cmocka_unit_test(span_helpers_place_queries_among_the_keys),
        cmocka_unit_test(decode_split_fills_the_sms_without_empty_spans),
        cmocka_unit_test(decode_plan_sizes_grid_parts_and_shared_memory),
        cmocka_unit_test(decode_plan_refuses_what_the_kernel_has_no_instance_for),
        cmocka_unit_test(cache_plan_maps_gpt2s_layout_and_picks_the_kernel),
        cmocka_unit_test(gpt2_cache_attention_through_the_plans_matches_the_reference),
        cmocka_unit_test(attention_memory_decode_layout_through_the_plan_matches_the_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
