/* record_csv.c — the results CSV (results/schema.md), written and read with libcsv.
 * One table of columns drives both directions, so writer and reader cannot drift apart.
 * Rows are written whole with a single write(2) and so survive a kill of the process; a
 * torn last line (a crash mid-write, or a full disk) is cut off before appending and dropped
 * with a warning by the reader. Every read error names file, line and field. */
#include "accelbench.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum col_type { C_SCHEMA, C_STR, C_F64, C_I64, C_STATUS, C_METRICS };

/* Columns a row cannot do without: the version and the case's identity. Any other column a
 * file lacks (an older schema) reads as empty. */
static bool col_required(const char *name)
{
    return !strcmp(name, "schema_version") || !strcmp(name, "workload") || !strcmp(name, "device") ||
           !strcmp(name, "params") || !strcmp(name, "status");
}

struct col {
    const char *name;
    enum col_type type;
    size_t off;
    size_t size; /* C_STR: buffer size */
};

#define STR(n, f)                                                                                            \
    {                                                                                                        \
        n, C_STR, offsetof(struct ab_result, f), sizeof(((struct ab_result *)0)->f)                          \
    }
#define F64(n, f)                                                                                            \
    {                                                                                                        \
        n, C_F64, offsetof(struct ab_result, f), 0                                                           \
    }
#define I64(n, f)                                                                                            \
    {                                                                                                        \
        n, C_I64, offsetof(struct ab_result, f), 0                                                           \
    }

static const struct col cols[] = {
    { "schema_version", C_SCHEMA, 0, 0 },
    STR("run_id", run_id),
    STR("case_id", case_id),
    STR("host", host),
    STR("started_utc", started_utc),
    STR("workload", workload),
    STR("device", device),
    STR("device_name", device_name),
    STR("backend", backend),
    STR("params", params),
    { "status", C_STATUS, offsetof(struct ab_result, status), 0 },
    STR("message", message),
    I64("n_samples", time_s.n),
    I64("reps_per_sample", reps_per_sample),
    F64("time_median_s", time_s.median),
    F64("time_mean_s", time_s.mean),
    F64("time_stdev_s", time_s.stdev),
    F64("time_min_s", time_s.min),
    F64("time_max_s", time_s.max),
    F64("time_p05_s", time_s.p05),
    F64("time_p95_s", time_s.p95),
    F64("time_ci_lo_s", time_s.ci_lo),
    F64("time_ci_hi_s", time_s.ci_hi),
    STR("stop_reason", stop_reason),
    F64("flops", flops),
    F64("bytes", bytes),
    F64("tokens", tokens),
    F64("flop_per_s", flop_per_s),
    F64("byte_per_s", byte_per_s),
    F64("token_per_s", token_per_s),
    STR("ceiling", ceiling),
    F64("ceiling_value", ceiling_value),
    STR("ceiling_source", ceiling_source),
    F64("fraction_of_ceiling", fraction_of_ceiling),
    STR("power_source", power_source),
    F64("avg_power_w", avg_power_w),
    F64("energy_j", energy_j),
    F64("flop_per_j", flop_per_j),
    F64("token_per_j", token_per_j),
    F64("byte_per_j", byte_per_j),
    F64("usd_per_hour", usd_per_hour),
    { "metrics", C_METRICS, 0, 0 },
};
#define NCOLS ((int)(sizeof cols / sizeof cols[0]))

const char *const *ab_csv_columns(void)
{
    static const char *names[NCOLS + 1];
    for (int i = 0; i < NCOLS; i++)
        names[i] = cols[i].name;
    names[NCOLS] = NULL;
    return names;
}

static bool format_field(const struct ab_result *r, int i, char *num, size_t nlen, const char **field,
                         char **owned);

const char *ab_csv_field(const struct ab_result *r, int i, char *buf, size_t len, const char **type)
{
    const char *field = "";
    char *owned = NULL;
    char num[64];
    *type = "text";
    if (len)
        buf[0] = '\0';
    if (i < 0 || i >= NCOLS || !format_field(r, i, num, sizeof num, &field, &owned))
        return buf;
    enum col_type t = cols[i].type;
    *type = t == C_F64 ? "real" : t == C_I64 || t == C_SCHEMA ? "int" : "text";
    snprintf(buf, len, "%s", field);
    free(owned);
    return buf;
}

