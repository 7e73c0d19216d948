/* test_ceilings_cuda.c — host-side logic of the CUDA ceilings, runnable without a GPU: dtype
 * names parsed to the harness's types, check tolerances, the FMA loop's geometry, FLOP count
 * and exact check, the copy's pattern check, GEMM bytes, sizes and the fast-accumulation
 * choice, and that a GEMM asked of a machine without a usable GPU fails with a status and a
 * message naming the CUDA call instead of crashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cuda_runtime_api.h>

#include "accelbench.h"
#include "ceilings/ceilings_cuda.h"
#include "test_util.h"

static void dtype_names_parse_to_the_harness_types(void **state)
{
    struct ceil_type t;
    assert_true(ceil_type_parse("fp8", &t));
    assert_int_equal(t.in, AB_DTYPE_FP8_E4M3);
    assert_false(t.fast_accum);
    assert_true(ceil_type_parse("tf32", &t));
    assert_int_equal(t.in, AB_DTYPE_TF32);
    assert_true(ceil_type_parse("bf16", &t));
    assert_int_equal(t.in, AB_DTYPE_BF16);
    assert_true(ceil_type_parse("fp8_fast", &t));
    assert_int_equal(t.in, AB_DTYPE_FP8_E4M3);
    assert_true(t.fast_accum);
    assert_false(ceil_type_parse("fp4", &t));
    assert_false(ceil_type_parse("int8", &t)); /* an ab_dtype, but no GEMM ceiling of it */
    assert_false(ceil_type_parse("fp8_e5m2", &t));
    /* every dtype the workload offers is one the CUDA side knows */
    const struct ab_workload *w = ab_workload_find("ceilings");
    assert_non_null(w);
    struct ab_values *v = malloc(sizeof *v);
    struct ab_error e;
    assert_int_equal(ab_axis_parse(&w->axes[1], w->axes[1].choices, v, &e), AB_OK);
    assert_int_equal(v->n, 6);
    int n_fast = 0;
    for (int i = 0; i < v->n; i++) {
        assert_true(ceil_type_parse(v->v[i].str, &t));
        n_fast += t.fast_accum; /* only fp8_fast asks for fast accumulation */
    }
    assert_int_equal(n_fast, 1);
    free(v);
}

static void fp8_fast_differs_from_fp8_in_accumulation_only(void **state)
{
    struct ceil_type fp8, fast;
    assert_true(ceil_type_parse("fp8", &fp8));
    assert_true(ceil_type_parse("fp8_fast", &fast));
    assert_int_equal(fp8.in, fast.in);
    assert_double_equal(ceil_gemm_min_bytes(4096, fp8.in), ceil_gemm_min_bytes(4096, fast.in), 0);
    assert_true(ceil_gemm_tolerance(fast) >= ceil_gemm_tolerance(fp8));
    /* the tolerances: fp32 accumulation, tf32 and fp16 at 2^-9, bf16 and fp8 (bf16 out) at 2^-7 */
    struct ceil_type t;
    assert_true(ceil_type_parse("fp32", &t));
    assert_double_equal(ceil_gemm_tolerance(t), 1e-5, 0);
    assert_true(ceil_type_parse("tf32", &t));
    assert_double_equal(ceil_gemm_tolerance(t), 2e-3, 0);
    assert_true(ceil_type_parse("fp16", &t));
    assert_double_equal(ceil_gemm_tolerance(t), 2e-3, 0);
    assert_true(ceil_type_parse("bf16", &t));
    assert_double_equal(ceil_gemm_tolerance(t), 8e-3, 0);
    assert_double_equal(ceil_gemm_tolerance(fp8), 8e-3, 0);
}

