/* run.c — ab_run: plan (plan.c), open what can fail before the first case (output folder,
 * reporters, meters, counters), then the case loop: each case on the watchdog's worker, its
 * row to every reporter as it ends. A case that fails becomes a row and the run goes on; a
 * device found lost skips its remaining cases. Ceilings come first (measured in this run, from
 * --ceilings, or from the rows being resumed) so that every later case can be read as a
 * fraction of one. */
#include "runner_internal.h"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* ------------------------------------------------------------------ the run */

void ab_run_opts_defaults(struct ab_run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->suite = AB_SUITE_DEFAULT;
    ab_stop_rule_defaults(&o->stop);
    o->warmup_s = 0.1;
    o->out_dir = "results/latest";
    o->log = stderr;
    o->lock_fd = -1;
}

/* ------------------------------------------------------------------ the folder's lock */

ab_status ab_run_lock(const char *dir, int *fd, struct ab_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/.lock", dir);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (*fd < 0)
        return ab_fail(err, AB_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char text[32] = "";
        ssize_t n = pread(*fd, text, sizeof text - 1, 0);
        text[n > 0 ? n : 0] = '\0';
        text[strcspn(text, "\n")] = '\0';
        close(*fd);
        *fd = -1;
        if (e != EWOULDBLOCK)
            return ab_fail(err, AB_EIO, "%s: cannot lock: %s", path, strerror(e));
        return ab_fail(err, AB_EINVAL,
                       "%s is in use by another accelbench run (pid %s): wait for it to end, or use "
                       "another output folder (-o)",
                       dir, text[0] ? text : "unknown");
    }
    /* The lock is the flock, not the file: the pid is only for the message above. */
    char text[32];
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(*fd, 0) != 0 || pwrite(*fd, text, (size_t)n, 0) != n) {
        ab_status st = ab_fail(err, AB_EIO, "%s: cannot write: %s", path, strerror(errno));
        close(*fd);
        *fd = -1;
        return st;
    }
    return AB_OK;
}

/* ------------------------------------------------------------------ ceilings */

/* Take ceilings from the ok rows of ceilings providers in a results file, for devices of the
 * same name. */
ab_status ab_ceilings_from_file(const char *path, struct ab_device *devs, int n, bool quiet_missing,
                                struct ab_error *err, int *matched)
{
    if (matched)
        *matched = 0;
    struct ab_result_set set = { 0 };
    ab_status st = ab_csv_read(path, &set, NULL, 0, err);
    if (st) {
        ab_result_set_free(&set);
        return quiet_missing ? AB_OK : st;
    }
    char src[48];
    const char *base = strrchr(path, '/');
    snprintf(src, sizeof src, "file:%s", base ? base + 1 : path);
    for (int64_t i = 0; i < set.n; i++) {
        const struct ab_result *r = &set.rows[i];
        const struct ab_workload *wl = ab_workload_find(r->workload);
        if (!wl || !wl->provides_ceilings || r->status != AB_OK || !r->ceiling[0] || !(r->ceiling_value > 0))
            continue;
        /* A row held against a better value than its own best (a size below the best one of a
         * sweep, a pageable copy against the pinned ceiling) did not give it: the row that did is
         * in the file, with what gave it. */
        double own = ab_result_metric(r, "ceiling_best_rate");
        if (isnan(own) ? wl->own_ceilings_only : own != r->ceiling_value)
            continue;
        for (int d = 0; d < n; d++)
            if (strcmp(devs[d].name, r->device_name) == 0 && strcmp(devs[d].id, r->device) == 0) {
                /* as the run chose among them: a plausible value beats a suspect one, then the
                 * higher wins */
                bool suspect = ab_result_metric(r, "ceiling_suspect") == 1;
                const struct ab_ceiling *old = ab_device_ceiling(&devs[d], r->ceiling);
                if (old && !strcmp(old->source, src) && old->suspect != suspect) {
                    if (suspect)
                        continue;
                    for (int k = 0; k < devs[d].n_ceilings; k++)
                        if (!strcmp(devs[d].ceilings[k].name, r->ceiling))
                            devs[d].ceilings[k].value = 0; /* replaced below */
                }
                ab_device_set_ceiling(&devs[d], r->ceiling, r->ceiling_value, src);
                /* what gave it, and a suspect mark, travel with the value */
                const struct ab_ceiling *got = ab_device_ceiling(&devs[d], r->ceiling);
                const char *why = ab_result_metric_text(r, "ceiling_suspect_reason");
                if (got && got->value == r->ceiling_value)
                    ab_device_note_ceiling(&devs[d], r->ceiling, ab_result_metric_text(r, "ceiling_detail"),
                                           suspect ? (why ? why : "suspect") : NULL);
                if (matched)
                    (*matched)++;
            }
    }
    ab_result_set_free(&set);
    return AB_OK;
}

