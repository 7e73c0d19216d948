/* test_attention_memory_cuda.c — host-side logic of attention_memory's CUDA path, runnable
 * without a GPU: shapes the kernels do not take are skipped before any CUDA call, a case on a
 * machine without a usable GPU fails with a status naming the CUDA call (and tears down
 * cleanly), the launchers refuse shapes they have no kernel for, and the CUDA tolerances admit
 * P rounded to the input dtype. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cuda_runtime_api.h>

#include "accelbench.h"
#include "attention_memory/attention_memory.h"
#include "attention_memory/attention_memory_cuda.h"
#include "ops/ops_cuda.h"
#include "test_util.h"

static struct ab_device gpu_dev = {
    .id = "cuda:0", .backend = AB_BACKEND_CUDA, .index = 0, .mem_bytes = 80ull << 30
};

static bool have_gpu(void)
{
    int count = 0;
    return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

static ab_status setup_case(const char *params, struct ab_case *c, struct ab_error *err)
{
    memset(c, 0, sizeof *c);
    c->workload = ab_workload_find("attention_memory");
    c->device = &gpu_dev;
    c->seed = 7;
    assert_int_equal(ab_params_parse(params, &c->params, err), AB_OK);
    const struct ab_impl *impl = c->workload->impl[AB_BACKEND_CUDA];
    assert_non_null(impl->setup);
    ab_status st = impl->setup(c, err);
    impl->teardown(c);
    assert_null(c->state);
    return st;
}

static void unsupported_shapes_are_skipped_before_cuda(void **state)
{
    struct ab_case c;
    struct ab_error err = { { 0 } };
    assert_int_equal(setup_case("mode=prefill;algo=fused;n=256;d=64;dtype=fp32", &c, &err), AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "bf16/fp16"));
    assert_int_equal(setup_case("mode=prefill;algo=fused;n=256;d=96;dtype=bf16", &c, &err), AB_EUNSUPPORTED);
    /* decode is ops' decode kernel: its refusals, before any CUDA call */
    assert_int_equal(setup_case("mode=decode;algo=fused;n=4096;d=128;dtype=bf16;group=3", &c, &err),
                     AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "groups of 3"));
    assert_int_equal(setup_case("mode=decode;algo=fused;n=4096;d=96;dtype=bf16", &c, &err), AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "head size 96"));
    /* grid limits: more than 16 * 65535 query rows in one chunk, more than 65535 sequences */
    assert_int_equal(
        setup_case("mode=prefill;algo=chunked;n=1048576;d=64;dtype=bf16;q_chunk=1048576", &c, &err),
        AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "1048576 query rows"));
    assert_int_equal(
        setup_case("mode=decode;algo=fused;n=1024;d=128;dtype=bf16;batch=4096;heads=32", &c, &err),
        AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "batch 4096 x heads 32"));
}

static void case_without_gpu_fails_politely(void **state)
{
    if (have_gpu())
        skip();
    struct ab_case c;
    struct ab_error err = { { 0 } };
    ab_status st = setup_case("mode=prefill;algo=naive;n=256;d=64;dtype=bf16", &c, &err);
    assert_int_not_equal(st, AB_OK);
    assert_non_null(strstr(err.msg, "cuda"));
}

