/* record_json.c — the JSON side of a run (cJSON): run.json holds the run's metadata (host,
 * devices with their ceilings, meters, build, command line, times) and is replaced atomically
 * (write to a temporary file, then rename) at the start and end of a run; samples.jsonl holds
 * one JSON object per case (raw per-repetition samples and metrics), appended whole with one
 * write(2) like the CSV's rows, so a crash never leaves a half-object before good ones. */
#include "accelbench.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct json_writer {
    char dir[4096];
    int fd;       /* samples.jsonl */
    cJSON *prior; /* a resumed run's run.json as found, or NULL */
    cJSON *axes;  /* run.json's "axes": {workload: {axis: [typed values of the recorded cases]}} */
};

static cJSON *num_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/* The options that decide a run's cases and figures, as --resume compares them. */
static cJSON *selection_to_json(const struct ab_run_opts *o)
{
    cJSON *s = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(s, "workloads");
    for (int i = 0; i < o->n_workloads; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(o->workloads[i]));
    a = cJSON_AddArrayToObject(s, "devices");
    for (int i = 0; i < o->n_devices; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(o->devices[i]));
    a = cJSON_AddArrayToObject(s, "axes");
    for (int i = 0; i < o->n_axis_overrides; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(o->axis_overrides[i]));
    cJSON_AddStringToObject(s, "suite", ab_suite_word(o->suite));
    cJSON_AddNumberToObject(s, "min_time_s", o->stop.min_time_s);
    cJSON_AddNumberToObject(s, "max_time_s", o->stop.max_time_s);
    cJSON_AddNumberToObject(s, "min_samples", (double)o->stop.min_samples);
    cJSON_AddNumberToObject(s, "target_rel_ci", o->stop.target_rel_ci);
    cJSON_AddNumberToObject(s, "warmup_s", o->warmup_s);
    char ceil[1100];
    if (o->ceilings_file)
        snprintf(ceil, sizeof ceil, "file:%s", o->ceilings_file);
    else
        snprintf(ceil, sizeof ceil, "%s", o->no_ceilings ? "none" : "measured");
    cJSON_AddStringToObject(s, AB_CEILINGS_KEY, ceil);
    if (o->concurrent_devices) /* only then: absent reads as false, as in files from before it */
        cJSON_AddBoolToObject(s, "concurrent_devices", true);
    return s;
}

static void add_seed(cJSON *o, uint64_t seed)
{
    cJSON_AddNumberToObject(o, "seed", (double)seed); /* below 2^53: exact */
}

/* What an invocation ended with: its case counts, and what the workloads decided over its rows. */
static void add_outcome(cJSON *o, const struct ab_run_info *info)
{
    cJSON *cases = cJSON_AddObjectToObject(o, "cases");
    cJSON_AddNumberToObject(cases, "total", info->n_cases);
    cJSON_AddNumberToObject(cases, "ok", info->n_ok);
    cJSON_AddNumberToObject(cases, "failed", info->n_failed);
    cJSON_AddNumberToObject(cases, "skipped", info->n_skipped);
    cJSON *sums = info->summaries ? cJSON_Parse(info->summaries) : NULL;
    if (sums)
        cJSON_AddItemToObject(o, "summaries", sums);
}

