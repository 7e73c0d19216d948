/* test_errors.c — error messages (ab_fail, ab_fail_prefix in util.c): a message too long for
 * its buffer loses its middle, never its reason at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <string.h>

#include "accelbench.h"

static void a_long_path_keeps_the_reason(void **state)
{
    char path[3000];
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    struct ab_error e;
    assert_int_equal(ab_fail(&e, AB_EIO, "%s: cannot open: No such file or directory", path), AB_EIO);
    size_t n = strlen(e.msg);
    assert_true(n == AB_ERR_LEN - 1);
    const char *tail = ": cannot open: No such file or directory";
    assert_string_equal(e.msg + n - strlen(tail), tail);
    assert_int_equal(e.msg[0], '/');
    assert_non_null(strstr(e.msg, "[...]"));
    /* prefixed again, the reason is still there */
    ab_fail_prefix(&e, AB_EIO, "workload gpt2: %s", path);
    n = strlen(e.msg);
    assert_string_equal(e.msg + n - strlen(tail), tail);
    assert_true(strncmp(e.msg, "workload gpt2: /", 16) == 0);
}

static void a_short_message_is_kept_whole(void **state)
{
    struct ab_error e;
    ab_fail(&e, AB_EINVAL, "axis %s: %d is out of range", "n", 5);
    assert_string_equal(e.msg, "axis n: 5 is out of range");
    ab_fail_prefix(&e, AB_EINVAL, "workload %s", "ceilings");
    assert_string_equal(e.msg, "workload ceilings: axis n: 5 is out of range");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_long_path_keeps_the_reason),
        cmocka_unit_test(a_short_message_is_kept_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
