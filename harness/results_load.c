/* results_load.c — results as `compare` and `plot` read them back: results.csv files and
 * folders of them, the raw samples of samples.jsonl beside each CSV, and the rule that the
 * latest row of a case wins (a folder may hold a resumed or repeated run). Parsing itself is
 * record_csv.c's and record_json.c's; this file only finds the files and merges them. */
#include "accelbench.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Append a warning to warn ("; " between them): each names its file. */
static void add_warning(char *warn, size_t wl, const char *w)
{
    if (!warn || !wl || !w[0])
        return;
    size_t l = strlen(warn);
    if (l + 1 < wl)
        snprintf(warn + l, wl - l, "%s%s", l ? "; " : "", w);
}

static ab_status load_file(const char *csv, struct ab_result_set *set, char *warn, size_t wl,
                           struct ab_error *err)
{
    struct ab_result_set one = { 0 };
    char w[512] = "";
    ab_status st = ab_csv_read(csv, &one, w, sizeof w, err);
    if (st == AB_OK) {
        add_warning(warn, wl, w);
        char jl[4200];
        snprintf(jl, sizeof jl, "%s", csv);
        char *slash = strrchr(jl, '/');
        snprintf(slash ? slash + 1 : jl, sizeof jl - (size_t)(slash ? slash + 1 - jl : 0), "samples.jsonl");
        if (exists(jl))
            st = ab_json_read_samples(jl, &one, err);
    }
    if (st == AB_OK && set->n == 0) { /* the first file: take its rows whole, not a copy of each */
        struct ab_result_set empty = *set;
        *set = one;
        one = empty;
    }
    for (int64_t i = 0; st == AB_OK && i < one.n; i++) {
        st = ab_result_set_add(set, &one.rows[i], err);
        if (st == AB_OK) { /* move the samples */
            set->rows[set->n - 1].samples = one.rows[i].samples;
            set->rows[set->n - 1].n_samples = one.rows[i].n_samples;
            one.rows[i].samples = NULL;
        }
    }
    ab_result_set_free(&one);
    return st;
}

/* The folders a walk has entered, by device and inode: a symbolic link back up the tree (or
 * two names of one folder) is read once, so a loop ends. */
struct visited {
    dev_t *dev;
    ino_t *ino;
    int n, cap;
};

static bool visit(struct visited *v, const struct stat *st)
{
    for (int i = 0; i < v->n; i++)
        if (v->dev[i] == st->st_dev && v->ino[i] == st->st_ino)
            return false;
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 16;
        dev_t *d = realloc(v->dev, (size_t)cap * sizeof *d);
        if (d)
            v->dev = d;
        ino_t *i = d ? realloc(v->ino, (size_t)cap * sizeof *i) : NULL;
        if (!d || !i)
            return false;
        v->ino = i;
        v->cap = cap;
    }
    v->dev[v->n] = st->st_dev;
    v->ino[v->n] = st->st_ino;
    v->n++;
    return true;
}

/* The deepest a folder walk goes below the folder named: far beyond any results tree. */
#define WALK_MAX_DEPTH 32

/* Load dir/results.csv and those of every folder below it (hidden ones left out). */
static ab_status load_tree(const char *dir, int depth, struct visited *v, int *found,
                           struct ab_result_set *set, char *warn, size_t warn_len, struct ab_error *err)
{
    struct stat ds;
    if (stat(dir, &ds) != 0 || !S_ISDIR(ds.st_mode) || !visit(v, &ds))
        return AB_OK;
    char p[4200];
    if ((size_t)snprintf(p, sizeof p, "%s/results.csv", dir) >= sizeof p)
        return ab_fail(err, AB_EINVAL, "%s: path too long", dir);
    if (exists(p)) {
        ab_status st = load_file(p, set, warn, warn_len, err);
        if (st)
            return st;
        (*found)++;
    }
    if (depth >= WALK_MAX_DEPTH)
        return AB_OK;
    DIR *d = opendir(dir);
    if (!d)
        return depth == 0 ? ab_fail(err, AB_EIO, "%s: cannot read folder", dir) : AB_OK;
    struct dirent *e;
    ab_status st = AB_OK;
    /* sorted traversal is not needed: duplicates are resolved by start time (ab_results_latest) */
    while (st == AB_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p)
            continue;
        if (is_dir(p))
            st = load_tree(p, depth + 1, v, found, set, warn, warn_len, err);
    }
    closedir(d);
    return st;
}