/* One start or resume of the run: when, how, on what load and against which ceilings. */
static cJSON *invocation_to_json(const struct ab_run_info *info)
{
    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "kind", info->invocation ? info->invocation : "start");
    cJSON_AddStringToObject(v, "started_utc", info->started_utc);
    cJSON_AddStringToObject(v, "finished_utc", info->finished_utc);
    cJSON_AddStringToObject(v, "command_line", info->command_line);
    cJSON_AddStringToObject(v, "host", info->sys.host);
    if (isfinite(info->sys.load_avg_1m))
        cJSON_AddNumberToObject(v, "load_avg_1m", info->sys.load_avg_1m);
    cJSON_AddNumberToObject(v, "cpu_cores_online", info->sys.cpu_cores_online);
    cJSON_AddStringToObject(v, "version", info->sys.version);
    cJSON_AddStringToObject(v, "git_commit", info->sys.git_commit);
    add_seed(v, info->seed);
    if (info->opts)
        cJSON_AddItemToObject(v, "selection", selection_to_json(info->opts));
    cJSON *cs = cJSON_AddArrayToObject(v, AB_CEILINGS_KEY);
    for (int i = 0; i < info->n_devices; i++)
        for (int k = 0; k < info->devices[i].n_ceilings; k++) {
            const struct ab_ceiling *c = &info->devices[i].ceilings[k];
            cJSON *cj = cJSON_CreateObject();
            cJSON_AddStringToObject(cj, "device", info->devices[i].id);
            cJSON_AddStringToObject(cj, "name", c->name);
            cJSON_AddNumberToObject(cj, "value", c->value);
            cJSON_AddStringToObject(cj, "source", c->source);
            cJSON_AddItemToArray(cs, cj);
        }
    /* a resume keeps the file's top level, so its cases and verdicts live here */
    add_outcome(v, info);
    return v;
}

/* The first invocation of a run.json written before run.json kept a list: from its top level. */
static cJSON *invocation_from_old(const cJSON *prior)
{
    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "kind", "start");
    static const char *const keys[] = { "started_utc", "finished_utc", "command_line", "version",
                                        "git_commit" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(prior, keys[i]);
        if (cJSON_IsString(x))
            cJSON_AddStringToObject(v, keys[i], x->valuestring);
    }
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(prior, "host");
    const cJSON *hn = cJSON_GetObjectItemCaseSensitive(h, "name"),
                *la = cJSON_GetObjectItemCaseSensitive(h, "load_avg_1m");
    if (cJSON_IsString(hn))
        cJSON_AddStringToObject(v, "host", hn->valuestring);
    if (cJSON_IsNumber(la))
        cJSON_AddNumberToObject(v, "load_avg_1m", la->valuedouble);
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(prior, "cases");
    if (cJSON_IsObject(cases))
        cJSON_AddItemToObject(v, "cases", cJSON_Duplicate(cases, 1));
    return v;
}

/* The params text as an object of typed values: numbers (int and real axes) as JSON numbers. */
static cJSON *axes_to_json(const char *workload, const char *params)
{
    cJSON *o = cJSON_CreateObject();
    struct ab_params ps;
    if (ab_params_parse(params, &ps, NULL) != AB_OK)
        return o;
    const struct ab_workload *wl = ab_workload_find(workload);
    for (int i = 0; i < ps.n; i++) {
        double v;
        if (ab_axis_value_number(wl, ps.p[i].name, ps.p[i].val.str, &v))
            cJSON_AddNumberToObject(o, ps.p[i].name, v);
        else
            cJSON_AddStringToObject(o, ps.p[i].name, ps.p[i].val.str);
    }
    return o;
}

