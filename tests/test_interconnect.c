/* test_interconnect.c — the interconnect workload without a launcher: nccl-tests' sizes and bus
 * bandwidth factors, the checks of received buffers for each collective (a correct buffer built
 * by hand passes; one wrong element, a zeroed buffer or another rank's data fail), the memcpy
 * case verified and timed, the MPI cases skipped with a reason in a lone process, and NCCL's loader
 * (a missing library, one that is not NCCL, a fake one recording its calls) and mappings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "accelbench.h"
#include "interconnect/interconnect.h"
#include "interconnect/nccl.h"

#include <dlfcn.h>
#include "test_util.h"

static void sizes_follow_nccl_tests(void **state)
{
    size_t s, r, ch;
    double counted;
    /* allreduce: the whole buffer on every rank */
    assert_true(icx_sizes(ICX_ALLREDUCE, 4096, 4, &s, &r, &ch, &counted));
    assert_int_equal(s, 1024);
    assert_int_equal(r, 1024);
    assert_double_equal(counted, 4096, 0);
    /* allgather: each rank sends bytes/n, receives the whole */
    assert_true(icx_sizes(ICX_ALLGATHER, 4096, 4, &s, &r, &ch, &counted));
    assert_int_equal(ch, 256);
    assert_int_equal(s, 256);
    assert_int_equal(r, 1024);
    /* reduce_scatter: sends the whole, receives bytes/n; 3 ranks round 1000 floats to 999 */
    assert_true(icx_sizes(ICX_REDUCE_SCATTER, 4000, 3, &s, &r, &ch, &counted));
    assert_int_equal(ch, 333);
    assert_int_equal(s, 999);
    assert_int_equal(r, 333);
    assert_double_equal(counted, 3996, 0);
    assert_true(icx_sizes(ICX_ALLTOALL, 4096, 2, &s, &r, &ch, &counted));
    assert_int_equal(s, 1024);
    assert_int_equal(r, 1024);
    /* pingpong counts both messages of a round trip */
    assert_true(icx_sizes(ICX_PINGPONG, 4096, 2, &s, &r, &ch, &counted));
    assert_double_equal(counted, 8192, 0);
    /* less than a float per rank: not a case */
    assert_false(icx_sizes(ICX_ALLGATHER, 8, 4, &s, &r, &ch, &counted));
}

static void bus_bandwidth_factors_are_nccl_tests(void **state)
{
    assert_double_equal(icx_busbw_factor(ICX_ALLREDUCE, 2), 1.0, 1e-15);
    assert_double_equal(icx_busbw_factor(ICX_ALLREDUCE, 8), 1.75, 1e-15);
    assert_double_equal(icx_busbw_factor(ICX_ALLGATHER, 4), 0.75, 1e-15);
    assert_double_equal(icx_busbw_factor(ICX_REDUCE_SCATTER, 8), 0.875, 1e-15);
    assert_double_equal(icx_busbw_factor(ICX_ALLTOALL, 2), 0.5, 1e-15);
    assert_double_equal(icx_busbw_factor(ICX_PINGPONG, 2), 1.0, 0);
    assert_double_equal(icx_busbw_factor(ICX_MEMCPY, 1), 1.0, 0);
}

static void values_are_whole_nonzero_and_differ_by_rank_and_seed(void **state)
{
    int same_rank = 0, same_seed = 0;
    for (size_t i = 0; i < 1000; i++) {
        float v = icx_value(7, 0, i);
        assert_true(v >= 1 && v <= 1024 && v == (float)(int)v);
        same_rank += v == icx_value(7, 1, i);
        same_seed += v == icx_value(8, 0, i);
    }
    assert_true(same_rank < 20); /* about 1 in 1024 agree by chance */
    assert_true(same_seed < 20);
}

