/* cmd_merge.c — `accelbench merge OUT [-o DIR]`: the rank folders a launched run wrote
 * (OUT/rank-<r>-<host>/) into one results.csv that compare and plot read, each row keeping its
 * host and its rank (the `rank` metric). A rank with no folder, no finished run.json or fewer
 * cases than the others gets a `failed` row per case it lacks, its message starting
 * "missing:", and the command exits 1: the merge reads files only, so it never waits on a rank. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_RANKS 4096

struct rank_dir {
    int rank;
    char host[64];
    char path[4200];
    char run_id[40];
    bool has_run_json, finished;
    struct ab_result_set rows;
    int64_t n_missing;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: accelbench merge OUT [-o DIR]\n\n"
               "Joins the rank folders OUT/rank-<rank>-<host>/ of one launched run (srun, mpirun,\n"
               "mpiexec) into DIR/results.csv (default OUT/merged), every row keeping its host and\n"
               "rank. A rank whose folder is missing, whose run.json is not finished or that lacks\n"
               "cases the others ran gets a failed row per missing case (message \"missing: ...\");\n"
               "then the exit status is 1. DIR/ranks.json lists each rank, its folder and state.\n\n"
               "  -o, --output DIR   where the merged results go (default OUT/merged)\n");
}

/* run.json's run_id and whether the run finished (finished_utc is written at the end). */
static void read_run_json(struct rank_dir *r)
{
    char p[4300], *text = NULL;
    size_t len;
    struct ab_error e;
    snprintf(p, sizeof p, "%s/run.json", r->path);
    if (ab_read_file_max(p, (size_t)64 << 20, &text, &len, &e) != AB_OK)
        return;
    cJSON *o = cJSON_Parse(text);
    free(text);
    if (!o)
        return;
    r->has_run_json = true;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "run_id");
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(o, "finished_utc");
    if (cJSON_IsString(id))
        snprintf(r->run_id, sizeof r->run_id, "%s", id->valuestring);
    r->finished = cJSON_IsString(fin) && fin->valuestring[0];
    cJSON_Delete(o);
}

static int cmp_rank(const void *a, const void *b)
{
    const struct rank_dir *x = a, *y = b;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

/* "workload|params": a case whatever device the rank took. */
static void case_id(const struct ab_result *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s|%s", r->workload, r->params);
}

static void set_metric(struct ab_result *r, const char *name, double v)
{
    for (int i = 0; i < r->n_metrics; i++)
        if (!strcmp(r->metrics[i].name, name)) {
            r->metrics[i].value = v;
            r->metrics[i].text[0] = '\0';
            return;
        }
    if (r->n_metrics < AB_MAX_METRICS) {
        struct ab_metric *m = &r->metrics[r->n_metrics++];
        memset(m, 0, sizeof *m);
        snprintf(m->name, sizeof m->name, "%s", name);
        m->value = v;
    }
}

static ab_status write_ranks_json(const char *dir, const struct rank_dir *rd, int n, int world,
                                  const bool *present, struct ab_error *err)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "schema_version", AB_SCHEMA_VERSION);
    cJSON_AddStringToObject(o, "run_id", rd[0].run_id);
    cJSON_AddNumberToObject(o, "world_size", world);
    cJSON *a = cJSON_AddArrayToObject(o, "ranks");
    for (int r = 0; r < world; r++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "rank", r);
        const struct rank_dir *d = NULL;
        for (int i = 0; i < n && present[r]; i++)
            if (rd[i].rank == r)
                d = &rd[i];
        cJSON_AddStringToObject(x, "host", d ? d->host : "");
        cJSON_AddStringToObject(x, "folder", d ? d->path : "");
        cJSON_AddStringToObject(x, "state", !d ? "missing" : d->finished ? "finished" : "unfinished");
        cJSON_AddNumberToObject(x, "rows", d ? (double)d->rows.n : 0);
        cJSON_AddNumberToObject(x, "missing_cases", d ? (double)d->n_missing : -1);
        cJSON_AddItemToArray(a, x);
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    char p[4300], tmp[4400];
    int fd;
    snprintf(p, sizeof p, "%s/ranks.json", dir);
    ab_status st = ab_temp_beside(p, tmp, sizeof tmp, &fd, err);
    if (st == AB_OK) {
        st = ab_write_all(fd, text, strlen(text), tmp, err);
        if (st == AB_OK)
            st = ab_write_all(fd, "\n", 1, tmp, err);
        close(fd);
        if (st == AB_OK && rename(tmp, p) != 0)
            st = ab_fail(err, AB_EIO, "%s: %s", p, strerror(errno));
        if (st)
            unlink(tmp);
    }
    free(text);
    return st;
}