static cJSON *run_to_json(const struct ab_run_info *info)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "schema_version", AB_SCHEMA_VERSION);
    cJSON_AddStringToObject(o, "tool", "accelbench");
    cJSON_AddStringToObject(o, "version", info->sys.version);
    cJSON_AddStringToObject(o, "git_commit", info->sys.git_commit);
    cJSON_AddStringToObject(o, "build", info->sys.build);
    cJSON_AddStringToObject(o, "compiler", info->sys.compiler);
    cJSON_AddStringToObject(o, "run_id", info->run_id);
    cJSON_AddStringToObject(o, "started_utc", info->started_utc);
    cJSON_AddStringToObject(o, "finished_utc", info->finished_utc);
    cJSON_AddStringToObject(o, "command_line", info->command_line);
    cJSON_AddStringToObject(o, "suite", ab_suite_word(info->suite));
    add_seed(o, info->seed);
    cJSON_AddStringToObject(o, "seed_source", info->seed_given ? "given" : "fresh");
    if (info->opts)
        cJSON_AddItemToObject(o, "selection", selection_to_json(info->opts));
    cJSON *h = cJSON_AddObjectToObject(o, "host");
    cJSON_AddStringToObject(h, "name", info->sys.host);
    cJSON_AddStringToObject(h, "os", info->sys.os);
    cJSON_AddStringToObject(h, "kernel", info->sys.kernel);
    cJSON_AddStringToObject(h, "cpu_model", info->sys.cpu_model);
    cJSON_AddStringToObject(h, "cpu_flags", info->sys.cpu_flags);
    cJSON_AddNumberToObject(h, "cpu_cores_online", info->sys.cpu_cores_online);
    if (isfinite(info->sys.load_avg_1m))
        cJSON_AddNumberToObject(h, "load_avg_1m", info->sys.load_avg_1m);
    cJSON_AddNumberToObject(h, "mem_bytes", (double)info->sys.mem_bytes);
    cJSON *devs = cJSON_AddArrayToObject(o, "devices");
    for (int i = 0; i < info->n_devices; i++) {
        const struct ab_device *d = &info->devices[i];
        cJSON *dj = cJSON_CreateObject();
        cJSON_AddStringToObject(dj, "id", d->id);
        cJSON_AddStringToObject(dj, "backend", ab_backend_name(d->backend));
        cJSON_AddStringToObject(dj, "name", d->name);
        cJSON_AddNumberToObject(dj, "compute_units", d->compute_units);
        cJSON_AddNumberToObject(dj, "threads", d->threads);
        cJSON_AddNumberToObject(dj, "mem_bytes", (double)d->mem_bytes);
        cJSON_AddNumberToObject(dj, "clock_mhz", d->clock_mhz);
        cJSON_AddNumberToObject(dj, "mem_clock_mhz", d->mem_clock_mhz);
        cJSON_AddNumberToObject(dj, "last_level_cache_bytes", (double)d->l2_bytes);
        const struct ab_backend *b = ab_backend_get(d->backend);
        struct ab_device_fact facts[8];
        int nf = b && b->facts ? b->facts(d, facts, 8) : 0;
        for (int k = 0; k < nf; k++)
            cJSON_AddStringToObject(dj, facts[k].key, facts[k].value);
        cJSON_AddStringToObject(dj, "driver", d->driver);
        cJSON_AddStringToObject(dj, "runtime", d->runtime);
        cJSON_AddStringToObject(dj, "features", d->features);
        cJSON_AddStringToObject(dj, "profile", d->profile ? d->profile->name : "");
        cJSON *cs = cJSON_AddArrayToObject(dj, AB_CEILINGS_KEY);
        for (int k = 0; k < d->n_ceilings; k++) {
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "name", d->ceilings[k].name);
            cJSON_AddNumberToObject(c, "value", d->ceilings[k].value);
            cJSON_AddStringToObject(c, "unit",
                                    ab_ceiling_is_bandwidth(d->ceilings[k].name) ? "B/s" : "FLOP/s");
            cJSON_AddStringToObject(c, "source", d->ceilings[k].source);
            if (d->ceilings[k].detail[0])
                cJSON_AddStringToObject(c, "detail", d->ceilings[k].detail);
            cJSON_AddBoolToObject(c, "suspect", d->ceilings[k].suspect);
            if (d->ceilings[k].suspect)
                cJSON_AddStringToObject(c, "reason", d->ceilings[k].reason);
            cJSON_AddItemToArray(cs, c);
        }
        cJSON_AddItemToArray(devs, dj);
    }
    cJSON_AddStringToObject(o, "meters", info->meters);
    add_outcome(o, info);
    return o;
}

/* Add the typed axis values of a row to w->axes, each value once, in order of first use. */
static void note_axes(struct json_writer *w, const char *workload, const cJSON *typed)
{
    if (!w->axes && !(w->axes = cJSON_CreateObject()))
        return;
    cJSON *wl = cJSON_GetObjectItemCaseSensitive(w->axes, workload);
    if (!wl && !(wl = cJSON_AddObjectToObject(w->axes, workload)))
        return;
    const cJSON *v;
    cJSON_ArrayForEach(v, typed)
    {
        cJSON *vals = cJSON_GetObjectItemCaseSensitive(wl, v->string);
        if (!vals && !(vals = cJSON_AddArrayToObject(wl, v->string)))
            return;
        bool seen = false;
        const cJSON *it;
        cJSON_ArrayForEach(it, vals) seen = seen || cJSON_Compare(it, v, true);
        if (!seen)
            cJSON_AddItemToArray(vals, cJSON_Duplicate(v, true));
    }
}

