/* export.c — tidy tables from results rows (results/schema.md, "Tidy tables"): the wide table
 * (the fixed columns of results.csv but the packed metrics, then one typed column per axis,
 * p_<axis>, and per metric, m_<metric>) and the long table (run_id, case_id, name, value,
 * unit: one line per measured number), as CSV or JSON. Not the crash-safe record: results.csv
 * is; these are rewritten whole from it. Types come from the workloads' declarations, so a
 * column's type is the same in every run. */
#include "accelbench.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum xtype { X_INT, X_REAL, X_TEXT };

struct xcol {
    char name[48];   /* "time_median_s", "p_n", "m_max_rel_err" */
    int fixed;       /* index in ab_csv_columns(), or -1 */
    bool axis;       /* p_ (else m_ when fixed < 0) */
    const char *key; /* axis or metric name (points into a table or a row) */
    enum xtype type;
    const char *unit;
    bool declared; /* typed by a declaration (or fixed): values never change its type */
};

struct xtab {
    struct xcol *c;
    int n, cap;
    char *warn;
    size_t warn_len;
    int n_warned;
};

static void xwarn(struct xtab *t, const char *fmt, const char *a, const char *b, const char *c)
{
    if (!t->warn || !t->warn_len || t->n_warned++ >= 8)
        return;
    size_t l = strlen(t->warn);
    if (l + 2 >= t->warn_len)
        return;
    if (l)
        l += (size_t)snprintf(t->warn + l, t->warn_len - l, "; ");
    snprintf(t->warn + l, t->warn_len - l, fmt, a, b, c);
}

static struct xcol *xcol_find(struct xtab *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->c[i].name, name) == 0)
            return &t->c[i];
    return NULL;
}

/* Add a column (or merge its type into the one already there: int and real make real, anything
 * and text make text). */
static ab_status xcol_add(struct xtab *t, const struct xcol *c, struct ab_error *err)
{
    struct xcol *have = xcol_find(t, c->name);
    if (have) {
        if (have->type != c->type)
            have->type = (have->type == X_TEXT || c->type == X_TEXT) ? X_TEXT : X_REAL;
        return AB_OK;
    }
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        struct xcol *nc = realloc(t->c, (size_t)cap * sizeof *nc);
        if (!nc)
            return ab_fail(err, AB_ENOMEM, "out of memory exporting");
        t->c = nc;
        t->cap = cap;
    }
    t->c[t->n++] = *c;
    return AB_OK;
}

/* Units of the fixed numeric columns, for the long table. */
static const char *fixed_unit(const char *col)
{
    static const char *const units[][2] = {
        { "n_samples", "" },           { "reps_per_sample", "" },
        { "flops", "FLOP" },           { "bytes", "B" },
        { "tokens", "token" },         { "flop_per_s", "FLOP/s" },
        { "byte_per_s", "B/s" },       { "token_per_s", "token/s" },
        { "fraction_of_ceiling", "" }, { "avg_power_w", "W" },
        { "energy_j", "J" },           { "flop_per_j", "FLOP/J" },
        { "token_per_j", "token/J" },  { "byte_per_j", "B/J" },
        { "usd_per_hour", "USD/h" },
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(units[i][0], col))
            return units[i][1];
    if (!strncmp(col, "time_", 5))
        return "s";
    if (!strcmp(col, "ceiling_value"))
        return "FLOP/s or B/s";
    return "";
}

/* Does a metric name match a declaration's (with at most one '*' for a run-time word)? */
static bool name_matches(const char *pattern, const char *name)
{
    const char *star = strchr(pattern, '*');
    if (!star)
        return strcmp(pattern, name) == 0;
    size_t pre = (size_t)(star - pattern), post = strlen(star + 1), nl = strlen(name);
    return nl > pre + post && !strncmp(pattern, name, pre) && !strcmp(name + nl - post, star + 1);
}