/* ------------------------------------------------------------------ shared helpers */

double ab_result_metric(const struct ab_result *r, const char *name)
{
    for (int i = 0; i < r->n_metrics; i++)
        if (strcmp(r->metrics[i].name, name) == 0)
            return r->metrics[i].text[0] ? NAN : r->metrics[i].value;
    return NAN;
}

const char *ab_result_metric_text(const struct ab_result *r, const char *name)
{
    for (int i = 0; i < r->n_metrics; i++)
        if (strcmp(r->metrics[i].name, name) == 0 && r->metrics[i].text[0])
            return r->metrics[i].text;
    return NULL;
}

void ab_result_key(const struct ab_result *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s|%s|%s", r->workload, r->device, r->params);
}

void ab_result_set_free(struct ab_result_set *s)
{
    for (int64_t i = 0; i < s->n; i++)
        free(s->rows[i].samples);
    free(s->rows);
    memset(s, 0, sizeof *s);
}

ab_status ab_result_set_add(struct ab_result_set *s, const struct ab_result *r, struct ab_error *err)
{
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 64;
        struct ab_result *nr = realloc(s->rows, (size_t)cap * sizeof *nr);
        if (!nr)
            return ab_fail(err, AB_ENOMEM, "out of memory reading results");
        s->rows = nr;
        s->cap = cap;
    }
    s->rows[s->n] = *r;
    s->rows[s->n].samples = NULL;
    s->rows[s->n].n_samples = 0;
    s->n++;
    return AB_OK;
}

/* ------------------------------------------------------------------ writing */

struct buf {
    char *p;
    size_t n, cap;
};

static bool buf_put(struct buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->cap + n + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return false;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return true;
}

/* A field, quoted by libcsv when it needs to be; newlines become spaces so that one row is
 * always one line (the reader's line numbers rely on it). */
static bool put_field(struct buf *b, const char *s, bool first)
{
    if (!first && !buf_put(b, ",", 1))
        return false;
    size_t n = strlen(s);
    char *clean = malloc(n + 1);
    if (!clean)
        return false;
    for (size_t i = 0; i <= n; i++)
        clean[i] = (s[i] == '\n' || s[i] == '\r') ? ' ' : s[i];
    bool needs = strpbrk(clean, ",\"") != NULL || (n && (clean[0] == ' ' || clean[n - 1] == ' '));
    bool ok;
    if (!needs) {
        ok = buf_put(b, clean, n);
    } else {
        size_t cap = 2 * n + 3;
        char *q = malloc(cap);
        ok = q != NULL;
        if (ok) {
            size_t w = csv_write(q, cap, clean, n);
            ok = buf_put(b, q, w);
            free(q);
        }
    }
    free(clean);
    return ok;
}

static void fmt_f64(double v, char *out, size_t len)
{
    if (isnan(v))
        out[0] = '\0';
    else
        snprintf(out, len, "%.9g", v);
}

/* The text of column i of r: *field points at r, at num, or at *owned (malloc'ed, the packed
 * metrics; the caller frees it). False when out of memory. */
static bool format_field(const struct ab_result *r, int i, char *num, size_t nlen, const char **field,
                         char **owned)
{
    const struct col *c = &cols[i];
    const char *base = (const char *)r + c->off;
    *field = num;
    *owned = NULL;
    struct buf mb = { 0 };
    switch (c->type) {
    case C_SCHEMA: snprintf(num, nlen, "%d", AB_SCHEMA_VERSION); break;
    case C_STR: *field = base; break;
    case C_F64: fmt_f64(*(const double *)base, num, nlen); break;
    case C_I64: snprintf(num, nlen, "%lld", (long long)*(const int64_t *)base); break;
    case C_STATUS: *field = ab_status_word(*(const ab_status *)base); break;
    case C_METRICS:
        for (int k = 0; k < r->n_metrics; k++) {
            const struct ab_metric *m = &r->metrics[k];
            char item[160], val[64];
            if (m->text[0]) {
                /* ';' separates metrics, so a text value may not hold one. */
                snprintf(val, sizeof val, "%s", m->text);
                for (char *p = val; *p; p++)
                    if (*p == ';')
                        *p = ',';
            } else {
                fmt_f64(m->value, val, sizeof val);
            }
            int w = snprintf(item, sizeof item, "%s%s=%s", k ? ";" : "", m->name, val);
            if (w < 0 || !buf_put(&mb, item, strlen(item))) {
                free(mb.p);
                return false;
            }
        }
        *owned = mb.p;
        *field = mb.p ? mb.p : "";
        break;
    }
    return true;
}

