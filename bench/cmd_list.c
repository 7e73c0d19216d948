/* cmd_list.c — `accelbench list [--json]`: workloads, their axes with defaults and their metrics,
 * backends compiled in; --json says the same (plus each sweep's values, typed, and the devices
 * found) for scripts. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char *const better_words[] = { "", ", higher is better", ", lower is better" };

static const char *const better_json[] = { "none", "higher", "lower" };
static const char *const type_words[] = { "int", "real", "str" };

static cJSON *metric_json(const struct ab_metric_decl *d)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "name", d->name);
    cJSON_AddStringToObject(m, "unit", d->unit ? d->unit : "");
    cJSON_AddStringToObject(m, "kind", d->text ? "text" : "number");
    cJSON_AddStringToObject(m, "better", better_json[d->better]);
    cJSON_AddStringToObject(m, "meaning", d->meaning ? d->meaning : "");
    return m;
}

/* A comma list as a JSON array of strings. */
static cJSON *list_json(const char *s)
{
    cJSON *a = cJSON_CreateArray();
    while (s && *s) {
        size_t n = strcspn(s, ",");
        char *item = strndup(s, n);
        if (item)
            cJSON_AddItemToArray(a, cJSON_CreateString(item));
        free(item);
        s += n + (s[n] == ',');
    }
    return a;
}

static cJSON *axis_json(const struct ab_axis *ax, struct ab_values *vals)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "name", ax->name);
    cJSON_AddStringToObject(a, "type", type_words[ax->type]);
    cJSON_AddStringToObject(a, "help", ax->help ? ax->help : "");
    if (ax->choices)
        cJSON_AddItemToObject(a, "values", list_json(ax->choices));
    else
        cJSON_AddNullToObject(a, "values"); /* any text, or any number in the range */
    if (ax->type != AB_AXIS_STR && (ax->min != 0 || ax->max != 0)) {
        cJSON_AddNumberToObject(a, "min", ax->min);
        cJSON_AddNumberToObject(a, "max", ax->max);
    } else {
        cJSON_AddNullToObject(a, "min");
        cJSON_AddNullToObject(a, "max");
    }
    if (ax->implicit)
        cJSON_AddStringToObject(a, "implicit", ax->implicit);
    else
        cJSON_AddNullToObject(a, "implicit");
    cJSON *sw = cJSON_AddObjectToObject(a, "sweep"), *sv = cJSON_AddObjectToObject(a, "sweep_values");
    for (int s = 0; s < AB_SUITE_COUNT; s++) {
        const char *text = ax->sweep[s] ? ax->sweep[s] : ax->sweep[AB_SUITE_QUICK];
        cJSON_AddStringToObject(sw, ab_suite_word((enum ab_suite)s), text ? text : "");
        cJSON *arr = cJSON_AddArrayToObject(sv, ab_suite_word((enum ab_suite)s));
        struct ab_error err;
        if (!vals || !text || ab_axis_parse(ax, text, vals, &err) != AB_OK)
            continue;
        for (int i = 0; i < vals->n; i++)
            cJSON_AddItemToArray(arr, ax->type == AB_AXIS_STR ? cJSON_CreateString(vals->v[i].str)
                                                              : cJSON_CreateNumber(vals->v[i].num));
    }
    return a;
}

static int list_json_print(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *bs = cJSON_AddArrayToObject(o, "backends");
    for (int k = 0; k < AB_BACKEND_COUNT; k++) {
        const struct ab_backend *b = ab_backend_get((enum ab_backend_kind)k);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "name", b->name);
        cJSON_AddStringToObject(j, "title", b->title);
        cJSON_AddBoolToObject(j, "compiled_in", !b->stub);
        cJSON_AddItemToArray(bs, j);
    }
    struct ab_device *devs = calloc(AB_MAX_DEVICES, sizeof *devs);
    struct ab_error why[AB_BACKEND_COUNT];
    int n = 0;
    if (devs)
        ab_devices_discover(devs, AB_MAX_DEVICES, &n, why, NULL);
    cJSON *ds = cJSON_AddArrayToObject(o, "devices");
    for (int i = 0; i < n; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "id", devs[i].id);
        cJSON_AddStringToObject(d, "name", devs[i].name);
        cJSON_AddStringToObject(d, "backend", ab_backend_name(devs[i].backend));
        cJSON_AddItemToArray(ds, d);
    }
    cJSON *none = cJSON_AddObjectToObject(o, "backends_without_devices");
    for (int k = 0; devs && k < AB_BACKEND_COUNT; k++)
        if (why[k].msg[0])
            cJSON_AddStringToObject(none, ab_backend_name((enum ab_backend_kind)k), why[k].msg);
    free(devs);
    struct ab_values *vals = malloc(sizeof *vals);
    cJSON *ws = cJSON_AddArrayToObject(o, "workloads");
    const struct ab_workload *const *wl = ab_workloads();
    for (int i = 0; wl[i]; i++) {
        cJSON *w = cJSON_CreateObject();
        cJSON_AddStringToObject(w, "name", wl[i]->name);
        cJSON_AddStringToObject(w, "summary", wl[i]->summary);
        cJSON *wb = cJSON_AddArrayToObject(w, "backends");
        for (int k = 0; k < AB_BACKEND_COUNT; k++)
            if (wl[i]->impl[k] && wl[i]->impl[k]->setup)
                cJSON_AddItemToArray(wb, cJSON_CreateString(ab_backend_name((enum ab_backend_kind)k)));
        cJSON_AddBoolToObject(w, "provides_ceilings", wl[i]->provides_ceilings);
        cJSON *axes = cJSON_AddArrayToObject(w, "axes");
        for (int a = 0; a < wl[i]->n_axes; a++)
            cJSON_AddItemToArray(axes, axis_json(&wl[i]->axes[a], vals));
        cJSON *ms = cJSON_AddArrayToObject(w, "metrics");
        for (int m = 0; m < wl[i]->n_metrics; m++)
            cJSON_AddItemToArray(ms, metric_json(&wl[i]->metrics[m]));
        cJSON_AddItemToArray(ws, w);
    }
    free(vals);
    int ne;
    const struct ab_metric_decl *em = ab_engine_metrics(&ne);
    cJSON *es = cJSON_AddArrayToObject(o, "engine_metrics");
    for (int m = 0; m < ne; m++)
        cJSON_AddItemToArray(es, metric_json(&em[m]));
    char *text = cJSON_Print(o);
    int rc = 0;
    if (text)
        puts(text);
    else {
        ab_cli_error("list: out of memory");
        rc = 1;
    }
    free(text);
    cJSON_Delete(o);
    return rc;
}