/* ------------------------------------------------------------------ resume */

ab_status ab_resume_done(struct ab_result_set *prev, const char *samples_path, struct ab_keymap **done,
                         int64_t *n_unpaired, struct ab_error *err)
{
    *done = NULL;
    *n_unpaired = 0;
    /* A row counts as done only with its samples line (written before the row): the samples of
     * a row without one are lost, so its case runs again. A samples.jsonl the readers would
     * reject is refused here, before anything is appended to it. */
    bool *has_line = calloc((size_t)prev->n + 1, sizeof *has_line);
    if (!has_line)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    bool have_samples = access(samples_path, F_OK) == 0;
    ab_status st = AB_OK;
    if (have_samples && (st = ab_json_read_samples_marked(samples_path, prev, has_line, err))) {
        ab_fail_prefix(err, AB_EINVAL, "--resume");
        st = AB_EINVAL;
    }
    if (st == AB_OK)
        st = ab_keymap_create(prev->n, done, err);
    for (int64_t i = 0; st == AB_OK && i < prev->n; i++) {
        if (prev->rows[i].status == AB_EINTR)
            continue; /* an interrupted case runs again */
        if (!has_line[i]) {
            (*n_unpaired)++;
            continue;
        }
        char key[AB_KEY_MAX];
        ab_result_key(&prev->rows[i], key, sizeof key);
        st = ab_keymap_put(*done, key, i, err);
    }
    free(has_line);
    if (st) {
        ab_keymap_destroy(*done);
        *done = NULL;
    }
    return st;
}

/* After a case that failed or timed out on a device, ask its backend whether the device is
 * still usable; if not, fill why (non-empty) so the device's remaining cases are skipped. */
static void device_check(const struct ab_device *dev, enum test_fault fault, const struct plan_case *pc,
                         const char *params, const struct ab_result *r, char why[AB_ERR_LEN])
{
    if (r->status != AB_EFAIL && r->status != AB_ETIMEOUT)
        return;
    const struct ab_backend *b = ab_backend_get(dev->backend);
    struct ab_error e = { { 0 } };
    const char *what = "lost";
    if (fault == FAULT_DEVICE_LOST)
        ab_fail(&e, AB_EFAIL, "%s", r->message);
    else if (r->status == AB_ETIMEOUT && b && b->health) {
        /* The stuck case's kernels may still run and hold memory: nothing measured after it
         * on this device could be trusted. */
        what = "in doubt";
        ab_fail(&e, AB_EFAIL, "the case timed out with work possibly still running");
    } else if (!b || !b->health || b->health(dev, &e) == AB_OK)
        return;
    snprintf(why, AB_ERR_LEN, "device %s after %s %s: %s", what, pc->wl->name, params,
             e.msg[0] ? e.msg : "unusable");
}

