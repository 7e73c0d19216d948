/* test_gpt2_cuda.c — host-side logic of gpt2 on CUDA, runnable without a GPU: the device
 * memory plan (what ab_device_fits checks and peak_mem_bytes reports), the shared logit
 * tolerances, bad parameters refused before any CUDA call, and a case on a machine without a
 * usable GPU failing with a status and a message naming the CUDA call instead of crashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cuda_runtime_api.h>

#include "accelbench.h"
#include "gpt2/gpt2.h"
#include "gpt2/gpt2_cuda.h"
#include "test_util.h"

static struct ab_device gpu = { .id = "cuda:0", .backend = AB_BACKEND_CUDA, .mem_bytes = 80ull << 30 };

static void set_params(struct ab_case *c, const char *text)
{
    struct ab_error err = { { 0 } };
    assert_int_equal(ab_params_parse(text, &c->params, &err), AB_OK);
}

static bool have_gpu(void)
{
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

static void device_bytes_count_every_buffer(void **state)
{
    struct gpt2_config c;
    assert_true(gpt2_config_named("124M", &c));
    uint64_t C = 768, L = 12, Vp = 50304, B = 2, P = 16, T = 48;
    uint64_t params = 124439808ull * 4;
    uint64_t kv = 2 * L * B * T * C * 4;
    uint64_t act = B * P * C * 4 * 13; /* x, att (C), qkv (3C), h and matmul input (4C each) */
    uint64_t small = B * Vp * 4 + B * P * 4 + 2 * B * 4 + 4 + 4; /* padded logits .. dpos, flags */
    uint64_t head32 = Vp * C * 4;                                /* the zero-padded output embedding */
    /* the decode attention's partial results: 12 heads, at most 48 / 32 = 1 split, 64 + 2 floats */
    uint64_t parts = B * 12 * 1 * 66 * 4;
    uint64_t need = gpt2_cuda_device_bytes(&c, AB_DTYPE_FP32, (int)B, (int)P, (int)T);
    uint64_t ws = need - (params + head32 + kv + act + small + parts);
    assert_true(ws >= (1u << 20) && ws <= (256u << 20)); /* the cuBLASLt workspace, fixed */
    /* the same terms at another shape: only the workspace is left over */
    uint64_t one = params + head32 + 2 * L * C * 4 + C * 4 * 13 + Vp * 4 + 4 + 8 + 8 + 12 * 66 * 4;
    assert_int_equal(gpt2_cuda_device_bytes(&c, AB_DTYPE_FP32, 1, 1, 1), one + ws);
    /* 1024 positions: up to 32 splits of the keys */
    assert_int_equal(gpt2_cuda_device_bytes(&c, AB_DTYPE_FP32, 1, 1, 1024) -
                         gpt2_cuda_device_bytes(&c, AB_DTYPE_FP32, 1, 1, 1),
                     2 * L * 1023 * C * 4 + 12 * 31 * 66 * 4);
    /* 16-bit runs hold the block weights and the padded embedding at 2 bytes each instead */
    uint64_t w16 = 2 * (L * 12 * C * C + Vp * C);
    assert_int_equal(gpt2_cuda_device_bytes(&c, AB_DTYPE_BF16, (int)B, (int)P, (int)T),
                     params + kv + act + small + parts + ws + w16);
    assert_int_equal(gpt2_cuda_device_bytes(&c, AB_DTYPE_FP16, (int)B, (int)P, (int)T),
                     gpt2_cuda_device_bytes(&c, AB_DTYPE_BF16, (int)B, (int)P, (int)T));
}

static void logits_leading_dimension_is_the_padded_vocabulary(void **state)
{
    /* 50257 rows gave cuBLASLt rows of odd length: misaligned for every sequence but the first */
    assert_int_equal(gpt2_cuda_logits_ld(50257), 50304);
    assert_int_equal(gpt2_cuda_logits_ld(64), 64);
    assert_int_equal(gpt2_cuda_logits_ld(65), 128);
    assert_int_equal(gpt2_cuda_logits_ld(1), 64);
    for (int V = 1; V < 3000; V += 37) {
        int ld = gpt2_cuda_logits_ld(V);
        assert_true(ld >= V && ld < V + 64 && ld % 64 == 0);
    }
    /* one more sequence adds one padded row of fp32 logits */
    struct gpt2_config c;
    assert_true(gpt2_config_named("tiny", &c));
    assert_int_equal(gpt2_cuda_device_bytes(&c, AB_DTYPE_BF16, 3, 1, 1) -
                         gpt2_cuda_device_bytes(&c, AB_DTYPE_BF16, 2, 1, 1),
                     50304 * 4 + 2 * 128 * 4 * 2 + 128 * 4 * 13 + 4 + 2 * 4 + 4 * (32 + 2) * 4);
}

