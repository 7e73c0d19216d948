/* meter_papi.c — package energy through PAPI's energy components ("powercap" in uJ, or
 * "rapl" in nJ), for systems where PAPI has the access that sysfs does not give us. */
#include "meter_internal.h"

#include <papi.h>
#include <stdlib.h>
#include <string.h>

#define PAPI_MAX_EV 8

struct papi_energy {
    int set;
    int n;
    double scale_j; /* joules per count */
};

static ab_status pe_begin(struct ab_meter *m, struct ab_error *err)
{
    struct papi_energy *p = m->impl;
    int rc = PAPI_start(p->set);
    if (rc != PAPI_OK)
        return ab_fail(err, AB_EFAIL, "PAPI_start: %s", PAPI_strerror(rc));
    return AB_OK;
}

static ab_status pe_end(struct ab_meter *m, double *energy_j, struct ab_error *err)
{
    struct papi_energy *p = m->impl;
    long long v[PAPI_MAX_EV] = { 0 };
    int rc = PAPI_stop(p->set, v);
    if (rc != PAPI_OK)
        return ab_fail(err, AB_EFAIL, "PAPI_stop: %s", PAPI_strerror(rc));
    double sum = 0;
    for (int i = 0; i < p->n; i++)
        sum += (double)v[i];
    *energy_j = sum * p->scale_j;
    return AB_OK;
}

static void pe_close(struct ab_meter *m)
{
    struct papi_energy *p = m->impl;
    if (p) {
        PAPI_cleanup_eventset(p->set);
        PAPI_destroy_eventset(&p->set);
        free(p);
    }
}

ab_status ab_papi_energy_open(struct ab_meter **out, struct ab_error *err)
{
    *out = NULL;
    if (!PAPI_is_initialized() && PAPI_library_init(PAPI_VER_CURRENT) != (int)PAPI_VER_CURRENT)
        return ab_fail(err, AB_EUNSUPPORTED, "PAPI_library_init failed");
    int ncomp = PAPI_num_components();
    for (int cid = 0; cid < ncomp; cid++) {
        const PAPI_component_info_t *ci = PAPI_get_component_info(cid);
        if (!ci || ci->disabled)
            continue;
        bool powercap = strcmp(ci->name, "powercap") == 0;
        bool rapl = strcmp(ci->name, "rapl") == 0;
        if (!powercap && !rapl)
            continue;
        struct papi_energy *p = calloc(1, sizeof *p);
        if (!p)
            return ab_fail(err, AB_ENOMEM, "out of memory");
        p->set = PAPI_NULL;
        p->scale_j = powercap ? 1e-6 : 1e-9;
        if (PAPI_create_eventset(&p->set) != PAPI_OK) {
            free(p);
            continue;
        }
        int code = PAPI_NATIVE_MASK;
        int r = PAPI_enum_cmp_event(&code, PAPI_ENUM_FIRST, cid);
        while (r == PAPI_OK && p->n < PAPI_MAX_EV) {
            char name[PAPI_MAX_STR_LEN];
            if (PAPI_event_code_to_name(code, name) == PAPI_OK) {
                /* package energy only: powercap's ENERGY_UJ of zones, rapl's PACKAGE_ENERGY */
                bool want = powercap ? (strstr(name, "ENERGY_UJ") && !strstr(name, "SUBZONE"))
                                     : (strstr(name, "PACKAGE_ENERGY:") && !strstr(name, "_CNT"));
                if (want && PAPI_add_event(p->set, code) == PAPI_OK)
                    p->n++;
            }
            r = PAPI_enum_cmp_event(&code, PAPI_ENUM_EVENTS, cid);
        }
        if (p->n == 0) {
            PAPI_destroy_eventset(&p->set);
            free(p);
            continue;
        }
        char src[48];
        snprintf(src, sizeof src, "papi:%s", ci->name);
        struct ab_meter *m = ab_meter_new(src, 0.05);
        if (!m) {
            struct ab_meter tmp = { .impl = p };
            pe_close(&tmp);
            return ab_fail(err, AB_ENOMEM, "out of memory");
        }
        m->impl = p;
        m->begin = pe_begin;
        m->end = pe_end;
        m->close = pe_close;
        *out = m;
        return AB_OK;
    }
    return ab_fail(err, AB_EUNSUPPORTED, "no enabled PAPI energy component");
}
