/* counters_none.c — hardware counters in a build without PAPI. */
#include "accelbench.h"

bool ab_counters_supported(void) { return false; }

void ab_counters_describe(char *buf, size_t len) { snprintf(buf, len, "built without PAPI"); }