static void largest_default_case_fits_an_80gb_gpu(void **state)
{
    /* 1558M, B=32, P=1024 prefill, bf16: the biggest point of the full sweep */
    struct gpt2_config c;
    assert_true(gpt2_config_named("1558M", &c));
    uint64_t need = gpt2_cuda_device_bytes(&c, AB_DTYPE_BF16, 32, 1024, 1024);
    assert_true(need > 6ull << 30);
    assert_true(ab_device_fits(&gpu, need));
}

static void sixteen_bit_tolerance_is_looser_than_fp32(void **state)
{
    double a32, r32, a16, r16;
    gpt2_logit_tolerance(false, &a32, &r32);
    gpt2_logit_tolerance(true, &a16, &r16);
    assert_true(a32 > 0 && r32 > 0);
    assert_true(a16 > a32 && r16 > r32);
    /* bf16 rounds to 2^-9 relative: the tolerance must admit one rounding with margin */
    assert_true(r16 >= 4.0 / 512);
}

static void too_many_positions_is_skipped_before_any_cuda_call(void **state)
{
    struct ab_case c = { .device = &gpu, .seed = 1 };
    struct ab_error err = { { 0 } };
    set_params(&c, "model=124M;dtype=bf16;phase=decode;batch=1;prompt=1000;gen=100;weights=random");
    ab_status st = gpt2_cuda_impl.setup(&c, &err);
    gpt2_cuda_impl.teardown(&c);
    ab_case_detail(&c, NULL);
    assert_int_equal(st, AB_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "1100 positions"));
    assert_null(c.state);
}

static void case_too_big_for_the_device_is_oom(void **state)
{
    struct ab_device small = gpu;
    small.mem_bytes = 1ull << 30;
    struct ab_case c = { .device = &small, .seed = 1 };
    struct ab_error err = { { 0 } };
    set_params(&c, "model=1558M;dtype=fp32;phase=prefill;batch=8;prompt=512;gen=8;weights=random");
    ab_status st = gpt2_cuda_impl.setup(&c, &err);
    gpt2_cuda_impl.teardown(&c);
    ab_case_detail(&c, NULL);
    assert_int_equal(st, AB_ENOMEM);
    assert_non_null(strstr(err.msg, "GB of device memory"));
}

static void setup_without_gpu_fails_politely(void **state)
{
    if (have_gpu())
        skip(); /* a real GPU: the workload runs for real */
    struct ab_case c = { .device = &gpu, .seed = 1 };
    struct ab_error err = { { 0 } };
    set_params(&c, "model=124M;dtype=bf16;phase=decode;batch=1;prompt=8;gen=4;weights=random");
    double t0 = ab_now_s();
    ab_status st = gpt2_cuda_impl.setup(&c, &err);
    gpt2_cuda_impl.teardown(&c);
    ab_case_detail(&c, NULL);
    assert_int_not_equal(st, AB_OK);
    assert_non_null(strstr(err.msg, "cuda"));
    /* it fails on the device, before making half a gigabyte of weights */
    assert_true(ab_now_s() - t0 < 5);
    assert_null(c.state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(device_bytes_count_every_buffer),
        cmocka_unit_test(logits_leading_dimension_is_the_padded_vocabulary),
        cmocka_unit_test(largest_default_case_fits_an_80gb_gpu),
        cmocka_unit_test(sixteen_bit_tolerance_is_looser_than_fp32),
        cmocka_unit_test(too_many_positions_is_skipped_before_any_cuda_call),
        cmocka_unit_test(case_too_big_for_the_device_is_oom),
        cmocka_unit_test(setup_without_gpu_fails_politely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
