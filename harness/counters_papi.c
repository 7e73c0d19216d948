/* counters_papi.c — what PAPI offers here: hardware counters (CPU component) and which other
 * components are enabled, for `accelbench info`. */
#include "accelbench.h"

#include <papi.h>
#include <string.h>

static bool papi_ready(void)
{
    if (PAPI_is_initialized())
        return true;
    return PAPI_library_init(PAPI_VER_CURRENT) == (int)PAPI_VER_CURRENT;
}

bool ab_counters_supported(void)
{
    return papi_ready() && PAPI_num_cmp_hwctrs(0) > 0;
}

void ab_counters_describe(char *buf, size_t len)
{
    if (!len)
        return;
    buf[0] = '\0';
    if (!papi_ready()) {
        snprintf(buf, len, "PAPI present but PAPI_library_init failed");
        return;
    }
    size_t used = 0;
    int ncomp = PAPI_num_components();
    for (int cid = 0; cid < ncomp && used < len; cid++) {
        const PAPI_component_info_t *ci = PAPI_get_component_info(cid);
        if (!ci)
            continue;
        int w = snprintf(buf + used, len - used, "%s%s: %s%s%s", used ? "\n" : "", ci->name,
                         ci->disabled ? "disabled" : "enabled", ci->disabled ? " (" : "",
                         ci->disabled ? "" : "");
        if (w < 0)
            break;
        used += (size_t)w < len - used ? (size_t)w : len - used - 1;
        if (ci->disabled && used < len) {
            size_t rl = strcspn(ci->disabled_reason, "\n");
            w = snprintf(buf + used, len - used, "%.*s)", (int)(rl > 80 ? 80 : rl), ci->disabled_reason);
            if (w > 0)
                used += (size_t)w < len - used ? (size_t)w : len - used - 1;
        }
    }
}
