/* meter.c — picks the best power meter for a device and forwards to it. The order is the
 * order of trust: a hardware energy counter, then sampled power (both the backend's own,
 * struct ab_backend's meter_open), then a labelled estimate. */
#include "meter_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ab_meter *ab_meter_new(const char *source, double min_window_s)
{
    struct ab_meter *m = calloc(1, sizeof *m);
    if (m) {
        snprintf(m->source, sizeof m->source, "%s", source);
        m->min_window_s = min_window_s;
    }
    return m;
}

static ab_status none_end(struct ab_meter *m, double *energy_j, struct ab_error *err)
{
    *energy_j = NAN;
    return AB_OK;
}
static ab_status none_begin(struct ab_meter *m, struct ab_error *err)
{
    return AB_OK;
}

ab_status ab_meter_open(const struct ab_device *dev, struct ab_meter **out, struct ab_error *err)
{
    struct ab_error e;
    *out = NULL;
    const struct ab_backend *b = ab_backend_get(dev->backend);
    if (b && b->meter_open && b->meter_open(dev, out, &e) == AB_OK)
        return AB_OK;
    *out = NULL;
    if (dev->profile && dev->profile->tdp_w > 0) {
        double w = dev->profile->tdp_w * (dev->profile->per_core ? dev->compute_units : 1);
        return ab_nominal_open(dev->profile->name, w, out, err);
    }
    struct ab_meter *m = ab_meter_new("none", 0);
    if (!m)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    m->begin = none_begin;
    m->end = none_end;
    *out = m;
    return AB_OK;
}

void ab_meter_close(struct ab_meter *m)
{
    if (!m)
        return;
    if (m->close)
        m->close(m);
    free(m);
}

const char *ab_meter_source(const struct ab_meter *m)
{
    return m ? m->source : "none";
}
double ab_meter_min_window_s(const struct ab_meter *m)
{
    return m ? m->min_window_s : 0;
}

ab_status ab_meter_begin(struct ab_meter *m, struct ab_error *err)
{
    return m->begin(m, err);
}

ab_status ab_meter_end(struct ab_meter *m, double *energy_j, struct ab_error *err)
{
    return m->end(m, energy_j, err);
}
