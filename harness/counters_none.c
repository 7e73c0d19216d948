/* counters_none.c — hardware counters in a build without PAPI. */
#include "accelbench.h"

bool ab_counters_supported(void)
{
    return false;
}

void ab_counters_describe(char *buf, size_t len)
{
    snprintf(buf, len, "built without PAPI");
}

ab_status ab_counters_open(const char *events, struct ab_counters **out, struct ab_error *err)
{
    *out = NULL;
    return ab_fail(err, AB_EUNSUPPORTED, "counters %s: this build has no PAPI", events);
}
int ab_counters_n(const struct ab_counters *c)
{
    return 0;
}
const char *ab_counters_event(const struct ab_counters *c, int i)
{
    return "";
}
ab_status ab_counters_start(struct ab_counters *c, struct ab_error *err)
{
    return AB_EUNSUPPORTED;
}
ab_status ab_counters_stop(struct ab_counters *c, long long *values, struct ab_error *err)
{
    return AB_EUNSUPPORTED;
}
void ab_counters_close(struct ab_counters *c) {}
