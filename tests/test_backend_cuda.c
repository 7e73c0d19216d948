/* test_backend_cuda.c — host-side logic of the CUDA backend (no GPU needed): cuBLAS statuses
 * become readable text, and a machine without a GPU is not a lost device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "ab_cuda.h"

static void cublas_status_is_named_and_explained(void **state)
{
    const char *t = ab_cublas_status_text(15);
    assert_non_null(strstr(t, "CUBLAS_STATUS_NOT_SUPPORTED"));
    assert_non_null(strstr(t, "(status 15)"));
    t = ab_cublas_status_text(3);
    assert_non_null(strstr(t, "CUBLAS_STATUS_ALLOC_FAILED"));
    /* A code cuBLASLt does not know still says which number it was. */
    t = ab_cublas_status_text(12345);
    assert_non_null(strstr(t, "12345"));
}

static int cublas_call(int status, struct ab_error *err)
{
    AB_CUBLAS_TRY(status, err);
    return AB_OK;
}

static void cublas_try_maps_statuses(void **state)
{
    struct ab_error e = { { 0 } };
    assert_int_equal(cublas_call(0, &e), AB_OK);
    assert_int_equal(cublas_call(15, &e), AB_EUNSUPPORTED);
    assert_non_null(strstr(e.msg, "CUBLAS_STATUS_NOT_SUPPORTED"));
    assert_int_equal(cublas_call(3, &e), AB_ENOMEM);
    assert_int_equal(cublas_call(14, &e), AB_EFAIL);
    assert_non_null(strstr(e.msg, "CUBLAS_STATUS_INTERNAL_ERROR"));
}

static void sticky_errors_are_told_from_recoverable_ones(void **state)
{
    assert_true(ab_cuda_error_is_sticky(cudaErrorIllegalAddress));
    assert_true(ab_cuda_error_is_sticky(cudaErrorLaunchFailure));
    assert_true(ab_cuda_error_is_sticky(cudaErrorMisalignedAddress));
    assert_true(ab_cuda_error_is_sticky(cudaErrorECCUncorrectable));
    /* an allocation that failed, a bad argument, no device: the context is still good */
    assert_false(ab_cuda_error_is_sticky(cudaErrorMemoryAllocation));
    assert_false(ab_cuda_error_is_sticky(cudaErrorInvalidValue));
    assert_false(ab_cuda_error_is_sticky(cudaErrorNoDevice));
    assert_false(ab_cuda_error_is_sticky(cudaSuccess));
}

static void health_of_a_device_that_is_not_there_is_not_a_loss(void **state)
{
    /* Without a GPU cudaSetDevice fails with a non-sticky error: the device is not "lost". */
    const struct ab_backend *b = ab_backend_get(AB_BACKEND_CUDA);
    assert_non_null(b->health);
    struct ab_device d = { .backend = AB_BACKEND_CUDA, .index = 0 };
    struct ab_error e = { { 0 } };
    int n = 0;
    struct ab_device found[4];
    b->discover(found, 4, &n, &e);
    if (n == 0)
        assert_int_equal(b->health(&d, &e), AB_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cublas_status_is_named_and_explained),
        cmocka_unit_test(cublas_try_maps_statuses),
        cmocka_unit_test(sticky_errors_are_told_from_recoverable_ones),
        cmocka_unit_test(health_of_a_device_that_is_not_there_is_not_a_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
