/* util.c — errors as values, clocks, the input generator, allocation, formatting, files.
 * Nothing here knows about workloads; everything here is safe to call from any thread. */
#include "accelbench.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Put text into msg; when it is too long, cut its middle, not its end: messages put the path
 * first and the reason last, and a long path must not cost the reason. */
static void set_message(char msg[AB_ERR_LEN], const char *text)
{
    size_t n = strlen(text);
    if (n < AB_ERR_LEN) {
        memcpy(msg, text, n + 1);
        return;
    }
    static const char cut[] = " [...] ";
    size_t head = AB_ERR_LEN / 3, tail = AB_ERR_LEN - 1 - head - (sizeof cut - 1);
    memcpy(msg, text, head);
    memcpy(msg + head, cut, sizeof cut - 1);
    memcpy(msg + head + sizeof cut - 1, text + n - tail, tail + 1);
}

ab_status ab_fail(struct ab_error *err, ab_status st, const char *fmt, ...)
{
    if (err) {
        char buf[8192];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        set_message(err->msg, buf);
    }
    return st;
}

ab_status ab_fail_prefix(struct ab_error *err, ab_status st, const char *fmt, ...)
{
    if (err) {
        char old[AB_ERR_LEN], pre[4096], buf[8192];
        snprintf(old, sizeof old, "%s", err->msg);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(pre, sizeof pre, fmt, ap);
        va_end(ap);
        snprintf(buf, sizeof buf, "%s: %s", pre, old);
        set_message(err->msg, buf);
    }
    return st;
}

static const char *const status_words[] = {
    [AB_OK] = "ok",
    [AB_EINVAL] = "failed",
    [AB_EIO] = "failed",
    [AB_ENOMEM] = "oom",
    [AB_EUNSUPPORTED] = "skipped",
    [AB_EMISMATCH] = "mismatch",
    [AB_ETIMEOUT] = "timeout",
    [AB_EINTR] = "interrupted",
    [AB_EFAIL] = "failed",
};

const char *ab_status_word(ab_status st)
{
    if ((unsigned)st < sizeof status_words / sizeof status_words[0])
        return status_words[st];
    return "failed";
}

const char *ab_suite_word(enum ab_suite s)
{
    static const char *const words[AB_SUITE_COUNT] = { "quick", "default", "full", "check" };
    return (unsigned)s < AB_SUITE_COUNT ? words[s] : "default";
}

bool ab_status_from_word(const char *word, ab_status *out)
{
    static const struct {
        const char *w;
        ab_status s;
    } map[] = {
        { "ok", AB_OK },
        { "skipped", AB_EUNSUPPORTED },
        { "failed", AB_EFAIL },
        { "oom", AB_ENOMEM },
        { "timeout", AB_ETIMEOUT },
        { "mismatch", AB_EMISMATCH },
        { "interrupted", AB_EINTR },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(word, map[i].w) == 0) {
            *out = map[i].s;
            return true;
        }
    return false;
}