/* Add to dst ({workload: {axis: [values]}}) the values of src it lacks, in src's order. */
static void merge_axes(cJSON *dst, const cJSON *src)
{
    const cJSON *wl;
    cJSON_ArrayForEach(wl, src)
    {
        cJSON *dw = cJSON_GetObjectItemCaseSensitive(dst, wl->string);
        if (!dw && !(dw = cJSON_AddObjectToObject(dst, wl->string)))
            return;
        const cJSON *ax;
        cJSON_ArrayForEach(ax, wl)
        {
            cJSON *da = cJSON_GetObjectItemCaseSensitive(dw, ax->string);
            if (!da && !(da = cJSON_AddArrayToObject(dw, ax->string)))
                return;
            const cJSON *v;
            cJSON_ArrayForEach(v, ax)
            {
                bool seen = false;
                const cJSON *it;
                cJSON_ArrayForEach(it, da) seen = seen || cJSON_Compare(it, v, true);
                if (!seen)
                    cJSON_AddItemToArray(da, cJSON_Duplicate(v, true));
            }
        }
    }
}

/* run.json: the first start's fields at the top (what readers of schema 1 read), and the list of
 * invocations, this one last. A resume keeps the file's top level and its earlier invocations. */
static ab_status write_run_json(struct json_writer *w, const struct ab_run_info *info, struct ab_error *err)
{
    cJSON *o = w->prior ? cJSON_Duplicate(w->prior, 1) : run_to_json(info);
    cJSON *inv = o ? cJSON_DetachItemFromObjectCaseSensitive(o, "invocations") : NULL;
    if (o && !cJSON_IsArray(inv)) {
        cJSON_Delete(inv);
        inv = cJSON_CreateArray();
        if (w->prior && inv)
            cJSON_AddItemToArray(inv, invocation_from_old(w->prior));
    }
    if (o && inv) {
        cJSON_AddItemToArray(inv, invocation_to_json(info));
        cJSON_AddItemToObject(o, "invocations", inv);
    } else {
        cJSON_Delete(inv);
    }
    if (o && w->axes) { /* the recorded cases' axis values, typed: present once a case has ended */
        cJSON *ax = cJSON_DetachItemFromObjectCaseSensitive(o, "axes"); /* earlier invocations' */
        if (!cJSON_IsObject(ax)) {
            cJSON_Delete(ax);
            ax = cJSON_CreateObject();
        }
        if (ax) {
            merge_axes(ax, w->axes);
            cJSON_AddItemToObject(o, "axes", ax);
        }
    }
    char *text = o ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!text)
        return ab_fail(err, AB_ENOMEM, "out of memory writing run.json");
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/run.json", w->dir);
    int tfd = -1;
    ab_status st = ab_temp_beside(path, tmp, sizeof tmp, &tfd, err);
    FILE *f = st == AB_OK ? fdopen(tfd, "w") : NULL;
    if (st != AB_OK) {
        ;
    } else if (!f) {
        st = ab_fail(err, AB_EIO, "%s: cannot write: %s", tmp, strerror(errno));
        close(tfd);
        unlink(tmp);
    } else {
        bool ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
        ok = (fclose(f) == 0) && ok;
        if (!ok)
            st = ab_fail(err, AB_EIO, "%s: write failed (disk full?)", tmp);
        else if (rename(tmp, path) != 0)
            st = ab_fail(err, AB_EIO, "%s: cannot rename into place: %s", path, strerror(errno));
        if (st)
            unlink(tmp);
    }
    free(text);
    return st;
}

static ab_status jw_begin(void *self, const struct ab_run_info *info, struct ab_error *err)
{
    struct json_writer *w = self;
    if (info->invocation && strcmp(info->invocation, "start") != 0) {
        char path[4200], *text;
        snprintf(path, sizeof path, "%s/run.json", w->dir);
        if (ab_read_file(path, &text, NULL, NULL) == AB_OK) {
            w->prior = cJSON_Parse(text);
            free(text);
            if (w->prior && !cJSON_IsObject(w->prior)) {
                cJSON_Delete(w->prior);
                w->prior = NULL;
            }
        }
    }
    return write_run_json(w, info, err);
}

