/* meter_nominal.c — the labelled estimate: energy = nominal power x wall time. It measures
 * nothing; its source word "nominal:<profile>" travels with every number it produces. */
#include "meter_internal.h"

#include <stdlib.h>

struct nominal {
    double watts, t0;
};

static ab_status nom_begin(struct ab_meter *m, struct ab_error *err)
{
    ((struct nominal *)m->impl)->t0 = ab_now_s();
    return AB_OK;
}

static ab_status nom_end(struct ab_meter *m, double *energy_j, struct ab_error *err)
{
    struct nominal *n = m->impl;
    *energy_j = n->watts * (ab_now_s() - n->t0);
    return AB_OK;
}

static void nom_close(struct ab_meter *m)
{
    free(m->impl);
}

ab_status ab_nominal_open(const char *profile_name, double tdp_w, struct ab_meter **out, struct ab_error *err)
{
    char src[48];
    snprintf(src, sizeof src, "nominal:%s", profile_name);
    struct ab_meter *m = ab_meter_new(src, 0);
    struct nominal *n = calloc(1, sizeof *n);
    if (!m || !n) {
        free(m);
        free(n);
        return ab_fail(err, AB_ENOMEM, "out of memory");
    }
    n->watts = tdp_w;
    m->impl = n;
    m->begin = nom_begin;
    m->end = nom_end;
    m->close = nom_close;
    *out = m;
    return AB_OK;
}
