/* bench_launch.c — what the engine's batch loop (ab_case_batch: launch() per repetition between
 * the CPU timer's begin and end) costs over a workload's own hand-written loop around the same
 * work (ab_now_s, the work called directly, ab_now_s), for work of about 10 us per repetition.
 * A benchmark, not a test: `meson test -C build --benchmark launch_overhead` prints the medians
 * of interleaved batches and their ratio; nothing is asserted. */
#include "accelbench.h"
#include "runner_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static volatile double sink;
static int64_t work_iters = 4000;

/* A chain of dependent multiply-adds: the same time whatever the cache holds. */
static __attribute__((noinline)) ab_status work(struct ab_error *err)
{
    double x = 1.0;
    for (int64_t i = 0; i < work_iters; i++)
        x = x * 0.999999 + 1e-7;
    sink = x;
    return AB_OK;
}

static ab_status work_launch(struct ab_case *c, int64_t rep, struct ab_error *err)
{
    return work(err);
}

/* The loop the workloads had: their clock around their own repetitions. */
static double hand_loop(int64_t reps)
{
    struct ab_error err;
    double t0 = ab_now_s();
    for (int64_t r = 0; r < reps; r++)
        if (work(&err))
            return NAN;
    return ab_now_s() - t0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int batches = argc > 1 ? atoi(argv[1]) : 400;
    const int64_t reps = 200; /* ~2 ms a batch, as the engine's calibration aims for */
    /* size the work to ~10 us per repetition */
    for (int i = 0; i < 20; i++) {
        double t = hand_loop(50) / 50;
        if (t > 0)
            work_iters = (int64_t)fmax(100, (double)work_iters * 10e-6 / t);
    }
    struct ab_device dev = { .backend = AB_BACKEND_CPU };
    struct ab_case c = { .device = &dev };
    struct ab_impl impl = { .launch = work_launch };
    struct ab_timer *timer = NULL;
    struct ab_error err = { { 0 } };
    if (ab_timer_open(&dev, NULL, &timer, &err)) {
        fprintf(stderr, "bench_launch: %s\n", err.msg);
        return 1;
    }
    double *a = malloc(sizeof *a * (size_t)batches), *b = malloc(sizeof *b * (size_t)batches);
    if (!a || !b)
        return 1;
    for (int i = 0; i < batches; i++) {
        /* interleaved, alternating which goes first, so drift and load fall on both alike */
        double t = 0;
        if (i & 1) {
            a[i] = hand_loop(reps) / (double)reps;
            if (ab_case_batch(&c, &impl, timer, reps, &t, &err))
                return 1;
            b[i] = t / (double)reps;
        } else {
            if (ab_case_batch(&c, &impl, timer, reps, &t, &err))
                return 1;
            b[i] = t / (double)reps;
            a[i] = hand_loop(reps) / (double)reps;
        }
    }
    ab_timer_close(timer);
    qsort(a, (size_t)batches, sizeof *a, cmp);
    qsort(b, (size_t)batches, sizeof *b, cmp);
    double ma = a[batches / 2], mb = b[batches / 2];
    printf("work per repetition: %lld multiply-adds\n", (long long)work_iters);
    printf("hand loop:    median %.3f us, min %.3f us per repetition\n", ma * 1e6, a[0] * 1e6);
    printf("engine batch: median %.3f us, min %.3f us per repetition\n", mb * 1e6, b[0] * 1e6);
    printf("engine / hand: median %+.3f%%, min %+.3f%% (%d batches of %lld)\n", 100 * (mb / ma - 1),
           100 * (b[0] / a[0] - 1), batches, (long long)reps);
    free(a);
    free(b);
    return 0;
}
