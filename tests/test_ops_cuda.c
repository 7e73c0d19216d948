/* test_ops_cuda.c — the CUDA ops asked of a machine without a usable GPU fail with a status and
 * a message naming the failing call, never a crash (with a GPU, the workload tests run them):
 * matmul, fused attention, gpt2's cache attention on the fused and the decode kernel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cuda_runtime_api.h>

#include "accelbench.h"
#include "ops/ops_cuda.h"
#include "test_util.h"

static void ops_without_gpu_fail_politely(void **state)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0)
        skip();
    struct ab_error err = { { 0 } };
    struct ops_cuda_matmul *mm = (struct ops_cuda_matmul *)1;
    assert_int_not_equal(ops_cuda_matmul_create(&mm, 64, 64, 64, AB_DTYPE_BF16, OPS_MM_BIAS, &err), AB_OK);
    assert_null(mm);
    assert_true(err.msg[0] != 0);
    err.msg[0] = 0;
    assert_int_not_equal(ops_cuda_attention(NULL, NULL, 1, 2, 16, 64, AB_DTYPE_BF16, NULL, &err), AB_OK);
    assert_true(err.msg[0] != 0);
    /* attention_memory's layout: separate (H,n,d) tensors, fp32 out, not causal */
    err.msg[0] = 0;
    struct ops_cuda_attn_strides hnd = { .batch = 0, .head = 16 * 64, .row = 64 };
    assert_int_not_equal(ops_cuda_attention_strided(NULL, AB_DTYPE_FP32, hnd, NULL, hnd, NULL, NULL, hnd, 1,
                                                    2, 16, 64, 1, false, AB_DTYPE_FP16, NULL, &err),
                         AB_OK);
    assert_non_null(strstr(err.msg, "cuda"));
    /* gpt2's attention over its cache: the prompt (fused kernel) and one step (decode kernel) */
    struct ops_cuda_cache_plan cp;
    assert_int_equal(ops_cuda_cache_attn_plan(1, 12, 64, 16, 48, AB_DTYPE_FP32, 132, &cp, &err), AB_OK);
    float *parts = (float *)(uintptr_t)256; /* never dereferenced: the launch fails first */
    for (int Tq = 16; Tq >= 1; Tq -= 15) {
        err.msg[0] = 0;
        assert_int_not_equal(
            ops_cuda_cache_attention(&cp, NULL, NULL, NULL, NULL, Tq, 0, NULL, parts, NULL, &err), AB_OK);
        assert_non_null(strstr(err.msg, "cuda"));
    }
}

static void gelu_with_residual_is_refused(void **state)
{
    struct ab_error err = { { 0 } };
    struct ops_cuda_matmul *mm;
    assert_int_equal(ops_cuda_matmul_create(&mm, 8, 8, 8, AB_DTYPE_BF16, OPS_MM_GELU | OPS_MM_RESIDUAL, &err),
                     AB_EINVAL);
    assert_non_null(strstr(err.msg, "GELU"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ops_without_gpu_fail_politely),
        cmocka_unit_test(gelu_with_residual_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