static void launchers_refuse_shapes_without_a_kernel(void **state)
{
    /* argument checks happen before any launch, so no GPU is needed */
    /* the fused case is ops' attention: it refuses what it has no kernel for before launching */
    struct ops_cuda_attn_strides hnd = { .batch = 0, .head = 64 * 96, .row = 96 };
    struct ab_error err = { { 0 } };
    assert_int_equal(ops_cuda_attention_strided(NULL, AB_DTYPE_FP32, hnd, NULL, hnd, NULL, NULL, hnd, 1, 1,
                                                64, 40, 1, false, AB_DTYPE_BF16, NULL, &err),
                     AB_EINVAL);
    assert_int_equal(ops_cuda_attention_strided(NULL, AB_DTYPE_FP16, hnd, NULL, hnd, NULL, NULL, hnd, 1, 1,
                                                64, 64, 1, false, AB_DTYPE_BF16, NULL, &err),
                     AB_EINVAL);
    /* decode is ops' too: a span it was not planned for, or bases a lane cannot load from */
    struct ops_cuda_attn_strides q = { .batch = 128, .head = 128, .row = 128 };
    struct ops_cuda_attn_strides kv = { .batch = 1024 * 128, .head = 1024 * 128, .row = 128 };
    struct ops_cuda_decode_plan dec;
    assert_int_equal(
        ops_cuda_decode_plan(1, 1, 1024, 128, 1, AB_DTYPE_BF16, AB_DTYPE_FP32, q, kv, 132, &dec, &err),
        AB_OK);
    struct ops_cuda_attn_span sp = { .nq = 1, .nk = 2048 };
    assert_int_equal(ops_cuda_decode_attention(&dec, NULL, q, NULL, q, NULL, NULL, kv, sp, NULL, NULL, &err),
                     AB_EINVAL);
    assert_non_null(strstr(err.msg, "2048 keys"));
    sp.nk = 1024;
    assert_int_equal(ops_cuda_decode_attention(&dec, NULL, q, (const void *)(uintptr_t)2, q, NULL, NULL, kv,
                                               sp, NULL, NULL, &err),
                     AB_EINVAL);
    assert_non_null(strstr(err.msg, "aligned to 8 bytes"));
    assert_int_equal(am_cuda_scores(NULL, 16, NULL, NULL, 16 * 65536, 16, 64, AB_DTYPE_BF16, 0, 0, 1.f, 0),
                     cudaErrorInvalidValue);
}

static void cuda_tolerances_admit_p_rounding(void **state)
{
    double a32, r32, a16, r16, ab, rb;
    attention_memory_tolerance(AB_DTYPE_FP32, AB_BACKEND_CUDA, &a32, &r32);
    attention_memory_tolerance(AB_DTYPE_FP16, AB_BACKEND_CUDA, &a16, &r16);
    attention_memory_tolerance(AB_DTYPE_BF16, AB_BACKEND_CUDA, &ab, &rb);
    assert_true(r32 < r16 && r16 < rb);
    assert_true(rb >= 4.0 / 256); /* bf16 P: 2^-8 relative per weight, with margin */
    assert_true(r16 >= 4.0 / 2048);
}

static void overlong_case_is_skipped_before_cuda_with_its_estimate(void **state)
{
    /* an H200's memory holds naive's 64 GiB of scores at 2^17: the time limit refuses it
     * instead, before any CUDA call (there is no GPU here to make one) */
    struct ab_device h200 = {
        .id = "cuda:0", .backend = AB_BACKEND_CUDA, .compute_units = 132, .mem_bytes = 141ull << 30
    };
    struct ab_case c;
    struct ab_error err = { { 0 } };
    memset(&c, 0, sizeof c);
    c.workload = ab_workload_find("attention_memory");
    c.device = &h200;
    c.suite = AB_SUITE_DEFAULT;
    assert_int_equal(ab_params_parse("mode=prefill;algo=naive;n=131072;d=64;dtype=bf16", &c.params, &err),
                     AB_OK);
    const struct ab_impl *impl = c.workload->impl[AB_BACKEND_CUDA];
    assert_int_equal(impl->setup(&c, &err), AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "estimated"));
    assert_non_null(strstr(err.msg, "beyond the case limit"));
    assert_null(c.state);
    impl->teardown(&c);
    /* a head size the decode kernel has no instance for: a skip, not a failed launch */
    assert_int_equal(setup_case("mode=decode;algo=fused;n=4096;d=100;dtype=fp32", &c, &err), AB_EUNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unsupported_shapes_are_skipped_before_cuda),
        cmocka_unit_test(case_without_gpu_fails_politely),
        cmocka_unit_test(launchers_refuse_shapes_without_a_kernel),
        cmocka_unit_test(cuda_tolerances_admit_p_rounding),
        cmocka_unit_test(overlong_case_is_skipped_before_cuda_with_its_estimate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