static void gemm_bytes_are_inputs_read_once_and_output_written_once(void **state)
{
    double nn = 8192.0 * 8192;
    assert_int_equal(ceil_gemm_out_dtype(AB_DTYPE_FP8_E4M3), AB_DTYPE_BF16);
    assert_int_equal(ceil_gemm_out_dtype(AB_DTYPE_TF32), AB_DTYPE_FP32);
    assert_int_equal(ceil_gemm_out_dtype(AB_DTYPE_FP16), AB_DTYPE_FP16);
    assert_double_equal(ceil_gemm_min_bytes(8192, AB_DTYPE_FP32), nn * (4 + 4 + 4), 0);
    assert_double_equal(ceil_gemm_min_bytes(8192, AB_DTYPE_TF32), nn * (4 + 4 + 4), 0);
    assert_double_equal(ceil_gemm_min_bytes(8192, AB_DTYPE_BF16), nn * (2 + 2 + 2), 0);
    assert_double_equal(ceil_gemm_min_bytes(8192, AB_DTYPE_FP16), nn * (2 + 2 + 2), 0);
    assert_double_equal(ceil_gemm_min_bytes(8192, AB_DTYPE_FP8_E4M3), nn * (1 + 1 + 2), 0); /* bf16 out */
    assert_double_equal(ceil_gemm_min_bytes(300, AB_DTYPE_FP32), 300.0 * 300 * 12, 0);
    /* sizes: FP8 needs multiples of 16, the others take any n */
    assert_false(ceil_gemm_size_ok(300, AB_DTYPE_FP8_E4M3));
    assert_true(ceil_gemm_size_ok(1504, AB_DTYPE_FP8_E4M3));
    assert_true(ceil_gemm_size_ok(300, AB_DTYPE_BF16));
    assert_true(ceil_gemm_size_ok(1, AB_DTYPE_FP32));
    assert_false(ceil_gemm_size_ok(0, AB_DTYPE_FP32));
}

static void fma_geometry_and_flops_follow_the_loop_constants(void **state)
{
    /* an H100 SXM: 132 SMs x 8 blocks x 256 threads */
    assert_int_equal(ceil_fma_blocks(132), 1056);
    assert_int_equal(ceil_fma_blocks(0), CEIL_FMA_BLOCKS_PER_SM);
    assert_int_equal(ceil_fma_outputs(1056), (size_t)8 * 1056 * 256);
    /* per thread: 8 chains x 64 unrolled steps x 1024 passes, 2 FLOPs each */
    assert_double_equal(ceil_fma_flops(1, 1) / CEIL_FMA_THREADS, 2.0 * 8 * 64, 0);
    assert_double_equal(ceil_fma_flops(1056, CEIL_FMA_OUTER), 2.0 * 8 * 64 * 1024 * 1056 * 256, 0);
    /* the timed launch stays in the range where the check is exact, with margin to spare */
    assert_true((int64_t)CEIL_FMA_UNROLL * CEIL_FMA_OUTER <= CEIL_FMA_MAX_STEPS);
    assert_true((double)CEIL_FMA_X0(4095, CEIL_FMA_CHAINS - 1) + (double)CEIL_FMA_MAX_STEPS * CEIL_FMA_STEP <
                1.0);
    assert_true(CEIL_FMA_X0(0, 0) >= 0.5f);
}

/* The kernel on the host: the same start values, fmaf step by step. */
static void fma_kernel_on_host(float *out, int blocks, int outer)
{
    int64_t threads = (int64_t)blocks * CEIL_FMA_THREADS;
    for (int64_t g = 0; g < threads; g++)
        for (int j = 0; j < CEIL_FMA_CHAINS; j++) {
            float x = CEIL_FMA_X0(g, j);
            for (int i = 0; i < outer * CEIL_FMA_UNROLL; i++)
                x = fmaf(x, 1.0f, CEIL_FMA_STEP);
            out[(size_t)j * (size_t)threads + (size_t)g] = x;
        }
}