static const struct ab_metric_decl *metric_decl(const struct ab_workload *wl, const char *name)
{
    const struct ab_metric_decl *d = ab_metric_decl_find(wl, name);
    if (d)
        return d;
    for (int i = 0; wl && i < wl->n_metrics; i++)
        if (name_matches(wl->metrics[i].name, name))
            return &wl->metrics[i];
    int n = 0;
    const struct ab_metric_decl *e = ab_engine_metrics(&n);
    for (int i = 0; i < n; i++)
        if (name_matches(e[i].name, name))
            return &e[i];
    return NULL;
}

/* The value of axis `name` on row r: its params text, else the axis's implicit value. */
static bool row_axis(const struct ab_result *r, const struct ab_params *ps, const struct ab_workload *wl,
                     const char *name, const char **val)
{
    const struct ab_value *v = ab_param(ps, name);
    if (v) {
        *val = v->str;
        return true;
    }
    for (int a = 0; wl && a < wl->n_axes; a++)
        if (!strcmp(wl->axes[a].name, name) && wl->axes[a].implicit) {
            *val = wl->axes[a].implicit;
            return true;
        }
    return false;
}

static ab_status build_columns(const struct ab_result *const *rows, int n, struct xtab *t,
                               struct ab_error *err)
{
    ab_status st = AB_OK;
    const char *const *fixed = ab_csv_columns();
    for (int i = 0; fixed[i] && st == AB_OK; i++) {
        if (!strcmp(fixed[i], "metrics"))
            continue;
        const char *type;
        char tmp[8];
        struct ab_result dummy = { .n_metrics = 0 };
        ab_csv_field(&dummy, i, tmp, sizeof tmp, &type);
        struct xcol c = { .fixed = i, .key = fixed[i], .unit = fixed_unit(fixed[i]), .declared = true };
        snprintf(c.name, sizeof c.name, "%s", fixed[i]);
        c.type = !strcmp(type, "int") ? X_INT : !strcmp(type, "real") ? X_REAL : X_TEXT;
        st = xcol_add(t, &c, err);
    }
    /* Axes, then metrics: declared order of each workload present, registry order. */
    const struct ab_workload *const *all = ab_workloads();
    for (int pass = 0; pass < 2 && st == AB_OK; pass++) {
        for (int w = 0; all && all[w] && st == AB_OK; w++) {
            const struct ab_workload *wl = all[w];
            bool present = false;
            for (int i = 0; i < n && !present; i++)
                present = !strcmp(rows[i]->workload, wl->name);
            if (!present)
                continue;
            if (pass == 0) {
                for (int a = 0; a < wl->n_axes && st == AB_OK; a++) {
                    struct xcol c = {
                        .fixed = -1, .axis = true, .key = wl->axes[a].name, .unit = "", .declared = true
                    };
                    snprintf(c.name, sizeof c.name, "p_%s", wl->axes[a].name);
                    c.type = wl->axes[a].type == AB_AXIS_INT    ? X_INT
                             : wl->axes[a].type == AB_AXIS_REAL ? X_REAL
                                                                : X_TEXT;
                    st = xcol_add(t, &c, err);
                }
            } else {
                /* Declared metrics that some row of the workload carries, in declared order. */
                for (int d = 0; d < wl->n_metrics && st == AB_OK; d++)
                    for (int i = 0; i < n && st == AB_OK; i++) {
                        const struct ab_result *r = rows[i];
                        if (strcmp(r->workload, wl->name))
                            continue;
                        for (int k = 0; k < r->n_metrics && st == AB_OK; k++)
                            if (name_matches(wl->metrics[d].name, r->metrics[k].name)) {
                                struct xcol c = { .fixed = -1,
                                                  .key = r->metrics[k].name,
                                                  .type = wl->metrics[d].text ? X_TEXT : X_REAL,
                                                  .unit = wl->metrics[d].unit,
                                                  .declared = true };
                                snprintf(c.name, sizeof c.name, "m_%s", r->metrics[k].name);
                                st = xcol_add(t, &c, err);
                            }
                    }
            }
        }
    }
    /* What no declaration names (the engine's metrics, a workload this build lacks): typed by
     * the values, numbers when every one is a number. */
    for (int i = 0; i < n && st == AB_OK; i++) {
        const struct ab_result *r = rows[i];
        const struct ab_workload *wl = ab_workload_find(r->workload);
        struct ab_params ps;
        if (ab_params_parse(r->params, &ps, NULL) == AB_OK)
            for (int k = 0; k < ps.n && st == AB_OK; k++) {
                double v;
                struct xcol c = { .fixed = -1, .axis = true, .unit = "" };
                snprintf(c.name, sizeof c.name, "p_%s", ps.p[k].name);
                struct xcol *have = xcol_find(t, c.name);
                if (have && have->declared)
                    continue;
                c.key = NULL; /* filled below from the name */
                c.type = ab_axis_value_number(wl, ps.p[k].name, ps.p[k].val.str, &v) ? X_REAL : X_TEXT;
                st = xcol_add(t, &c, err);
            }
        for (int k = 0; k < r->n_metrics && st == AB_OK; k++) {
            const struct ab_metric_decl *d = metric_decl(wl, r->metrics[k].name);
            struct xcol c = { .fixed = -1, .key = r->metrics[k].name, .unit = d ? d->unit : "" };
            snprintf(c.name, sizeof c.name, "m_%s", r->metrics[k].name);
            c.type = d ? (d->text ? X_TEXT : X_REAL) : (r->metrics[k].text[0] ? X_TEXT : X_REAL);
            c.declared = d != NULL;
            struct xcol *have = xcol_find(t, c.name);
            if (!have || !have->declared)
                st = xcol_add(t, &c, err);
        }
    }
    for (int i = 0; i < t->n; i++) /* keys of undeclared axes: the name past "p_" */
        if (!t->c[i].key)
            t->c[i].key = t->c[i].name + 2;
    return st;
}

