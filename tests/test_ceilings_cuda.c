/* test_ceilings_cuda.c — host-side logic of the CUDA ceilings, runnable without a GPU: dtype
 * names, check tolerances, and that a GEMM asked of a machine without a usable GPU fails with
 * a status and a message naming the CUDA call instead of crashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cuda_runtime_api.h>

#include "accelbench.h"
#include "ceilings/ceilings_cuda.h"
#include "test_util.h"

static void dtype_names_parse(void **state)
{
    enum ceil_dtype dt;
    assert_true(ceil_dtype_parse("fp8", &dt));
    assert_int_equal(dt, CEIL_FP8);
    assert_true(ceil_dtype_parse("tf32", &dt));
    assert_int_equal(dt, CEIL_TF32);
    assert_false(ceil_dtype_parse("fp4", &dt));
}

static void tolerances_follow_output_precision(void **state)
{
    /* fp32 accumulate-and-store is tightest; bf16 outputs (bf16, fp8) loosest. */
    assert_true(ceil_gemm_tolerance(CEIL_FP32) < ceil_gemm_tolerance(CEIL_FP16));
    assert_true(ceil_gemm_tolerance(CEIL_FP16) < ceil_gemm_tolerance(CEIL_BF16));
    assert_double_equal(ceil_gemm_tolerance(CEIL_BF16), ceil_gemm_tolerance(CEIL_FP8), 0);
    /* bf16 rounding is 2^-9 relative at worst: the tolerance must admit it with margin */
    assert_true(ceil_gemm_tolerance(CEIL_BF16) >= 2.0 / 512);
}

static void gemm_without_gpu_fails_politely(void **state)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0)
        skip(); /* a real GPU: the workload tests cover it */
    struct ceil_gemm *g = (struct ceil_gemm *)1;
    struct ab_error err = { { 0 } };
    ab_status st = ceil_gemm_open(&g, 256, CEIL_BF16, 1, &err);
    assert_int_not_equal(st, AB_OK);
    assert_null(g);
    assert_non_null(strstr(err.msg, "cuda"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dtype_names_parse),
        cmocka_unit_test(tolerances_follow_output_precision),
        cmocka_unit_test(gemm_without_gpu_fails_politely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