bool ab_run_case_at(struct run_ctx *x, int i, struct worker **wp, struct ab_result *r, double **samples,
                    bool *ran)
{
    const struct ab_run_opts *o = x->o;
    struct plan_case lost_pc;
    const struct plan_case *pc = &x->plan->c[i];
    if (pc->dev >= 0 && x->lost[pc->dev][0] && !pc->skip) {
        lost_pc = *pc;
        lost_pc.skip = x->lost[pc->dev];
        pc = &lost_pc;
    }
    struct case_env env = { .o = o,
                            .dev = pc->dev >= 0 ? &x->devs[pc->dev] : NULL,
                            .meter = pc->dev >= 0 ? x->meters[pc->dev] : NULL,
                            .run_id = x->run_id,
                            .host = x->host,
                            .slowdown = ab_test_slowdown(pc->wl->name),
                            .idle_w = pc->dev >= 0 ? x->idle_w[pc->dev] : NAN,
                            .counters = pc->backend == AB_BACKEND_CPU ? x->counters : NULL };
    char params[AB_PARAMS_TEXT_MAX];
    struct ab_params ps;
    ab_plan_params(pc, &ps);
    ab_case_params_text(pc->wl, &ps, params, sizeof params);
    env.fault = ab_test_fault(pc->wl->name, params);
    if (env.dev && !ab_test_fault_on_device(env.dev->id))
        env.fault = FAULT_NONE;
    /* Each case gets its own seed, derived from the run's and its position. */
    uint64_t case_seed = x->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
    double limit = o->case_timeout_s > 0 ? o->case_timeout_s : 10 * o->stop.max_time_s + 60;
    bool ok = true;
    *ran = !pc->skip;
    *samples = NULL;
    if (pc->skip || env.counters || !wp) {
        /* PAPI counts the thread that opened the counters: such cases stay on this one. */
        ab_case_run(&env, pc, case_seed, r, samples);
    } else {
        bool gave_up = false;
        if (!*wp)
            *wp = ab_worker_start();
        if (!*wp || !ab_worker_run_case(wp, &env, pc, case_seed, limit, r, samples, &gave_up))
            ok = false;
        if (gave_up && pc->dev >= 0) {
            struct ab_error me;
            if (ab_meter_open(&x->devs[pc->dev], &x->meters[pc->dev], &me) != AB_OK)
                x->meters[pc->dev] = NULL;
        }
    }
    if (ok && pc->dev >= 0 && !pc->skip && !x->lost[pc->dev][0])
        device_check(&x->devs[pc->dev], env.fault, pc, params, r, x->lost[pc->dev]);
    return ok;
}

/* What a row needs on its way out: the reporters, the run's counts and the summaries. */
struct emit_ctx {
    const struct ab_run_opts *o;
    struct ab_run_info *info;
    struct ab_reporter *rep;
    int nrep, n;
    const struct plan *plan;
    struct ab_summary_rows *kept;
    struct ab_device *devs;
};

static void emit_case_start(struct emit_ctx *ec, const struct plan_case *pc, const struct ab_device *dev,
                            int i)
{
    char params[AB_PARAMS_TEXT_MAX];
    struct ab_params ps;
    ab_plan_params(pc, &ps);
    ab_case_params_text(pc->wl, &ps, params, sizeof params);
    for (int k = 0; k < ec->nrep; k++)
        if (ec->rep[k].case_start)
            ec->rep[k].case_start(ec->rep[k].self, pc->wl->name, dev ? dev->id : ab_backend_name(pc->backend),
                                  params, i, ec->n);
}

/* --concurrent-devices: the run's thread waits for case i's row next (the console shows that case,
 * and the time it waited for it). */
static void emit_awaiting(void *self, int i)
{
    struct emit_ctx *ec = self;
    const struct plan_case *pc = &ec->plan->c[i];
    emit_case_start(ec, pc, pc->dev >= 0 ? &ec->devs[pc->dev] : NULL, i);
}

/* A case's row to every reporter, in the plan's order; takes samples (frees it). concurrent:
 * the engine metric concurrent_devices (0: leave it out). */
