/* counters_papi.c — what PAPI offers here: hardware counters (CPU component) and which other
 * components are enabled, for `accelbench info`. */
#include "accelbench.h"

#include <papi.h>
#include <stdlib.h>
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
        int w =
            snprintf(buf + used, len - used, "%s%s: %s%s%s", used ? "\n" : "", ci->name,
                     ci->disabled ? "disabled" : "enabled", ci->disabled ? " (" : "", ci->disabled ? "" : "");
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

#define AB_MAX_COUNTERS 8
struct ab_counters {
    int set;
    int n;
    char names[AB_MAX_COUNTERS][64];
};

ab_status ab_counters_open(const char *events, struct ab_counters **out, struct ab_error *err)
{
    *out = NULL;
    if (!papi_ready())
        return ab_fail(err, AB_EUNSUPPORTED, "counters: PAPI_library_init failed");
    if (PAPI_num_cmp_hwctrs(0) <= 0) {
        const PAPI_component_info_t *ci = PAPI_get_component_info(0);
        return ab_fail(err, AB_EUNSUPPORTED, "counters: no hardware counters here (%s: %.120s)",
                       ci ? ci->name : "cpu component", ci && ci->disabled ? ci->disabled_reason : "none");
    }
    struct ab_counters *c = calloc(1, sizeof *c);
    if (!c)
        return ab_fail(err, AB_ENOMEM, "out of memory");
    c->set = PAPI_NULL;
    int rc = PAPI_create_eventset(&c->set);
    if (rc != PAPI_OK) {
        free(c);
        return ab_fail(err, AB_EFAIL, "PAPI_create_eventset: %s", PAPI_strerror(rc));
    }
    char buf[512];
    snprintf(buf, sizeof buf, "%s", events);
    char *save = NULL;
    for (char *ev = strtok_r(buf, ",", &save); ev; ev = strtok_r(NULL, ",", &save)) {
        if (c->n == AB_MAX_COUNTERS) {
            ab_counters_close(c);
            return ab_fail(err, AB_EINVAL, "counters: at most %d events", AB_MAX_COUNTERS);
        }
        if ((rc = PAPI_add_named_event(c->set, ev)) != PAPI_OK) {
            ab_counters_close(c);
            return ab_fail(err, AB_EUNSUPPORTED, "counters: event \"%s\": %s", ev, PAPI_strerror(rc));
        }
        snprintf(c->names[c->n++], sizeof c->names[0], "%s", ev);
    }
    *out = c;
    return AB_OK;
}

int ab_counters_n(const struct ab_counters *c)
{
    return c ? c->n : 0;
}
const char *ab_counters_event(const struct ab_counters *c, int i)
{
    return c->names[i];
}

ab_status ab_counters_start(struct ab_counters *c, struct ab_error *err)
{
    int rc = PAPI_start(c->set);
    return rc == PAPI_OK ? AB_OK : ab_fail(err, AB_EFAIL, "PAPI_start: %s", PAPI_strerror(rc));
}

ab_status ab_counters_stop(struct ab_counters *c, long long *values, struct ab_error *err)
{
    int rc = PAPI_stop(c->set, values);
    return rc == PAPI_OK ? AB_OK : ab_fail(err, AB_EFAIL, "PAPI_stop: %s", PAPI_strerror(rc));
}

void ab_counters_close(struct ab_counters *c)
{
    if (!c)
        return;
    PAPI_cleanup_eventset(c->set);
    PAPI_destroy_eventset(&c->set);
    free(c);
}
