/* summary.c — what a run decides over rows rather than per row: the runner keeps a copy of
 * each row of a workload that has a `summarize` hook (metrics only: no samples), and at the end
 * asks each such workload for its summary, which run.json keeps under "summaries". Rows are
 * already on disk one by one; a run that dies before its end has its rows and no summary,
 * which the workload's rows hold enough to recompute (amx_timing: the per-row p-values). */
#include "runner_internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

void ab_summary_keep(struct ab_summary_rows *s, const struct ab_workload *wl, const struct ab_result *r)
{
    if (!wl->summarize || s->failed)
        return;
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        struct ab_result *nr = realloc(s->rows, (size_t)cap * sizeof *nr);
        const struct ab_workload **nw = realloc(s->wl, (size_t)cap * sizeof *nw);
        if (nr)
            s->rows = nr;
        if (nw)
            s->wl = nw;
        if (!nr || !nw) {
            s->failed = true; /* out of memory: no summary rather than a partial one */
            return;
        }
        s->cap = cap;
    }
    s->rows[s->n] = *r;
    s->rows[s->n].samples = NULL;
    s->rows[s->n].n_samples = 0;
    s->rows[s->n].extra_json = NULL;
    s->wl[s->n++] = wl;
}

char *ab_summary_build(struct ab_summary_rows *s, FILE *log)
{
    if (s->failed || s->n == 0)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    struct ab_result *mine = malloc((size_t)s->n * sizeof *mine);
    if (!o || !mine) {
        cJSON_Delete(o);
        free(mine);
        return NULL;
    }
    for (int i = 0; i < s->n; i++) {
        const struct ab_workload *wl = s->wl[i];
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = s->wl[j] == wl;
        if (seen)
            continue;
        int k = 0;
        for (int j = i; j < s->n; j++)
            if (s->wl[j] == wl)
                mine[k++] = s->rows[j];
        char *text = wl->summarize(mine, k, log);
        cJSON *v = text ? cJSON_Parse(text) : NULL;
        free(text);
        if (v)
            cJSON_AddItemToObject(o, wl->name, v);
    }
    free(mine);
    char *out = cJSON_GetArraySize(o) ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return out;
}

void ab_summary_free(struct ab_summary_rows *s)
{
    free(s->rows);
    free(s->wl);
    memset(s, 0, sizeof *s);
}
