/* meter_papi_none.c — PAPI energy in a build without PAPI: never available. */
#include "accelbench.h"

ab_status ab_papi_energy_open(struct ab_meter **out, struct ab_error *err)
{
    *out = NULL;
    return ab_fail(err, AB_EUNSUPPORTED, "built without PAPI");
}
