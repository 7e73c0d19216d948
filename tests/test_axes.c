/* test_axes.c — sweep parsing, good and bad, and the params text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "accelbench.h"
#include "test_util.h"

static const struct ab_axis n_axis = { .name = "n", .type = AB_AXIS_INT, .min = 1, .max = 1 << 30 };
static const struct ab_axis dt_axis = { .name = "dtype",
                                        .type = AB_AXIS_STR,
                                        .choices = "fp32,bf16,fp8_e4m3" };
static const struct ab_axis r_axis = { .name = "sparsity", .type = AB_AXIS_REAL, .min = 0, .max = 1 };

static struct ab_values *vals;

static int setup(void **state)
{
    vals = malloc(sizeof *vals);
    return vals ? 0 : -1;
}
static int teardown(void **state)
{
    free(vals);
    return 0;
}

static void geometric_range_includes_both_ends(void **state)
{
    struct ab_error err;
    assert_int_equal(ab_axis_parse(&n_axis, "256:16384:x2", vals, &err), AB_OK);
    assert_int_equal(vals->n, 7);
    assert_string_equal(vals->v[0].str, "256");
    assert_string_equal(vals->v[6].str, "16384");
    assert_double_equal(vals->v[3].num, 2048, 0);
}

static void arithmetic_range_and_suffixes(void **state)
{
    struct ab_error err;
    assert_int_equal(ab_axis_parse(&n_axis, "0K:2K:+512", vals, &err), AB_EINVAL); /* 0 < min */
    assert_int_equal(ab_axis_parse(&n_axis, "1K,4K,2^20,1M", vals, &err), AB_OK);
    assert_int_equal(vals->n, 3); /* 2^20 and 1M are the same value: no duplicate case */
    assert_string_equal(vals->v[0].str, "1024");
    assert_string_equal(vals->v[2].str, "1048576");
    assert_int_equal(ab_axis_parse(&r_axis, "0:1:+0.25", vals, &err), AB_OK);
    assert_int_equal(vals->n, 5);
    assert_string_equal(vals->v[1].str, "0.25");
}

static void string_axis_checks_choices_and_names_them(void **state)
{
    struct ab_error err;
    assert_int_equal(ab_axis_parse(&dt_axis, "fp32, bf16", vals, &err), AB_OK);
    assert_int_equal(vals->n, 2);
    assert_string_equal(vals->v[1].str, "bf16");
    assert_int_equal(ab_axis_parse(&dt_axis, "fp32,int4", vals, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "int4"));
    assert_non_null(strstr(err.msg, "fp32,bf16,fp8_e4m3"));
    assert_non_null(strstr(err.msg, "dtype"));
}

static void bad_numbers_and_ranges_are_errors_that_name_the_token(void **state)
{
    struct ab_error err;
    const char *bad[] = { "12x", "256:128:x2", "1:100:x1", "1:100",   "1:100:-5",  "",
                          ",",   "3.5",        "2^99",     "1:10:+0", "abc:10:x2", "1e400" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ab_axis_parse(&n_axis, bad[i], vals, &err), AB_EINVAL);
        assert_non_null(strstr(err.msg, "axis n"));
    }
    assert_int_equal(ab_axis_parse(&r_axis, "1.5", vals, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "out of range"));
}

static void huge_ranges_are_refused(void **state)
{
    struct ab_error err;
    assert_int_equal(ab_axis_parse(&n_axis, "1:1000000:+1", vals, &err), AB_EINVAL);
}

static void range_with_no_whole_number_is_an_error(void **state)
{
    /* Found by fuzzing: accepted with zero values, the planner then read an empty list. */
    struct ab_error err;
    assert_int_equal(ab_axis_parse(&n_axis, "0.5:0.5:+2", vals, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "gives no values"));
}

static void params_text_round_trips(void **state)
{
    struct ab_params p = { 0 }, q;
    struct ab_error err;
    p.n = 2;
    strcpy(p.p[0].name, "n");
    strcpy(p.p[0].val.str, "1024");
    p.p[0].val.num = 1024;
    strcpy(p.p[1].name, "dtype");
    strcpy(p.p[1].val.str, "bf16");
    char buf[128];
    ab_params_format(&p, buf, sizeof buf);
    assert_string_equal(buf, "n=1024;dtype=bf16");
    assert_int_equal(ab_params_parse(buf, &q, &err), AB_OK);
    assert_int_equal(q.n, 2);
    assert_int_equal(ab_param_int(&q, "n", 0), 1024);
    assert_true(ab_param_is(&q, "dtype", "bf16"));
    assert_string_equal(ab_param_str(&q, "missing", "dflt"), "dflt");
    assert_int_equal(ab_params_parse("n=1;=3", &q, &err), AB_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(geometric_range_includes_both_ends),
        cmocka_unit_test(arithmetic_range_and_suffixes),
        cmocka_unit_test(string_axis_checks_choices_and_names_them),
        cmocka_unit_test(bad_numbers_and_ranges_are_errors_that_name_the_token),
        cmocka_unit_test(huge_ranges_are_refused),
        cmocka_unit_test(range_with_no_whole_number_is_an_error),
        cmocka_unit_test(params_text_round_trips),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