static ab_status emit_row(void *self, int i, struct ab_result *r, double *samples, int concurrent,
                          struct ab_error *err)
{
    struct emit_ctx *ec = self;
    const struct ab_run_opts *o = ec->o;
    struct ab_run_info *info = ec->info;
    ab_status st = AB_OK;
    const struct ab_workload *wl = ec->plan->c[i].wl;
    r->samples = samples;
    /* Several devices in one run: whether the case had the node to itself. */
    if (concurrent > 0 && r->n_metrics < AB_MAX_METRICS)
        r->metrics[r->n_metrics++] = (struct ab_metric){ .name = "concurrent_devices", .value = concurrent };
    /* Launched ranks mark their rows, so a merged set keeps each rank's cases apart. */
    if (o->world_size > 0 && r->n_metrics + 2 <= AB_MAX_METRICS) {
        struct ab_metric *m = &r->metrics[r->n_metrics++];
        *m = (struct ab_metric){ .name = "rank", .value = o->rank };
        m = &r->metrics[r->n_metrics++];
        *m = (struct ab_metric){ .name = "world_size", .value = o->world_size };
    }
    info->n_cases++;
    if ((unsigned)r->status <= AB_EFAIL)
        info->n_by_status[r->status]++;
    if (r->status == AB_OK)
        info->n_ok++;
    else if (r->status == AB_EUNSUPPORTED)
        info->n_skipped++;
    else
        info->n_failed++;
    for (int k = 0; k < ec->nrep && st == AB_OK; k++)
        st = ec->rep[k].row(ec->rep[k].self, r, err);
    ab_summary_keep(ec->kept, wl, r);
    free(samples);
    r->samples = NULL;
    free(r->extra_json);
    r->extra_json = NULL;
    free(r->detail);
    r->detail = NULL;
    if (st == AB_OK && r->status == AB_EINTR)
        st = ab_fail(err, AB_EINTR, "interrupted");
    return st;
}

