/* launcher.c — where this process stands in a job started by Slurm (srun), Open MPI (mpirun)
 * or MPICH's Hydra (mpiexec), read from the environment the launcher sets: rank, size, local
 * rank, the job's id (so every rank names the same run_id without talking to the others), the
 * devices a rank takes and its output folder. Pure functions of an environment array, so the
 * mapping is tested from each launcher's variables; it starts and joins nothing itself. */
#include "accelbench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *env_get(const char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (; envp && *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

/* A whole non-negative number below 2^24 (no launcher has more ranks), else false. */
static bool env_int(const char *const *envp, const char *name, int *out, bool *present, struct ab_error *err,
                    ab_status *st)
{
    const char *v = env_get(envp, name);
    *present = v != NULL;
    if (!v)
        return true;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < 0 || x >= (1L << 24)) {
        *st = ab_fail(err, AB_EINVAL, "launcher environment: %s=\"%s\" is not a rank or task count", name, v);
        return false;
    }
    *out = (int)x;
    return true;
}

/* Letters, digits, '.', '_' and '-' only, as a folder name and a CSV field both take. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
              *s == '_' || *s == '-'))
            *s = '_';
}

struct launcher_vars {
    const char *name, *rank, *size, *local;
    const char *job[3]; /* job id variables, first present wins */
};

/* mpirun inside a Slurm allocation sets both families: the launcher's own variables describe
 * the ranks, Slurm's the allocation, so MPI launchers are asked first. */
static const struct launcher_vars launchers[] = {
    { "openmpi",
      "OMPI_COMM_WORLD_RANK",
      "OMPI_COMM_WORLD_SIZE",
      "OMPI_COMM_WORLD_LOCAL_RANK",
      { "PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid", "SLURM_JOB_ID" } },
    { "mpich",
      "PMI_RANK",
      "PMI_SIZE",
      "MPI_LOCALRANKID",
      { "PMI_KVSNAME", "PMIX_NAMESPACE", "SLURM_JOB_ID" } },
    { "slurm", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", { "SLURM_JOB_ID", NULL, NULL } },
};

ab_status ab_launch_detect(const char *const *envp, struct ab_launch *out, struct ab_error *err)
{
    memset(out, 0, sizeof *out);
    out->size = 1;
    ab_status st = AB_OK;
    for (size_t i = 0; i < sizeof launchers / sizeof launchers[0]; i++) {
        const struct launcher_vars *L = &launchers[i];
        bool has_rank, has_size, has_local;
        int rank = 0, size = 0, local = 0;
        if (!env_int(envp, L->rank, &rank, &has_rank, err, &st))
            return st;
        if (!has_rank)
            continue;
        if (!env_int(envp, L->size, &size, &has_size, err, &st))
            return st;
        const char *size_var = L->size;
        if (!has_size && !strcmp(L->name, "slurm")) {
            /* srun sets the step's task count; an older one only SLURM_NTASKS. */
            size_var = "SLURM_NTASKS";
            if (!env_int(envp, size_var, &size, &has_size, err, &st))
                return st;
        }
        if (!has_size)
            return ab_fail(err, AB_EINVAL, "launcher environment: %s is set but %s is not", L->rank, L->size);
        if (size < 1 || rank >= size)
            return ab_fail(err, AB_EINVAL, "launcher environment: rank %s=%d is not below the size %s=%d",
                           L->rank, rank, size_var, size);
        if (!env_int(envp, L->local, &local, &has_local, err, &st))
            return st;
        snprintf(out->launcher, sizeof out->launcher, "%s", L->name);
        out->rank = rank;
        out->size = size;
        /* Without a local rank (Hydra without MPI_LOCALRANKID) the global one stands in: right
         * on one node, and the note in the device mapping says so. */
        out->local_rank = has_local ? local : rank;
        out->local_known = has_local;
        for (int j = 0; j < 3 && L->job[j] && !out->job_id[0]; j++) {
            const char *v = env_get(envp, L->job[j]);
            if (v && *v)
                snprintf(out->job_id, sizeof out->job_id, "%s", v);
        }
        /* A Slurm job runs many steps (one srun each): the step tells them apart. */
        const char *step = env_get(envp, "SLURM_STEP_ID");
        if (!strcmp(L->name, "slurm") && out->job_id[0] && step && *step) {
            size_t l = strlen(out->job_id);
            snprintf(out->job_id + l, sizeof out->job_id - l, ".%s", step);
        }
        sanitize(out->job_id);
        return AB_OK;
    }
    return AB_OK; /* not launched: rank 0 of 1 */
}

ab_status ab_launch_run_id(const struct ab_launch *l, const char *given, char *buf, size_t len,
                           struct ab_error *err)
{
    if (given) {
        size_t n = strlen(given);
        if (n == 0 || n > 39)
            return ab_fail(err, AB_EINVAL, "--run-id \"%s\": give 1 to 39 characters", given);
        for (const char *p = given; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  *p == '.' || *p == '_' || *p == '-'))
                return ab_fail(err, AB_EINVAL, "--run-id \"%s\": only letters, digits, '.', '_' and '-'",
                               given);
        snprintf(buf, len, "%s", given);
        return AB_OK;
    }
    if (!l->launcher[0]) {
        buf[0] = '\0'; /* one process: the runner draws its own */
        return AB_OK;
    }
    if (!l->job_id[0])
        return ab_fail(err, AB_EINVAL,
                       "launched by %s as rank %d of %d, but the environment names no job id the ranks could "
                       "share: pass the same --run-id ID to every rank",
                       l->launcher, l->rank, l->size);
    /* The run_id column holds 39 characters: a long namespace keeps its end, where the
     * launcher puts what differs between jobs. */
    size_t pre = strlen(l->launcher) + 1, n = strlen(l->job_id), room = len > 40 ? 39 : len - 1;
    const char *tail = n + pre > room ? l->job_id + (n + pre - room) : l->job_id;
    snprintf(buf, len, "%s-%s", l->launcher, tail);
    return AB_OK;
}

