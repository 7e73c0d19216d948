/* meter_rapl.c — package energy from RAPL through the powercap sysfs tree:
 * <root>/intel-rapl:N/energy_uj for each top-level zone (AMD's RAPL appears under the same
 * name). Counters wrap at max_energy_range_uj; a window shorter than one wrap period (minutes
 * at full power) is corrected exactly. Subzones (core, dram) are parts of their package and
 * are not added again. */
#include "meter_internal.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define RAPL_MAX_ZONES 16

struct rapl {
    int n;
    char path[RAPL_MAX_ZONES][512];
    uint64_t range_uj[RAPL_MAX_ZONES];
    uint64_t start_uj[RAPL_MAX_ZONES];
};

static ab_status read_u64(const char *path, uint64_t *out, struct ab_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return ab_fail(err, AB_EIO, "%s: %s", path, strerror(errno));
    int ok = fscanf(f, "%" SCNu64, out);
    fclose(f);
    if (ok != 1)
        return ab_fail(err, AB_EIO, "%s: not a number", path);
    return AB_OK;
}

static ab_status rapl_read_all(struct rapl *r, uint64_t *vals, struct ab_error *err)
{
    for (int i = 0; i < r->n; i++) {
        ab_status st = read_u64(r->path[i], &vals[i], err);
        if (st)
            return st;
    }
    return AB_OK;
}

static ab_status rapl_begin(struct ab_meter *m, struct ab_error *err)
{
    struct rapl *r = m->impl;
    return rapl_read_all(r, r->start_uj, err);
}

static ab_status rapl_end(struct ab_meter *m, double *energy_j, struct ab_error *err)
{
    struct rapl *r = m->impl;
    uint64_t now[RAPL_MAX_ZONES];
    ab_status st = rapl_read_all(r, now, err);
    if (st)
        return st;
    double total_uj = 0;
    for (int i = 0; i < r->n; i++) {
        uint64_t d =
            now[i] >= r->start_uj[i] ? now[i] - r->start_uj[i] : now[i] + (r->range_uj[i] - r->start_uj[i]);
        total_uj += (double)d;
    }
    *energy_j = total_uj * 1e-6;
    return AB_OK;
}

static void rapl_close(struct ab_meter *m)
{
    free(m->impl);
}

ab_status ab_rapl_open(const char *root, struct ab_meter **out, struct ab_error *err)
{
    *out = NULL;
    DIR *d = opendir(root);
    if (!d)
        return ab_fail(err, AB_EUNSUPPORTED, "%s: no powercap tree", root);
    struct rapl *r = calloc(1, sizeof *r);
    if (!r) {
        closedir(d);
        return ab_fail(err, AB_ENOMEM, "out of memory");
    }
    struct dirent *e;
    ab_status st = AB_OK;
    while ((e = readdir(d)) && r->n < RAPL_MAX_ZONES) {
        /* Top-level zones only: "intel-rapl:0", not "intel-rapl:0:1". */
        if (strncmp(e->d_name, "intel-rapl:", 11) != 0 || strchr(e->d_name + 11, ':'))
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s/max_energy_range_uj", root, e->d_name);
        uint64_t range, probe;
        if (read_u64(path, &range, err) != AB_OK)
            continue;
        snprintf(r->path[r->n], sizeof r->path[0], "%s/%s/energy_uj", root, e->d_name);
        /* energy_uj is root-only on recent kernels: a zone we cannot read is no meter. */
        if (read_u64(r->path[r->n], &probe, err) != AB_OK) {
            st = AB_EUNSUPPORTED;
            continue;
        }
        r->range_uj[r->n] = range;
        r->n++;
    }
    closedir(d);
    if (r->n == 0) {
        free(r);
        if (st == AB_EUNSUPPORTED)
            return ab_fail_prefix(err, AB_EUNSUPPORTED, "RAPL zones not readable");
        return ab_fail(err, AB_EUNSUPPORTED, "%s: no RAPL zones", root);
    }
    struct ab_meter *m = ab_meter_new("rapl", 0.05);
    if (!m) {
        free(r);
        return ab_fail(err, AB_ENOMEM, "out of memory");
    }
    m->impl = r;
    m->begin = rapl_begin;
    m->end = rapl_end;
    m->close = rapl_close;
    *out = m;
    return AB_OK;
}