ab_status ab_run(const struct ab_run_opts *o, struct ab_run_info *info, struct ab_error *err)
{
    memset(info, 0, sizeof *info);
    ab_status st;
    struct ab_device *devs = calloc(AB_MAX_DEVICES, sizeof *devs);
    struct ab_error why[AB_BACKEND_COUNT];
    int ndev = 0;
    struct ab_profile *profiles = NULL;
    int nprof = 0;
    struct plan plan = { 0 };
    struct ab_reporter rep[3] = { { 0 } };
    int nrep = 0;
    struct ab_meter *meters[AB_MAX_DEVICES] = { 0 };
    struct ab_counters *counters = NULL;
    struct ab_result *r = NULL;
    struct worker **workers = NULL; /* one per device, started at its first case */
    bool *done_case = NULL;         /* per plan case: recorded by the run resumed */
    char(*lost)[AB_ERR_LEN] = NULL;
    struct ab_keymap *done = NULL; /* --resume: the keys of the cases already recorded */
    struct ab_summary_rows kept = { 0 };
    int lock_fd = -1;
    struct ab_run_state *state = NULL;
    bool use[AB_MAX_DEVICES] = { 0 }, absent[AB_BACKEND_COUNT];
    const struct ab_workload *sel[64];
    int nsel = 0;
    if (!devs)
        return ab_fail(err, AB_ENOMEM, "out of memory");

    if ((st = ab_plan_select_workloads(o, sel, &nsel, err)))
        goto out;
    if (o->concurrent_devices && o->counters) {
        st = ab_fail(err, AB_EINVAL,
                     "--counters counts the run's own thread, --concurrent-devices runs each device on "
                     "its own: use one of them");
        goto out;
    }
    ab_devices_discover(devs, AB_MAX_DEVICES, &ndev, why, NULL);
    if ((st = ab_profiles_load(NULL, &profiles, &nprof, err)))
        goto out;
    for (int d = 0; d < ndev; d++)
        devs[d].profile = ab_profile_match(profiles, nprof, &devs[d]);
    if ((st = ab_plan_select_devices(o, devs, ndev, why, use, absent, err)))
        goto out;

    int n_matched = 0;
    if (o->ceilings_file &&
        (st = ab_ceilings_from_file(o->ceilings_file, devs, ndev, false, err, &n_matched)))
        goto out;
    if (o->ceilings_file && n_matched == 0 && o->log && !o->quiet)
        fprintf(o->log,
                "warning: --ceilings %s has no ceilings of a device here (same id and name): fractions of "
                "ceiling stay empty\n",
                o->ceilings_file);
    if ((st = ab_plan_cases(&plan, o, sel, nsel, devs, ndev, use, absent, why, err)))
        goto out;

    /* Output: everything that can fail does so before the first case runs. */
    if ((st = ab_mkdirs(o->out_dir, err)))
        goto out;
    if (o->lock_fd < 0 && (st = ab_run_lock(o->out_dir, &lock_fd, err)))
        goto out;
    char csv_path[4200];
    snprintf(csv_path, sizeof csv_path, "%s/results.csv", o->out_dir);
    if (access(csv_path, F_OK) == 0) {
        if (!o->resume) {
            /* Empty, or only the header (a run that failed before its first case): no results
             * to lose, so the folder is not blocked. */
            struct ab_result_set prev = { 0 };
            bool empty = false;
            FILE *f = fopen(csv_path, "r");
            if (f) {
                empty = fgetc(f) == EOF;
                fclose(f);
            }
            if (!empty)
                empty = ab_csv_read(csv_path, &prev, NULL, 0, NULL) == AB_OK && prev.n == 0;
            ab_result_set_free(&prev);
            if (empty && truncate(csv_path, 0) != 0) {
                st = ab_fail(err, AB_EIO, "%s: %s", csv_path, strerror(errno));
                goto out;
            }
            if (!empty) {
                st = ab_fail(err, AB_EINVAL,
                             "%s already exists: use --resume to continue that run, or "
                             "another output folder (-o)",
                             csv_path);
                goto out;
            }
        } else {
            struct ab_result_set prev = { 0 };
            char warn[256];
            if ((st = ab_csv_read(csv_path, &prev, warn, sizeof warn, err))) {
                ab_result_set_free(&prev);
                goto out;
            }
            if (warn[0] && o->log && !o->quiet)
                fprintf(o->log, "warning: %s\n", warn);
            char jl_path[4200];
            snprintf(jl_path, sizeof jl_path, "%s/samples.jsonl", o->out_dir);
            int64_t n_unpaired = 0;
            st = ab_resume_done(&prev, jl_path, &done, &n_unpaired, err);
            ab_result_set_free(&prev);
            if (st)
                goto out;
            if (n_unpaired && o->log && !o->quiet)
                fprintf(o->log, "warning: %lld row%s of %s %s no line in samples.jsonl: %s again\n",
                        (long long)n_unpaired, n_unpaired == 1 ? "" : "s", csv_path,
                        n_unpaired == 1 ? "has" : "have",
                        n_unpaired == 1 ? "its case runs" : "their cases run");
            ab_ceilings_from_file(csv_path, devs, ndev, true, NULL, NULL);
        }
    }
    /* A resumed run keeps its identity: the run_id its rows carry, and its seed. */
    if (o->resume) {
        char rj[4200];
        snprintf(rj, sizeof rj, "%s/run.json", o->out_dir);
        state = calloc(1, sizeof *state);
        if (!state) {
            st = ab_fail(err, AB_ENOMEM, "out of memory");
            goto out;
        }
        if (access(rj, F_OK) != 0 || ab_json_read_run_state(rj, state, NULL) != AB_OK) {
            free(state);
            state = NULL;
        }
    }
    if (o->counters && (st = ab_counters_open(o->counters, &counters, err))) {
        if (st == AB_EUNSUPPORTED)
            st = AB_EINVAL; /* asked for explicitly: a usage error before anything runs */
        goto out;
    }
    /* samples.jsonl before results.csv: reporters write a case's lines in this order, so a row
     * on disk has its samples line (--resume runs a row without one again). */
    if ((st = ab_json_reporter_open(o->out_dir, &rep[nrep], err)))
        goto out;
    nrep++;
    if ((st = ab_csv_reporter_open(csv_path, &rep[nrep], err)))
        goto out;
    nrep++;
    if (o->log && !o->quiet) {
        if ((st = ab_console_reporter_open(o->log, o->progress_tty, &rep[nrep], err)))
            goto out;
        nrep++;
    }

    /* Metadata. */
    ab_sysinfo_collect(&info->sys);
    ab_utc_now(info->started_utc, sizeof info->started_utc);
    /* Other work on the machine skews every timing and, worst, the ceilings the fractions are
     * read against (threaded loops wait on descheduled threads): say so before the first case. */
    if (isfinite(info->sys.load_avg_1m) && info->sys.cpu_cores_online > 0 &&
        info->sys.load_avg_1m > 0.5 * info->sys.cpu_cores_online && o->log && !o->quiet)
        fprintf(o->log,
                "warning: load average %.1f on %d CPUs: other work is running; timings and fractions of "
                "ceiling will be unreliable (recorded in run.json)\n",
                info->sys.load_avg_1m, info->sys.cpu_cores_online);
    if (state && state->run_id[0]) {
        snprintf(info->run_id, sizeof info->run_id, "%s", state->run_id);
    } else if (o->run_id && o->run_id[0]) {
        snprintf(info->run_id, sizeof info->run_id, "%s", o->run_id);
    } else {
        struct ab_rng g;
        ab_rng_seed(&g, (uint64_t)(ab_now_s() * 1e9) ^ (uint64_t)getpid());
        snprintf(info->run_id, sizeof info->run_id, "%s-%08llx", info->started_utc,
                 (unsigned long long)(ab_rng_next(&g) & 0xffffffffu));
    }
    /* A fresh seed stays below 2^53 (a JSON number and --seed hold it exactly): run.json
     * records it, so any run can be repeated with --seed; a resume keeps the run's. */
    uint64_t seed = o->seed ? o->seed
                    : state && state->seed
                        ? state->seed
                        : (((uint64_t)(ab_now_s() * 1e9) ^ ((uint64_t)getpid() << 32)) >> 11) | 1;
    info->seed = seed;
    info->seed_given = o->seed != 0;
    info->opts = o;
    info->invocation = !state ? "start" : o->extend ? "extend" : "resume";
    snprintf(info->command_line, sizeof info->command_line, "%s", o->command_line);
    info->devices = devs;
    info->n_devices = ndev;
    info->suite = o->suite;
    for (int d = 0; d < ndev; d++) {
        if (!use[d])
            continue;
        struct ab_error me;
        if (ab_meter_open(&devs[d], &meters[d], &me) != AB_OK)
            meters[d] = NULL;
        size_t l = strlen(info->meters);
        snprintf(info->meters + l, sizeof info->meters - l, "%s%s=%s", l ? " " : "", devs[d].id,
                 ab_meter_source(meters[d]));
    }
    double idle_w[AB_MAX_DEVICES];
    for (int d = 0; d < AB_MAX_DEVICES; d++)
        idle_w[d] = NAN;
    for (int d = 0; d < ndev && o->idle_baseline_s > 0; d++) {
        /* Only a real meter has an idle draw worth subtracting; an estimate has none. */
        const char *src = ab_meter_source(meters[d]);
        if (use[d] && (!meters[d] || !strncmp(src, "nominal", 7) || !strcmp(src, "none"))) {
            if (o->log && !o->quiet)
                fprintf(o->log,
                        "warning: --idle-baseline: %s has no power meter (%s): no idle power to subtract\n",
                        devs[d].id, src);
            continue;
        }
        if (!use[d] || !meters[d])
            continue;
        struct ab_error me;
        double e = NAN, t0 = ab_now_s();
        if (ab_meter_begin(meters[d], &me) == AB_OK) {
            while (ab_now_s() - t0 < o->idle_baseline_s && !ab_run_interrupted(o))
                usleep(10000);
            if (ab_meter_end(meters[d], &e, &me) == AB_OK && isfinite(e))
                idle_w[d] = e / (ab_now_s() - t0);
        }
        if (isfinite(idle_w[d])) {
            size_t l = strlen(info->meters);
            snprintf(info->meters + l, sizeof info->meters - l, " %s_idle_w=%.2f", devs[d].id, idle_w[d]);
        }
    }
    for (int i = 0; i < nrep; i++)
        if ((st = rep[i].begin(rep[i].self, info, err)))
            goto out;

    r = calloc(1, sizeof *r);
    workers = calloc(AB_MAX_DEVICES, sizeof *workers);
    done_case = calloc((size_t)plan.n + 1, sizeof *done_case);
    if (!r || !workers || !done_case) {
        st = ab_fail(err, AB_ENOMEM, "out of memory");
        goto out;
    }
    st = AB_OK;
    /* A device that is lost (a sticky CUDA error) or in doubt (a case timed out with kernels
     * perhaps still running) runs no more cases: they become skipped rows naming the case. */
    lost = calloc(AB_MAX_DEVICES, sizeof *lost);
    if (!lost) {
        st = ab_fail(err, AB_ENOMEM, "out of memory");
        goto out;
    }
    int n_in_use = 0;
    for (int d = 0; d < ndev; d++)
        n_in_use += use[d];
    for (int i = 0; i < plan.n && done; i++) {
        const struct plan_case *pc = &plan.c[i];
        char params[AB_PARAMS_TEXT_MAX], key[AB_KEY_MAX];
        struct ab_params ps;
        ab_plan_params(pc, &ps);
        ab_case_params_text(pc->wl, &ps, params, sizeof params);
        snprintf(key, sizeof key, "%s|%s|%s", pc->wl->name,
                 pc->dev >= 0 ? devs[pc->dev].id : ab_backend_name(pc->backend), params);
        done_case[i] = ab_keymap_get(done, key) >= 0;
    }
    struct run_ctx ctx = { .o = o,
                           .plan = &plan,
                           .devs = devs,
                           .meters = meters,
                           .idle_w = idle_w,
                           .counters = counters,
                           .run_id = info->run_id,
                           .host = info->sys.host,
                           .seed = seed,
                           .lost = lost,
                           .done = done_case,
                           .n_in_use = n_in_use };
    struct emit_ctx ec = {
        .o = o, .info = info, .rep = rep, .nrep = nrep, .plan = &plan, .kept = &kept, .n = plan.n
    };
    if (o->concurrent_devices && n_in_use > 1) {
        ec.devs = devs;
        st = ab_schedule_concurrent(&ctx, emit_row, emit_awaiting, &ec, err);
    } else {
        /* One device at a time, each on its own worker, in the plan's order. */
        for (int i = 0; i < plan.n && st == AB_OK; i++) {
            const struct plan_case *pc = &plan.c[i];
            if (done_case[i])
                continue;
            if (ab_run_interrupted(o)) {
                st = AB_EINTR;
                break;
            }
            emit_case_start(&ec, pc, pc->dev >= 0 ? &devs[pc->dev] : NULL, i);
            double *samples = NULL;
            bool ran = false;
            if (!ab_run_case_at(&ctx, i, pc->dev >= 0 ? &workers[pc->dev] : NULL, r, &samples, &ran))
                st = ab_fail(err, AB_EFAIL, "could not start a thread for the next case");
            if (st == AB_OK)
                st = emit_row(&ec, i, r, samples, ran && n_in_use > 1 ? 1 : 0, err);
            else
                free(samples);
        }
    }
    ab_utc_now(info->finished_utc, sizeof info->finished_utc);
    info->summaries = ab_summary_build(&kept, o->quiet ? NULL : o->log);
    for (int k = 0; k < nrep; k++) {
        struct ab_error e2;
        ab_status s2 = rep[k].end(rep[k].self, info, &e2);
        if (s2 != AB_OK && st == AB_OK) {
            st = s2;
            *err = e2;
        }
    }
    if (st == AB_OK || st == AB_EINTR) { /* the tidy tables, from every row of the folder */
        struct ab_error e3 = { { 0 } };
        char xw[1024] = "";
        ab_status s3 = ab_export_dir(o->out_dir, xw, sizeof xw, &e3);
        if (xw[0] && o->log && !o->quiet)
            fprintf(o->log, "warning: %s\n", xw);
        if (s3 != AB_OK && st == AB_OK) {
            st = s3;
            *err = e3;
        }
    }
    if (st == AB_EINTR)
        ab_fail(err, AB_EINTR, "interrupted: %d cases recorded in %s", info->n_cases, csv_path);
out:
    ab_summary_free(&kept);
    free(info->summaries);
    info->summaries = NULL;
    if (lock_fd >= 0)
        close(lock_fd);
    free(state);
    free(lost);
    for (int d = 0; workers && d < AB_MAX_DEVICES; d++)
        ab_worker_stop(workers[d]);
    free(workers);
    free(done_case);
    for (int k = 0; k < nrep; k++)
        if (rep[k].destroy)
            rep[k].destroy(rep[k].self);
    for (int d = 0; d < AB_MAX_DEVICES; d++)
        ab_meter_close(meters[d]);
    ab_counters_close(counters);
    ab_keymap_destroy(done);
    free(r);
    ab_plan_free(&plan);
    free(profiles);
    /* info->devices points into devs: the caller is done with info when we return, so keep
     * only what it needs: counts and strings. */
    info->devices = NULL;
    info->n_devices = 0;
    free(devs);
    return st;
}
