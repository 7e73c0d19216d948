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
    int fd; /* samples.jsonl */
};

static cJSON *num_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
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
        cJSON *cs = cJSON_AddArrayToObject(dj, "ceilings");
        for (int k = 0; k < d->n_ceilings; k++) {
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "name", d->ceilings[k].name);
            cJSON_AddNumberToObject(c, "value", d->ceilings[k].value);
            size_t nl = strlen(d->ceilings[k].name);
            bool bw = nl > 3 && strcmp(d->ceilings[k].name + nl - 3, "_bw") == 0; /* mem_bw, llc_bw */
            cJSON_AddStringToObject(c, "unit", bw ? "B/s" : "FLOP/s");
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
    cJSON *cases = cJSON_AddObjectToObject(o, "cases");
    cJSON_AddNumberToObject(cases, "total", info->n_cases);
    cJSON_AddNumberToObject(cases, "ok", info->n_ok);
    cJSON_AddNumberToObject(cases, "failed", info->n_failed);
    cJSON_AddNumberToObject(cases, "skipped", info->n_skipped);
    return o;
}

static ab_status write_run_json(struct json_writer *w, const struct ab_run_info *info, struct ab_error *err)
{
    cJSON *o = run_to_json(info);
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
    return write_run_json(self, info, err);
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
    cJSON_AddStringToObject(o, "workload", r->workload);
    cJSON_AddStringToObject(o, "device", r->device);
    cJSON_AddStringToObject(o, "params", r->params);
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
    /* The rows of each key, chained in row order: by_key gives the first, next the one after. */
    struct ab_keymap *by_key = NULL;
    int64_t *next = malloc((size_t)(set->n ? set->n : 1) * sizeof *next);
    if (!next)
        st = ab_fail(err, AB_ENOMEM, "out of memory");
    else
        st = ab_keymap_create(set->n, &by_key, err);
    for (int64_t i = set->n - 1; st == AB_OK && i >= 0; i--) {
        char rk[700];
        ab_result_key(&set->rows[i], rk, sizeof rk);
        next[i] = ab_keymap_get(by_key, rk);
        st = ab_keymap_put(by_key, rk, i, err);
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
                   *params = json_str(o, "params");
        const cJSON *samples = cJSON_GetObjectItemCaseSensitive(o, "samples_s");
        if (!cJSON_IsNumber(sv) || sv->valuedouble != AB_SCHEMA_VERSION)
            st = ab_fail(err, AB_EINVAL, "%s:%d: field \"schema_version\": this build reads version %d", path,
                         line, AB_SCHEMA_VERSION);
        else if (!wl || !dev || !params)
            st = ab_fail(err, AB_EINVAL, "%s:%d: field \"%s\" missing or not a string", path, line,
                         !wl    ? "workload"
                         : !dev ? "device"
                                : "params");
        else if (!cJSON_IsArray(samples))
            st = ab_fail(err, AB_EINVAL, "%s:%d: field \"samples_s\" missing or not an array", path, line);
        if (st == AB_OK) {
            char key[700];
            snprintf(key, sizeof key, "%s|%s|%s", wl, dev, params);
            for (int64_t i = ab_keymap_get(by_key, key); i >= 0 && st == AB_OK; i = next[i]) {
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
            }
        }
        cJSON_Delete(o);
    }
    ab_keymap_destroy(by_key);
    free(next);
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
    else if (sv->valuedouble != AB_SCHEMA_VERSION)
        st = ab_fail(err, AB_EINVAL, "%s: field \"schema_version\": version %g, this build reads %d", path,
                     sv->valuedouble, AB_SCHEMA_VERSION);
    else if (!json_str(o, "run_id"))
        st = ab_fail(err, AB_EINVAL, "%s: field \"run_id\" missing or not a string", path);
    if (st == AB_OK)
        *schema_version = (int)sv->valuedouble;
    cJSON_Delete(o);
    free(text);
    return st;
}