/* What each collective must leave on rank r, built by hand from the definitions. */
static void checks_pass_on_right_buffers_and_fail_on_wrong_ones(void **state)
{
    const uint64_t seed = 99;
    const int n = 3, r = 1;
    const size_t ch = 5;
    float buf[15];
    char msg[256];
    /* allreduce: sum over ranks of element i */
    for (size_t i = 0; i < 15; i++)
        buf[i] = icx_value(seed, 0, i) + icx_value(seed, 1, i) + icx_value(seed, 2, i);
    assert_int_equal(icx_check(ICX_ALLREDUCE, seed, r, n, 15, buf, 15, msg, sizeof msg), 0);
    buf[7] += 1;
    assert_int_equal(icx_check(ICX_ALLREDUCE, seed, r, n, 15, buf, 15, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "[7]"));
    /* allgather: block q is rank q's send buffer */
    for (int q = 0; q < n; q++)
        for (size_t i = 0; i < ch; i++)
            buf[(size_t)q * ch + i] = icx_value(seed, q, i);
    assert_int_equal(icx_check(ICX_ALLGATHER, seed, r, n, ch, buf, 15, msg, sizeof msg), 0);
    /* reduce_scatter: rank r gets block r summed */
    for (size_t i = 0; i < ch; i++)
        buf[i] =
            icx_value(seed, 0, r * ch + i) + icx_value(seed, 1, r * ch + i) + icx_value(seed, 2, r * ch + i);
    assert_int_equal(icx_check(ICX_REDUCE_SCATTER, seed, r, n, ch, buf, ch, msg, sizeof msg), 0);
    /* alltoall: block q is block r of rank q */
    for (int q = 0; q < n; q++)
        for (size_t i = 0; i < ch; i++)
            buf[(size_t)q * ch + i] = icx_value(seed, q, r * ch + i);
    assert_int_equal(icx_check(ICX_ALLTOALL, seed, r, n, ch, buf, 15, msg, sizeof msg), 0);
    /* ... and the allgather layout is not an alltoall */
    assert_true(icx_check(ICX_ALLGATHER, seed, r, n, ch, buf, 15, msg, sizeof msg) > 0);
    /* pingpong: rank 1 holds rank 0's message, rank 0 rank 1's */
    for (size_t i = 0; i < 15; i++)
        buf[i] = icx_value(seed, 0, i);
    assert_int_equal(icx_check(ICX_PINGPONG, seed, 1, 2, 15, buf, 15, msg, sizeof msg), 0);
    assert_true(icx_check(ICX_PINGPONG, seed, 0, 2, 15, buf, 15, msg, sizeof msg) > 10);
    /* a buffer the operation never wrote */
    memset(buf, 0, sizeof buf);
    assert_int_equal(icx_check(ICX_ALLREDUCE, seed, r, n, 15, buf, 15, msg, sizeof msg), 15);
}

static void large_buffers_are_sampled_with_the_last_element(void **state)
{
    size_t n = ((size_t)1 << 22) + 4097;
    float *buf = malloc(n * sizeof *buf);
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = icx_value(3, 0, i) + icx_value(3, 1, i);
    char msg[256];
    assert_int_equal(icx_check(ICX_ALLREDUCE, 3, 0, 2, n, buf, n, msg, sizeof msg), 0);
    buf[n - 1] = 0;
    assert_int_equal(icx_check(ICX_ALLREDUCE, 3, 0, 2, n, buf, n, msg, sizeof msg), 1);
    free(buf);
}

struct run_case {
    struct ab_device dev;
    struct ab_case c;
};

static const struct ab_impl *cpu_impl(void)
{
    const struct ab_workload *w = ab_workload_find("interconnect");
    assert_non_null(w);
    assert_non_null(w->impl[AB_BACKEND_CPU]);
    return w->impl[AB_BACKEND_CPU];
}

static void case_open(struct run_case *rc, const char *params)
{
    memset(rc, 0, sizeof *rc);
    int n = 0;
    struct ab_error e = { { 0 } };
    assert_int_equal(ab_backend_get(AB_BACKEND_CPU)->discover(&rc->dev, 1, &n, &e), AB_OK);
    rc->c.workload = ab_workload_find("interconnect");
    rc->c.device = &rc->dev;
    rc->c.suite = AB_SUITE_QUICK;
    rc->c.seed = 4242;
    assert_int_equal(ab_params_parse(params, &rc->c.params, &e), AB_OK);
}

static void memcpy_case_verifies_and_times_the_payload(void **state)
{
    struct run_case rc;
    struct ab_error e = { { 0 } };
    case_open(&rc, "op=memcpy;bytes=100000");
    const struct ab_impl *im = cpu_impl();
    assert_int_equal(im->setup(&rc.c, &e), AB_OK);
    assert_double_equal(rc.c.work.bytes, 100000, 0);
    assert_string_equal(rc.c.work.rate, "bytes");
    assert_int_equal(im->verify(&rc.c, &e), AB_OK);
    double t = -1;
    assert_int_equal(ab_case_time(&rc.c, im, 3, &t, &e), AB_OK);
    assert_true(t > 0);
    /* after an odd number of copies the buffers still agree: verify again */
    assert_int_equal(im->verify(&rc.c, &e), AB_OK);
    im->teardown(&rc.c);
    assert_null(rc.c.state);
}

