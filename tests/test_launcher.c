/* test_launcher.c — rank, size, local rank, job id, device and folder of a process, from the
 * environments Slurm's srun, Open MPI's mpirun and MPICH's Hydra set (their variables as those
 * launchers write them), and the errors for values no launcher writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>

#include "accelbench.h"

/* The accelerator ids a host's discovery gives, as the launcher's device mapping takes them. */
static const char *const gpus[] = { "cuda:0", "cuda:1", "cuda:2", "cuda:3",
                                    "cuda:4", "cuda:5", "cuda:6", "cuda:7" };

static void slurm_step_gives_rank_size_local_and_job_step(void **state)
{
    const char *env[] = { "PATH=/usr/bin",   "SLURM_JOB_ID=81234", "SLURM_STEP_ID=3",        "SLURM_PROCID=5",
                          "SLURM_LOCALID=1", "SLURM_NTASKS=16",    "SLURM_STEP_NUM_TASKS=8", NULL };
    struct ab_launch l;
    struct ab_error err;
    assert_int_equal(ab_launch_detect(env, &l, &err), AB_OK);
    assert_string_equal(l.launcher, "slurm");
    assert_int_equal(l.rank, 5);
    assert_int_equal(l.size, 8); /* the step's tasks, not the allocation's */
    assert_int_equal(l.local_rank, 1);
    assert_true(l.local_known);
    assert_string_equal(l.job_id, "81234.3");
    char id[40];
    assert_int_equal(ab_launch_run_id(&l, NULL, id, sizeof id, &err), AB_OK);
    assert_string_equal(id, "slurm-81234.3");
    char dev[16], note[256];
    ab_launch_devices(&l, gpus, 4, dev, sizeof dev, note, sizeof note);
    assert_string_equal(dev, "cuda:1");
    assert_string_equal(note, "");
}

static void slurm_without_step_tasks_falls_back_to_ntasks(void **state)
{
    const char *env[] = { "SLURM_JOB_ID=7", "SLURM_PROCID=1", "SLURM_LOCALID=1", "SLURM_NTASKS=2", NULL };
    struct ab_launch l;
    struct ab_error err;
    assert_int_equal(ab_launch_detect(env, &l, &err), AB_OK);
    assert_int_equal(l.size, 2);
    assert_string_equal(l.job_id, "7");
}

static void openmpi_wins_over_the_slurm_allocation_around_it(void **state)
{
    /* mpirun inside salloc: Slurm's variables describe the allocation (one task), Open MPI's
     * the ranks. */
    const char *env[] = { "SLURM_JOB_ID=99",          "SLURM_PROCID=0",
                          "SLURM_NTASKS=1",           "OMPI_COMM_WORLD_RANK=3",
                          "OMPI_COMM_WORLD_SIZE=4",   "OMPI_COMM_WORLD_LOCAL_RANK=1",
                          "PMIX_NAMESPACE=1234567@1", NULL };
    struct ab_launch l;
    struct ab_error err;
    assert_int_equal(ab_launch_detect(env, &l, &err), AB_OK);
    assert_string_equal(l.launcher, "openmpi");
    assert_int_equal(l.rank, 3);
    assert_int_equal(l.size, 4);
    assert_int_equal(l.local_rank, 1);
    assert_string_equal(l.job_id, "1234567_1"); /* '@' is no folder or CSV character */
    char id[40];
    assert_int_equal(ab_launch_run_id(&l, NULL, id, sizeof id, &err), AB_OK);
    assert_string_equal(id, "openmpi-1234567_1");
}

static void mpich_hydra_without_job_id_needs_run_id(void **state)
{
    const char *env[] = { "PMI_RANK=1", "PMI_SIZE=2", "MPI_LOCALRANKID=1", "PMI_FD=5", NULL };
    struct ab_launch l;
    struct ab_error err;
    assert_int_equal(ab_launch_detect(env, &l, &err), AB_OK);
    assert_string_equal(l.launcher, "mpich");
    assert_int_equal(l.rank, 1);
    assert_int_equal(l.size, 2);
    assert_int_equal(l.local_rank, 1);
    char id[40];
    assert_int_equal(ab_launch_run_id(&l, NULL, id, sizeof id, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "--run-id"));
    assert_int_equal(ab_launch_run_id(&l, "study-7", id, sizeof id, &err), AB_OK);
    assert_string_equal(id, "study-7");
    assert_int_equal(ab_launch_run_id(&l, "a/b", id, sizeof id, &err), AB_EINVAL);
    assert_int_equal(ab_launch_run_id(&l, "", id, sizeof id, &err), AB_EINVAL);
}

static void mpich_without_local_rank_uses_global_and_says_so(void **state)
{
    const char *env[] = { "PMI_RANK=2", "PMI_SIZE=4", "PMI_KVSNAME=kvs_4242_0", NULL };
    struct ab_launch l;
    struct ab_error err;
    assert_int_equal(ab_launch_detect(env, &l, &err), AB_OK);
    assert_int_equal(l.local_rank, 2);
    assert_false(l.local_known);
    char dev[16], note[256];
    ab_launch_devices(&l, gpus, 8, dev, sizeof dev, note, sizeof note);
    assert_string_equal(dev, "cuda:2");
    assert_non_null(strstr(note, "no local rank"));
}

