/* test_device.c — the backend table (device.c): which backend owns a device id by its syntax,
 * which backends are accelerators a launcher's ranks spread over, and ceiling kinds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "accelbench.h"

static void ids_are_owned_by_their_backend(void **state)
{
    (void)state;
    const struct ab_backend *cpu = ab_backend_get(AB_BACKEND_CPU);
    const struct ab_backend *cuda = ab_backend_get(AB_BACKEND_CUDA);
    assert_ptr_equal(ab_backend_of_id("cpu"), cpu);
    assert_ptr_equal(ab_backend_of_id("cuda"), cuda); /* a backend's name selects all its devices */
    assert_ptr_equal(ab_backend_of_id("cuda:3"), cuda);
    assert_null(ab_backend_of_id("cuda:"));
    assert_null(ab_backend_of_id("cuda:x"));
    assert_null(ab_backend_of_id("cpu:0")); /* the cpu is not indexed */
    assert_null(ab_backend_of_id("torch"));
    assert_null(ab_backend_of_id("rocm:0"));
}

static void cuda_is_an_accelerator_and_the_cpu_is_not(void **state)
{
    (void)state;
    assert_false(ab_backend_get(AB_BACKEND_CPU)->accelerator);
    assert_true(ab_backend_get(AB_BACKEND_CUDA)->accelerator); /* also in a build without CUDA */
}

static void bandwidth_ceilings_are_told_from_flop_rates(void **state)
{
    (void)state;
    assert_true(ab_ceiling_is_bandwidth("mem_bw"));
    assert_true(ab_ceiling_is_bandwidth("llc_bw"));
    assert_false(ab_ceiling_is_bandwidth("bf16_gemm"));
    assert_false(ab_ceiling_is_bandwidth("fp32_fma"));
    assert_false(ab_ceiling_is_bandwidth("_bw"));
    assert_false(ab_ceiling_is_bandwidth(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_are_owned_by_their_backend),
        cmocka_unit_test(cuda_is_an_accelerator_and_the_cpu_is_not),
        cmocka_unit_test(bandwidth_ceilings_are_told_from_flop_rates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