void ab_launch_devices(const struct ab_launch *l, const char *const *ids, int n_ids, char *dev, size_t len,
                       char *note, size_t note_len)
{
    note[0] = '\0';
    if (n_ids > 0) {
        int d = l->local_rank % n_ids;
        snprintf(dev, len, "%s", ids[d]);
        if (l->local_rank >= n_ids)
            snprintf(note, note_len,
                     "local rank %d of more ranks than the %d accelerators of this host: it shares %s with "
                     "local rank %d; their timings interfere",
                     l->local_rank, n_ids, ids[d], d);
        else if (!l->local_known && l->size > 1)
            snprintf(note, note_len,
                     "the launcher gives no local rank: global rank %d takes %s, right on one node only "
                     "(give -d on several)",
                     l->rank, ids[d]);
        return;
    }
    snprintf(dev, len, "%s", ab_backend_name(AB_BACKEND_CPU)); /* the host, which every rank shares */
    if (l->size > 1)
        snprintf(note, note_len,
                 "no accelerator here: rank %d runs on the cpu device, which every rank of this host shares; "
                 "their timings interfere",
                 l->rank);
}

void ab_launch_rank_dir(const char *out_dir, int rank, const char *host, char *buf, size_t len)
{
    char h[64];
    snprintf(h, sizeof h, "%s", host && *host ? host : "unknown");
    sanitize(h);
    snprintf(buf, len, "%s/rank-%d-%s", out_dir, rank, h);
}

bool ab_launch_parse_rank_dir(const char *name, int *rank, char *host, size_t host_len)
{
    if (strncmp(name, "rank-", 5) != 0)
        return false;
    char *end;
    errno = 0;
    long r = strtol(name + 5, &end, 10);
    if (end == name + 5 || errno || r < 0 || r >= (1L << 24) || *end != '-' || !end[1])
        return false;
    *rank = (int)r;
    snprintf(host, host_len, "%s", end + 1);
    return true;
}
