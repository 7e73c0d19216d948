/* cmd_list.c — `accelbench list`: workloads, their axes with defaults and their metrics, backends
 * compiled in. */
#include "cli.h"

#include <getopt.h>
#include <string.h>

static const char *const better_words[] = { "", ", higher is better", ", lower is better" };

int ab_cmd_list(int argc, char **argv)
{
    static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("usage: accelbench list\n\nLists the workloads with their axes (type, valid values,\n"
                   "default sweeps for --quick / default / --full / --check), the metrics their rows carry\n"
                   "(unit, which way is better, meaning) and the backends compiled in.\n");
            return 0;
        }
        return 2;
    }
    if (optind < argc) {
        ab_cli_error("list: unexpected argument \"%s\"", argv[optind]);
        return 2;
    }
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