static bool format_row(const struct ab_result *r, struct buf *b)
{
    char num[64];
    for (int i = 0; i < NCOLS; i++) {
        const char *field;
        char *owned;
        if (!format_field(r, i, num, sizeof num, &field, &owned))
            return false;
        bool ok = put_field(b, field, i == 0);
        free(owned);
        if (!ok)
            return false;
    }
    return buf_put(b, "\n", 1);
}

struct csv_writer {
    int fd;
    char path[4096];
};

static ab_status header_line(struct buf *b)
{
    for (int i = 0; i < NCOLS; i++)
        if (!put_field(b, cols[i].name, i == 0))
            return AB_ENOMEM;
    return buf_put(b, "\n", 1) ? AB_OK : AB_ENOMEM;
}

static ab_status csvw_row(void *self, const struct ab_result *r, struct ab_error *err)
{
    struct csv_writer *w = self;
    struct buf b = { 0 };
    if (!format_row(r, &b)) {
        free(b.p);
        return ab_fail(err, AB_ENOMEM, "out of memory formatting a row");
    }
    /* One write per row: a killed process leaves whole rows, at worst minus the last. A row
     * cut short by a full disk or a file-size limit is taken back, so the file ends whole. */
    off_t end = lseek(w->fd, 0, SEEK_END);
    ab_status st = ab_write_all(w->fd, b.p, b.n, w->path, err);
    if (st != AB_OK && end >= 0 && ftruncate(w->fd, end) != 0)
        st = ab_fail_prefix(err, st, "a partial row is left at the end (readers drop it)");
    free(b.p);
    return st;
}

static ab_status csvw_begin(void *self, const struct ab_run_info *info, struct ab_error *err)
{
    return AB_OK;
}

static ab_status csvw_end(void *self, const struct ab_run_info *info, struct ab_error *err)
{
    struct csv_writer *w = self;
    if (fsync(w->fd) != 0 && errno != EINVAL)
        return ab_fail(err, AB_EIO, "%s: fsync failed: %s", w->path, strerror(errno));
    return AB_OK;
}

static void csvw_destroy(void *self)
{
    struct csv_writer *w = self;
    if (w->fd >= 0)
        close(w->fd);
    free(w);
}

/* What a read found beyond the rows: for the writer, which migrates only a file it fully
 * understands. */
struct read_info {
    long max_version; /* 0: no rows */
    int n_unknown;    /* columns this build does not know */
};

static ab_status csv_read_info(const char *path, struct ab_result_set *out, char *warn, size_t warn_len,
                               struct read_info *info, struct ab_error *err);

/* Rewrite a results file of an older schema in this one (its rows as the reader migrated
 * them), keeping the original beside it as <path>.schema<N>; *fd is reopened on the new file. */
