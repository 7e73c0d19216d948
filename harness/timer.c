/* timer.c — a device's timer for a batch of launches: the engine's one way of taking time
 * (measure.c), dispatched to the device's backend (CPU: the monotonic clock; CUDA: events on
 * the case's stream). What a batch is, and how many repetitions make one, is measure.c's. */
#include "runner_internal.h"

#include <stdlib.h>

struct ab_timer {
    const struct ab_backend *backend;
    void *self; /* the backend's own timer */
};

ab_status ab_timer_open(const struct ab_device *dev, void *stream, struct ab_timer **out,
                        struct ab_error *err)
{
    return ab_timer_open_with(ab_backend_get(dev->backend), dev, stream, out, err);
}

ab_status ab_timer_open_with(const struct ab_backend *b, const struct ab_device *dev, void *stream,
                             struct ab_timer **out, struct ab_error *err)
{
    *out = NULL;
    if (!b || !b->timer_open)
        return ab_fail(err, AB_EUNSUPPORTED, "the %s backend has no timer in this build",
                       b ? b->name : ab_backend_name(dev->backend));
    struct ab_timer *t = calloc(1, sizeof *t);
    if (!t)
        return ab_fail(err, AB_ENOMEM, "out of memory for a timer");
    t->backend = b;
    ab_status st = b->timer_open(dev, stream, &t->self, err);
    if (st) {
        free(t);
        return st;
    }
    *out = t;
    return AB_OK;
}

ab_status ab_timer_begin(struct ab_timer *t, struct ab_error *err)
{
    return t->backend->timer_begin(t->self, err);
}

ab_status ab_timer_end(struct ab_timer *t, struct ab_error *err)
{
    return t->backend->timer_end(t->self, err);
}

ab_status ab_timer_elapsed(struct ab_timer *t, double *time_s, struct ab_error *err)
{
    return t->backend->timer_elapsed(t->self, time_s, err);
}

void ab_timer_close(struct ab_timer *t)
{
    if (!t)
        return;
    t->backend->timer_close(t->self);
    free(t);
}