double ab_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ab_utc_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* xoshiro256** seeded by splitmix64: fast, good enough for benchmark inputs, reproducible. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void ab_rng_seed(struct ab_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t ab_rng_next(struct ab_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double ab_rng_uniform(struct ab_rng *r)
{
    return (double)(ab_rng_next(r) >> 11) * 0x1.0p-53;
}

double ab_rng_normal(struct ab_rng *r)
{
    /* Box-Muller; u1 in (0,1] so the log is finite. */
    double u1 = 1.0 - ab_rng_uniform(r), u2 = ab_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void ab_fill_normal_f32(float *x, size_t n, uint64_t seed, float scale)
{
    struct ab_rng r;
    ab_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = scale * (float)ab_rng_normal(&r);
}

void *ab_alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0)
        bytes = 64;
    /* Round up: aligned_alloc wants a multiple of the alignment. */
    size_t align = bytes >= (1u << 20) ? 4096 : 64;
    size_t sz = (bytes + align - 1) / align * align;
    if (sz < bytes)
        return NULL;
    if (posix_memalign(&p, align, sz) != 0)
        return NULL;
    return p;
}

void ab_free(void *p)
{
    free(p);
}

const char *ab_fmt_si(double v, const char *unit, char *buf, size_t len)
{
    static const char *const pre[] = { "", "K", "M", "G", "T", "P", "E" };
    if (!isfinite(v)) {
        snprintf(buf, len, "n/a");
        return buf;
    }
    int i = 0;
    double a = fabs(v);
    while (a >= 1000.0 && i < 6) {
        a /= 1000.0;
        v /= 1000.0;
        i++;
    }
    snprintf(buf, len, "%.3g %s%s", v, pre[i], unit);
    return buf;
}

ab_status ab_read_file(const char *path, char **out, size_t *len, struct ab_error *err)
{
    return ab_read_file_max(path, AB_READ_MAX_BYTES, out, len, err);
}

ab_status ab_read_file_max(const char *path, size_t max_bytes, char **out, size_t *len, struct ab_error *err)
{
    *out = NULL;
    /* O_NONBLOCK: a FIFO must not block the open; only regular files are read at all (a device
     * such as /dev/zero would be read until memory runs out). */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return ab_fail(err, AB_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        bool dir = S_ISDIR(sb.st_mode);
        close(fd);
        return ab_fail(err, AB_EIO, "%s: %s", path, dir ? "is a folder, not a file" : "not a regular file");
    }
    if ((uint64_t)sb.st_size > max_bytes) {
        close(fd);
        return ab_fail(err, AB_EIO, "%s: %llu bytes, more than the limit of %zu bytes for this file", path,
                       (unsigned long long)sb.st_size, max_bytes);
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return ab_fail(err, AB_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return ab_fail(err, AB_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) { /* the file grew past the limit while being read */
                free(buf);
                fclose(f);
                return ab_fail(err, AB_EIO, "%s: more than the limit of %zu bytes for this file", path,
                               max_bytes);
            }
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return ab_fail(err, AB_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return ab_fail(err, AB_EIO, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return AB_OK;
}

ab_status ab_mkdirs(const char *path, struct ab_error *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return ab_fail(err, AB_EINVAL, "path too long: %s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return ab_fail(err, AB_EIO, "cannot create directory %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return ab_fail(err, AB_EIO, "cannot create directory %s: %s", tmp, strerror(errno));
    struct stat st;
    if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
        return ab_fail(err, AB_EIO, "%s exists and is not a directory", tmp);
    return AB_OK;
}

void ab_case_metric(struct ab_case *c, const char *name, double value)
{
    for (int i = 0; i < c->n_metrics; i++)
        if (strcmp(c->metrics[i].name, name) == 0) {
            c->metrics[i].value = value;
            c->metrics[i].text[0] = '\0';
            return;
        }
    if (c->n_metrics == AB_MAX_METRICS)
        return;
    struct ab_metric *m = &c->metrics[c->n_metrics++];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->value = value;
    m->text[0] = '\0';
}

void ab_case_extra_json(struct ab_case *c, char *json)
{
    free(c->extra_json);
    c->extra_json = json;
}

void ab_case_metric_text(struct ab_case *c, const char *name, const char *fmt, ...)
{
    struct ab_metric *m = NULL;
    for (int i = 0; i < c->n_metrics; i++)
        if (strcmp(c->metrics[i].name, name) == 0)
            m = &c->metrics[i];
    if (!m) {
        if (c->n_metrics == AB_MAX_METRICS)
            return;
        m = &c->metrics[c->n_metrics++];
        snprintf(m->name, sizeof m->name, "%s", name);
    }
    m->value = NAN;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->text, sizeof m->text, fmt, ap);
    va_end(ap);
}

/* Recorded by the runner on any workload's rows (runner.c: the idle baseline, --counters). */
static const struct ab_metric_decl engine_metrics[] = {
    { "idle_power_w", "W", false, AB_BETTER_NONE,
      "the device's idle power, measured before the run (--idle-baseline)" },
    { "dynamic_energy_j", "J", false, AB_BETTER_LOWER,
      "energy per repetition less what idling over the same window would have used" },
    { "papi_*_thread0_per_rep", "", false, AB_BETTER_NONE,
      "a PAPI event (--counters) per repetition, counted on the calling thread only" },
    { "rank", "", false, AB_BETTER_NONE,
      "the launcher's rank of the process that ran the case (srun, mpirun)" },
    { "world_size", "", false, AB_BETTER_NONE, "how many ranks the launcher started" },
    { "concurrent_devices", "", false, AB_BETTER_NONE,
      "a run of several devices: how many were running cases while this one ran (1 = alone)" },
    { "ceiling_best_rate", "", false, AB_BETTER_HIGHER,
      "ceilings: the rate of the fastest sample (FLOP/s or B/s), the ceiling published" },
    { "ceiling_best_rate_ci_lo", "", false, AB_BETTER_NONE,
      "ceilings: low end of the 95% interval of the samples' 5th-percentile rate" },
    { "ceiling_best_rate_ci_hi", "", false, AB_BETTER_NONE,
      "ceilings: high end of the 95% interval of the samples' 5th-percentile rate" },
    { "theoretical_peak", "", false, AB_BETTER_NONE,
      "ceilings: the device's theoretical peak for this ceiling (profile, else cores x clock x lanes)" },
    { "fraction_of_peak", "", false, AB_BETTER_NONE, "ceilings: the ceiling published / theoretical_peak" },
    { "ceiling_detail", "", true, AB_BETTER_NONE, "ceilings: what gave the value (the best GEMM shape)" },
    { "ceiling_suspect", "", false, AB_BETTER_NONE,
      "ceilings: 1 when the ceiling failed the plausibility check twice" },
    { "ceiling_suspect_reason", "", true, AB_BETTER_NONE,
      "ceilings: why it is suspect (first 63 characters)" },
};

const struct ab_metric_decl *ab_engine_metrics(int *n)
{
    *n = (int)(sizeof engine_metrics / sizeof engine_metrics[0]);
    return engine_metrics;
}

/* Does name match pattern, whose one '*' (if any) stands for a non-empty word? */
static bool metric_name_matches(const char *pattern, const char *name)
{
    const char *star = strchr(pattern, '*');
    if (!star)
        return strcmp(pattern, name) == 0;
    size_t pre = (size_t)(star - pattern), post = strlen(star + 1), n = strlen(name);
    return n > pre + post && strncmp(name, pattern, pre) == 0 && strcmp(name + n - post, star + 1) == 0;
}

const struct ab_metric_decl *ab_metric_decl_find(const struct ab_workload *w, const char *name)
{
    for (int i = 0; w && i < w->n_metrics; i++)
        if (metric_name_matches(w->metrics[i].name, name))
            return &w->metrics[i];
    int n;
    const struct ab_metric_decl *e = ab_engine_metrics(&n);
    for (int i = 0; i < n; i++)
        if (metric_name_matches(e[i].name, name))
            return &e[i];
    return NULL;
}

ab_status ab_write_all(int fd, const void *buf, size_t len, const char *path, struct ab_error *err)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return ab_fail(err, AB_EIO, "%s: write failed: %s", path, w < 0 ? strerror(errno) : "no space");
        p += w;
        len -= (size_t)w;
    }
    return AB_OK;
}

ab_status ab_output_dir_safe(const char *dir, struct ab_error *err)
{
    struct stat sb;
    if (lstat(dir, &sb) != 0)
        return AB_OK; /* not there yet: it will be made, and be ours */
    if (!S_ISDIR(sb.st_mode))
        return ab_fail(err, AB_EINVAL, "%s: exists and is not a folder%s", dir,
                       S_ISLNK(sb.st_mode) ? " (a symbolic link: name its target)" : "");
    if ((sb.st_mode & S_IWOTH) && !(sb.st_mode & S_ISVTX))
        return ab_fail(
            err, AB_EINVAL,
            "%s: anyone may write in this folder (mode %03o, no sticky bit): use a folder of your own", dir,
            (unsigned)(sb.st_mode & 0777));
    if (sb.st_uid != geteuid())
        return ab_fail(err, AB_EINVAL, "%s: owned by another user (uid %u): use a folder of your own", dir,
                       (unsigned)sb.st_uid);
    return AB_OK;
}

ab_status ab_temp_beside(const char *path, char *tmp, size_t tmp_len, int *fd, struct ab_error *err)
{
    const char *slash = strrchr(path, '/');
    int dl = slash ? (int)(slash - path + 1) : 0;
    if ((size_t)snprintf(tmp, tmp_len, "%.*s.%s.XXXXXX", dl, path, slash ? slash + 1 : path) >= tmp_len)
        return ab_fail(err, AB_EINVAL, "%s: path too long", path);
    /* mkstemp opens with O_EXCL under a name nobody can guess: nothing planted there is followed. */
    *fd = mkostemp(tmp, O_CLOEXEC);
    if (*fd < 0)
        return ab_fail(err, AB_EIO, "%s: cannot create a temporary file: %s", tmp, strerror(errno));
    if (fchmod(*fd, 0644) != 0) {
        ab_status st = ab_fail(err, AB_EIO, "%s: %s", tmp, strerror(errno));
        close(*fd);
        unlink(tmp);
        return st;
    }
    return AB_OK;
}