static ab_status jw_end(void *self, const struct ab_run_info *info, struct ab_error *err)
{
    return write_run_json(self, info, err);
}

static ab_status jw_row(void *self, const struct ab_result *r, struct ab_error *err)
{
    struct json_writer *w = self;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "schema_version", AB_SCHEMA_VERSION);
    cJSON_AddStringToObject(o, "run_id", r->run_id);
    cJSON_AddStringToObject(o, "workload", r->workload);
    cJSON_AddStringToObject(o, "device", r->device);
    cJSON_AddStringToObject(o, "params", r->params);
    cJSON_AddStringToObject(o, "case_id", r->case_id);
    cJSON *typed = axes_to_json(r->workload, r->params);
    cJSON_AddItemToObject(o, "axes", typed);
    note_axes(w, r->workload, typed);
    cJSON_AddStringToObject(o, "status", ab_status_word(r->status));
    cJSON_AddNumberToObject(o, "reps_per_sample", (double)r->reps_per_sample);
    cJSON *s = cJSON_AddArrayToObject(o, "samples_s");
    for (int64_t i = 0; i < r->n_samples; i++)
        cJSON_AddItemToArray(s, cJSON_CreateNumber(r->samples[i]));
    cJSON *m = cJSON_AddObjectToObject(o, "metrics");
    for (int i = 0; i < r->n_metrics; i++) {
        if (r->metrics[i].text[0])
            cJSON_AddStringToObject(m, r->metrics[i].name, r->metrics[i].text);
        else
            cJSON_AddItemToObject(m, r->metrics[i].name, num_or_null(r->metrics[i].value));
    }
    cJSON *extra = r->extra_json ? cJSON_Parse(r->extra_json) : NULL;
    if (extra)
        cJSON_AddItemToObject(o, "extra", extra);
    cJSON *detail = r->detail ? cJSON_Parse(r->detail) : NULL;
    if (cJSON_IsObject(detail))
        cJSON_AddItemToObject(o, "detail", detail);
    else
        cJSON_Delete(detail);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        return ab_fail(err, AB_ENOMEM, "out of memory writing samples.jsonl");
    size_t n = strlen(text);
    text[n] = '\n'; /* overwrite the NUL: one write carries the line and its end */
    char path[4200];
    snprintf(path, sizeof path, "%s/samples.jsonl", w->dir);
    off_t end = lseek(w->fd, 0, SEEK_END); /* a line cut short by a full disk is taken back */
    ab_status st = ab_write_all(w->fd, text, n + 1, path, err);
    if (st != AB_OK && end >= 0 && ftruncate(w->fd, end) != 0)
        st = ab_fail_prefix(err, st, "a partial line is left at the end (readers drop it)");
    free(text);
    return st;
}

static void jw_destroy(void *self)
{
    struct json_writer *w = self;
    if (w->fd >= 0)
        close(w->fd);
    cJSON_Delete(w->prior);
    cJSON_Delete(w->axes);
    free(w);
}

