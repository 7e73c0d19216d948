/* test_resources.c — a sweep of 10,000 tiny cases keeps memory flat: the peak RSS of a run of
 * 10,000 cases is compared with one of 100 (each in a child process of its own). The cases
 * come from a workload that does nothing, listed by this test's own registry (it replaces
 * workloads/registry.c at link time), so the measurement is the runner's, not a kernel's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accelbench.h"
#include "test_util.h"

static ab_status tiny_setup(struct ab_case *c, struct ab_error *err)
{
    c->work.flops = 1;
    return AB_OK;
}
/* Claims a microsecond per repetition without spending it: calibration stays at one sample. */
static ab_status tiny_run(struct ab_case *c, int64_t reps, double *time_s, struct ab_error *err)
{
    *time_s = 1e-6 * (double)reps;
    return AB_OK;
}
static void tiny_teardown(struct ab_case *c) {}
static const struct ab_impl tiny_cpu = { .setup = tiny_setup, .run = tiny_run, .teardown = tiny_teardown };
static const struct ab_axis tiny_axes[] = {
    { .name = "a", .type = AB_AXIS_INT, .sweep = { "1", "1", "1" } },
    { .name = "b", .type = AB_AXIS_INT, .sweep = { "1", "1", "1" } },
};
static const struct ab_workload tiny_workload = { .name = "tiny",
                                                  .summary = "does nothing",
                                                  .axes = tiny_axes,
                                                  .n_axes = 2,
                                                  .impl = { [AB_BACKEND_CPU] = &tiny_cpu } };
static const struct ab_workload *const workloads[] = { &tiny_workload, NULL };

const struct ab_workload *const *ab_workloads(void)
{
    return workloads;
}
const struct ab_workload *ab_workload_find(const char *name)
{
    return strcmp(name, "tiny") == 0 ? &tiny_workload : NULL;
}

static char *dir;

static int setup(void **state)
{
    dir = test_tmpdir();
    setenv("ACCELBENCH_POWERCAP_ROOT", "/nonexistent", 1); /* no meter with a minimum window */
    return dir ? 0 : -1;
}
static int teardown(void **state)
{
    test_rmrf(dir);
    free(dir);
    return 0;
}

/* Peak RSS in KiB of a child that runs side x side tiny cases; rows read back must number that. */
static long peak_rss_kib(int side, double *took_s)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    double t0 = ab_now_s();
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        char out[4400], a[32], b[32];
        snprintf(out, sizeof out, "%s/rss-%d", dir, side);
        snprintf(a, sizeof a, "a=1:%d:+1", side);
        snprintf(b, sizeof b, "b=1:%d:+1", side);
        struct ab_run_opts o;
        ab_run_opts_defaults(&o);
        o.workloads[o.n_workloads++] = "tiny";
        o.devices[o.n_devices++] = "cpu";
        o.axis_overrides[o.n_axis_overrides++] = a;
        o.axis_overrides[o.n_axis_overrides++] = b;
        o.stop.min_samples = 1;
        o.stop.min_time_s = 0;
        o.stop.max_time_s = 0;
        o.warmup_s = 0;
        o.out_dir = out;
        o.quiet = true;
        o.log = NULL;
        o.seed = 1;
        struct ab_run_info info;
        struct ab_error err = { { 0 } };
        long kib = -1;
        if (ab_run(&o, &info, &err) == AB_OK && info.n_ok == side * side) {
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            kib = ru.ru_maxrss;
        } else {
            fprintf(stderr, "run of %d cases: %s (%d ok)\n", side * side, err.msg, info.n_ok);
        }
        ssize_t w = write(fd[1], &kib, sizeof kib);
        _exit(w == sizeof kib ? 0 : 1);
    }
    close(fd[1]);
    long kib = -1;
    ssize_t r = read(fd[0], &kib, sizeof kib);
    close(fd[0]);
    int ws;
    waitpid(pid, &ws, 0);
    *took_s = ab_now_s() - t0;
    assert_int_equal(r, sizeof kib);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    return kib;
}

static void ten_thousand_tiny_cases_keep_memory_flat(void **state)
{
    double t100, t10k;
    long rss100 = peak_rss_kib(10, &t100);
    long rss10k = peak_rss_kib(100, &t10k);
    printf("peak RSS: 100 cases %ld KiB (%.2f s), 10000 cases %ld KiB (%.2f s), growth %.0f bytes/case\n",
           rss100, t100, rss10k, t10k, (double)(rss10k - rss100) * 1024.0 / 9900.0);
    assert_true(rss100 > 0 && rss10k > 0);
#if defined(__SANITIZE_THREAD__)
    /* ThreadSanitizer keeps the history of freed memory: RSS says nothing there. */
#elif defined(__SANITIZE_ADDRESS__)
    /* AddressSanitizer holds freed memory in quarantine unless told not to (the test's
     * environment does, see tests/meson.build); its redzones double a small allocation. */
    const char *asan = getenv("ASAN_OPTIONS");
    if (asan && strstr(asan, "quarantine_size_mb=0"))
        assert_true((double)(rss10k - rss100) * 1024.0 / 9900.0 < 1024.0);
#else
    /* Only the plan (one small entry per case) may grow; rows go to disk as cases end. */
    assert_true((double)(rss10k - rss100) * 1024.0 / 9900.0 < 512.0);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ten_thousand_tiny_cases_keep_memory_flat),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