static void no_launcher_is_rank_zero_of_one_with_no_shared_id(void **state)
{
    const char *env[] = { "HOME=/root", NULL };
    struct ab_launch l;
    struct ab_error err;
    assert_int_equal(ab_launch_detect(env, &l, &err), AB_OK);
    assert_string_equal(l.launcher, "");
    assert_int_equal(l.rank, 0);
    assert_int_equal(l.size, 1);
    char id[40] = "x";
    assert_int_equal(ab_launch_run_id(&l, NULL, id, sizeof id, &err), AB_OK);
    assert_string_equal(id, "");
}

static void bad_values_name_the_variable(void **state)
{
    struct ab_launch l;
    struct ab_error err;
    const char *e1[] = { "OMPI_COMM_WORLD_RANK=one", "OMPI_COMM_WORLD_SIZE=2", NULL };
    assert_int_equal(ab_launch_detect(e1, &l, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "OMPI_COMM_WORLD_RANK=\"one\""));
    const char *e2[] = { "PMI_RANK=2", "PMI_SIZE=2", NULL };
    assert_int_equal(ab_launch_detect(e2, &l, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "PMI_SIZE=2"));
    const char *e3[] = { "SLURM_PROCID=0", NULL };
    assert_int_equal(ab_launch_detect(e3, &l, &err), AB_EINVAL);
    assert_non_null(strstr(err.msg, "SLURM_STEP_NUM_TASKS"));
    const char *e4[] = { "SLURM_PROCID=-1", "SLURM_NTASKS=2", NULL };
    assert_int_equal(ab_launch_detect(e4, &l, &err), AB_EINVAL);
}

static void cpu_ranks_share_the_cpu_and_extra_ranks_share_gpus(void **state)
{
    struct ab_launch l = {
        .launcher = "openmpi", .rank = 1, .size = 2, .local_rank = 1, .local_known = true
    };
    char dev[16], note[256];
    ab_launch_devices(&l, NULL, 0, dev, sizeof dev, note, sizeof note);
    assert_string_equal(dev, "cpu");
    assert_non_null(strstr(note, "shares"));
    l.local_rank = 5;
    ab_launch_devices(&l, gpus, 4, dev, sizeof dev, note, sizeof note);
    assert_string_equal(dev, "cuda:1");
    assert_non_null(strstr(note, "shares cuda:1"));
    struct ab_launch one = { .launcher = "slurm", .rank = 0, .size = 1, .local_known = true };
    ab_launch_devices(&one, NULL, 0, dev, sizeof dev, note, sizeof note);
    assert_string_equal(dev, "cpu");
    assert_string_equal(note, "");
}

static void rank_folders_round_trip_and_long_ids_keep_their_end(void **state)
{
    char dir[256], host[64];
    int rank;
    ab_launch_rank_dir("out", 12, "node-3.cluster", dir, sizeof dir);
    assert_string_equal(dir, "out/rank-12-node-3.cluster");
    assert_true(ab_launch_parse_rank_dir("rank-12-node-3.cluster", &rank, host, sizeof host));
    assert_int_equal(rank, 12);
    assert_string_equal(host, "node-3.cluster");
    ab_launch_rank_dir("o", 0, "we ird/host", dir, sizeof dir);
    assert_string_equal(dir, "o/rank-0-we_ird_host");
    assert_false(ab_launch_parse_rank_dir("rank-x-h", &rank, host, sizeof host));
    assert_false(ab_launch_parse_rank_dir("rank-3", &rank, host, sizeof host));
    assert_false(ab_launch_parse_rank_dir("merged", &rank, host, sizeof host));
    struct ab_launch l = { .launcher = "openmpi",
                           .size = 2,
                           .job_id = "prterun-averyveryverylonghostname-123456_1" };
    char id[40];
    struct ab_error err;
    assert_int_equal(ab_launch_run_id(&l, NULL, id, sizeof id, &err), AB_OK);
    assert_int_equal(strlen(id), 39);
    assert_string_equal(id + strlen(id) - 8, "123456_1");
}

static void ranks_spread_over_the_given_accelerator_ids_of_any_backend(void **state)
{
    struct ab_launch l = { .launcher = "slurm", .rank = 3, .size = 4, .local_rank = 3, .local_known = true };
    static const char *const other[] = { "rocm:0", "rocm:1" };
    char dev[16], note[256];
    ab_launch_devices(&l, other, 2, dev, sizeof dev, note, sizeof note);
    assert_string_equal(dev, "rocm:1");
    assert_non_null(strstr(note, "shares rocm:1 with local rank 1"));
    l.local_rank = 0;
    ab_launch_devices(&l, other, 2, dev, sizeof dev, note, sizeof note);
    assert_string_equal(dev, "rocm:0");
    assert_string_equal(note, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slurm_step_gives_rank_size_local_and_job_step),
        cmocka_unit_test(slurm_without_step_tasks_falls_back_to_ntasks),
        cmocka_unit_test(openmpi_wins_over_the_slurm_allocation_around_it),
        cmocka_unit_test(mpich_hydra_without_job_id_needs_run_id),
        cmocka_unit_test(mpich_without_local_rank_uses_global_and_says_so),
        cmocka_unit_test(no_launcher_is_rank_zero_of_one_with_no_shared_id),
        cmocka_unit_test(bad_values_name_the_variable),
        cmocka_unit_test(cpu_ranks_share_the_cpu_and_extra_ranks_share_gpus),
        cmocka_unit_test(ranks_spread_over_the_given_accelerator_ids_of_any_backend),
        cmocka_unit_test(rank_folders_round_trip_and_long_ids_keep_their_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