ab_status ab_json_reporter_open(const char *dir, struct ab_reporter *out, struct ab_error *err)
{
    memset(out, 0, sizeof *out);
    struct json_writer *w = calloc(1, sizeof *w);
    if (!w)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    snprintf(w->dir, sizeof w->dir, "%s", dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/samples.jsonl", dir);
    w->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (w->fd < 0) {
        free(w);
        return ab_fail(err, AB_EIO, "%s: cannot open for writing: %s", path,
                       errno == ELOOP ? "a symbolic link (results are never written through one)"
                                      : strerror(errno));
    }
    /* Cut a torn last line left by a crash so the next object starts on its own line. */
    off_t end = lseek(w->fd, 0, SEEK_END);
    if (end > 0) {
        char *text;
        size_t len;
        if (ab_read_file(path, &text, &len, NULL) == AB_OK) {
            if (len && text[len - 1] != '\n') {
                const char *last = memrchr(text, '\n', len);
                if (ftruncate(w->fd, last ? (off_t)(last - text + 1) : 0) != 0) {
                    free(text);
                    jw_destroy(w);
                    return ab_fail(err, AB_EIO, "%s: cannot cut a torn last line", path);
                }
            }
            free(text);
        }
    }
    out->self = w;
    out->begin = jw_begin;
    out->row = jw_row;
    out->end = jw_end;
    out->destroy = jw_destroy;
    return AB_OK;
}

static const char *json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

ab_status ab_json_read_samples(const char *path, struct ab_result_set *set, struct ab_error *err)
{
    return ab_json_read_samples_marked(path, set, NULL, err);
}

ab_status ab_json_read_samples_marked(const char *path, struct ab_result_set *set, bool *has_line,
                                      struct ab_error *err)
{
    char *text;
    size_t len;
    ab_status st = ab_read_file(path, &text, &len, err);
    if (st)
        return st;
    /* A torn last line (a crash mid-write) is dropped, as the CSV reader does. */
    if (len && text[len - 1] != '\n') {
        char *last = memrchr(text, '\n', len);
        len = last ? (size_t)(last - text + 1) : 0;
        text[len] = '\0';
    }
    /* The rows of each key, chained in row order: by_key gives the first, next the one after.
     * A line names its run (run_id), so in merged folders it goes to its own run's rows only;
     * a line written before lines carried run_id goes to every row of its key (by_plain). */
    struct ab_keymap *by_key = NULL, *by_plain = NULL;
    size_t nn = (size_t)(set->n ? set->n : 1);
    int64_t *next = malloc(nn * sizeof *next), *next_plain = malloc(nn * sizeof *next_plain);
    if (!next || !next_plain)
        st = ab_fail(err, AB_ENOMEM, "out of memory");
    else if ((st = ab_keymap_create(set->n, &by_key, err)) == AB_OK)
        st = ab_keymap_create(set->n, &by_plain, err);
    for (int64_t i = set->n - 1; st == AB_OK && i >= 0; i--) {
        char rk[AB_KEY_MAX];
        ab_result_key(&set->rows[i], rk, sizeof rk);
        next_plain[i] = ab_keymap_get(by_plain, rk);
        st = ab_keymap_put(by_plain, rk, i, err);
        char fk[AB_KEY_MAX + 64];
        snprintf(fk, sizeof fk, "%s|%s", set->rows[i].run_id, rk);
        next[i] = ab_keymap_get(by_key, fk);
        if (st == AB_OK)
            st = ab_keymap_put(by_key, fk, i, err);
    }
    int line = 0;
    for (char *ln = text, *nl; st == AB_OK && ln < text + len; ln = nl + 1) {
        /* text ends in '\n' here, so every line has one; a NUL byte inside a line would
         * hide the rest of it from the parser, so such a line is malformed. */
        nl = memchr(ln, '\n', (size_t)(text + len - ln));
        *nl = '\0';
        line++;
        if (*ln == '\0')
            continue;
        if (strlen(ln) != (size_t)(nl - ln)) {
            st = ab_fail(err, AB_EINVAL, "%s:%d: not a JSON object (NUL byte)", path, line);
            break;
        }
        cJSON *o = cJSON_Parse(ln);
        if (!o || !cJSON_IsObject(o)) {
            st = ab_fail(err, AB_EINVAL, "%s:%d: not a JSON object", path, line);
            cJSON_Delete(o);
            break;
        }
        const cJSON *sv = cJSON_GetObjectItemCaseSensitive(o, "schema_version");
        const char *wl = json_str(o, "workload"), *dev = json_str(o, "device"),
                   *params = json_str(o, "params"), *run_id = json_str(o, "run_id");
        const cJSON *rid = cJSON_GetObjectItemCaseSensitive(o, "run_id");
        const cJSON *samples = cJSON_GetObjectItemCaseSensitive(o, "samples_s");
        if (!cJSON_IsNumber(sv) || sv->valuedouble < AB_SCHEMA_VERSION_MIN ||
            sv->valuedouble > AB_SCHEMA_VERSION)
            st =
                ab_fail(err, AB_EINVAL, "%s:%d: field \"schema_version\": this build reads versions %d to %d",
                        path, line, AB_SCHEMA_VERSION_MIN, AB_SCHEMA_VERSION);
        else if (!wl || !dev || !params)
            st = ab_fail(err, AB_EINVAL, "%s:%d: field \"%s\" missing or not a string", path, line,
                         !wl    ? "workload"
                         : !dev ? "device"
                                : "params");
        else if (!cJSON_IsArray(samples))
            st = ab_fail(err, AB_EINVAL, "%s:%d: field \"samples_s\" missing or not an array", path, line);
        else if (rid && !run_id)
            st = ab_fail(err, AB_EINVAL, "%s:%d: field \"run_id\" not a string", path, line);
        if (st == AB_OK) {
            char key[AB_KEY_MAX + 64];
            if (run_id)
                snprintf(key, sizeof key, "%s|%s|%s|%s", run_id, wl, dev, params);
            else
                snprintf(key, sizeof key, "%s|%s|%s", wl, dev, params);
            const struct ab_keymap *map = run_id ? by_key : by_plain;
            const int64_t *chain = run_id ? next : next_plain;
            bool paired = false;
            for (int64_t i = ab_keymap_get(map, key); i >= 0 && st == AB_OK; i = chain[i]) {
                int n = cJSON_GetArraySize(samples);
                double *x = n ? malloc((size_t)n * sizeof *x) : NULL;
                if (n && !x) {
                    st = ab_fail(err, AB_ENOMEM, "out of memory");
                    break;
                }
                int k = 0;
                const cJSON *it;
                cJSON_ArrayForEach(it, samples)
                {
                    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < 0) {
                        st = ab_fail(err, AB_EINVAL,
                                     "%s:%d: field \"samples_s\": item %d is not a "
                                     "non-negative number",
                                     path, line, k + 1);
                        break;
                    }
                    x[k++] = it->valuedouble;
                }
                if (st) {
                    free(x);
                    break;
                }
                free(set->rows[i].samples);
                set->rows[i].samples = x;
                set->rows[i].n_samples = k;
                /* Lines and rows are written in pairs: each line vouches for one row of its key
                 * (the first without one), so a key with fewer lines than rows leaves its last
                 * rows unpaired. */
                if (has_line && !paired && !has_line[i])
                    has_line[i] = paired = true;
            }
        }
        cJSON_Delete(o);
    }
    ab_keymap_destroy(by_key);
    ab_keymap_destroy(by_plain);
    free(next);
    free(next_plain);
    free(text);
    return st;
}