static ab_status migrate_file(const char *path, const struct ab_result_set *rows, const struct buf *hdr,
                              int *fd, struct ab_error *err)
{
    char tmp[4300], keep[4300];
    int tfd = -1;
    ab_status st = ab_temp_beside(path, tmp, sizeof tmp, &tfd, err);
    if (st)
        return st;
    struct buf b = { 0 };
    bool ok = buf_put(&b, hdr->p, hdr->n);
    for (int64_t i = 0; ok && i < rows->n; i++)
        ok = format_row(&rows->rows[i], &b);
    if (!ok)
        st = ab_fail(err, AB_ENOMEM, "out of memory migrating %s", path);
    if (st == AB_OK)
        st = ab_write_all(tfd, b.p, b.n, tmp, err);
    if (st == AB_OK && fsync(tfd) != 0 && errno != EINVAL)
        st = ab_fail(err, AB_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
    close(tfd);
    free(b.p);
    snprintf(keep, sizeof keep, "%s.schema%d", path, AB_SCHEMA_VERSION - 1);
    if (st == AB_OK && link(path, keep) != 0 && errno != EEXIST)
        st = ab_fail(err, AB_EIO, "%s: cannot keep the original as %s: %s", path, keep, strerror(errno));
    if (st == AB_OK && rename(tmp, path) != 0)
        st = ab_fail(err, AB_EIO, "%s: cannot rename into place: %s", path, strerror(errno));
    if (st != AB_OK) {
        unlink(tmp);
        return st;
    }
    close(*fd);
    *fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (*fd < 0)
        return ab_fail(err, AB_EIO, "%s: cannot reopen after migrating: %s", path, strerror(errno));
    return AB_OK;
}

ab_status ab_csv_reporter_open(const char *path, struct ab_reporter *out, struct ab_error *err)
{
    memset(out, 0, sizeof *out);
    struct buf hdr = { 0 };
    if (header_line(&hdr) != AB_OK) {
        free(hdr.p);
        return ab_fail(err, AB_ENOMEM, "out of memory");
    }
    int fd =
        open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0666); /* never through a link */
    if (fd < 0) {
        free(hdr.p);
        return ab_fail(err, AB_EIO, "%s: cannot open for writing: %s", path,
                       errno == ELOOP ? "a symbolic link (results are never written through one)"
                                      : strerror(errno));
    }
    struct stat st;
    ab_status rc = AB_OK;
    if (fstat(fd, &st) != 0) {
        rc = ab_fail(err, AB_EIO, "%s: %s", path, strerror(errno));
    } else if (st.st_size == 0) {
        rc = ab_write_all(fd, hdr.p, hdr.n, path, err);
    } else {
        /* Appending to an existing file: its header must be ours, and a torn last line
         * (from a crash) is cut so the next row starts on a line of its own. */
        char *text = NULL;
        size_t len = 0;
        rc = ab_read_file(path, &text, &len, err);
        if (rc == AB_OK) {
            size_t hl = strcspn(text, "\n");
            struct ab_result_set prev = { 0 };
            struct read_info ri = { 0 };
            bool same = hl + 1 == hdr.n && memcmp(text, hdr.p, hl) == 0;
            if (!same && csv_read_info(path, &prev, NULL, 0, &ri, NULL) == AB_OK && ri.n_unknown == 0 &&
                ri.max_version < AB_SCHEMA_VERSION) {
                /* An older schema (a run being resumed): rewritten in this one first. */
                rc = migrate_file(path, &prev, &hdr, &fd, err);
            } else if (!same) {
                char sv[16] = "?";
                sscanf(text, "%15[^,\n]", sv);
                rc = ab_fail(err, AB_EINVAL,
                             "%s: existing file is not a results file of schema version %d "
                             "(header differs; first column \"%s\"): use another output folder",
                             path, AB_SCHEMA_VERSION, sv);
            } else if (len && text[len - 1] != '\n') {
                const char *last = memrchr(text, '\n', len);
                off_t keep = last ? (off_t)(last - text + 1) : 0;
                if (ftruncate(fd, keep) != 0)
                    rc = ab_fail(err, AB_EIO, "%s: cannot cut a torn last line: %s", path, strerror(errno));
            }
            ab_result_set_free(&prev);
        }
        free(text);
    }
    free(hdr.p);
    if (rc != AB_OK) {
        close(fd);
        return rc;
    }
    struct csv_writer *w = calloc(1, sizeof *w);
    if (!w) {
        close(fd);
        return ab_fail(err, AB_ENOMEM, "out of memory");
    }
    w->fd = fd;
    snprintf(w->path, sizeof w->path, "%s", path);
    out->self = w;
    out->begin = csvw_begin;
    out->row = csvw_row;
    out->end = csvw_end;
    out->destroy = csvw_destroy;
    return AB_OK;
}

