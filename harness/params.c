/* params.c — one point of a workload's axes: lookup, and the canonical "k=v;k=v" text that
 * identifies a case in the CSV (and so for --resume and compare). */
#include "accelbench.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const struct ab_value *ab_param(const struct ab_params *ps, const char *name)
{
    for (int i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].name, name) == 0)
            return &ps->p[i].val;
    return NULL;
}

int64_t ab_param_int(const struct ab_params *ps, const char *name, int64_t def)
{
    const struct ab_value *v = ab_param(ps, name);
    return v ? (int64_t)v->num : def;
}

double ab_param_real(const struct ab_params *ps, const char *name, double def)
{
    const struct ab_value *v = ab_param(ps, name);
    return v ? v->num : def;
}

const char *ab_param_str(const struct ab_params *ps, const char *name, const char *def)
{
    const struct ab_value *v = ab_param(ps, name);
    return v ? v->str : def;
}

bool ab_param_is(const struct ab_params *ps, const char *name, const char *value)
{
    const struct ab_value *v = ab_param(ps, name);
    return v && strcmp(v->str, value) == 0;
}

size_t ab_params_format(const struct ab_params *ps, char *buf, size_t len)
{
    size_t n = 0;
    if (len)
        buf[0] = '\0';
    for (int i = 0; i < ps->n; i++) {
        int w = snprintf(buf + n, n < len ? len - n : 0, "%s%s=%s", i ? ";" : "", ps->p[i].name,
                         ps->p[i].val.str);
        if (w > 0)
            n += (size_t)w;
    }
    return n;
}

ab_status ab_params_parse(const char *text, struct ab_params *out, struct ab_error *err)
{
    memset(out, 0, sizeof *out);
    const char *s = text;
    while (*s) {
        const char *semi = strchr(s, ';');
        size_t seg = semi ? (size_t)(semi - s) : strlen(s);
        const char *eq = memchr(s, '=', seg);
        if (!eq || eq == s)
            return ab_fail(err, AB_EINVAL, "params \"%s\": expected name=value at \"%.*s\"", text, (int)seg,
                           s);
        if (out->n == AB_MAX_AXES)
            return ab_fail(err, AB_EINVAL, "params \"%s\": more than %d parameters", text, AB_MAX_AXES);
        size_t nl = (size_t)(eq - s), vl = seg - nl - 1;
        if (nl >= sizeof out->p[0].name || vl >= sizeof out->p[0].val.str)
            return ab_fail(
                err, AB_EINVAL,
                "params \"%.60s...\": a name longer than %zu or a value longer than %zu characters", text,
                sizeof out->p[0].name - 1, sizeof out->p[0].val.str - 1);
        memcpy(out->p[out->n].name, s, nl);
        out->p[out->n].name[nl] = '\0';
        memcpy(out->p[out->n].val.str, eq + 1, vl);
        out->p[out->n].val.str[vl] = '\0';
        char *end;
        double d = strtod(out->p[out->n].val.str, &end);
        out->p[out->n].val.num = (*end == '\0' && vl > 0) ? d : 0.0;
        out->n++;
        if (!semi)
            break;
        s = semi + 1;
    }
    return AB_OK;
}

/* FNV-1a, 64 bits: small, stable across platforms and releases (the id is kept in files). */
static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* A value as hashed: a finite number in one spelling ("1024.0", "1e3" -> "%.17g"), else as is. */
static void canonical_value(const char *v, char *out, size_t len)
{
    char *end;
    double d = *v ? strtod(v, &end) : 0;
    if (*v && *end == '\0' && isfinite(d) && !isspace((unsigned char)*v))
        snprintf(out, len, "%.17g", d == 0 ? 0.0 : d); /* -0 and 0 agree */
    else
        snprintf(out, len, "%s", v);
}

void ab_case_id(const struct ab_workload *wl, const char *workload, const char *device,
                const char *device_name, const char *params, char *buf, size_t len)
{
    /* Split "k=v;k=v" by hand (not ab_params_parse): a row read back may hold any text, and
     * every text has an id. */
    struct kv {
        const char *k, *v;
        size_t kl, vl;
    } kv[64];
    int n = 0;
    for (const char *s = params; s && *s && n < 64;) {
        size_t seg = strcspn(s, ";");
        const char *eq = memchr(s, '=', seg);
        kv[n].k = s;
        kv[n].kl = eq ? (size_t)(eq - s) : seg;
        kv[n].v = eq ? eq + 1 : s + seg;
        kv[n].vl = eq ? seg - kv[n].kl - 1 : 0;
        n++;
        s += seg + (s[seg] ? 1 : 0);
    }
    int order[64];
    bool used[64] = { false };
    int no = 0;
    for (int a = 0; wl && a < wl->n_axes; a++)
        for (int i = 0; i < n; i++)
            if (!used[i] && strlen(wl->axes[a].name) == kv[i].kl &&
                !memcmp(wl->axes[a].name, kv[i].k, kv[i].kl)) {
                used[i] = true;
                const char *imp = wl->axes[a].implicit;
                if (!imp || strlen(imp) != kv[i].vl || memcmp(imp, kv[i].v, kv[i].vl) != 0)
                    order[no++] = i;
            }
    for (int i = 0; i < n; i++)
        if (!used[i])
            order[no++] = i;
    uint64_t h = 0xcbf29ce484222325ull;
    const char *parts[3] = { workload, device, device_name };
    for (int i = 0; i < 3; i++) {
        h = fnv1a(h, parts[i] ? parts[i] : "", parts[i] ? strlen(parts[i]) : 0);
        h = fnv1a(h, "\x1f", 1);
    }
    for (int j = 0; j < no; j++) {
        char val[600], raw[600];
        const struct kv *p = &kv[order[j]];
        snprintf(raw, sizeof raw, "%.*s", (int)p->vl, p->v);
        canonical_value(raw, val, sizeof val);
        h = fnv1a(h, p->k, p->kl);
        h = fnv1a(h, "=", 1);
        h = fnv1a(h, val, strlen(val));
        h = fnv1a(h, "\x1e", 1);
    }
    snprintf(buf, len, "%016llx", (unsigned long long)h);
}

bool ab_axis_value_number(const struct ab_workload *wl, const char *axis, const char *value, double *num)
{
    const struct ab_axis *ax = NULL;
    for (int a = 0; wl && a < wl->n_axes; a++)
        if (strcmp(wl->axes[a].name, axis) == 0)
            ax = &wl->axes[a];
    if (ax && ax->type == AB_AXIS_STR)
        return false;
    char *end;
    double d = *value ? strtod(value, &end) : NAN;
    if (!*value || *end != '\0' || !isfinite(d) || isspace((unsigned char)*value))
        return false;
    *num = d;
    return true;
}