ab_status ab_json_read_run(const char *path, int *schema_version, struct ab_error *err)
{
    char *text;
    ab_status st = ab_read_file(path, &text, NULL, err);
    if (st)
        return st;
    cJSON *o = cJSON_Parse(text);
    if (!o || !cJSON_IsObject(o)) {
        int line = 1;
        const char *at = cJSON_GetErrorPtr();
        for (const char *p = text; o == NULL && at && p < at && *p; p++)
            line += *p == '\n';
        cJSON_Delete(o);
        free(text);
        return ab_fail(err, AB_EINVAL, "%s:%d: not a JSON object", path, line);
    }
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(o, "schema_version");
    if (!cJSON_IsNumber(sv))
        st = ab_fail(err, AB_EINVAL, "%s: field \"schema_version\" missing or not a number", path);
    else if (sv->valuedouble < AB_SCHEMA_VERSION_MIN || sv->valuedouble > AB_SCHEMA_VERSION)
        st = ab_fail(err, AB_EINVAL, "%s: field \"schema_version\": version %g, this build reads %d to %d",
                     path, sv->valuedouble, AB_SCHEMA_VERSION_MIN, AB_SCHEMA_VERSION);
    else if (!json_str(o, "run_id"))
        st = ab_fail(err, AB_EINVAL, "%s: field \"run_id\" missing or not a string", path);
    if (st == AB_OK)
        *schema_version = (int)sv->valuedouble;
    cJSON_Delete(o);
    free(text);
    return st;
}