/* ------------------------------------------------------------------ reading */

/* Columns are read by name, so a file of an older schema (fewer columns) or of a newer one (a
 * column this build does not know: ignored with one warning) still reads. */
#define MAX_HDR 256

struct reader {
    const char *path;
    int line; /* 1-based line of the row being parsed */
    int field;
    struct ab_result row;
    struct ab_result_set *out;
    ab_status st;
    struct ab_error *err;
    bool header_done;
    int n_hdr;
    int map[MAX_HDR]; /* header position -> index in cols[], or -1 (unknown column) */
    bool present[NCOLS];
    char unknown[256]; /* names of unknown columns, for the warning */
    int n_unknown;
    long version;     /* the row's schema_version */
    long max_version; /* the highest of any row */
    /* ab_csv_each: each row goes to each(each_ctx, row) instead of into out */
    ab_status (*each)(void *ctx, const struct ab_result *r, struct ab_error *err);
    void *each_ctx;
};

static ab_status parse_f64(const char *s, double *out)
{
    if (!*s) {
        *out = NAN;
        return AB_OK;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE)
        return AB_EINVAL;
    *out = v;
    return AB_OK;
}
static ab_status parse_metrics(struct reader *rd, const char *s)
{
    struct ab_result *r = &rd->row;
    r->n_metrics = 0;
    while (*s) {
        const char *semi = strchr(s, ';');
        size_t seg = semi ? (size_t)(semi - s) : strlen(s);
        const char *eq = memchr(s, '=', seg);
        if (!eq || eq == s)
            return ab_fail(rd->err, AB_EINVAL, "%s:%d: field \"metrics\": expected name=value at \"%.*s\"",
                           rd->path, rd->line, (int)seg, s);
        if (r->n_metrics == AB_MAX_METRICS)
            return ab_fail(rd->err, AB_EINVAL, "%s:%d: field \"metrics\": more than %d metrics", rd->path,
                           rd->line, AB_MAX_METRICS);
        struct ab_metric *m = &r->metrics[r->n_metrics];
        size_t nl = (size_t)(eq - s), vl = seg - nl - 1;
        if (nl >= sizeof m->name || vl >= sizeof m->text)
            return ab_fail(rd->err, AB_EINVAL, "%s:%d: field \"metrics\": name or value too long", rd->path,
                           rd->line);
        memcpy(m->name, s, nl);
        m->name[nl] = '\0';
        char val[sizeof m->text];
        memcpy(val, eq + 1, vl);
        val[vl] = '\0';
        if (parse_f64(val, &m->value) == AB_OK) {
            m->text[0] = '\0';
        } else {
            m->value = NAN;
            snprintf(m->text, sizeof m->text, "%s", val);
        }
        r->n_metrics++;
        if (!semi)
            break;
        s = semi + 1;
    }
    return AB_OK;
}

/* A field as text a person can read in a message: bytes outside printable ASCII as \xHH
 * (a NUL, a byte-order mark or a control character in a header otherwise shows as nothing). */
static const char *printable(const char *s, size_t len, char *buf, size_t blen)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < blen; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch < 0x7f)
            buf[o++] = (char)ch;
        else
            o += (size_t)snprintf(buf + o, blen - o, "\\x%02X", ch);
    }
    if (o + 4 < blen && len > 0 && o >= blen - 6)
        o += (size_t)snprintf(buf + o, blen - o, "...");
    buf[o < blen ? o : blen - 1] = '\0';
    return buf;
}

static int col_index(const char *s, size_t len)
{
    for (int k = 0; k < NCOLS; k++)
        if (strlen(cols[k].name) == len && memcmp(s, cols[k].name, len) == 0)
            return k;
    return -1;
}