static void mpi_cases_in_a_lone_process_are_skipped_with_the_reason(void **state)
{
    unsetenv("OMPI_COMM_WORLD_RANK");
    unsetenv("PMI_RANK");
    unsetenv("SLURM_PROCID");
    struct run_case rc;
    struct ab_error e = { { 0 } };
    case_open(&rc, "op=allreduce;bytes=4096");
    const struct ab_impl *im = cpu_impl();
    assert_int_equal(im->setup(&rc.c, &e), AB_EUNSUPPORTED);
    assert_true(strstr(e.msg, "2 or more MPI ranks") || strstr(e.msg, "no MPI") ||
                strstr(e.msg, "needs MPI"));
    im->teardown(&rc.c);
}

static void cpu_plans_memcpy_and_mpi_ops_cuda_the_gpu_copies_and_collectives(void **state)
{
    const struct ab_workload *w = ab_workload_find("interconnect");
    assert_non_null(w);
    struct ab_values v;
    struct ab_error e;
    assert_int_equal(ab_axis_parse(&w->axes[0], w->axes[0].sweep[AB_SUITE_DEFAULT], &v, &e), AB_OK);
    char cpu[256] = "", cuda[256] = "";
    for (int i = 0; i < v.n; i++) {
        struct ab_params ps = { .n = 1 };
        snprintf(ps.p[0].name, sizeof ps.p[0].name, "op");
        ps.p[0].val = v.v[i];
        for (int b = 0; b < 2; b++) {
            char *to = b ? cuda : cpu;
            if (!w->applies(&ps, b ? AB_BACKEND_CUDA : AB_BACKEND_CPU, AB_SUITE_DEFAULT))
                continue;
            size_t l = strlen(to);
            snprintf(to + l, 256 - l, "%s%s", l ? "," : "", v.v[i].str);
        }
    }
    assert_string_equal(cpu, "memcpy,pingpong,allreduce,allgather,reduce_scatter,alltoall");
    /* the collectives on GPUs go through NCCL */
    assert_string_equal(cuda,
                        "allreduce,allgather,reduce_scatter,alltoall,h2d_pinned,h2d_pageable,d2h_pinned,"
                        "d2h_pageable,p2p");
}

static void nccl_missing_library_is_a_skip_reason(void **state)
{
    struct icx_nccl n;
    struct ab_error e = { { 0 } };
    assert_int_equal(icx_nccl_open("/nonexistent/libnccl.so.2", &n, &e), AB_EUNSUPPORTED);
    assert_non_null(strstr(e.msg, "NCCL not available"));
    assert_non_null(strstr(e.msg, "/nonexistent/libnccl.so.2"));
    assert_null(n.lib);
    /* ACCELBENCH_NCCL_LIB names the library when the caller does not */
    setenv("ACCELBENCH_NCCL_LIB", "/nonexistent/other/libnccl.so.2", 1);
    assert_int_equal(icx_nccl_open(NULL, &n, &e), AB_EUNSUPPORTED);
    assert_non_null(strstr(e.msg, "/nonexistent/other/libnccl.so.2"));
    unsetenv("ACCELBENCH_NCCL_LIB");
    /* a library that is not NCCL: the first function it lacks */
    assert_int_equal(icx_nccl_open("libm.so.6", &n, &e), AB_EUNSUPPORTED);
    assert_non_null(strstr(e.msg, "not an NCCL 2 library (no ncclGetVersion)"));
    icx_nccl_close(&n);
}

static void nccl_types_and_ops_map_to_ncclh_enums_and_calls(void **state)
{
    assert_int_equal(icx_nccl_dtype(AB_DTYPE_FP32), 7);
    assert_int_equal(icx_nccl_dtype(AB_DTYPE_TF32), 7);
    assert_int_equal(icx_nccl_dtype(AB_DTYPE_FP16), 6);
    assert_int_equal(icx_nccl_dtype(AB_DTYPE_BF16), 9);
    assert_int_equal(icx_nccl_dtype(AB_DTYPE_FP8_E4M3), 10);
    assert_int_equal(icx_nccl_dtype(AB_DTYPE_FP8_E5M2), 11);
    assert_int_equal(icx_nccl_dtype(AB_DTYPE_INT8), 0);
    assert_int_equal(icx_nccl_dtype(AB_DTYPE_COUNT), -1);
    assert_int_equal(ICX_NCCL_SUM, 0);
    int n_coll = 0;
    for (int op = 0; op < ICX_OP_COUNT; op++)
        n_coll += icx_op_is_collective((enum icx_op)op);
    assert_int_equal(n_coll, 4);
    assert_false(icx_op_is_collective(ICX_PINGPONG));
    assert_string_equal(icx_nccl_call(NULL, ICX_ALLREDUCE), "ncclAllReduce");
    assert_string_equal(icx_nccl_call(NULL, ICX_ALLGATHER), "ncclAllGather");
    assert_string_equal(icx_nccl_call(NULL, ICX_REDUCE_SCATTER), "ncclReduceScatter");
    assert_string_equal(icx_nccl_call(NULL, ICX_ALLTOALL), "ncclSend/ncclRecv");
    assert_null(icx_nccl_call(NULL, ICX_MEMCPY));
}