/* A number as the tables write it: the shortest of %.15g and %.17g that reads back exactly. */
static void fmt_num(double v, char *out, size_t len)
{
    snprintf(out, len, "%.15g", v);
    if (strtod(out, NULL) != v)
        snprintf(out, len, "%.17g", v);
}

/* The cell of column c on row r: "" for empty; *is_num when it is a number (in *num). */
static void cell(struct xtab *t, const struct xcol *c, const struct ab_result *r, const struct ab_params *ps,
                 const struct ab_workload *wl, char *out, size_t len, bool *is_num, double *num)
{
    *is_num = false;
    out[0] = '\0';
    if (c->fixed >= 0) {
        const char *type;
        ab_csv_field(r, c->fixed, out, len, &type);
        if (c->type != X_TEXT && out[0]) {
            *num = strtod(out, NULL);
            *is_num = true;
        }
        return;
    }
    const char *text = NULL;
    double v = NAN;
    bool have = false;
    if (c->axis) {
        have = row_axis(r, ps, wl, c->key, &text);
    } else {
        for (int k = 0; k < r->n_metrics && !have; k++)
            if (!strcmp(r->metrics[k].name, c->key)) {
                have = true;
                if (r->metrics[k].text[0])
                    text = r->metrics[k].text;
                else
                    v = r->metrics[k].value;
            }
    }
    if (!have)
        return;
    if (c->type == X_TEXT) {
        if (text)
            snprintf(out, len, "%s", text);
        else if (isfinite(v))
            fmt_num(v, out, len);
        return;
    }
    if (text) {
        char *end;
        double d = strtod(text, &end);
        if (*text && *end == '\0' && isfinite(d)) {
            v = d;
        } else {
            xwarn(t, "%s %s: \"%s\" is not a number: left empty", r->workload, c->name, text);
            return;
        }
    }
    if (!isfinite(v))
        return;
    if (c->type == X_INT && v != floor(v)) {
        char shown[40];
        fmt_num(v, shown, sizeof shown);
        xwarn(t, "%s %s: %s is not a whole number: left empty", r->workload, c->name, shown);
        return;
    }
    fmt_num(v, out, len);
    *is_num = true;
    *num = v;
}