static void on_header_field(struct reader *rd, const char *s, size_t len, int i)
{
    char shown[48];
    if (i == 0 && (len != strlen("schema_version") || memcmp(s, "schema_version", len) != 0)) {
        printable(s, len, shown, sizeof shown);
        rd->st = ab_fail(rd->err, AB_EINVAL,
                         "%s:1: not an accelbench results file (first column \"%s\", "
                         "expected \"schema_version\")",
                         rd->path, shown);
        return;
    }
    if (i >= MAX_HDR) {
        rd->st = ab_fail(rd->err, AB_EINVAL, "%s:1: more than %d columns", rd->path, MAX_HDR);
        return;
    }
    int k = strlen(s) == len ? col_index(s, len) : -1;
    rd->map[i] = k;
    if (k >= 0 && rd->present[k]) {
        rd->st = ab_fail(rd->err, AB_EINVAL, "%s:1: column %d: \"%s\" appears twice", rd->path, i + 1,
                         cols[k].name);
    } else if (k >= 0) {
        rd->present[k] = true;
    } else {
        printable(s, len, shown, sizeof shown);
        size_t l = strlen(rd->unknown);
        if (l + 1 < sizeof rd->unknown)
            snprintf(rd->unknown + l, sizeof rd->unknown - l, "%s\"%s\"", rd->n_unknown ? ", " : "", shown);
        rd->n_unknown++;
    }
}

static void on_field(void *data, size_t len, void *ctx)
{
    struct reader *rd = ctx;
    if (rd->st != AB_OK)
        return;
    const char *s = data ? (const char *)data : "";
    int i = rd->field++;
    if (!rd->header_done) {
        on_header_field(rd, s, len, i);
        return;
    }
    if (i >= rd->n_hdr) {
        rd->st = ab_fail(rd->err, AB_EINVAL, "%s:%d: more than %d fields", rd->path, rd->line, rd->n_hdr);
        return;
    }
    if (rd->map[i] < 0)
        return; /* a column this build does not know */
    const struct col *c = &cols[rd->map[i]];
    char *base = (char *)&rd->row + c->off;
    /* Fields are NUL-terminated by CSV_APPEND_NULL, but may hold embedded NULs: reject. */
    if (strlen(s) != len) {
        rd->st = ab_fail(rd->err, AB_EINVAL, "%s:%d: field \"%s\": contains a NUL byte", rd->path, rd->line,
                         c->name);
        return;
    }
    switch (c->type) {
    case C_SCHEMA: {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end || end == s)
            rd->st = ab_fail(rd->err, AB_EINVAL, "%s:%d: field \"schema_version\": \"%.20s\" is not a number",
                             rd->path, rd->line, s);
        else if (v < AB_SCHEMA_VERSION_MIN || v > AB_SCHEMA_VERSION)
            rd->st =
                ab_fail(rd->err, AB_EINVAL,
                        "%s:%d: field \"schema_version\": version %ld, this build reads versions %d to %d",
                        rd->path, rd->line, v, AB_SCHEMA_VERSION_MIN, AB_SCHEMA_VERSION);
        else
            rd->version = v;
        break;
    }
    case C_STR:
        if (len >= c->size)
            rd->st = ab_fail(rd->err, AB_EINVAL, "%s:%d: field \"%s\": longer than %zu characters", rd->path,
                             rd->line, c->name, c->size - 1);
        else
            memcpy(base, s, len + 1);
        break;
    case C_F64:
        if (parse_f64(s, (double *)base) != AB_OK)
            rd->st = ab_fail(rd->err, AB_EINVAL, "%s:%d: field \"%s\": \"%.30s\" is not a number", rd->path,
                             rd->line, c->name, s);
        break;
    case C_I64: {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (*end || end == s || errno)
            rd->st = ab_fail(rd->err, AB_EINVAL, "%s:%d: field \"%s\": \"%.30s\" is not a whole number",
                             rd->path, rd->line, c->name, s);
        else
            *(int64_t *)base = v;
        break;
    }
    case C_STATUS:
        if (!ab_status_from_word(s, (ab_status *)base))
            rd->st = ab_fail(rd->err, AB_EINVAL,
                             "%s:%d: field \"status\": unknown status \"%.30s\" (valid: ok, skipped, "
                             "failed, oom, timeout, mismatch, interrupted)",
                             rd->path, rd->line, s);
        break;
    case C_METRICS: rd->st = parse_metrics(rd, s); break;
    }
}

/* Empty means not measured: schema 1 wrote 0 instead into the time and rate columns of a row
 * that was not measured, and into the count (and its rates) a workload has no formula for. */
