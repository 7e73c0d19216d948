/* report_console.c — the console reporter: the run's progress on the terminal, the third
 * reporter next to CSV and JSON, fed the same rows. A case's start rewrites one status line
 * (terminals only); its end prints the line that stays: status and the figure that matters
 * (FLOP/s or B/s and the fraction of its ceiling, or the message of a failure). */
#include "accelbench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct console {
    FILE *log;
    bool tty;
    double run_t0, case_t0;
    int index, n; /* the case running, of how many planned */
};

static void fmt_dur(double s, char *buf, size_t len)
{
    if (!isfinite(s) || s < 0)
        s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

static ab_status console_begin(void *self, const struct ab_run_info *info, struct ab_error *err)
{
    struct console *c = self;
    c->run_t0 = ab_now_s();
    return AB_OK;
}

static void console_case_start(void *self, const char *workload, const char *device, const char *params,
                               int i, int n)
{
    struct console *c = self;
    c->index = i;
    c->n = n;
    if (c->tty) {
        double elapsed = ab_now_s() - c->run_t0;
        char el[16], eta[16];
        fmt_dur(elapsed, el, sizeof el);
        fmt_dur(i > 0 ? elapsed / i * (n - i) : NAN, eta, sizeof eta);
        fprintf(c->log, "\r\033[K[%d/%d] %s %s %.60s  elapsed %s  ETA %s", i + 1, n, workload, device, params,
                el, i > 0 ? eta : "?");
        fflush(c->log);
    }
    c->case_t0 = ab_now_s();
}

static ab_status console_row(void *self, const struct ab_result *r, struct ab_error *err)
{
    struct console *c = self;
    double case_s = ab_now_s() - c->case_t0;
    char what[128] = "";
    if (r->status == AB_OK && strcmp(r->stop_reason, "verified") == 0) {
        snprintf(what, sizeof what, "verified");
    } else if (r->status == AB_OK) {
        char a[32], b[32];
        bool bytes =
            r->ceiling[0] && (strcmp(r->ceiling, "mem_bw") == 0 || strcmp(r->ceiling, "llc_bw") == 0);
        if (r->flops > 0 && !bytes)
            ab_fmt_si(r->flop_per_s, "FLOP/s", a, sizeof a);
        else if (r->bytes > 0)
            ab_fmt_si(r->byte_per_s, "B/s", a, sizeof a);
        else
            ab_fmt_si(r->time_s.median, "s", a, sizeof a);
        if (isfinite(r->fraction_of_ceiling))
            snprintf(b, sizeof b, " (%.0f%% of %s)", 100 * r->fraction_of_ceiling, r->ceiling);
        else
            b[0] = '\0';
        snprintf(what, sizeof what, "%s%s", a, b);
    } else {
        snprintf(what, sizeof what, "%.100s", r->message);
    }
    fprintf(c->log, "%s[%d/%d] %s %s %s: %s %s [%.1f s]\n", c->tty ? "\r\033[K" : "", c->index + 1, c->n,
            r->workload, r->device, r->params, ab_status_word(r->status), what, case_s);
    fflush(c->log);
    return AB_OK;
}

static ab_status console_end(void *self, const struct ab_run_info *info, struct ab_error *err)
{
    return AB_OK;
}

ab_status ab_console_reporter_open(FILE *log, bool tty, struct ab_reporter *out, struct ab_error *err)
{
    struct console *c = calloc(1, sizeof *c);
    if (!c)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    c->log = log;
    c->tty = tty;
    *out = (struct ab_reporter){ .self = c,
                                 .begin = console_begin,
                                 .row = console_row,
                                 .end = console_end,
                                 .destroy = free,
                                 .case_start = console_case_start };
    return AB_OK;
}
