/* test_keymap.c — the string map behind compare's and plot's case matching: lookups of present
 * and absent keys, replacement, keys copied rather than borrowed, and growth far past the size
 * hint with every key still found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>

#include "accelbench.h"

static void absent_key_gives_minus_one(void **state)
{
    struct ab_keymap *m;
    struct ab_error err;
    assert_int_equal(ab_keymap_create(0, &m, &err), AB_OK);
    assert_int_equal(ab_keymap_get(m, "ceilings|cpu|kind=fma"), -1);
    assert_int_equal(ab_keymap_get(m, ""), -1);
    ab_keymap_destroy(m);
}

static void put_then_get_and_put_again_replaces(void **state)
{
    struct ab_keymap *m;
    struct ab_error err;
    assert_int_equal(ab_keymap_create(4, &m, &err), AB_OK);
    assert_int_equal(ab_keymap_put(m, "a|cpu|n=1", 7, &err), AB_OK);
    assert_int_equal(ab_keymap_put(m, "", 3, &err), AB_OK);
    assert_int_equal(ab_keymap_get(m, "a|cpu|n=1"), 7);
    assert_int_equal(ab_keymap_get(m, "a|cpu|n=10"), -1);
    assert_int_equal(ab_keymap_get(m, ""), 3);
    assert_int_equal(ab_keymap_put(m, "a|cpu|n=1", 9, &err), AB_OK);
    assert_int_equal(ab_keymap_get(m, "a|cpu|n=1"), 9);
    ab_keymap_destroy(m);
}

static void keys_are_copied(void **state)
{
    struct ab_keymap *m;
    struct ab_error err;
    char k[32] = "x|cpu|n=1";
    assert_int_equal(ab_keymap_create(1, &m, &err), AB_OK);
    assert_int_equal(ab_keymap_put(m, k, 1, &err), AB_OK);
    k[0] = 'y';
    assert_int_equal(ab_keymap_get(m, "x|cpu|n=1"), 1);
    assert_int_equal(ab_keymap_get(m, k), -1);
    ab_keymap_destroy(m);
}

static void grows_past_its_hint_and_finds_every_key(void **state)
{
    struct ab_keymap *m;
    struct ab_error err;
    enum { N = 50000 };
    assert_int_equal(ab_keymap_create(1, &m, &err), AB_OK);
    char k[64];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "w|cpu|n=%d", i);
        assert_int_equal(ab_keymap_put(m, k, i, &err), AB_OK);
    }
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "w|cpu|n=%d", i);
        assert_int_equal(ab_keymap_get(m, k), i);
    }
    snprintf(k, sizeof k, "w|cpu|n=%d", N);
    assert_int_equal(ab_keymap_get(m, k), -1);
    ab_keymap_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(absent_key_gives_minus_one),
        cmocka_unit_test(put_then_get_and_put_again_replaces),
        cmocka_unit_test(keys_are_copied),
        cmocka_unit_test(grows_past_its_hint_and_finds_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