int ab_cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = { { "output", required_argument, NULL, 'o' },
                                          { "help", no_argument, NULL, 'h' },
                                          { 0 } };
    const char *out_arg = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out_arg = optarg; break;
        case 'h': usage(stdout); return 0;
        case ':': ab_cli_error("merge: option %s needs a value", argv[optind - 1]); return 2;
        default:
            ab_cli_error("merge: unknown option \"%s\" (see accelbench merge --help)", argv[optind - 1]);
            return 2;
        }
    }
    if (argc - optind != 1) {
        ab_cli_error("merge: give one folder, the -o of the launched run (see accelbench merge --help)");
        return 2;
    }
    const char *top = argv[optind];
    DIR *d = opendir(top);
    if (!d) {
        ab_cli_error("merge: %s: %s", top, strerror(errno));
        return 2;
    }
    struct rank_dir *rd = calloc(MAX_RANKS, sizeof *rd);
    if (!rd) {
        closedir(d);
        ab_cli_error("merge: out of memory");
        return 2;
    }
    int n = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int rank;
        char host[64], p[4200];
        struct stat sb;
        if (!ab_launch_parse_rank_dir(e->d_name, &rank, host, sizeof host))
            continue;
        snprintf(p, sizeof p, "%s/%s", top, e->d_name);
        if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        if (n == MAX_RANKS) {
            ab_cli_error("merge: %s: more than %d rank folders", top, MAX_RANKS);
            rc = 2;
            break;
        }
        rd[n].rank = rank;
        snprintf(rd[n].host, sizeof rd[n].host, "%s", host);
        snprintf(rd[n].path, sizeof rd[n].path, "%s", p);
        n++;
    }
    closedir(d);
    if (rc == 0 && n == 0) {
        ab_cli_error("merge: %s holds no rank-<rank>-<host> folders: not the output of a run under srun, "
                     "mpirun or mpiexec",
                     top);
        rc = 2;
    }
    qsort(rd, (size_t)n, sizeof *rd, cmp_rank);
    for (int i = 1; i < n && rc == 0; i++)
        if (rd[i].rank == rd[i - 1].rank) {
            ab_cli_error(
                "merge: %s and %s are both rank %d: two runs in one folder; give each run its own -o",
                rd[i - 1].path, rd[i].path, rd[i].rank);
            rc = 2;
        }
    /* Read every rank; the world size is the largest any row states, or the ranks seen. */
    int world = n ? rd[n - 1].rank + 1 : 0;
    char warn[1024];
    for (int i = 0; i < n && rc == 0; i++) {
        read_run_json(&rd[i]);
        char p[4300];
        snprintf(p, sizeof p, "%s/results.csv", rd[i].path);
        struct ab_error err;
        if (access(p, F_OK) == 0) {
            warn[0] = '\0';
            if (ab_csv_read(p, &rd[i].rows, warn, sizeof warn, &err) != AB_OK) {
                ab_cli_error("merge: %s", err.msg);
                rc = 2;
                break;
            }
            if (warn[0])
                fprintf(stderr, "accelbench: merge: warning: %s\n", warn);
        }
        for (int64_t k = 0; k < rd[i].rows.n; k++) {
            double ws = ab_result_metric(&rd[i].rows.rows[k], "world_size");
            if (isfinite(ws) && ws > world && ws <= MAX_RANKS)
                world = (int)ws;
        }
    }
    /* One run only: every run.json that names a run must name the same. */
    const char *rid = NULL;
    for (int i = 0; i < n && rc == 0; i++) {
        if (!rd[i].run_id[0])
            continue;
        if (!rid)
            rid = rd[i].run_id;
        else if (strcmp(rid, rd[i].run_id)) {
            ab_cli_error(
                "merge: %s is run %s but %s is run %s: two runs in one folder; give each run its own -o",
                rd[0].path, rid, rd[i].path, rd[i].run_id);
            rc = 2;
        }
    }
    if (rc) {
        for (int i = 0; i < n; i++)
            ab_result_set_free(&rd[i].rows);
        free(rd);
        return rc;
    }
    if (!rid) /* no rank got as far as writing run.json: nothing to call the run */
        rid = "";
    /* The reference: the finished rank with the most rows (else any with the most). */
    int ref = 0;
    for (int i = 1; i < n; i++)
        if ((rd[i].finished && !rd[ref].finished) ||
            (rd[i].finished == rd[ref].finished && rd[i].rows.n > rd[ref].rows.n))
            ref = i;
    bool *present = calloc((size_t)world + 1, sizeof *present);
    struct ab_result_set out = { 0 };
    struct ab_result *miss = calloc(1, sizeof *miss);
    struct ab_error err = { { 0 } };
    ab_status st = present && miss ? AB_OK : ab_fail(&err, AB_ENOMEM, "out of memory");
    for (int i = 0; i < n && st == AB_OK; i++)
        if (rd[i].rank < world)
            present[rd[i].rank] = true;
    int n_bad_ranks = 0;
    for (int r = 0; r < world && st == AB_OK; r++) {
        struct rank_dir *me = NULL;
        for (int i = 0; i < n; i++)
            if (rd[i].rank == r)
                me = &rd[i];
        struct ab_keymap *have = NULL;
        if ((st = ab_keymap_create(me ? me->rows.n : 1, &have, &err)))
            break;
        for (int64_t k = 0; me && k < me->rows.n && st == AB_OK; k++) {
            struct ab_result *row = &me->rows.rows[k];
            set_metric(row, "rank", r);
            set_metric(row, "world_size", world);
            char id[600];
            case_id(row, id, sizeof id);
            st = ab_keymap_put(have, id, k, &err);
            if (st == AB_OK)
                st = ab_result_set_add(&out, row, &err);
        }
        char why[300];
        if (!me)
            snprintf(why, sizeof why, "missing: rank %d wrote no folder rank-%d-<host> in %s", r, r, top);
        else if (!me->has_run_json)
            snprintf(why, sizeof why, "missing: rank %d (%s) wrote no readable run.json in %s", r, me->host,
                     me->path);
        else if (!me->finished)
            snprintf(why, sizeof why,
                     "missing: rank %d (%s) did not finish its run (run.json in %s has no "
                     "finished_utc)",
                     r, me->host, me->path);
        else
            snprintf(why, sizeof why, "missing: rank %d (%s) has no row for this case in %s", r, me->host,
                     me->path);
        /* The cases of the reference rank this one lacks become rows marked missing. */
        const struct ab_result_set *rs = &rd[ref].rows;
        int64_t n_miss = 0;
        for (int64_t k = 0; k < rs->n && st == AB_OK; k++) {
            char id[600];
            case_id(&rs->rows[k], id, sizeof id);
            if (ab_keymap_get(have, id) >= 0)
                continue;
            if ((st = ab_keymap_put(have, id, k, &err))) /* a resumed reference lists a case twice */
                break;
            memset(miss, 0, sizeof *miss);
            const struct ab_result *tmpl = &rs->rows[k];
            const struct ab_result *dev = me && me->rows.n ? &me->rows.rows[0] : tmpl;
            snprintf(miss->run_id, sizeof miss->run_id, "%s", rid);
            snprintf(miss->host, sizeof miss->host, "%s", me ? me->host : "");
            snprintf(miss->started_utc, sizeof miss->started_utc, "%s", tmpl->started_utc);
            snprintf(miss->workload, sizeof miss->workload, "%s", tmpl->workload);
            snprintf(miss->device, sizeof miss->device, "%s", dev->device);
            snprintf(miss->device_name, sizeof miss->device_name, "%s", dev->device_name);
            snprintf(miss->backend, sizeof miss->backend, "%s", dev->backend);
            snprintf(miss->params, sizeof miss->params, "%s", tmpl->params);
            miss->status = AB_EFAIL;
            snprintf(miss->message, sizeof miss->message, "%s", why);
            miss->fraction_of_ceiling = miss->avg_power_w = miss->energy_j = NAN;
            miss->flop_per_j = miss->token_per_j = miss->byte_per_j = miss->usd_per_hour = NAN;
            set_metric(miss, "rank", r);
            set_metric(miss, "world_size", world);
            st = ab_result_set_add(&out, miss, &err);
            n_miss++;
        }
        ab_keymap_destroy(have);
        if (me)
            me->n_missing = n_miss;
        if (!me || !me->finished || n_miss) {
            n_bad_ranks++;
            fprintf(stderr, "accelbench: merge: %s%s\n", why,
                    n_miss ? "" : " (no case of the other ranks is missing from it)");
            if (n_miss)
                fprintf(stderr, "accelbench: merge: rank %d: %lld cases marked missing\n", r,
                        (long long)n_miss);
        }
    }
    /* Write DIR/results.csv whole, into a temporary file renamed into place: a merge run again
     * replaces its output rather than appending to it. */
    char dir[4200], csv[4300], tmp[4400];
    if (out_arg)
        snprintf(dir, sizeof dir, "%s", out_arg);
    else
        snprintf(dir, sizeof dir, "%s/merged", top);
    if (st == AB_OK && ab_output_dir_safe(dir, &err) != AB_OK)
        st = AB_EINVAL;
    if (st == AB_OK)
        st = ab_mkdirs(dir, &err);
    snprintf(csv, sizeof csv, "%s/results.csv", dir);
    snprintf(tmp, sizeof tmp, "%s/.results.csv.merge-%ld", dir, (long)getpid());
    if (st == AB_OK) {
        unlink(tmp);
        struct ab_reporter rep;
        st = ab_csv_reporter_open(tmp, &rep, &err);
        for (int64_t k = 0; st == AB_OK && k < out.n; k++)
            st = rep.row(rep.self, &out.rows[k], &err);
        if (st == AB_OK)
            st = rep.end(rep.self, NULL, &err);
        if (rep.destroy && rep.self)
            rep.destroy(rep.self);
        if (st == AB_OK && rename(tmp, csv) != 0)
            st = ab_fail(&err, AB_EIO, "%s: %s", csv, strerror(errno));
        if (st)
            unlink(tmp);
    }
    if (st == AB_OK)
        st = write_ranks_json(dir, rd, n, world, present, &err);
    if (st != AB_OK) {
        ab_cli_error("merge: %s", err.msg);
        rc = st == AB_EINVAL ? 2 : 1;
    } else {
        fprintf(stderr, "merged %d of %d ranks (%lld rows) of run %s into %s%s\n", world - n_bad_ranks, world,
                (long long)out.n, rid[0] ? rid : "?", csv,
                n_bad_ranks ? "; some ranks are missing: exit 1" : "");
        rc = n_bad_ranks ? 1 : 0;
    }
    ab_result_set_free(&out);
    for (int i = 0; i < n; i++)
        ab_result_set_free(&rd[i].rows);
    free(miss);
    free(present);
    free(rd);
    return rc;
}