static bool csv_put(FILE *f, const char *s, bool first)
{
    if (!first && fputc(',', f) == EOF)
        return false;
    size_t n = strlen(s);
    bool quote = strpbrk(s, ",\"\r\n") != NULL || (n && (s[0] == ' ' || s[n - 1] == ' '));
    if (!quote)
        return fputs(s, f) >= 0;
    if (fputc('"', f) == EOF)
        return false;
    for (const char *p = s; *p; p++) {
        char ch = (*p == '\n' || *p == '\r') ? ' ' : *p;
        if ((ch == '"' && fputc('"', f) == EOF) || fputc(ch, f) == EOF)
            return false;
    }
    return fputc('"', f) != EOF;
}

/* The rows exported: the latest of each case of each run (a resumed case replaces its
 * interrupted row), in order of first appearance. */
static const struct ab_result **pick_rows(const struct ab_result_set *s, int *n_out, struct ab_error *err)
{
    const struct ab_result **out = calloc((size_t)(s->n ? s->n : 1), sizeof *out);
    struct ab_keymap *seen = NULL;
    int n = 0;
    if (!out || ab_keymap_create(s->n, &seen, err) != AB_OK) {
        free(out);
        ab_fail(err, AB_ENOMEM, "out of memory exporting");
        return NULL;
    }
    for (int64_t i = 0; i < s->n; i++) {
        char key[80];
        snprintf(key, sizeof key, "%s|%s", s->rows[i].run_id, s->rows[i].case_id);
        int64_t k = ab_keymap_get(seen, key);
        if (k < 0) {
            if (ab_keymap_put(seen, key, n, err) != AB_OK) {
                ab_keymap_destroy(seen);
                free(out);
                return NULL;
            }
            out[n++] = &s->rows[i];
        } else if (strcmp(s->rows[i].started_utc, out[k]->started_utc) >= 0) {
            out[k] = &s->rows[i];
        }
    }
    ab_keymap_destroy(seen);
    *n_out = n;
    return out;
}

static const char *type_word(enum xtype t)
{
    return t == X_INT ? "int" : t == X_REAL ? "real" : "text";
}

static ab_status write_columns(const struct xtab *t, enum ab_export_format fmt, FILE *f, const char *name,
                               struct ab_error *err)
{
    bool ok = true;
    cJSON *arr = fmt == AB_EXPORT_JSON ? cJSON_CreateArray() : NULL;
    if (!arr)
        ok = fputs("name,type,unit,kind\n", f) >= 0;
    for (int i = 0; i < t->n && ok; i++) {
        const struct xcol *c = &t->c[i];
        const char *kind = c->fixed >= 0 ? "fixed" : c->axis ? "axis" : "metric";
        if (arr) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", c->name);
            cJSON_AddStringToObject(o, "type", type_word(c->type));
            cJSON_AddStringToObject(o, "unit", c->unit ? c->unit : "");
            cJSON_AddStringToObject(o, "kind", kind);
            cJSON_AddItemToArray(arr, o);
        } else {
            ok = csv_put(f, c->name, true) && csv_put(f, type_word(c->type), false) &&
                 csv_put(f, c->unit ? c->unit : "", false) && csv_put(f, kind, false) &&
                 fputc('\n', f) != EOF;
        }
    }
    if (arr) {
        char *text = cJSON_PrintUnformatted(arr);
        ok = text && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
        free(text);
        cJSON_Delete(arr);
    }
    if (!ok || fflush(f) != 0 || ferror(f))
        return ab_fail(err, AB_EIO, "%s: write failed: %s", name, errno ? strerror(errno) : "I/O error");
    return AB_OK;
}

static bool write_header(const struct xtab *t, bool wide, FILE *f)
{
    bool ok = true;
    if (wide)
        for (int i = 0; i < t->n && ok; i++)
            ok = csv_put(f, t->c[i].name, i == 0);
    else
        ok = fputs("run_id,case_id,name,value,unit", f) >= 0;
    return ok && fputc('\n', f) != EOF;
}

