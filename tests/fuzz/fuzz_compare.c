/* fuzz_compare.c — the compare command's input path: two results CSVs, each with the raw
 * samples that accelbench compare finds in samples.jsonl beside it, loaded by ab_results_load and
 * compared and printed in every format. The input is up to four parts split at lines "%%":
 * base CSV, base samples, new CSV, new samples (a missing part is an absent file). */
#include "compare.h"
#include "fuzz_util.h"

#include <string.h>

/* Split data at lines "%%" into at most n parts; returns how many. */
static int split(const uint8_t *data, size_t size, const uint8_t **part, size_t *len, int n)
{
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i + 3 <= size && k < n - 1; i++) {
        bool line_start = i == 0 || data[i - 1] == '\n';
        if (line_start && memcmp(data + i, "%%\n", 3) == 0) {
            part[k] = data + start;
            len[k++] = i - start;
            start = i + 3;
            i += 2;
        }
    }
    part[k] = data + start;
    len[k++] = size - start;
    return k;
}

/* Load one side as compare does: the CSV, then its samples when that part is present. */
static ab_status load_side(const uint8_t *csv, size_t csv_len, const uint8_t *js, size_t js_len, bool has_js,
                           struct ab_result_set *set, struct ab_error *err)
{
    char path[64], warn[256];
    int fd = fuzz_memfile(csv, csv_len, path, sizeof path);
    if (fd < 0)
        return ab_fail(err, AB_EIO, "memfd");
    const char *paths[1] = { path };
    ab_status st = ab_results_load(paths, 1, set, warn, sizeof warn, err);
    close(fd);
    if (st != AB_OK || !has_js)
        return st;
    fd = fuzz_memfile(js, js_len, path, sizeof path);
    if (fd < 0)
        return ab_fail(err, AB_EIO, "memfd");
    st = ab_json_read_samples(path, set, err);
    close(fd);
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *part[4] = { 0 };
    size_t len[4] = { 0 };
    int n = split(data, size, part, len, 4);
    struct ab_result_set base = { 0 }, new_ = { 0 };
    struct ab_error err = { { 0 } };
    ab_status st = load_side(part[0], len[0], part[1], len[1], n > 1, &base, &err);
    if (st == AB_OK) {
        if (n > 2)
            st = load_side(part[2], len[2], part[3], len[3], n > 3, &new_, &err);
        else /* one file against itself */
            st = load_side(part[0], len[0], part[1], len[1], n > 1, &new_, &err);
    }
    if (st == AB_OK) {
        struct cmp_opts o;
        cmp_opts_defaults(&o);
        o.bootstrap = 50; /* enough to exercise the interval, cheap per input */
        o.noise = size % 2 ? -1 : 0.01;
        o.metric = (enum cmp_metric)(size % 3);
        struct cmp_report rep;
        if (cmp_compare(&base, &new_, &o, &rep, &err) == AB_OK) {
            if (rep.n_faster + rep.n_slower + rep.n_same + rep.n_noisy + rep.n_failed + rep.n_fixed +
                    rep.n_not_ok !=
                rep.n)
                __builtin_trap(); /* every matched case gets exactly one verdict */
            FILE *devnull = fopen("/dev/null", "w");
            if (devnull) {
                const char *formats[] = { "text", "md", "csv", "json" };
                for (int f = 0; f < 4; f++)
                    cmp_print(&rep, formats[f], f == 0, devnull);
                fclose(devnull);
            }
            (void)cmp_exit_status(&rep, CMP_FAIL_ANY);
            cmp_report_free(&rep);
        } else if (!err.msg[0]) {
            __builtin_trap(); /* every failure carries a message */
        }
    } else if (!err.msg[0]) {
        __builtin_trap();
    }
    ab_result_set_free(&base);
    ab_result_set_free(&new_);
    return 0;
}
