/* params.c — one point of a workload's axes: lookup, and the canonical "k=v;k=v" text that
 * identifies a case in the CSV (and so for --resume and compare). */
#include "accelbench.h"

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
