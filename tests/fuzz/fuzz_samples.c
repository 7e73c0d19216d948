/* fuzz_samples.c — the samples.jsonl reader (ab_json_read_samples) on arbitrary bytes,
 * attaching to a small set of rows whose keys the corpus uses, and the run.json reader
 * (ab_json_read_run) on the same bytes; the same again as --resume reads them
 * (ab_json_read_samples_marked, ab_json_read_run_state), with rows that carry a run_id. */
#include "accelbench.h"
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

static void add_row(struct ab_result_set *set, const char *wl, const char *params)
{
    struct ab_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.workload, sizeof r.workload, "%s", wl);
    snprintf(r.device, sizeof r.device, "cpu");
    snprintf(r.params, sizeof r.params, "%s", params);
    ab_result_set_add(set, &r, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfile(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    struct ab_result_set set = { 0 };
    add_row(&set, "ceilings", "kind=fma;dtype=fp32;n=0");
    add_row(&set, "ceilings", "kind=stream;dtype=fp32;n=16777216");
    add_row(&set, "ceilings", "kind=fma;dtype=fp32;n=0"); /* a duplicate key */
    struct ab_error err = { { 0 } };
    if (ab_json_read_samples(path, &set, &err) == AB_OK)
        for (int64_t i = 0; i < set.n; i++)
            for (int64_t k = 0; k < set.rows[i].n_samples; k++)
                if (!(set.rows[i].samples[k] >= 0))
                    __builtin_trap();
    for (int64_t i = 0; i < set.n; i++) {
        free(set.rows[i].samples);
        set.rows[i].samples = NULL;
    }
    ab_result_set_free(&set);
    int version = -1;
    if (ab_json_read_run(path, &version, &err) == AB_OK &&
        (version < AB_SCHEMA_VERSION_MIN || version > AB_SCHEMA_VERSION))
        __builtin_trap();

    memset(&set, 0, sizeof set);
    add_row(&set, "ceilings", "kind=fma;dtype=fp32;n=0");
    add_row(&set, "ceilings", "kind=fma;dtype=fp32;n=0");
    if (set.n == 2)
        snprintf(set.rows[1].run_id, sizeof set.rows[1].run_id, "run-b");
    bool has_line[2] = { false, false };
    if (ab_json_read_samples_marked(path, &set, has_line, &err) == AB_OK)
        for (int64_t i = 0; i < set.n; i++)
            for (int64_t k = 0; k < set.rows[i].n_samples; k++)
                if (!(set.rows[i].samples[k] >= 0))
                    __builtin_trap();
    ab_result_set_free(&set);
    struct ab_run_state *st = malloc(sizeof *st);
    if (st && ab_json_read_run_state(path, st, &err) == AB_OK &&
        (st->n_workloads > AB_MAX_SELECT || st->n_devices > AB_MAX_SELECT || st->n_axes > AB_MAX_SELECT ||
         (unsigned)st->suite >= AB_SUITE_COUNT))
        __builtin_trap();
    free(st);
    close(fd);
    return 0;
}
