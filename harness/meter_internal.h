/* meter_internal.h — what every meter back-end fills: its source word, its resolution and
 * three operations. Private to the harness. */
#ifndef AB_METER_INTERNAL_H
#define AB_METER_INTERNAL_H

#include "accelbench.h"

struct ab_meter {
    char source[48];
    double min_window_s;
    void *impl;
    ab_status (*begin)(struct ab_meter *m, struct ab_error *err);
    ab_status (*end)(struct ab_meter *m, double *energy_j, struct ab_error *err);
    void (*close)(struct ab_meter *m);
};

struct ab_meter *ab_meter_new(const char *source, double min_window_s);

#endif
