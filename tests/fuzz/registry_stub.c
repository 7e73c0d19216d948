/* registry_stub.c — an empty workload registry for the fuzz targets, which link the parsers
 * without the workloads (and their libraries): rows of any workload read as undeclared. */
#include "accelbench.h"

#include <stddef.h>

static const struct ab_workload *const none[] = { NULL };

const struct ab_workload *const *ab_workloads(void)
{
    return none;
}

const struct ab_workload *ab_workload_find(const char *name)
{
    return NULL;
}