/* The selection of a run.json object (see selection_to_json); false if it has none. */
static bool selection_from_json(const cJSON *s, struct ab_run_state *out)
{
    if (!cJSON_IsObject(s))
        return false;
    const struct {
        const char *key;
        char *dst;
        size_t size;
        int *n;
    } lists[] = {
        { "workloads", &out->workloads[0][0], sizeof out->workloads[0], &out->n_workloads },
        { "devices", &out->devices[0][0], sizeof out->devices[0], &out->n_devices },
        { "axes", &out->axes[0][0], sizeof out->axes[0], &out->n_axes },
    };
    for (size_t l = 0; l < sizeof lists / sizeof *lists; l++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(s, lists[l].key), *it;
        *lists[l].n = 0;
        cJSON_ArrayForEach(it, a)
        {
            if (cJSON_IsString(it) && *lists[l].n < AB_MAX_SELECT)
                snprintf(lists[l].dst + (size_t)(*lists[l].n)++ * lists[l].size, lists[l].size, "%s",
                         it->valuestring);
        }
    }
    const char *suite = json_str(s, "suite");
    out->suite = AB_SUITE_DEFAULT;
    for (int k = 0; suite && k < AB_SUITE_COUNT; k++)
        if (!strcmp(suite, ab_suite_word((enum ab_suite)k)))
            out->suite = (enum ab_suite)k;
    ab_stop_rule_defaults(&out->stop);
    const cJSON *x;
    if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(s, "min_time_s")))
        out->stop.min_time_s = x->valuedouble;
    if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(s, "max_time_s")))
        out->stop.max_time_s = x->valuedouble;
    if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(s, "min_samples")))
        out->stop.min_samples = (int64_t)x->valuedouble;
    if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(s, "target_rel_ci")))
        out->stop.target_rel_ci = x->valuedouble;
    out->warmup_s = 0.1;
    if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(s, "warmup_s")))
        out->warmup_s = x->valuedouble;
    const char *ceil = json_str(s, AB_CEILINGS_KEY);
    snprintf(out->ceilings, sizeof out->ceilings, "%s", ceil ? ceil : "measured");
    return true;
}

/* A recorded seed: a JSON number (a whole number below 2^53), or the decimal text some builds
 * wrote; anything else leaves fallback. */
static uint64_t seed_from_json(const cJSON *v, uint64_t fallback)
{
    if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble < 9007199254740992.0 &&
        v->valuedouble == floor(v->valuedouble))
        return (uint64_t)v->valuedouble;
    if (cJSON_IsString(v) && v->valuestring[0] >= '0' && v->valuestring[0] <= '9')
        return strtoull(v->valuestring, NULL, 10);
    return fallback;
}

ab_status ab_json_read_run_state(const char *path, struct ab_run_state *out, struct ab_error *err)
{
    memset(out, 0, sizeof *out);
    int v;
    ab_status st = ab_json_read_run(path, &v, err);
    char *text = NULL;
    if (st == AB_OK)
        st = ab_read_file(path, &text, NULL, err);
    if (st)
        return st;
    cJSON *o = cJSON_Parse(text);
    free(text);
    if (!o)
        return ab_fail(err, AB_EINVAL, "%s: not a JSON object", path);
    snprintf(out->run_id, sizeof out->run_id, "%s", json_str(o, "run_id"));
    const char *host = json_str(cJSON_GetObjectItemCaseSensitive(o, "host"), "name");
    snprintf(out->host, sizeof out->host, "%s", host ? host : "");
    /* The latest invocation that says wins: a resume of an old folder recorded a seed, an
     * --extend a new selection. */
    out->seed = seed_from_json(cJSON_GetObjectItemCaseSensitive(o, "seed"), 0);
    out->has_selection = selection_from_json(cJSON_GetObjectItemCaseSensitive(o, "selection"), out);
    const cJSON *inv = cJSON_GetObjectItemCaseSensitive(o, "invocations"), *it;
    cJSON_ArrayForEach(it, inv)
    {
        out->seed = seed_from_json(cJSON_GetObjectItemCaseSensitive(it, "seed"), out->seed);
        if (selection_from_json(cJSON_GetObjectItemCaseSensitive(it, "selection"), out))
            out->has_selection = true;
    }
    cJSON_Delete(o);
    return AB_OK;
}
