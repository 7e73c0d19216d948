/* test_util.h — small helpers shared by the tests: temporary folders and files, and running the
 * real binary ($ACCELBENCH_EXE) with its stdout and stderr caught in files of a test folder. */
#ifndef AB_TEST_UTIL_H
#define AB_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

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

/* Read the text file at path into buf (at most len - 1 bytes, NUL-terminated; empty if it
 * cannot be read). */
static inline void test_read_into(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* A group setup for tests of the real binary: exe from $ACCELBENCH_EXE and a fresh dir
 * (free it with test_exe_teardown); -1 when either is missing. */
static inline int test_exe_setup(const char **exe, char **dir)
{
    *exe = getenv("ACCELBENCH_EXE");
    *dir = test_tmpdir();
    return *exe && *dir ? 0 : -1;
}

static inline void test_exe_teardown(char **dir)
{
    test_rmrf(*dir);
    free(*dir);
    *dir = NULL;
}

/* Run `sh -c CMD` with stdout to DIR/stdout.txt and stderr to DIR/stderr.txt, then read them
 * back into out and err (each may be NULL). The exit status, or -1 if it did not exit. */
static inline int test_shell(const char *dir, const char *cmd, char *out, size_t outlen, char *err,
                             size_t errlen)
{
    char full[16384], o[4300], e[4300];
    snprintf(o, sizeof o, "%s/stdout.txt", dir);
    snprintf(e, sizeof e, "%s/stderr.txt", dir);
    snprintf(full, sizeof full, "%s >'%s' 2>'%s'", cmd, o, e);
    int rc = system(full);
    if (out)
        test_read_into(o, out, outlen);
    if (err)
        test_read_into(e, err, errlen);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Run `EXE ARGS` (ARGS as a shell would split them) as test_shell does. */
static inline int test_exe_run(const char *exe, const char *dir, const char *args, char *out, size_t outlen,
                               char *err, size_t errlen)
{
    char cmd[12288];
    snprintf(cmd, sizeof cmd, "'%s' %s", exe, args);
    return test_shell(dir, cmd, out, outlen, err, errlen);
}

#endif