static void migrate_v1(struct ab_result *r)
{
    if (r->status != AB_OK) {
        struct ab_stats *t = &r->time_s;
        t->median = t->mean = t->stdev = t->min = t->max = t->p05 = t->p95 = t->ci_lo = t->ci_hi = NAN;
        r->flop_per_s = r->byte_per_s = r->token_per_s = NAN;
    }
    if (r->flops == 0)
        r->flops = r->flop_per_s = r->flop_per_j = NAN;
    if (r->bytes == 0)
        r->bytes = r->byte_per_s = r->byte_per_j = NAN;
    if (r->tokens == 0)
        r->tokens = r->token_per_s = r->token_per_j = NAN;
}

/* A row before its fields: columns the file lacks read as empty (NaN for numbers). */
static void row_reset(struct reader *rd)
{
    memset(&rd->row, 0, sizeof rd->row);
    for (int k = 0; k < NCOLS; k++)
        if (cols[k].type == C_F64)
            *(double *)((char *)&rd->row + cols[k].off) = NAN;
    rd->version = 0;
}

static void on_row(int term, void *ctx)
{
    struct reader *rd = ctx;
    if (rd->st != AB_OK)
        return;
    if (!rd->header_done) {
        rd->n_hdr = rd->field;
        for (int k = 0; k < NCOLS && rd->st == AB_OK; k++)
            if (col_required(cols[k].name) && !rd->present[k])
                rd->st = ab_fail(rd->err, AB_EINVAL,
                                 "%s:1: no column \"%s\" (every results file of schema version %d to %d "
                                 "has one)",
                                 rd->path, cols[k].name, AB_SCHEMA_VERSION_MIN, AB_SCHEMA_VERSION);
        rd->header_done = true;
    } else if (rd->field != rd->n_hdr) {
        rd->st = ab_fail(rd->err, AB_EINVAL, "%s:%d: %d fields, expected %d", rd->path, rd->line, rd->field,
                         rd->n_hdr);
    } else {
        struct ab_result *r = &rd->row;
        if (rd->version < 2)
            migrate_v1(r);
        if (!r->case_id[0]) /* schema 1: computed from the identity columns */
            ab_case_id(NULL, r->workload, r->device, r->device_name, r->params, r->case_id,
                       sizeof r->case_id);
        if (rd->version > rd->max_version)
            rd->max_version = rd->version;
        rd->st = rd->each ? rd->each(rd->each_ctx, r, rd->err) : ab_result_set_add(rd->out, r, rd->err);
    }
    rd->line++;
    rd->field = 0;
    row_reset(rd);
}

/* Parse the whole lines of one chunk; the bytes after its last newline wait for the next. */
static bool feed(struct csv_parser *p, struct reader *rd, const char *s, size_t n)
{
    if (csv_parse(p, s, n, on_field, on_row, rd) != n && rd->st == AB_OK)
        rd->st = ab_fail(rd->err, AB_EINVAL, "%s:%d: malformed CSV: %s", rd->path, rd->line,
                         csv_strerror(csv_error(p)));
    return rd->st == AB_OK;
}