/* One row of a table: CSV lines to f, or (arr not NULL) JSON objects into arr. */
static bool write_row(struct xtab *t, const struct ab_result *r, bool wide, cJSON *arr, FILE *f)
{
    bool ok = true;
    char buf[1024];
    const struct ab_workload *wl = ab_workload_find(r->workload);
    struct ab_params ps;
    if (ab_params_parse(r->params, &ps, NULL) != AB_OK)
        ps.n = 0;
    cJSON *o = wide && arr ? cJSON_CreateObject() : NULL;
    for (int k = 0; k < t->n && ok; k++) {
        const struct xcol *c = &t->c[k];
        bool is_num;
        double v = NAN;
        cell(t, c, r, &ps, wl, buf, sizeof buf, &is_num, &v);
        if (wide && !arr) {
            ok = csv_put(f, buf, k == 0);
        } else if (wide) {
            cJSON_AddItemToObject(o, c->name,
                                  is_num                        ? cJSON_CreateNumber(v)
                                  : buf[0] || c->type == X_TEXT ? cJSON_CreateString(buf)
                                                                : cJSON_CreateNull());
        } else if (is_num && !c->axis && strcmp(c->name, "schema_version") != 0) {
            /* The long table: the measured numbers (not the axes: they are the case). */
            char num[40];
            fmt_num(v, num, sizeof num);
            const char *unit = c->unit ? c->unit : "";
            if (arr) {
                cJSON *lo = cJSON_CreateObject();
                cJSON_AddStringToObject(lo, "run_id", r->run_id);
                cJSON_AddStringToObject(lo, "case_id", r->case_id);
                cJSON_AddStringToObject(lo, "name", c->name);
                cJSON_AddNumberToObject(lo, "value", v);
                cJSON_AddStringToObject(lo, "unit", unit);
                cJSON_AddItemToArray(arr, lo);
            } else {
                ok = csv_put(f, r->run_id, true) && csv_put(f, r->case_id, false) &&
                     csv_put(f, c->name, false) && csv_put(f, num, false) && csv_put(f, unit, false) &&
                     fputc('\n', f) != EOF;
            }
        }
    }
    if (o)
        cJSON_AddItemToArray(arr, o);
    if (wide && !arr)
        ok = ok && fputc('\n', f) != EOF;
    return ok;
}

static ab_status write_tables(const struct ab_result *const *rows, int n, struct xtab *t, bool wide,
                              enum ab_export_format fmt, FILE *f, const char *name, struct ab_error *err)
{
    cJSON *arr = fmt == AB_EXPORT_JSON ? cJSON_CreateArray() : NULL;
    if (fmt == AB_EXPORT_JSON && !arr)
        return ab_fail(err, AB_ENOMEM, "out of memory exporting");
    bool ok = arr || write_header(t, wide, f);
    for (int i = 0; i < n && ok; i++)
        ok = write_row(t, rows[i], wide, arr, f);
    if (arr) {
        char *text = cJSON_PrintUnformatted(arr);
        ok = ok && text && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
        free(text);
        cJSON_Delete(arr);
    }
    if (!ok || fflush(f) != 0 || ferror(f))
        return ab_fail(err, AB_EIO, "%s: write failed: %s", name, errno ? strerror(errno) : "I/O error");
    return AB_OK;
}

ab_status ab_export_write(const struct ab_result_set *s, enum ab_export_table table,
                          enum ab_export_format fmt, FILE *out, const char *out_name, char *warn,
                          size_t warn_len, struct ab_error *err)
{
    if (warn && warn_len)
        warn[0] = '\0';
    int n = 0;
    const struct ab_result **rows = pick_rows(s, &n, err);
    if (!rows)
        return AB_ENOMEM;
    struct xtab t = { .warn = warn, .warn_len = warn_len };
    ab_status st = build_columns(rows, n, &t, err);
    if (st == AB_OK && table == AB_EXPORT_COLUMNS)
        st = write_columns(&t, fmt, out, out_name, err);
    else if (st == AB_OK)
        st = write_tables(rows, n, &t, table == AB_EXPORT_WIDE, fmt, out, out_name, err);
    free(t.c);
    free(rows);
    return st;
}

