/* test_util.h — small helpers shared by the tests: temporary folders and files. */
#ifndef AB_TEST_UTIL_H
#define AB_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka 1.1 (Debian 12) has no double comparison: |a - b| <= eps, NaN never equal. */
#ifndef assert_double_equal
#define assert_double_equal(a, b, eps)                                                                       \
    do {                                                                                                     \
        double a_ = (a), b_ = (b), e_ = (eps);                                                               \
        if (!(fabs(a_ - b_) <= e_))                                                                          \
            fail_msg("%s = %.17g, expected %.17g (within %g)", #a, a_, b_, e_);                              \
    } while (0)
#endif

/* A fresh temporary folder (under $ACCELBENCH_TEST_TMP or /tmp); caller frees the string. */
static inline char *test_tmpdir(void)
{
    const char *base = getenv("ACCELBENCH_TEST_TMP");
    char tmpl[4096];
    if (base) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", base);
        if (system(cmd) != 0)
            base = NULL;
    }
    snprintf(tmpl, sizeof tmpl, "%s/abtest-XXXXXX", base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static inline int test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static inline void test_rmrf(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

#endif