static void fma_check_compares_every_output_exactly(void **state)
{
    int blocks = 17, outer = 3;
    size_t n = ceil_fma_outputs(blocks);
    float *out = malloc(n * sizeof *out);
    char msg[300];
    fma_kernel_on_host(out, blocks, outer);
    assert_int_equal(ceil_fma_check(out, blocks, outer, msg, sizeof msg), 0);
    /* one ulp off in thread 4000 (block 15), chain 6 */
    size_t at = (size_t)6 * blocks * CEIL_FMA_THREADS + 4000;
    out[at] = nextafterf(out[at], 0.0f);
    assert_int_equal(ceil_fma_check(out, blocks, outer, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "thread 4000 chain 6"));
    /* a block that never ran (poison left in place) */
    fma_kernel_on_host(out, blocks, outer);
    for (int t = 0; t < CEIL_FMA_THREADS; t++)
        for (int j = 0; j < CEIL_FMA_CHAINS; j++)
            out[(size_t)j * blocks * CEIL_FMA_THREADS + 16 * CEIL_FMA_THREADS + t] = NAN;
    assert_int_equal(ceil_fma_check(out, blocks, outer, msg, sizeof msg), CEIL_FMA_THREADS * CEIL_FMA_CHAINS);
    /* one pass fewer than claimed: everything differs */
    fma_kernel_on_host(out, blocks, outer - 1);
    assert_int_equal(ceil_fma_check(out, blocks, outer, msg, sizeof msg), (int64_t)n);
    /* beyond the exact range there is no exact answer: said, not guessed */
    assert_int_equal(ceil_fma_check(out, blocks, CEIL_FMA_MAX_STEPS / CEIL_FMA_UNROLL + 1, msg, sizeof msg),
                     -1);
    free(out);
}

static void copy_check_finds_a_dropped_or_shifted_element(void **state)
{
    size_t n = ceil_copy_floats(true);
    assert_int_equal(n % 4, 0); /* the copy moves float4s */
    assert_true(n < 2000000);   /* small in the check suite */
    assert_int_equal(ceil_copy_floats(false), (size_t)1 << 28);
    uint32_t seed = 0x9e3779b9u;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        uint32_t u = CEIL_COPY_BITS(i, seed);
        memcpy(&x[i], &u, sizeof u);
        assert_true(x[i] >= 0.5f && x[i] < 1.0f); /* never zero, never NaN */
    }
    assert_int_equal(ceil_copy_check(x, 0, n, seed), -1);
    assert_int_equal(ceil_copy_check(x + 1000, 1000, n - 1000, seed), -1); /* a later chunk */
    assert_int_equal(ceil_copy_check(x + 1, 1000, 50, seed), 1000);        /* shifted by one */
    float keep = x[777777];
    x[777777] = x[777776]; /* an element repeated */
    assert_int_equal(ceil_copy_check(x, 0, n, seed), 777777);
    x[777777] = keep;
    assert_int_equal(ceil_copy_check(x, 0, n, seed ^ 1), 0); /* another run's pattern */
    free(x);
}

static void tolerances_follow_output_precision(void **state)
{
    const struct ceil_type fp32 = { AB_DTYPE_FP32, false }, fp16 = { AB_DTYPE_FP16, false },
                           bf16 = { AB_DTYPE_BF16, false }, fp8 = { AB_DTYPE_FP8_E4M3, false };
    /* fp32 accumulate-and-store is tightest; bf16 outputs (bf16, fp8) loosest. */
    assert_true(ceil_gemm_tolerance(fp32) < ceil_gemm_tolerance(fp16));
    assert_true(ceil_gemm_tolerance(fp16) < ceil_gemm_tolerance(bf16));
    assert_double_equal(ceil_gemm_tolerance(bf16), ceil_gemm_tolerance(fp8), 0);
    /* bf16 rounding is 2^-9 relative at worst: the tolerance must admit it with margin */
    assert_true(ceil_gemm_tolerance(bf16) >= 2.0 / 512);
}

static void gemm_without_gpu_fails_politely(void **state)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0)
        skip(); /* a real GPU: the workload tests cover it */
    struct ceil_gemm *g = (struct ceil_gemm *)1;
    struct ab_error err = { { 0 } };
    ab_status st = ceil_gemm_open(&g, 256, (struct ceil_type){ AB_DTYPE_BF16, false }, 1, &err);
    assert_int_not_equal(st, AB_OK);
    assert_null(g);
    assert_non_null(strstr(err.msg, "cuda"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dtype_names_parse_to_the_harness_types),
        cmocka_unit_test(tolerances_follow_output_precision),
        cmocka_unit_test(fp8_fast_differs_from_fp8_in_accumulation_only),
        cmocka_unit_test(gemm_bytes_are_inputs_read_once_and_output_written_once),
        cmocka_unit_test(fma_geometry_and_flops_follow_the_loop_constants),
        cmocka_unit_test(fma_check_compares_every_output_exactly),
        cmocka_unit_test(copy_check_finds_a_dropped_or_shifted_element),
        cmocka_unit_test(gemm_without_gpu_fails_politely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