/* ab_export_dir streams results.csv twice, so that a run of many cases never holds its rows:
 * pass 1 finds the latest row of each case of each run and the columns (from one skeleton row
 * per distinct shape: workload, axis names, metric names and which values are text), pass 2
 * writes the rows pass 1 chose. */
struct stream {
    struct ab_keymap *cases; /* "run_id|case_id" -> index into latest[] */
    int64_t *latest;         /* per case: the row number of its latest row */
    char (*started)[32];     /* per case: that row's started_utc */
    int64_t n_cases, cap;
    struct ab_keymap *shapes; /* skeleton signature -> 1 */
    struct ab_result_set skel;
    int64_t row; /* rows seen in this pass */
    /* pass 2 */
    struct xtab *t;
    FILE *wide, *lng;
};

static ab_status pass1(void *ctx, const struct ab_result *r, struct ab_error *err)
{
    struct stream *S = ctx;
    int64_t row = S->row++;
    char key[80];
    snprintf(key, sizeof key, "%s|%s", r->run_id, r->case_id);
    int64_t k = ab_keymap_get(S->cases, key);
    if (k < 0) {
        if (S->n_cases == S->cap) {
            int64_t cap = S->cap ? 2 * S->cap : 256;
            int64_t *nl = realloc(S->latest, (size_t)cap * sizeof *nl);
            if (nl)
                S->latest = nl;
            char(*ns)[32] = nl ? realloc(S->started, (size_t)cap * sizeof *ns) : NULL;
            if (!ns)
                return ab_fail(err, AB_ENOMEM, "out of memory exporting");
            S->started = ns;
            S->cap = cap;
        }
        k = S->n_cases++;
        ab_status st = ab_keymap_put(S->cases, key, k, err);
        if (st)
            return st;
        S->latest[k] = row;
        snprintf(S->started[k], sizeof S->started[k], "%s", r->started_utc);
    } else if (strcmp(r->started_utc, S->started[k]) >= 0) {
        S->latest[k] = row;
        snprintf(S->started[k], sizeof S->started[k], "%s", r->started_utc);
    }
    /* The row's shape, values reduced to number ("0") or text ("x"). */
    struct ab_result sk;
    memset(&sk, 0, sizeof sk);
    snprintf(sk.workload, sizeof sk.workload, "%s", r->workload);
    struct ab_params ps;
    size_t o = 0;
    if (ab_params_parse(r->params, &ps, NULL) == AB_OK)
        for (int i = 0; i < ps.n && o < sizeof sk.params; i++) {
            double v;
            bool num = ab_axis_value_number(ab_workload_find(r->workload), ps.p[i].name, ps.p[i].val.str, &v);
            o += (size_t)snprintf(sk.params + o, sizeof sk.params - o, "%s%s=%s", i ? ";" : "", ps.p[i].name,
                                  num ? "0" : "x");
        }
    char sig[4096];
    size_t so = (size_t)snprintf(sig, sizeof sig, "%s|%s|", sk.workload, sk.params);
    for (int i = 0; i < r->n_metrics; i++) {
        sk.metrics[i] = r->metrics[i];
        sk.metrics[i].value = 0;
        if (sk.metrics[i].text[0])
            snprintf(sk.metrics[i].text, sizeof sk.metrics[i].text, "x");
        if (so < sizeof sig)
            so += (size_t)snprintf(sig + so, sizeof sig - so, "%s%c;", r->metrics[i].name,
                                   r->metrics[i].text[0] ? 't' : 'n');
    }
    sk.n_metrics = r->n_metrics;
    if (ab_keymap_get(S->shapes, sig) >= 0)
        return AB_OK;
    ab_status st = ab_keymap_put(S->shapes, sig, 1, err);
    return st ? st : ab_result_set_add(&S->skel, &sk, err);
}