static ab_status load_path(const char *path, struct ab_result_set *set, char *warn, size_t warn_len,
                           struct ab_error *err)
{
    if (!exists(path))
        return ab_fail(err, AB_EIO, "%s: no such file or folder", path);
    if (!is_dir(path))
        return load_file(path, set, warn, warn_len, err);
    int found = 0;
    struct visited v = { 0 };
    ab_status st = load_tree(path, 0, &v, &found, set, warn, warn_len, err);
    free(v.dev);
    free(v.ino);
    if (st)
        return st;
    if (!found)
        return ab_fail(err, AB_EINVAL, "%s: no results.csv in this folder or its subfolders", path);
    return AB_OK;
}

ab_status ab_results_load(const char *const *paths, int n, struct ab_result_set *set, char *warn,
                          size_t warn_len, struct ab_error *err)
{
    if (warn && warn_len)
        warn[0] = '\0';
    for (int i = 0; i < n; i++) {
        ab_status st = load_path(paths[i], set, warn, warn_len, err);
        if (st)
            return st;
    }
    return AB_OK;
}

void ab_results_case_key(const struct ab_result *r, char *buf, size_t len)
{
    /* The ranks of a merged run (srun, mpirun) run the same cases on devices of the same name:
     * their rank keeps them apart. Rows of a run that was not launched have none. */
    double rank = ab_result_metric(r, "rank");
    if (isfinite(rank))
        snprintf(buf, len, "%s|%s|%s|%s|rank=%.0f", r->workload, r->device, r->device_name, r->params, rank);
    else
        snprintf(buf, len, "%s|%s|%s|%s", r->workload, r->device, r->device_name, r->params);
}

static const struct ab_result **latest(const struct ab_result_set *s, bool per_host, int *n_out)
{
    const struct ab_result **out = calloc((size_t)(s->n ? s->n : 1), sizeof *out);
    struct ab_keymap *seen = NULL; /* case key -> its index in out */
    int n = 0;
    *n_out = 0;
    if (!out || ab_keymap_create(s->n, &seen, NULL) != AB_OK) {
        free(out);
        return NULL;
    }
    for (int64_t i = 0; i < s->n; i++) {
        /* A row of another backend (a peer's, backend=torch) is not a rerun of the case. */
        char ki[AB_KEY_MAX + 128];
        int hl = per_host ? snprintf(ki, sizeof ki, "%s|%s|", s->rows[i].host, s->rows[i].backend)
                          : snprintf(ki, sizeof ki, "%s|", s->rows[i].backend);
        ab_results_case_key(&s->rows[i], ki + hl, sizeof ki - (size_t)hl);
        int64_t k = ab_keymap_get(seen, ki);
        if (k < 0) {
            if (ab_keymap_put(seen, ki, n, NULL) != AB_OK) {
                ab_keymap_destroy(seen);
                free(out);
                return NULL;
            }
            out[n++] = &s->rows[i];
        } else if (strcmp(s->rows[i].started_utc, out[k]->started_utc) >= 0) {
            out[k] = &s->rows[i]; /* ISO 8601 text sorts by time; a tie goes to the later row */
        }
    }
    ab_keymap_destroy(seen);
    *n_out = n;
    return out;
}

const struct ab_result **ab_results_latest(const struct ab_result_set *s, int *n)
{
    return latest(s, false, n);
}

const struct ab_result **ab_results_latest_per_host(const struct ab_result_set *s, int *n)
{
    return latest(s, true, n);
}