/* Read in chunks, so that a reader that streams rows (ab_csv_each) holds one chunk, not the file. */
static ab_status read_rows(const char *path, struct reader *rd, char *warn, size_t warn_len,
                           struct ab_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* a FIFO must not block the open */
    if (fd < 0)
        return ab_fail(err, AB_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        bool dir = S_ISDIR(sb.st_mode);
        close(fd);
        return ab_fail(err, AB_EIO, "%s: %s", path, dir ? "is a folder, not a file" : "not a regular file");
    }
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_APPEND_NULL | CSV_STRICT_FINI) != 0) {
        close(fd);
        return ab_fail(err, AB_ENOMEM, "out of memory");
    }
    enum { CHUNK = 1 << 16 };
    size_t cap = 2 * CHUNK, have = 0, total = 0;
    int newlines = 0;
    bool first = true;
    char *buf = malloc(cap);
    if (!buf)
        rd->st = ab_fail(err, AB_ENOMEM, "out of memory");
    while (rd->st == AB_OK) {
        if (cap - have < CHUNK) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rd->st = ab_fail(err, AB_ENOMEM, "out of memory");
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + have, CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rd->st = ab_fail(err, AB_EIO, "%s: read failed: %s", path, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        for (ssize_t k = 0; k < got; k++)
            newlines += buf[have + (size_t)k] == '\n';
        have += (size_t)got;
        total += (size_t)got;
        const char *last = memrchr(buf, '\n', have);
        if (!last)
            continue;
        size_t whole = (size_t)(last - buf) + 1, skip = 0;
        /* A UTF-8 byte-order mark, as spreadsheets write one when they save a CSV: not data. */
        if (first && whole >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
            skip = 3;
        first = false;
        if (!feed(&p, rd, buf + skip, whole - skip))
            break;
        memmove(buf, buf + whole, have - whole);
        have -= whole;
    }
    close(fd);
    if (rd->st == AB_OK && total == 0)
        rd->st = ab_fail(err, AB_EINVAL, "%s: empty file (no header)", path);
    else if (rd->st == AB_OK && have > 0 && first)
        rd->st = ab_fail(err, AB_EINVAL, "%s:1: incomplete header line", path);
    else if (rd->st == AB_OK && have > 0 && warn) /* a torn last line, as after a crash: dropped */
        snprintf(warn, warn_len, "%s:%d: incomplete last line dropped", path, newlines + 1);
    if (rd->st == AB_OK && csv_fini(&p, on_field, on_row, rd) != 0 && rd->st == AB_OK)
        rd->st = ab_fail(err, AB_EINVAL, "%s:%d: malformed CSV: unterminated quoted field", path, rd->line);
    csv_free(&p);
    free(buf);
    if (rd->st == AB_OK && !rd->header_done)
        rd->st = ab_fail(err, AB_EINVAL, "%s: empty file (no header)", path);
    if (rd->st == AB_OK && rd->n_unknown && warn && warn_len) {
        size_t l = strlen(warn);
        snprintf(warn + l, warn_len - l, "%s%s:1: %d column%s this build does not know, ignored: %s",
                 l ? "; " : "", path, rd->n_unknown, rd->n_unknown == 1 ? "" : "s", rd->unknown);
    }
    return rd->st;
}

static ab_status csv_read_info(const char *path, struct ab_result_set *out, char *warn, size_t warn_len,
                               struct read_info *info, struct ab_error *err)
{
    if (warn && warn_len)
        warn[0] = '\0';
    struct reader *rd = calloc(1, sizeof *rd);
    if (!rd)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    *rd = (struct reader){ .path = path, .line = 1, .out = out, .st = AB_OK, .err = err };
    row_reset(rd);
    int64_t n0 = out ? out->n : 0;
    ab_status st = read_rows(path, rd, warn, warn_len, err);
    if (info) {
        info->max_version = rd->max_version;
        info->n_unknown = rd->n_unknown;
    }
    free(rd);
    if (st != AB_OK && out) {
        for (int64_t i = n0; i < out->n; i++)
            free(out->rows[i].samples);
        out->n = n0;
        if (n0 == 0) { /* nothing of the caller's: leave the set as it came */
            free(out->rows);
            out->rows = NULL;
            out->cap = 0;
        }
    }
    return st;
}

ab_status ab_csv_each(const char *path,
                      ab_status (*fn)(void *ctx, const struct ab_result *r, struct ab_error *err), void *ctx,
                      char *warn, size_t warn_len, struct ab_error *err)
{
    if (warn && warn_len)
        warn[0] = '\0';
    struct reader *rd = calloc(1, sizeof *rd);
    if (!rd)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    *rd = (struct reader){ .path = path, .line = 1, .st = AB_OK, .err = err, .each = fn, .each_ctx = ctx };
    row_reset(rd);
    ab_status st = read_rows(path, rd, warn, warn_len, err);
    free(rd);
    return st;
}

ab_status ab_csv_read(const char *path, struct ab_result_set *out, char *warn, size_t warn_len,
                      struct ab_error *err)
{
    return csv_read_info(path, out, warn, warn_len, NULL, err);
}