static ab_status pass2(void *ctx, const struct ab_result *r, struct ab_error *err)
{
    struct stream *S = ctx;
    int64_t row = S->row++;
    char key[80];
    snprintf(key, sizeof key, "%s|%s", r->run_id, r->case_id);
    int64_t k = ab_keymap_get(S->cases, key);
    if (k < 0 || S->latest[k] != row)
        return AB_OK; /* replaced by a later row of the case */
    if (!write_row(S->t, r, true, NULL, S->wide) || !write_row(S->t, r, false, NULL, S->lng))
        return ab_fail(err, AB_EIO, "write failed: %s", errno ? strerror(errno) : "I/O error");
    return AB_OK;
}

/* A temporary file beside dir/name, open for writing. */
static FILE *open_beside(const char *dir, const char *name, char *path, size_t plen, char *tmp, size_t tlen,
                         struct ab_error *err)
{
    snprintf(path, plen, "%s/%s", dir, name);
    int fd = -1;
    if (ab_temp_beside(path, tmp, tlen, &fd, err) != AB_OK) {
        tmp[0] = '\0';
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        ab_fail(err, AB_EIO, "%s: cannot write: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        tmp[0] = '\0';
    }
    return f;
}

ab_status ab_export_dir(const char *dir, char *warn, size_t warn_len, struct ab_error *err)
{
    if (warn && warn_len)
        warn[0] = '\0';
    char csv[4200];
    snprintf(csv, sizeof csv, "%s/results.csv", dir);
    struct stream S = { 0 };
    struct xtab t = { .warn = warn, .warn_len = warn_len };
    static const char *const names[3] = { "results_wide.csv", "results_long.csv",
                                          "results_wide_columns.csv" };
    char path[3][4200], tmp[3][4300] = { "", "", "" };
    FILE *f[3] = { NULL, NULL, NULL };
    ab_status st = ab_keymap_create(1024, &S.cases, err);
    if (st == AB_OK)
        st = ab_keymap_create(64, &S.shapes, err);
    if (st == AB_OK)
        st = ab_csv_each(csv, pass1, &S, NULL, 0, err);
    const struct ab_result **sk = NULL;
    if (st == AB_OK) {
        sk = calloc((size_t)(S.skel.n ? S.skel.n : 1), sizeof *sk);
        if (!sk)
            st = ab_fail(err, AB_ENOMEM, "out of memory exporting");
        for (int64_t i = 0; sk && i < S.skel.n; i++)
            sk[i] = &S.skel.rows[i];
    }
    if (st == AB_OK)
        st = build_columns(sk, (int)S.skel.n, &t, err);
    for (int i = 0; i < 3 && st == AB_OK; i++)
        if (!(f[i] = open_beside(dir, names[i], path[i], sizeof path[i], tmp[i], sizeof tmp[i], err)))
            st = err->msg[0] ? AB_EIO : AB_ENOMEM;
    if (st == AB_OK && (!write_header(&t, true, f[0]) || !write_header(&t, false, f[1])))
        st = ab_fail(err, AB_EIO, "%s: write failed: %s", path[0], strerror(errno));
    if (st == AB_OK) {
        S.row = 0;
        S.t = &t;
        S.wide = f[0];
        S.lng = f[1];
        st = ab_csv_each(csv, pass2, &S, NULL, 0, err);
    }
    if (st == AB_OK)
        st = write_columns(&t, AB_EXPORT_CSV, f[2], path[2], err);
    for (int i = 0; i < 3; i++) {
        if (f[i] && fclose(f[i]) != 0 && st == AB_OK)
            st = ab_fail(err, AB_EIO, "%s: write failed (disk full?)", path[i]);
    }
    for (int i = 0; i < 3 && st == AB_OK; i++)
        if (rename(tmp[i], path[i]) != 0)
            st = ab_fail(err, AB_EIO, "%s: cannot rename into place: %s", path[i], strerror(errno));
        else
            tmp[i][0] = '\0';
    for (int i = 0; i < 3; i++)
        if (tmp[i][0])
            unlink(tmp[i]);
    free(sk);
    free(t.c);
    ab_result_set_free(&S.skel);
    ab_keymap_destroy(S.cases);
    ab_keymap_destroy(S.shapes);
    free(S.latest);
    free(S.started);
    return st;
}