static void nccl_calls_get_nccl_tests_counts(void **state)
{
    struct icx_nccl n;
    struct ab_error e = { { 0 } };
    if (icx_nccl_open(FAKE_NCCL_PATH, &n, &e) != AB_OK)
        fail_msg("%s", e.msg);
    assert_int_equal(n.version, 22803);
    assert_non_null(n.all_to_all);
    assert_string_equal(icx_nccl_call(&n, ICX_ALLTOALL), "ncclAlltoAll");
    char *log = dlsym(n.lib, "fake_nccl_log");
    assert_non_null(log);
    float buf[64];
    const char *call = NULL;
    /* 1 KiB on 4 ranks: allreduce the whole 256 floats, the others blocks of 64 */
    size_t s, r, ch;
    double counted;
    const enum icx_op ops[] = { ICX_ALLREDUCE, ICX_ALLGATHER, ICX_ALLTOALL };
    for (int i = 0; i < 3; i++) {
        assert_true(icx_sizes(ops[i], 1024, 4, &s, &r, &ch, &counted));
        assert_int_equal(icx_nccl_collective(&n, ops[i], buf, buf, s, ch, 4, NULL, NULL, &call), 0);
    }
    assert_string_equal(log, "allreduce count=256 dtype=7 op=0;allgather count=64 dtype=7;alltoall count=64 "
                             "dtype=7;");
    /* a failed call: its message names the call and NCCL's text */
    log[0] = '\0';
    assert_true(icx_sizes(ICX_REDUCE_SCATTER, 1024, 4, &s, &r, &ch, &counted));
    int rc = icx_nccl_collective(&n, ICX_REDUCE_SCATTER, buf, buf, s, ch, 4, NULL, NULL, &call);
    assert_int_equal(rc, 1);
    assert_string_equal(log, "reduce_scatter count=64 dtype=7 op=0;");
    assert_int_equal(icx_nccl_fail(&n, &e, rc, call), AB_EFAIL);
    assert_non_null(strstr(e.msg, "ncclReduceScatter: unhandled cuda error"));
    assert_non_null(strstr(e.msg, "(result 1)"));
    /* before NCCL 2.28 all-to-all is one group of a send and a receive per peer */
    n.all_to_all = NULL;
    log[0] = '\0';
    assert_int_equal(icx_nccl_collective(&n, ICX_ALLTOALL, buf, buf, 32, 16, 2, NULL, NULL, &call), 0);
    assert_string_equal(call, "ncclSend/ncclRecv");
    assert_string_equal(log, "group(send count=16 dtype=7 peer=0;recv count=16 dtype=7 peer=0;send count=16 "
                             "dtype=7 peer=1;recv count=16 dtype=7 peer=1;);");
    icx_nccl_close(&n);
    assert_null(n.lib);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes_follow_nccl_tests),
        cmocka_unit_test(bus_bandwidth_factors_are_nccl_tests),
        cmocka_unit_test(values_are_whole_nonzero_and_differ_by_rank_and_seed),
        cmocka_unit_test(checks_pass_on_right_buffers_and_fail_on_wrong_ones),
        cmocka_unit_test(large_buffers_are_sampled_with_the_last_element),
        cmocka_unit_test(memcpy_case_verifies_and_times_the_payload),
        cmocka_unit_test(mpi_cases_in_a_lone_process_are_skipped_with_the_reason),
        cmocka_unit_test(cpu_plans_memcpy_and_mpi_ops_cuda_the_gpu_copies_and_collectives),
        cmocka_unit_test(nccl_missing_library_is_a_skip_reason),
        cmocka_unit_test(nccl_types_and_ops_map_to_ncclh_enums_and_calls),
        cmocka_unit_test(nccl_calls_get_nccl_tests_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