int ab_cmd_list(int argc, char **argv)
{
    static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
                                          { "help", no_argument, NULL, 'h' },
                                          { 0 } };
    bool json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        if (c == 'j') {
            json = true;
            continue;
        }
        if (c == 'h') {
            printf(
                "usage: accelbench list [--json]\n\nLists the workloads with their axes (type, valid "
                "values,\n"
                "default sweeps for --quick / default / --full / --check), the metrics their rows carry\n"
                "(unit, which way is better, meaning) and the backends compiled in.\n\n"
                "  --json   the same as one JSON object, for scripts: backends (compiled_in), devices\n"
                "           found, and per workload its backends, axes (name, type, help, values: the\n"
                "           valid strings or null, min/max, sweep: each suite's sweep text, sweep_values:\n"
                "           each suite's values, typed) and metrics (name, unit, kind: number or text,\n"
                "           better, meaning); engine_metrics: those any row may carry.\n");
            return 0;
        }
        ab_cli_error("list: unknown option \"%s\" (see accelbench list --help)", argv[optind - 1]);
        return 2;
    }
    if (optind < argc) {
        ab_cli_error("list: unexpected argument \"%s\"", argv[optind]);
        return 2;
    }
    if (json)
        return list_json_print();
    printf("backends:");
    for (int k = 0; k < AB_BACKEND_COUNT; k++) {
        const struct ab_backend *b = ab_backend_get((enum ab_backend_kind)k);
        if (b->stub)
            printf(" (%s not compiled in)", b->name);
        else
            printf("%s%s", k ? ", " : " ", b->name);
    }
    printf("\n\n");
    const struct ab_workload *const *wl = ab_workloads();
    for (int i = 0; wl[i]; i++) {
        printf("%s — %s\n", wl[i]->name, wl[i]->summary);
        printf("  backends:");
        for (int k = 0; k < AB_BACKEND_COUNT; k++)
            if (wl[i]->impl[k] && wl[i]->impl[k]->setup)
                printf(" %s", ab_backend_name((enum ab_backend_kind)k));
        printf("\n");
        for (int a = 0; a < wl[i]->n_axes; a++) {
            const struct ab_axis *ax = &wl[i]->axes[a];
            printf("  -a %s=...  %s\n", ax->name, ax->help ? ax->help : "");
            if (ax->choices)
                printf("      values: %s\n", ax->choices);
            printf("      quick: %s | default: %s | full: %s | check: %s\n", ax->sweep[0], ax->sweep[1],
                   ax->sweep[2], ax->sweep[AB_SUITE_CHECK] ? ax->sweep[AB_SUITE_CHECK] : ax->sweep[0]);
        }
        for (int m = 0; m < wl[i]->n_metrics; m++) {
            const struct ab_metric_decl *d = &wl[i]->metrics[m];
            printf("  metric %s (%s%s): %s\n", d->name,
                   d->text      ? "text"
                   : d->unit[0] ? d->unit
                                : "number",
                   better_words[d->better], d->meaning);
        }
        printf("\n");
    }
    int n;
    const struct ab_metric_decl *em = ab_engine_metrics(&n);
    printf("every workload's rows may also carry:\n");
    for (int m = 0; m < n; m++)
        printf("  metric %s (%s%s): %s\n", em[m].name, em[m].unit[0] ? em[m].unit : "number",
               better_words[em[m].better], em[m].meaning);
    return 0;
}
